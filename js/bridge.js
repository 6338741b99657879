'use strict';
// Both directions of docs/bridge.md. In: the loop over one batch of request envelopes. Out: every
// response finished in one turn is encoded into a single reusable buffer and handed to Rust with
// one respond() call, so the per-request cost of crossing into native code is paid once per batch.
const { HN_ERR_BAD_ENVELOPE, HN_ERR_INTERNAL, HN_ERR_RESPONSE_TOO_LARGE } = require('./errors');

const ENVELOPE_VERSION = 1;
// Control records (docs/bridge.md): events about requests already handed to JS, and errors.
const CONTROL_RECORD = 0x81;
const CONTROL_HEADER_SIZE = 12;
const EVENT_CLIENT_GONE = 1;
const EVENT_HANDLER_TIMED_OUT = 2;
const EVENT_SERVER_ERROR = 3;
const EVENT_STREAM_TIMED_OUT = 4;
const EVENT_BODY_TIMED_OUT = 5;
const EVENT_BODY_INVALID = 6;
const EVENT_LENGTH_EXCEEDED = 7;
// Stream records (docs/bridge.md): body data of a streamed request, and credits for a streamed
// answer. Both start like a control record: length, kind, flags, 2 reserved, id.
const DATA_RECORD = 0x82;
const CREDIT_RECORD = 0x83;
const STREAM_HEADER_SIZE = 12;
const CREDIT_SIZE = 16;
const IN_FLAG_END = 1;
// WebSocket records (docs/bridge.md, "WebSocket"), named by the socket's id: a whole message
// (flags bit 0: binary), and the socket's end (u16 close code, then the UTF-8 reason).
const WS_MESSAGE_RECORD = 0x84;
const WS_CLOSED_RECORD = 0x85;
const WS_CLOSED_MIN = STREAM_HEADER_SIZE + 2;
const IN_FLAG_BINARY = 1;
const ENVELOPE_HEADER_SIZE = 40;
const RECORD_HEADER_SIZE = 24; // response record
// Records JS sends (byte 8) and their flags (byte 9), docs/bridge.md.
const KIND_RESPONSE = 1;
const KIND_DATA = 2;
const KIND_CREDIT = 3;
// WebSocket records JS sends, with the 12-byte head of data records (u16 at 10: 0, the close code
// or the topic's length).
const KIND_WS_SEND = 4;
const KIND_WS_END = 5;
const KIND_WS_SUBSCRIBE = 6;
const KIND_WS_UNSUBSCRIBE = 7;
const KIND_WS_PUBLISH = 8;
const FLAG_END = 1;
const FLAG_ABORT = 2;
// On a head or data record: the producer reached its high-water mark and waits for credit.
const FLAG_WAITING = 4;
// On a response record (always with FLAG_END): the body is a file's path, which Rust serves
// (res.sendFile/res.download, docs/bridge.md "File answers").
const FLAG_FILE = 8;
// On a response record (always with FLAG_END, status 101): accepts a WebSocket upgrade; the
// request's id names the socket from then on.
const FLAG_UPGRADE = 16;
// On a WS_END record: drop the connection without a close frame (ws.close()).
const WS_FLAG_TERMINATE = 1;
// The cache key's length is a u16; res.ncache() does not cache longer keys.
const MAX_CACHE_KEY = 0xffff;
const HEADER_ENTRY_SIZE = 6; // u16 nameLen + u32 valueLen
// Bounds of the record's fields: headerCount and nameLen are u16, recordLen (and so bodyLen) u32.
const MAX_HEADER_LINES = 0xffff;
const MAX_HEADER_NAME = 0xffff;
const MAX_RECORD = 0xffffffff;
const SHORT_STRING = 64; // below this, copying ASCII in JS beats a native call (see writeString)
const INITIAL_SIZE = 64 * 1024;
// A flush that needed a bigger buffer (large bodies) should not pin that memory forever.
const RETAINED_SIZE = 1024 * 1024;
// respond() may wait for a back-to-back client's next request and return it (busyPoll, see
// src/handoff.rs); JS then serves it without going back to the event loop. After this many in a
// row it goes back anyway, so that timers and other I/O never wait more than about a millisecond.
const MAX_CHAINED = 32;

// What a request gets when JS cannot even build it (a bad envelope): the same answer the default
// error handler gives.
const FAILURE_HEADERS = ['content-type', 'content-type', 'application/json; charset=utf-8'];
const FAILURE_BODY = '{"error":"Internal Server Error"}';
const FAILURE_RECORD_SIZE =
  RECORD_HEADER_SIZE + HEADER_ENTRY_SIZE + FAILURE_HEADERS[1].length + FAILURE_HEADERS[2].length + FAILURE_BODY.length;

class Bridge {
  // `handle(buf, start)` runs the app for the envelope at `start`; `report(err)` is told about
  // failures of the bridge itself (never about errors of the app's handlers).
  constructor(handle, report) {
    this.native = null;
    // The App this server runs (req.app, res.app); set by the dispatcher.
    this.app = null;
    this._handle = handle;
    this._report = report;
    this._out = Buffer.allocUnsafe(INITIAL_SIZE);
    this._len = 0;
    this._inBatch = false;
    this._flushScheduled = false;
    // Batches served in a row from respond() without going back to the event loop.
    this._chained = 0;
    // Requests whose req.signal was read, or whose answer or body streams, and whose response is
    // still owed, by id: control records reach them.
    this._watched = new Map();
    // Requests whose body streams in (a { body: 'stream' } route), by id: data records reach them.
    this._bodies = new Map();
    // Responses being streamed, and WebSockets, by id: credit records reach them.
    this._writers = new Map();
    // Open WebSockets (js/ws.js) by id: message and closed records reach them.
    this._sockets = new Map();
    // Sockets whose message handlers took bytes in this batch (their `_due`), credited to Rust
    // at its end: one credit record per socket and batch rather than per message.
    this._due = [];
    // The server's topics (js/ws-hub.js), set by the dispatcher.
    this.hub = null;
    // Set by the server: what to do with an internal error Rust contained.
    this.onServerError = null;
    // The bridges of the server's other I/O threads (listen({ ioThreads })), set by the server.
    this.siblings = [];
    this._flush = this._flush.bind(this);
    this.onBatch = this.onBatch.bind(this);
  }

  // Called by the native threadsafe function, from the event loop. Nothing may escape from here: an
  // exception thrown out of that callback would take the process down.
  onBatch(buf) {
    this._chained = 0;
    this._run(buf);
  }

  _run(buf) {
    this._inBatch = true;
    try {
      let pos = 0;
      while (pos < buf.length) {
        const kind = pos + CONTROL_HEADER_SIZE <= buf.length ? buf[pos + 4] : 0;
        const min = kind >= CONTROL_RECORD ? CONTROL_HEADER_SIZE : ENVELOPE_HEADER_SIZE;
        const len = pos + min <= buf.length ? buf.readUInt32LE(pos) : 0;
        if (len < min || pos + len > buf.length) {
          // Without a trustworthy length the next record cannot be found: give up on the rest.
          throw new HN_ERR_BAD_ENVELOPE(`Malformed request envelope at byte ${pos} of a ${buf.length}-byte batch`);
        }
        if (kind === WS_MESSAGE_RECORD) this._wsMessage(buf, pos, len);
        else if (kind === DATA_RECORD) this._data(buf, pos, len);
        else if (kind === CREDIT_RECORD) this._credit(buf, pos, len);
        else if (kind === WS_CLOSED_RECORD) this._wsClosed(buf, pos, len);
        else if (kind === CONTROL_RECORD) this._control(buf, pos, len);
        else if (kind === ENVELOPE_VERSION) this._dispatch(buf, pos);
        else this._fail(buf.readUInt32LE(pos + 8), new HN_ERR_BAD_ENVELOPE(`Unsupported request envelope version ${buf[pos + 4]}`));
        pos += len;
      }
    } catch (err) {
      this._report(err);
    } finally {
      if (this._due.length !== 0) this._creditSockets();
      this._inBatch = false;
      // Scheduled after the batch rather than at its first response, so the continuations of async
      // handlers queued during the batch run first and their responses share the respond() call.
      if (this._len > 0) this._scheduleFlush();
    }
  }

  // Lets a control record for `req` reach it (req.signal).
  watch(req) {
    this._watched.set(req.id, req);
  }

  _control(buf, pos, len) {
    const event = buf[pos + 5];
    if (event === EVENT_SERVER_ERROR) {
      const err = new HN_ERR_INTERNAL(buf.toString('utf8', pos + CONTROL_HEADER_SIZE, pos + len));
      if (this.onServerError !== null) this.onServerError(err);
      else this._report(err);
      return;
    }
    const id = buf.readUInt32LE(pos + 8);
    const req = this._watched.get(id);
    if (req === undefined) return;
    this._forget(id);
    req._abort(event);
  }

  // Body bytes of a streamed request (a view into the batch, which belongs to JS).
  _data(buf, pos, len) {
    const id = buf.readUInt32LE(pos + 8);
    const req = this._bodies.get(id);
    if (req === undefined) return;
    const end = (buf[pos + 5] & IN_FLAG_END) !== 0;
    if (end) this._bodies.delete(id);
    req._bodyData(buf.subarray(pos + STREAM_HEADER_SIZE, pos + len), end);
  }

  // Bytes of a streamed answer that reached the client's socket: it may send as much again.
  _credit(buf, pos, len) {
    if (len !== CREDIT_SIZE) throw new HN_ERR_BAD_ENVELOPE(`Malformed credit record at byte ${pos}`);
    const res = this._writers.get(buf.readUInt32LE(pos + 8));
    if (res !== undefined) res._credit(buf.readUInt32LE(pos + 12));
  }

  // A whole WebSocket message, a view into the batch (which belongs to JS, so the handler may keep
  // it). Credited once the handler's synchronous part is done: Rust reads a socket on only while
  // JS keeps up with it.
  _wsMessage(buf, pos, len) {
    const ws = this._sockets.get(buf.readUInt32LE(pos + 8));
    if (ws === undefined) return;
    if (ws._due === 0) this._due.push(ws);
    ws._due += len - STREAM_HEADER_SIZE;
    ws._message(buf.subarray(pos + STREAM_HEADER_SIZE, pos + len), (buf[pos + 5] & IN_FLAG_BINARY) !== 0);
  }

  _creditSockets() {
    for (const ws of this._due) {
      // A socket that closed in the meantime has nobody left to credit.
      if (ws._due !== 0 && this._sockets.has(ws._id)) this.credit(ws._id, ws._due);
      ws._due = 0;
    }
    this._due.length = 0;
  }

  _wsClosed(buf, pos, len) {
    if (len < WS_CLOSED_MIN) throw new HN_ERR_BAD_ENVELOPE(`Malformed WebSocket close record at byte ${pos}`);
    const id = buf.readUInt32LE(pos + 8);
    const ws = this._sockets.get(id);
    if (ws === undefined) return;
    this._sockets.delete(id);
    this._writers.delete(id);
    ws._closed(buf.readUInt16LE(pos + STREAM_HEADER_SIZE), buf.toString('utf8', pos + WS_CLOSED_MIN, pos + len));
  }

  // Lets data records for `req`'s body reach it.
  streamBody(req) {
    this._bodies.set(req.id, req);
    this._watched.set(req.id, req);
  }

  _forget(id) {
    this._watched.delete(id);
    this._bodies.delete(id);
    this._writers.delete(id);
  }

  // Throws (HN_ERR_RESPONSE_TOO_LARGE) without writing anything when the record cannot carry `res`.
  send(res, body) {
    this._write(res._id, res.statusCode, res._headers, body, res._cacheTtlMs, res._cacheKey);
    this._answered(res._id);
  }

  // A file answer: `headers` are the app's triples followed by the pseudo headers of
  // docs/bridge.md, `path` the file's path (absolute, or relative to the `:root` pseudo header).
  // Throws like send().
  file(res, headers, path) {
    this._write(res._id, res.statusCode, headers, path, 0, '', FLAG_END | FLAG_FILE);
    this._answered(res._id);
  }

  // Control records no longer concern a request whose whole answer went (a streamed body still
  // coming in does).
  _answered(id) {
    if (this._watched.size !== 0 && !this._bodies.has(id)) this._watched.delete(id);
  }

  // The head of a streamed answer (status, headers, and `body` as its first bytes); data records
  // follow. From now on credit records reach `res` and control records its request.
  head(res, body, waiting = false) {
    this._write(res._id, res.statusCode, res._headers, body, 0, '', waiting ? FLAG_WAITING : 0);
    this._writers.set(res._id, res);
    this._watched.set(res._id, res._req);
  }

  // Body bytes of a streamed answer; `end` closes it, `abort` cuts it off (the client sees an
  // incomplete answer), `waiting` says the producer waits for credit. `bytes` is a Uint8Array.
  data(id, bytes, end, abort = false, waiting = false) {
    if (this.native === null) return;
    const need = STREAM_HEADER_SIZE + bytes.length;
    if (need > MAX_RECORD) throw new HN_ERR_RESPONSE_TOO_LARGE(`A write can be at most ${MAX_RECORD - STREAM_HEADER_SIZE} bytes`);
    const flags = (end ? FLAG_END : 0) | (abort ? FLAG_ABORT : 0) | (waiting ? FLAG_WAITING : 0);
    const at = this._streamRecord(need, id, KIND_DATA, flags);
    this._out.set(bytes, at + STREAM_HEADER_SIZE);
    if (end || abort) this._forget(id);
  }

  // Tells Rust the app consumed `bytes` of request `id`'s streamed body: it may send that much more.
  credit(id, bytes) {
    if (this.native === null) return;
    const at = this._streamRecord(CREDIT_SIZE, id, KIND_CREDIT, 0);
    this._out.writeUInt32LE(bytes, at + STREAM_HEADER_SIZE);
  }

  // Reserves a `len`-byte data or credit record and writes its 12-byte header; returns where it
  // starts (the caller fills the rest).
  _streamRecord(len, id, kind, flags) {
    this._reserve(len);
    const out = this._out;
    const at = this._len;
    out.writeUInt32LE(len, at);
    out.writeUInt32LE(id, at + 4);
    out[at + 8] = kind;
    out[at + 9] = flags;
    out.writeUInt16LE(0, at + 10);
    this._len = at + len;
    if (!this._inBatch) this._scheduleFlush();
    return at;
  }

  _dispatch(buf, pos) {
    try {
      this._handle(buf, pos);
    } catch (err) {
      // Handler errors are dealt with by the app; this is a failure to build or route the request.
      this._fail(buf.readUInt32LE(pos + 8), err);
    }
  }

  _fail(requestId, err) {
    this._report(err);
    this._write(requestId, 500, FAILURE_HEADERS, FAILURE_BODY);
  }

  // Ends every stream: the server is gone, nothing more will arrive for them. A socket Rust did
  // not report closed ends as if its connection had dropped (1006), so its close handler runs.
  closeAll() {
    for (const req of this._watched.values()) req._abort(EVENT_CLIENT_GONE);
    this._watched.clear();
    this._bodies.clear();
    this._writers.clear();
    const sockets = [...this._sockets.values()];
    this._sockets.clear();
    for (const ws of sockets) ws._closed(1006, '');
  }

  // Accepts the WebSocket upgrade `res` answers (status 101, the headers the app set) and lets
  // records for the socket reach `ws`. False when the server is closed: no socket is made.
  accept(res, ws) {
    if (this.native === null) return false;
    this._write(res._id, 101, res._headers, '', 0, '', FLAG_END | FLAG_UPGRADE);
    this._answered(res._id);
    this._sockets.set(ws._id, ws);
    this._writers.set(ws._id, ws);
    return true;
  }

  // A message to socket `id` (a string, sent as UTF-8, or bytes); returns its length in bytes.
  // `flags`: binary, compress, waiting (js/ws.js).
  wsSend(id, message, flags) {
    return this._wsRecord(id, KIND_WS_SEND, flags, 0, null, message);
  }

  // The close handshake with `code` and `reason` (at most 123 bytes, js/ws.js), or with
  // `terminate` the connection dropped.
  wsEnd(id, code, reason, terminate) {
    this._wsRecord(id, KIND_WS_END, terminate ? WS_FLAG_TERMINATE : 0, code, null, reason);
  }

  wsTopic(id, subscribe, topic) {
    this._wsRecord(id, subscribe ? KIND_WS_SUBSCRIBE : KIND_WS_UNSUBSCRIBE, 0, 0, null, topic);
  }

  // To every subscriber of `topic` but socket `id` (0: from the app).
  wsPublish(id, topic, message, flags) {
    this._wsRecord(id, KIND_WS_PUBLISH, flags, 0, topic, message);
  }

  // One WebSocket record: the 12-byte head (u16 `field` at 10, or the topic's length when there is
  // a `topic`), the topic, then `body` (a string, written as UTF-8, or bytes). Returns the body's
  // length. Callers have kept topics within a u16 and bodies within a record (js/ws.js).
  _wsRecord(id, kind, flags, field, topic, body) {
    if (this.native === null) return 0; // closed: every socket is gone
    const bodyMax = typeof body === 'string' ? body.length * 3 : body.length;
    this._reserve(STREAM_HEADER_SIZE + (topic === null ? 0 : topic.length * 3) + bodyMax);
    const out = this._out;
    const at = this._len;
    let pos = at + STREAM_HEADER_SIZE;
    if (topic !== null) {
      field = writeString(out, pos, topic);
      pos += field;
    }
    let bodyLen;
    if (typeof body === 'string') {
      bodyLen = writeString(out, pos, body);
    } else {
      out.set(body, pos);
      bodyLen = body.length;
    }
    pos += bodyLen;
    out.writeUInt32LE(pos - at, at);
    out.writeUInt32LE(id, at + 4);
    out[at + 8] = kind;
    out[at + 9] = flags;
    out.writeUInt16LE(field, at + 10);
    this._len = pos;
    if (!this._inBatch) this._scheduleFlush();
    return bodyLen;
  }

  // Appends one response record. `headers` holds [lowerName, name, value] triples where value is a
  // string or an array of strings (one header line each); `body` is a string or a Uint8Array.
  // `cacheTtlMs` > 0 (set by res.ncache()) asks Rust to store the response under `cacheKey`, the
  // raw request target. A response the record cannot carry throws HN_ERR_RESPONSE_TOO_LARGE before
  // anything is written. Should encoding fail past that point (a bug), the record is rolled back
  // and replaced by a 500, so the buffer never holds half a record and the client is answered.
  // `flags` is FLAG_END for a whole answer, 0 for the head of a streamed one.
  _write(requestId, status, headers, body, cacheTtlMs = 0, cacheKey = '', flags = FLAG_END) {
    if (this.native === null) return; // closed: Rust has nobody left to answer
    if (!Number.isInteger(status) || status < 100 || status > 999) status = 500;
    if (cacheTtlMs === 0) cacheKey = '';

    // Reserve the worst case (3 UTF-8 bytes per UTF-16 unit) so strings are written straight into
    // the buffer, then record the lengths actually written.
    let need = RECORD_HEADER_SIZE + cacheKey.length * 3 + (typeof body === 'string' ? body.length * 3 : body.length);
    let lines = 0;
    for (let i = 0; i < headers.length; i += 3) {
      const entry = HEADER_ENTRY_SIZE + headers[i + 1].length;
      const value = headers[i + 2];
      if (typeof value === 'string') {
        need += entry + value.length * 3;
        lines++;
      } else {
        for (let j = 0; j < value.length; j++) need += entry + value[j].length * 3;
        lines += value.length;
      }
    }
    if (lines > MAX_HEADER_LINES) {
      throw new HN_ERR_RESPONSE_TOO_LARGE(`A response can carry at most ${MAX_HEADER_LINES} header lines, this one has ${lines}`);
    }
    if (need > MAX_RECORD) {
      throw new HN_ERR_RESPONSE_TOO_LARGE(`A response can be at most ${MAX_RECORD} bytes with its headers (the record's length is a u32)`);
    }
    this._reserve(need);

    const start = this._len;
    try {
      this._len = encodeRecord(this._out, start, requestId, status, headers, lines, body, cacheTtlMs, cacheKey, flags);
    } catch (err) {
      this._len = start;
      this._report(err);
      this._reserve(FAILURE_RECORD_SIZE);
      this._len = encodeRecord(this._out, start, requestId, 500, FAILURE_HEADERS, 1, FAILURE_BODY, 0, '', FLAG_END);
    }
    if (!this._inBatch) this._scheduleFlush();
  }

  _reserve(bytes) {
    const needed = this._len + bytes;
    if (needed <= this._out.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(needed, this._out.length * 2));
    this._out.copy(bigger, 0, 0, this._len);
    this._out = bigger;
  }

  _scheduleFlush() {
    if (this._flushScheduled) return;
    this._flushScheduled = true;
    queueMicrotask(this._flush);
  }

  // Hands buffered responses to Rust now rather than at the end of the turn (before a cache
  // invalidation, which must not overtake them). Called from app code: never waits for a request,
  // which would run handlers inside the caller.
  flushNow() {
    if (this._len > 0) this._send(false);
  }

  _flush() {
    this._flushScheduled = false;
    this._send(this._chained < MAX_CHAINED);
  }

  _send(mayWait) {
    const len = this._len;
    this._len = 0;
    if (len === 0 || this.native === null) return;
    let next;
    try {
      next = this.native.respond(this._out.subarray(0, len), mayWait); // copied by Rust before it returns
    } catch (err) {
      this._report(err);
    }
    if (this._out.length > RETAINED_SIZE) this._out = Buffer.allocUnsafe(INITIAL_SIZE);
    if (next) {
      this._chained++;
      this._run(next);
    }
  }
}

// Writes one record at `start` of `out` (room reserved by the caller); returns where it ends.
function encodeRecord(out, start, requestId, status, headers, lines, body, cacheTtlMs, cacheKey, flags) {
  let pos = start + RECORD_HEADER_SIZE;
  for (let i = 0; i < headers.length; i += 3) {
    const name = headers[i + 1];
    const value = headers[i + 2];
    if (typeof value === 'string') {
      pos = writeHeader(out, pos, name, value);
    } else {
      for (let j = 0; j < value.length; j++) pos = writeHeader(out, pos, name, value[j]);
    }
  }
  // The key is the request target as received; Request decoded it as UTF-8, so writing it back
  // as UTF-8 gives Rust the exact bytes it matched on.
  const keyLen = cacheKey.length === 0 ? 0 : writeString(out, pos, cacheKey);
  pos += keyLen;
  const bodyStart = pos;
  if (typeof body === 'string') {
    pos += writeString(out, pos, body);
  } else {
    out.set(body, pos);
    pos += body.length;
  }
  out.writeUInt32LE(pos - start, start);
  out.writeUInt32LE(requestId, start + 4);
  out[start + 8] = KIND_RESPONSE;
  out[start + 9] = flags;
  out.writeUInt16LE(status, start + 10);
  out.writeUInt16LE(lines, start + 12);
  out.writeUInt16LE(keyLen, start + 14);
  out.writeUInt32LE(pos - bodyStart, start + 16);
  out.writeUInt32LE(cacheTtlMs, start + 20);
  return pos;
}

function writeHeader(out, pos, name, value) {
  const nameLen = writeString(out, pos + HEADER_ENTRY_SIZE, name);
  const valueLen = writeString(out, pos + HEADER_ENTRY_SIZE + nameLen, value);
  out.writeUInt16LE(nameLen, pos);
  out.writeUInt32LE(valueLen, pos + 2);
  return pos + HEADER_ENTRY_SIZE + nameLen + valueLen;
}

// Writes `str` as UTF-8 at `pos`, returning the byte count. Most header names, values and small
// bodies are short ASCII, which a plain loop copies several times faster than a call into
// Buffer's native utf8Write costs; anything else goes to utf8Write.
function writeString(out, pos, str) {
  const len = str.length;
  if (len <= SHORT_STRING) {
    let i = 0;
    for (; i < len; i++) {
      const c = str.charCodeAt(i);
      if (c > 0x7f) break;
      out[pos + i] = c;
    }
    if (i === len) return len;
  }
  // The length spelled out: workerd's Buffer (Cloudflare's nodejs_compat) defaults it to the whole
  // buffer's, not the room after `pos`, and throws.
  return out.utf8Write(str, pos, out.length - pos);
}

module.exports = {
  Bridge,
  // The record layout, shared with the JavaScript backend's side of it (js/host/envelope.js).
  ENVELOPE_VERSION,
  ENVELOPE_HEADER_SIZE,
  HEADER_ENTRY_SIZE,
  STREAM_HEADER_SIZE,
  CREDIT_SIZE,
  RECORD_HEADER_SIZE,
  CONTROL_RECORD,
  DATA_RECORD,
  CREDIT_RECORD,
  IN_FLAG_END,
  EVENT_SERVER_ERROR,
  KIND_RESPONSE,
  KIND_DATA,
  KIND_CREDIT,
  FLAG_END,
  FLAG_ABORT,
  FLAG_WAITING,
  FLAG_FILE,
  FLAG_UPGRADE,
  MAX_CACHE_KEY,
  MAX_HEADER_NAME,
  MAX_HEADER_LINES,
  EVENT_CLIENT_GONE,
  EVENT_HANDLER_TIMED_OUT,
  EVENT_STREAM_TIMED_OUT,
  EVENT_BODY_TIMED_OUT,
  EVENT_BODY_INVALID,
  EVENT_LENGTH_EXCEEDED,
};
