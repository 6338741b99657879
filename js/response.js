'use strict';
// The Express-style response API. A whole answer (send, json, end(data) …) is written when it is
// finished: the bridge encodes status, headers and body into the shared output buffer in one go.
// A streamed answer (write, flushHeaders, send(stream), pipe) is js/outgoing.js's. The
// EventEmitter side is built on first use: a response nobody listens to pays nothing for it.
const { EventEmitter } = require('node:events');
const { STATUS_CODES } = require('node:http');
const { isAnyArrayBuffer } = require('node:util/types');
const {
  HN_ERR_INVALID_HEADER,
  HN_ERR_INVALID_STATUS,
  HN_ERR_INVALID_ARG,
  HN_ERR_CACHE_METHOD,
  HN_ERR_CACHE_COOKIE,
  HN_ERR_CACHE_STREAM,
  HN_ERR_RESPONSE_TOO_LARGE,
} = require('./errors');
const { MAX_CACHE_KEY, MAX_HEADER_NAME, MAX_HEADER_LINES } = require('./bridge');
const outgoing = require('./outgoing');
const { guarded } = require('./contain');

const { TOKEN, headerValue, mimeType, JSON_TYPE, HTML_TYPE, TEXT_TYPE, BINARY_TYPE } = require('./header-values');
// cacheTtlMs is a u32 in the response record.
const MAX_TTL_MS = 0xffffffff;

class Response {
  // `routeMethod`: the method the matched route was registered for ('GET', 'ALL', ...), null when
  // no route matched.
  constructor(bridge, req, routeMethod = null) {
    this._bridge = bridge;
    this._req = req;
    this._routeMethod = routeMethod;
    this._id = req.id;
    this.statusCode = 200;
    // Flat [lowerName, name, value, ...] triples: responses carry a handful of headers, for which
    // a linear scan beats a Map and keeps every response the same shape.
    this._headers = [];
    // Header lines in _headers (an array value counts each element): kept within what the
    // response record carries, so that whatever was set can always be sent, by the error path too.
    this._lines = 0;
    this._sent = false;
    // writeHead() ran (called by the app, or implicitly just before the head is encoded): the
    // status and headers are final, as node's res.headersSent says right after writeHead().
    this._headWritten = false;
    // Not sent (Rust writes the standard reason phrase); kept for code that reads it back.
    this.statusMessage = undefined;
    // The client left or the handler timed out (req.signal aborted): sending is a no-op.
    this._aborted = false;
    this._locals = undefined;
    // Set by ncache() only for the duration of its send.
    this._cacheTtlMs = 0;
    this._cacheKey = '';
    // The whole answer's body once sent (see _answer()).
    this._sentBody = undefined;
    // Streaming (js/outgoing.js): the head went ahead of the body; the body is complete; 'finish'
    // and 'close' were emitted; bytes sent but not yet taken by the client; write() said wait.
    this._streaming = false;
    this._ended = false;
    this._finished = false;
    this._closed = false;
    this._unacked = 0;
    this._needDrain = false;
    this._drainWaiters = undefined;
    this._emitter = undefined;
    // Set by the dispatcher: what a throw from the code now running for this request would do
    // (next(err) in a chain, the error handler's own failure path...). Asynchronous senders
    // (sendFile) raise their errors through it.
    this._fail = null;
    // Set by session() (js/session.js): run once just before the answer's last record; see
    // _holdEnd().
    this._beforeEnd = undefined;
  }

  get headersSent() {
    return this._sent || this._headWritten;
  }

  // node:http's writeHead(status[, statusMessage][, headers]): headers as an object or a flat
  // [name, value, ...] array, added to those already set. Every response calls it (implicitly,
  // with res.statusCode) just before its head is encoded, as node's _implicitHeader does, so code
  // that wraps it for a last look at the head (on-headers, sessions, response-time) sees every
  // response. After it the head is final.
  writeHead(status, statusMessage, headers) {
    if (this._headWritten) return this;
    if (typeof statusMessage !== 'string') {
      headers = statusMessage;
      statusMessage = undefined;
    }
    this.status(status);
    if (statusMessage !== undefined) this.statusMessage = statusMessage;
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2) this.append(headers[i], headers[i + 1]);
    } else if (headers !== undefined && headers !== null) {
      for (const key of Object.keys(headers)) this._setHeader(key, headers[key]);
    }
    this._headWritten = true;
    return this;
  }

  // Called where the head is about to be encoded.
  _implicitHeader() {
    if (!this._headWritten) this.writeHead(this.statusCode);
  }

  // Adds to a header's values rather than replacing them (Express's res.append()).
  append(name, value) {
    const prev = this.get(name);
    if (prev === undefined) return this.set(name, value);
    const more = Array.isArray(value) ? value : [value];
    return this.set(name, (Array.isArray(prev) ? prev : [prev]).concat(more));
  }

  // node:http's Writable-like surface, for stream.pipe(res), pipeline(..., res) and middleware.
  get writable() {
    return !this._ended && !this._aborted;
  }

  get writableEnded() {
    return this._ended;
  }

  get writableFinished() {
    return this._finished;
  }

  get writableNeedDrain() {
    return this._needDrain;
  }

  get writableHighWaterMark() {
    return outgoing.WRITABLE_HIGH_WATER_MARK;
  }

  get writableLength() {
    return Math.max(0, this._unacked);
  }

  get writableObjectMode() {
    return false;
  }

  get writableCorked() {
    return 0;
  }

  get destroyed() {
    return this._aborted;
  }

  get finished() {
    return this._ended;
  }

  write(chunk, encoding, cb) {
    return outgoing.write(this, chunk, encoding, cb);
  }

  flushHeaders() {
    outgoing.flushHeaders(this);
  }

  destroy(err) {
    return outgoing.destroy(this, err);
  }

  // Node streams call these on a destination; there is nothing to cork.
  cork() {}

  uncork() {}

  setDefaultEncoding() {
    return this;
  }

  // EventEmitter, built on first use. A 'close' listener (on-finished, a logger, a proxy) must
  // hear of a client that leaves, which only requests the bridge watches are told of.
  _events(event) {
    if (this._emitter === undefined) this._emitter = new EventEmitter();
    if (event === 'close' && !this._ended) this._bridge.watch(this._req);
    return this._emitter;
  }

  // Listeners run later, outside any handler's try: a throw from one is this request's error
  // (js/contain.js), not the process's.
  on(event, listener) {
    const events = this._events(event);
    events.on(event, guarded(this, events, event, listener, false));
    return this;
  }

  addListener(event, listener) {
    return this.on(event, listener);
  }

  once(event, listener) {
    const events = this._events(event);
    events.on(event, guarded(this, events, event, listener, true));
    return this;
  }

  prependListener(event, listener) {
    const events = this._events(event);
    events.prependListener(event, guarded(this, events, event, listener, false));
    return this;
  }

  prependOnceListener(event, listener) {
    const events = this._events(event);
    events.prependListener(event, guarded(this, events, event, listener, true));
    return this;
  }

  off(event, listener) {
    if (this._emitter !== undefined) this._emitter.off(event, listener);
    return this;
  }

  removeListener(event, listener) {
    return this.off(event, listener);
  }

  removeAllListeners(event) {
    if (this._emitter !== undefined) this._emitter.removeAllListeners(event);
    return this;
  }

  emit(event, ...args) {
    return this._emitter !== undefined && this._emitter.emit(event, ...args);
  }

  listenerCount(event) {
    return this._emitter === undefined ? 0 : this._emitter.listenerCount(event);
  }

  listeners(event) {
    return this._emitter === undefined ? [] : this._emitter.listeners(event);
  }

  // Credit from Rust (bridge.js): bytes of the streamed body reached the client.
  _credit(bytes) {
    outgoing.credit(this, bytes);
  }

  get locals() {
    if (this._locals === undefined) this._locals = {};
    return this._locals;
  }

  set locals(value) {
    this._locals = value;
  }

  status(code) {
    if (!Number.isInteger(code) || code < 100 || code > 999) {
      throw new HN_ERR_INVALID_STATUS(`Invalid status code: ${String(code)}`);
    }
    this.statusCode = code;
    return this;
  }

  set(name, value) {
    if (typeof name === 'object' && name !== null && value === undefined) {
      for (const key of Object.keys(name)) this._setHeader(key, name[key]);
    } else {
      this._setHeader(name, value);
    }
    return this;
  }

  header(name, value) {
    return this.set(name, value);
  }

  get(name) {
    const lowerName = String(name).toLowerCase();
    const i = this._indexOf(lowerName);
    if (i !== -1) return this._headers[i + 2];
    // Rust writes the length of a whole answer; code that reads it back after send() gets it.
    if (lowerName === 'content-length' && this._sentBody !== undefined) return String(byteLength(this._sentBody));
    return undefined;
  }

  // node:http's header methods, for middleware written against ServerResponse (serve-static,
  // compression, helmet...): the same headers res.set()/res.get() see, checked the same way.
  setHeader(name, value) {
    return this.set(name, value);
  }

  getHeader(name) {
    return this.get(name);
  }

  hasHeader(name) {
    return this._indexOf(String(name).toLowerCase()) !== -1;
  }

  removeHeader(name) {
    const i = this._indexOf(String(name).toLowerCase());
    if (i !== -1) {
      this._lines -= lineCount(this._headers[i + 2]);
      this._headers.splice(i, 3);
    }
  }

  getHeaderNames() {
    const names = [];
    for (let i = 0; i < this._headers.length; i += 3) names.push(this._headers[i]);
    return names;
  }

  getHeaders() {
    const all = Object.create(null);
    for (let i = 0; i < this._headers.length; i += 3) all[this._headers[i]] = this._headers[i + 2];
    return all;
  }

  type(type) {
    if (typeof type !== 'string') throw new HN_ERR_INVALID_ARG('res.type() expects a string');
    return this.set('content-type', mimeType(type));
  }

  // Sends like send(body) and lets Rust answer later GET/HEAD requests for the same target (path
  // and query, as received) from its cache for `ttlSeconds`, without running any JS.
  ncache(body, ttlSeconds, options) {
    const ttlMs = cacheTtlMs(ttlSeconds);
    const extraHeaders = ncacheHeaders(options);
    if (this._ended) return this;
    const method = this._req.method;
    if (method !== 'GET' && method !== 'HEAD') {
      throw new HN_ERR_CACHE_METHOD(
        `res.ncache() can only cache responses to GET and HEAD requests, not ${method} ${this._req.url}: use res.send()`,
      );
    }
    if (this._routeMethod === 'HEAD') {
      // Rust answers GET requests from the cache too: a HEAD route's answer would be sent to them.
      throw new HN_ERR_CACHE_METHOD(
        `res.ncache() cannot cache the answer of a HEAD route (${this._req.url}): the cached response would also ` +
          'answer GET requests. Cache it from the GET route, which answers HEAD requests too',
      );
    }
    // Checked before anything is set, so the error handler answers with a clean response.
    if (this._indexOf('set-cookie') !== -1 || (extraHeaders !== undefined && hasSetCookie(extraHeaders))) {
      throw new HN_ERR_CACHE_COOKIE(
        `res.ncache() cannot cache a response that sets cookies (${method} ${this._req.url}): the cached copy ` +
          'would be replayed to every client. Send it with res.send(), or set the cookie on another response',
      );
    }
    if (body !== null && typeof body === 'object' && outgoing.isStreamable(body)) {
      throw new HN_ERR_CACHE_STREAM(
        `res.ncache() cannot cache a stream (${method} ${this._req.url}): the cache holds whole answers. ` +
          'Collect it first, or send it with res.send(stream)',
      );
    }
    if (extraHeaders !== undefined) this.set(extraHeaders);
    // A key too long for the record (a target over 64 KiB, possible only with a raised
    // maxUrlLength) is sent uncached rather than failing the request. So is an answer that varies
    // on a request header other than Accept-Encoding (which the cache negotiates itself): the key
    // is the target alone, so a cors() answer for one Origin would be replayed to every other.
    if (this._req._targetBytes() <= MAX_CACHE_KEY && !variesBeyondEncoding(this.get('vary'))) {
      this._cacheTtlMs = ttlMs;
      this._cacheKey = this._req._target();
    }
    try {
      return this.send(body);
    } finally {
      // Whether or not send() threw (JSON.stringify can), no later response of this request
      // (e.g. the error handler's) may be cached.
      this._cacheTtlMs = 0;
      this._cacheKey = '';
    }
  }

  send(body) {
    if (this._ended) return this;
    if (typeof body === 'string') {
      this._defaultType(HTML_TYPE);
      return this._finish(body);
    }
    if (body instanceof Uint8Array) {
      this._defaultType(BINARY_TYPE);
      return this._finish(body);
    }
    if (body === undefined || body === null) return this._finish('');
    if (typeof body === 'object') {
      const bytes = binaryBody(body);
      if (bytes !== undefined) {
        this._defaultType(BINARY_TYPE);
        return this._finish(bytes);
      }
      if (outgoing.isStreamable(body)) return this._sendStream(body);
    }
    return this.json(body);
  }

  // res.send(readable | ReadableStream | async iterable | Blob): streamed with backpressure.
  _sendStream(source) {
    this._defaultType(source instanceof Blob && source.type ? source.type : BINARY_TYPE);
    // A sized source is sent with its length (as node's Response does for a Blob).
    if (source instanceof Blob && this._indexOf('content-length') === -1) this.set('content-length', source.size);
    outgoing.pump(this, source, (err) => {
      if (process.env.NODE_ENV !== 'test') {
        console.error(`http-native: the stream sent for ${this._req.method} ${this._req.url} failed:`, err);
      }
      if (this._sent) {
        this.destroy();
      } else {
        this._clearHeaders();
        this.status(500).json({ error: STATUS_CODES[500] });
      }
    });
    return this;
  }

  json(value) {
    if (this._ended) return this;
    const body = JSON.stringify(value);
    this._defaultType(JSON_TYPE);
    return this._finish(body === undefined ? '' : body);
  }

  text(value) {
    if (this._ended) return this;
    this._defaultType(TEXT_TYPE);
    return this._finish(value === undefined ? '' : String(value));
  }

  html(value) {
    if (this._ended) return this;
    this._defaultType(HTML_TYPE);
    return this._finish(value === undefined ? '' : String(value));
  }

  redirect(status, url) {
    if (url === undefined) {
      url = status;
      status = 302;
    }
    if (typeof url !== 'string') throw new HN_ERR_INVALID_ARG('res.redirect() expects a URL string');
    if (this._ended) return this;
    this.status(status).set('location', url).set('content-type', TEXT_TYPE);
    return this._finish(`${STATUS_CODES[status] || 'Redirecting'}. Redirecting to ${url}`);
  }

  sendStatus(code) {
    if (this._ended) return this;
    this.status(code).set('content-type', TEXT_TYPE);
    return this._finish(STATUS_CODES[code] || String(code));
  }

  end(data, encoding, cb) {
    return outgoing.end(this, data, encoding, cb);
  }

  // Every whole answer (send, json, text, redirect...) ends here. When a middleware replaced
  // res.end (compression, express-session, connect-timeout...), the answer goes through it, as
  // Express's res.send() calls res.end(); otherwise straight to the bridge.
  _finish(body) {
    if (this.end !== END) return this._endThroughWrapper(body);
    return this._answer(body);
  }

  // Express's res.send() tail: the length set (a wrapper may measure it: compression's threshold,
  // express-session's split last byte), no body for HEAD.
  _endThroughWrapper(body) {
    if (!this.headersSent && this._indexOf('content-length') === -1) {
      this.set('content-length', byteLength(body));
    }
    if (this._req.method === 'HEAD') this.end();
    else this.end(asChunk(body));
    return this;
  }

  // The answer itself (res.end() without a wrapper, or the prototype's end a wrapper calls).
  _answer(body) {
    // send()/json()/… after write() or flushHeaders(): the head is gone, so the body ends the
    // stream (as node's res.end(data) would) rather than being dropped with the stream left open.
    if (this._streaming && !this._ended) {
      outgoing.end(this, asChunk(body));
      return this;
    }
    if (!this._sent) {
      this._implicitHeader();
      if (this._beforeEnd !== undefined && this._holdEnd(() => this._finish(body))) return this;
      // Encoded before the response counts as sent: one the record cannot carry throws from here
      // while the error path can still answer (the head is not final then).
      if (!this._aborted) {
        try {
          this._bridge.send(this, body);
        } catch (err) {
          this._headWritten = false;
          throw err;
        }
      }
      // Kept (a reference, not a copy) so that getHeader('content-length') can answer afterwards,
      // as it does in Express, where send() sets it: morgan's :res[content-length].
      this._sentBody = body;
      this._markSent();
    }
    return this;
  }

  // A file answer (js/files.js): `headers` are triples with the pseudo headers appended, `path`
  // the record's body. Throws like _finish() when the record cannot carry them.
  _sendFileRecord(headers, path) {
    if (this._beforeEnd !== undefined && this._holdEnd(() => this._sendFileRecord(headers, path))) return;
    if (!this._aborted) this._bridge.file(this, headers, path);
    this._markSent();
  }

  // Runs _beforeEnd once. When it returns a promise, the answer's last record (`send`) waits for
  // it, so the client cannot have the answer before, say, its session is saved to an async store
  // (express-session delays res.end the same way); meanwhile the response counts as ended, so
  // what the app sends after is dropped as after any end. True when the end is held. A failure
  // (thrown, rejected, or from `send`) takes the error path with a clean head; a streamed answer,
  // whose head is gone, is cut off instead.
  _holdEnd(send) {
    const hook = this._beforeEnd;
    this._beforeEnd = undefined;
    let wait;
    try {
      wait = hook(this);
    } catch (err) {
      if (!this._sent) this._clearHeaders();
      throw err;
    }
    if (wait === undefined || wait === null || typeof wait.then !== 'function') return false;
    const wasEnded = this._ended;
    this._ended = true;
    const fail = (err) => {
      if (this._aborted) return;
      this._ended = wasEnded;
      if (this._sent) {
        this.destroy();
        return;
      }
      this._clearHeaders();
      this._fail(err);
    };
    wait.then(() => {
      try {
        send();
      } catch (err) {
        fail(err);
      }
    }, fail);
    return true;
  }

  // The whole answer is on its way.
  _markSent() {
    this._sent = true;
    if (this._emitter !== undefined) outgoing.finished(this);
    else this._ended = this._finished = true;
  }

  // The error path's fresh start: whatever the failed answer set goes, and the head may be
  // written again.
  _clearHeaders() {
    this._headers = [];
    this._lines = 0;
    this._headWritten = false;
  }

  _defaultType(mime) {
    if (this._indexOf('content-type') === -1) {
      this._headers.push('content-type', 'content-type', mime);
      this._lines++;
    }
  }

  _indexOf(lowerName) {
    const headers = this._headers;
    for (let i = 0; i < headers.length; i += 3) if (headers[i] === lowerName) return i;
    return -1;
  }

  // Validated here, where the handler can still see the error, rather than silently dropped by
  // Rust: a header that would split the response is a bug in the app.
  _setHeader(name, value) {
    if (typeof name !== 'string' || !TOKEN.test(name)) {
      throw new HN_ERR_INVALID_HEADER(`Invalid header name: ${JSON.stringify(String(name))}`);
    }
    if (name.length > MAX_HEADER_NAME) {
      throw new HN_ERR_INVALID_HEADER(`Invalid header name: ${name.length} bytes long, the limit is ${MAX_HEADER_NAME}`);
    }
    let stored;
    if (Array.isArray(value)) {
      stored = value.map((v) => headerValue(name, v));
    } else {
      stored = headerValue(name, value);
    }
    const lowerName = name.toLowerCase();
    const i = this._indexOf(lowerName);
    const lines = this._lines - (i === -1 ? 0 : lineCount(this._headers[i + 2])) + lineCount(stored);
    // One line stays free for the content type send() adds when none was set (checked only near
    // the limit, so a normal set() pays one comparison).
    const full =
      lines > MAX_HEADER_LINES ||
      (lines === MAX_HEADER_LINES && lowerName !== 'content-type' && this._indexOf('content-type') === -1);
    if (full) {
      throw new HN_ERR_RESPONSE_TOO_LARGE(
        `Setting header "${name}" would take the response past ${MAX_HEADER_LINES} header lines, one of them kept for the content type`,
      );
    }
    this._lines = lines;
    if (i === -1) {
      this._headers.push(lowerName, name, stored);
    } else {
      this._headers[i + 1] = name;
      this._headers[i + 2] = stored;
    }
  }

  sse(options) {
    return require('./sse').open(this._req, this, options);
  }

  // Files are answered by Rust (js/files.js, loaded on first use).
  sendFile(path, options, callback) {
    return require('./files').sendFile(this, path, options, callback);
  }

  download(path, filename, options, callback) {
    return require('./files').download(this, path, filename, options, callback);
  }
}

const END = Response.prototype.end;

function byteLength(body) {
  return typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
}

// A finished body as res.end()/write() take it: a string, or the bytes as a Buffer view.
function asChunk(body) {
  return typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

function lineCount(value) {
  return typeof value === 'string' ? 1 : value.length;
}

// The bytes of a binary body other than a Uint8Array (any TypedArray, a DataView, an ArrayBuffer or
// SharedArrayBuffer), as a view without copying; undefined for anything else.
function binaryBody(body) {
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (isAnyArrayBuffer(body)) return new Uint8Array(body);
  return undefined;
}

function cacheTtlMs(ttlSeconds) {
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new HN_ERR_INVALID_ARG(`res.ncache(body, ttlSeconds): ttlSeconds must be a finite number > 0, got ${String(ttlSeconds)}`);
  }
  const ms = Math.max(1, Math.round(ttlSeconds * 1000));
  if (ms > MAX_TTL_MS) {
    throw new HN_ERR_INVALID_ARG(`res.ncache(body, ttlSeconds): ttlSeconds must be at most ${MAX_TTL_MS / 1000}, got ${ttlSeconds}`);
  }
  return ms;
}

// ncache()'s options: only { headers } for now.
function ncacheHeaders(options) {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new HN_ERR_INVALID_ARG('res.ncache(body, ttlSeconds, options): options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (key !== 'headers') throw new HN_ERR_INVALID_ARG(`res.ncache(): unknown option "${key}" (known: headers)`);
  }
  const headers = options.headers;
  if (headers === undefined) return undefined;
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new HN_ERR_INVALID_ARG('res.ncache(): options.headers must be an object of header names to values');
  }
  return headers;
}

function variesBeyondEncoding(vary) {
  if (vary === undefined) return false;
  const names = (Array.isArray(vary) ? vary.join(',') : String(vary)).split(',');
  return names.some((name) => {
    const field = name.trim().toLowerCase();
    return field !== '' && field !== 'accept-encoding';
  });
}

function hasSetCookie(headers) {
  return Object.keys(headers).some((name) => name.toLowerCase() === 'set-cookie');
}

require('./response-helpers').install(Response);
// node:http's remaining ServerResponse surface (socket, req, _header...), as getters.
require('./node-compat').installResponse(Response);

module.exports = { Response };
