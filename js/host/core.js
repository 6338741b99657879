'use strict';
// The JavaScript backend's server logic, shared by every JS front (node:http in
// js/host/node-server.js, app.fetch in js/host/fetch.js): what src/ does between the parsed
// request and the written answer. It routes (js/host/router.js), answers by itself what Rust
// answers by itself (statics, the response cache, 404, 400, 413, 414, 503), hands everything else
// to the app as request envelopes through `onBatch` (docs/bridge.md), and turns the records the
// app sends back (`respond`) into answers for the front. So the app layer (js/bridge.js and up)
// runs the same code on every backend.
//
// API (front-neutral):
//
//   const core = new Core(options, routes, onBatch, statics, dirs)
//     options/routes/onBatch/statics/dirs: NativeServer.start's (docs/bridge.md "Native surface").
//   core.respond(buf)           // the bridge's records (NativeServer#respond); returns undefined
//   core.cacheInvalidate(pattern); core.cacheClear(); core.stats()
//   core.closeAll()             // the server is gone: every exchange in flight is abandoned
//   core.inFlight               // exchanges not finished (a front closing gracefully waits for 0)
//
//   const exchange = core.begin(head, sink)
//     head: { method, target, headers, ip, http10, secure, version?, headSize? }: strings are
//       "binary" (latin1: one char per byte, as node:http gives them); headers [lowerName, value]
//       pairs as sent; version '1.0' | '1.1' (else 505); headSize the head's bytes (maxHeaderSize).
//     sink: the front's side of one answer:
//       sink.answer({ status, reason, headers, body, length, close })
//           a whole answer: headers [name, value] pairs (no framing headers), body a Buffer (empty
//           for HEAD), length the content-length to announce (undefined: none, 1xx/204/304),
//           close: the connection closes after it.
//       sink.start({ status, reason, headers, length, close, chunked })
//           the head of a streamed answer; length: JS's content-length or undefined; chunked:
//           the body is chunked (HTTP/1.1, no length), else it ends with the connection (1.0).
//       sink.write(chunk) → bool   a piece of it; false: call exchange.drained() once it drained
//       sink.end()                 its end
//       sink.abort()               cut the connection (the answer is incomplete or nothing went)
//       sink.pause() / sink.resume()   stop/restart feeding the request body (its window is full)
//       sink.file(path, headers, status, compression) → Promise
//           a FLAG_FILE answer (js/host/files.js serveFile): path and pseudo headers as UTF-8
//           strings, the app's headers as sent; optional (without it: 500)
//       sink.mount(dir, rest, compression) → Promise<boolean>
//           a directory mount (js/host/files.js serveMount); false: nothing there, the request
//           falls through to the app; optional (without it: as if nothing were there)
//     exchange: the core's side, which the front calls:
//       exchange.wantsBody         false once answered at the head (413, 404 ...): drop the body
//       exchange.data(chunk)       request body bytes (a Buffer the core may keep)
//       exchange.end()             the body is complete (call it for a bodiless request too)
//       exchange.drained()         the sink can take writes again
//       exchange.gone()            the client went away (its connection closed)
const crypto = require('node:crypto');
const env = require('./envelope');
const { RouteTable, canonicalTarget } = require('./router');
const compress = require('./compress');

// Defaults of the limits (docs/bridge.md's table; src/config.rs holds Rust's copy).
const DEFAULTS = {
  maxUrlLength: 8192,
  maxHeaders: 128,
  maxHeaderSize: 16384,
  requestTimeout: 30000,
  bodyLimit: 1048576,
  handlerTimeout: 30000,
  streamTimeout: 120000,
  maxInFlight: 10000,
  cacheMaxBytes: 67108864,
  cacheMaxEntries: 100000,
};
// A streamed request body: bytes JS may hold uncredited before the front stops reading
// (STREAM_WINDOW in src/bridge/stream.rs).
const STREAM_WINDOW = 64 * 1024;
// Credits of a streamed answer are batched (CREDIT_BATCH in src/bridge/stream.rs): a credit nobody
// waits for would wake the app for nothing.
const CREDIT_BATCH = 64 * 1024;
// Headers the host writes itself (src/h1/encode.rs keeps_app_header): JS's copies are dropped.
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'date']);
// What a 304 repeats of the stored answer (RFC 9110 §15.4.5; src/stored.rs).
const REVALIDATION = new Set(['cache-control', 'content-location', 'expires', 'vary']);
const SAFE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const UNSAFE_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const JSON_TYPE = 'application/json; charset=utf-8';
const NO_ROUTE = env.NO_ROUTE;
// The request envelope's methodLen is a u8 (docs/bridge.md).
const MAX_METHOD_LENGTH = 255;
const NON_ASCII = /[^\x00-\x7f]/;
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;
// A Host value: an authority's characters (RFC 3986 §3.2), nothing that could split or smuggle.
const HOST_VALUE = /^[A-Za-z0-9\-._~!$&'()*+,;=:\[\]%]*$/;
const EMPTY = Buffer.alloc(0);

// Rust's reason phrases (src/h1/encode.rs), so both backends say the same thing.
const REASONS = {
  100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 201: 'Created', 202: 'Accepted',
  203: 'Non-Authoritative Information', 204: 'No Content', 205: 'Reset Content', 206: 'Partial Content',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  307: 'Temporary Redirect', 308: 'Permanent Redirect', 400: 'Bad Request', 401: 'Unauthorized',
  402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 408: 'Request Timeout', 409: 'Conflict', 410: 'Gone', 411: 'Length Required',
  412: 'Precondition Failed', 413: 'Content Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable', 417: 'Expectation Failed', 418: "I'm a Teapot", 421: 'Misdirected Request',
  422: 'Unprocessable Content', 425: 'Too Early', 426: 'Upgrade Required', 428: 'Precondition Required',
  429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
};
const reason = (status) => REASONS[status] ?? 'Unknown';
const validStatus = (status) => (status >= 100 && status <= 999 ? status : 500);
// 1xx, 204 and 304 carry no body, and 1xx/204 no content-length (src/h1/encode.rs).
const hasBody = (status) => !(status < 200 || status === 204 || status === 304);

// Exchange states.
const BODY = 0; // reading the body of a request the app has not seen yet
const JS = 1; // the app has it, no answer yet
const STREAMING = 2; // a streamed answer is going out
const DONE = 3;
const FILES = 4; // a directory mount looks on disk

class Core {
  constructor(options, routes, onBatch, statics = [], dirs = []) {
    this._limits = { ...DEFAULTS };
    for (const key of Object.keys(DEFAULTS)) if (options[key] !== undefined) this._limits[key] = options[key];
    this._bodyLimit = this._limits.bodyLimit;
    this._dispatchUnmatched = options.dispatchUnmatched === true;
    this._compression = options.compression;
    this._onBatch = onBatch;
    this._routes = new Map(routes.map((r) => [r.id, r]));
    this._table = new RouteTable(routes, statics, dirs);
    this._statics = statics.map((s) => stored(s.status, s.headers, s.body));
    this._dirs = dirs;
    this._nextId = 0;
    // Exchanges the app may still send records for, by request id.
    this._live = new Map();
    this.inFlight = 0;
    // Requests waiting on the app (maxInFlight).
    this._waiting = 0;
    this._outbox = [];
    this._flushOutbox = this._flushOutbox.bind(this);
    this._cache = new Map();
    // Routes that have cached an answer: only their requests look in the cache (and count a miss).
    this._caching = new Set();
    this._cacheBytes = 0;
    this._closed = false;
    this._stats = newStats();
    // Called when inFlight reaches 0 (a front closing gracefully).
    this.onIdle = null;
  }

  begin(head, sink) {
    const s = this._stats;
    s.requests.total++;
    const ex = new Exchange(this, head, sink);
    this.inFlight++;
    this._armBodyTimer(ex);
    const { method } = head;
    let { target } = head;
    if (target.length > this._limits.maxUrlLength) return this._simple(ex, 414, true);
    if (head.headers.length > this._limits.maxHeaders) return this._simple(ex, 431, true);
    if (head.headSize !== undefined && head.headSize > this._limits.maxHeaderSize) return this._simple(ex, 431, true);
    // node takes a request line without a version (`GET /`) as HTTP/0.9, which Rust refuses as
    // malformed; another version the line names is 505.
    if (head.version !== undefined && head.version !== '1.1' && head.version !== '1.0') {
      return this._simple(ex, head.version === '0.9' ? 400 : 505, true);
    }
    // The envelope carries the method's length in a u8: past it Rust answers 501
    // (src/bridge/records.rs), and so does this backend.
    if (method.length > MAX_METHOD_LENGTH) return this._simple(ex, 501, true);
    const refused = badHead(head);
    if (refused !== 0) return this._simple(ex, refused, true);
    // The absolute form (RFC 9112 §3.2.2) is routed by its path, as the origin form would be.
    const absolute = ABSOLUTE_FORM.exec(target);
    if (absolute !== null) target = target.slice(absolute[0].length) || '/';
    // From here the target is text: raw non-ASCII bytes must be UTF-8 (as httparse requires).
    if (NON_ASCII.test(target)) {
      const bytes = Buffer.from(target, 'latin1');
      const text = bytes.toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(bytes)) return this._simple(ex, 400, true);
      target = text;
    }
    ex.target = target;
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    const isGet = method === 'GET' || method === 'HEAD';
    const found = this._table.lookup(env.methodCode(method), method, path);
    // A declared body over the limit is refused before anything else looks at the request.
    const route = found !== null && found.kind === 'route' ? this._routes.get(found.id) : undefined;
    const length = contentLength(head.headers);
    if (length !== undefined && length > this._limitOf(route)) return this._simple(ex, 413, true);
    if (isGet && route !== undefined && this._caching.has(found.id) && this._fromCache(ex, target)) return ex;
    if (found !== null && found.kind === 'static') {
      s.requests.native++;
      return this._sendStored(ex, this._statics[found.index], null, false, this._spec(ex));
    }
    if (found !== null && found.kind === 'bad') return this._simple(ex, found.status, false);
    // A path only a WebSocket route serves (RFC 9110 §15.5.22: say what to upgrade to).
    if (found !== null && found.kind === 'upgrade') return this._simple(ex, 426, false, [['upgrade', 'websocket']]);
    ex.path = path;
    ex.query = q === -1 ? null : target.slice(q + 1);
    if (found !== null && found.kind === 'dir') return this._dir(ex, found);
    return this._toApp(ex, found);
  }

  // The request goes on to the app's route `found`, or its unmatched chain (null).
  _toApp(ex, found) {
    const { head } = ex;
    if (found === null && !this._dispatchUnmatched) return this._simple(ex, 404, false);
    const route = found === null ? null : this._routes.get(found.id);
    if (this._waiting >= this._limits.maxInFlight) return this._simple(ex, 503, false, [['retry-after', '1']]);
    ex.state = BODY;
    ex.route = route;
    ex.routeId = found === null ? NO_ROUTE : found.id;
    ex.params = found === null ? [] : found.params;
    ex.streamsBody = route !== null && route.bodyStream === true;
    ex.bodyLimit = this._limitOf(route ?? undefined);
    const length = contentLength(head.headers);
    if (length !== undefined && length > ex.bodyLimit) return this._simple(ex, 413, true);
    if (ex.streamsBody) this._dispatch(ex);
    else if (ex.bodyEnded) this._bodyEnd(ex);
    return ex;
  }

  // A route's body limit (its own, else none when it streams, else the server's).
  _limitOf(route) {
    if (route === undefined) return this._bodyLimit;
    if (route.bodyLimit !== undefined) return route.bodyLimit;
    return route.bodyStream === true ? Infinity : this._bodyLimit;
  }

  // The compression spec for an answer of this exchange: the route's, else the app's.
  _spec(ex) {
    const spec = ex.route !== null && ex.route.compression !== undefined ? ex.route.compression : this._compression;
    return spec === undefined || spec === null || spec.enabled === false ? undefined : spec;
  }

  // A body byte count over the exchange's limit, or its end.
  _bodyData(ex, chunk) {
    ex.bodyBytes += chunk.length;
    // A streamed body's timeout is an idle one (an upload still arriving is not cut); a buffered
    // body has requestTimeout from the end of its head, whatever it sends.
    if (ex.bodyTimer !== null && ex.streamsBody) ex.bodyTimer.refresh();
    if (ex.bodyBytes > ex.bodyLimit) {
      if (ex.state === BODY) return this._simple(ex, 413, true);
      // Streamed to the app: it hears why its body stops (event 6); an answer not begun is 413.
      this._control(env.EVENT_BODY_INVALID, ex.id);
      if (ex.state === JS) this._answerWith(ex, 413, true);
      else if (ex.state === STREAMING) {
        this._end(ex);
        ex.sink.abort();
      }
      return;
    }
    if (ex.state === BODY) {
      ex.chunks.push(chunk);
      return;
    }
    // Streamed to the app, within its window.
    this._post(env.dataRecord(ex.id, chunk, false));
    ex.uncredited += chunk.length;
    if (ex.uncredited > STREAM_WINDOW && !ex.paused) {
      ex.paused = true;
      this._clearBodyTimer(ex);
      ex.sink.pause();
    }
  }

  _bodyEnd(ex) {
    ex.bodyEnded = true;
    this._clearBodyTimer(ex);
    if (ex.state === BODY) {
      ex.body = ex.chunks.length === 1 ? ex.chunks[0] : Buffer.concat(ex.chunks);
      ex.chunks = null;
      this._dispatch(ex);
    } else if (ex.streamsBody && ex.state !== DONE) {
      this._post(env.dataRecord(ex.id, EMPTY, true));
      if (ex.state === JS) this._armHandlerTimer(ex);
    }
  }

  // The request goes to the app.
  _dispatch(ex) {
    ex.id = this._newId();
    ex.state = JS;
    this._live.set(ex.id, ex);
    this._waiting++;
    ex.waiting = true;
    this._stats.requests.js++;
    this._stats.bridge.requests++;
    const { head } = ex;
    this._post(
      env.encodeRequest({
        id: ex.id,
        method: head.method,
        routeId: ex.routeId,
        flags: (head.http10 ? env.FLAG_HTTP_1_0 : 0) | (ex.streamsBody ? env.FLAG_BODY_STREAM : 0) | (head.secure ? env.FLAG_TLS : 0),
        path: ex.path,
        query: ex.query,
        ip: head.ip,
        headers: head.headers,
        params: ex.params,
        body: ex.streamsBody ? EMPTY : ex.body,
      }),
    );
    ex.body = null;
    if (!ex.streamsBody) this._armHandlerTimer(ex);
  }

  _armHandlerTimer(ex) {
    const ms = this._limits.handlerTimeout;
    if (ms === 0 || ex.timer !== null) return;
    ex.timer = setTimeout(() => {
      ex.timer = null;
      if (ex.state !== JS) return;
      this._control(env.EVENT_HANDLER_TIMED_OUT, ex.id);
      this._answerWith(ex, 503, false);
    }, ms);
  }

  _newId() {
    do {
      this._nextId = (this._nextId + 1) >>> 0;
    } while (this._nextId === 0 || this._live.has(this._nextId));
    return this._nextId;
  }

  // Records for the app go out together, after the current turn's synchronous work: never from
  // inside respond() (the bridge is still reading its own buffer then), and one batch for many.
  _post(record) {
    if (this._closed) return;
    this._outbox.push(record);
    if (this._outbox.length === 1) queueMicrotask(this._flushOutbox);
  }

  _flushOutbox() {
    const list = this._outbox;
    if (list.length === 0) return;
    this._outbox = [];
    this._stats.bridge.calls++;
    this._onBatch(list.length === 1 ? list[0] : Buffer.concat(list));
  }

  _control(event, id) {
    this._post(env.controlRecord(event, id));
  }

  // ---- answers the host gives by itself

  // src/h1/encode.rs simple(): `{"error":"<reason>"}` as JSON.
  _simple(ex, status, close, extra = []) {
    this._stats.requests.native++;
    this._answerWith(ex, status, close, extra);
    return ex;
  }

  _answerWith(ex, status, close, extra = []) {
    const body = Buffer.from(`{"error":"${reason(status).replace(/'/g, '\\u0027')}"}`);
    this._finish(ex, { status, headers: [...extra, ['content-type', JSON_TYPE]], body, length: body.length, close });
  }

  // Hands a whole answer to the front and ends the exchange.
  // `spec`: the compression that applies (undefined: none).
  _finish(ex, answer, spec) {
    if (ex.state === DONE) return;
    const head = ex.head.method === 'HEAD';
    answer.reason = reason(answer.status);
    if (!hasBody(answer.status)) {
      answer.length = undefined;
      answer.body = EMPTY;
    }
    // A streamed body still arriving that the app answered early: what follows on the connection
    // cannot be told apart from it (src/bridge/stream.rs closes too).
    if (ex.streamsBody && ex.id !== 0 && !ex.bodyEnded) answer.close = true;
    this._count(answer.status);
    this._end(ex);
    if (spec !== undefined && hasBody(answer.status)) {
      const { status, headers, body } = answer;
      const accept = header(ex.head.headers, 'accept-encoding');
      const coding = compress.negotiate(spec, accept, status, headers, { head, length: body.length });
      const vary = compress.varies(spec, status, headers);
      if (coding !== null || vary) answer.headers = compress.rewriteHeaders(headers, coding, vary);
      if (coding !== null) {
        const encoded = compress.compressWhole(coding, spec, body);
        if (typeof encoded.then === 'function') {
          encoded.then(
            (bytes) => ex.sink.answer({ ...answer, body: bytes, length: bytes.length }),
            () => ex.sink.abort(),
          );
          return;
        }
        answer.body = encoded;
        answer.length = encoded.length;
      }
    }
    if (head) answer.body = EMPTY;
    ex.sink.answer(answer);
  }

  // An answer a front gave by itself (a request its parser refused).
  countNative(status) {
    this._stats.requests.total++;
    this._stats.requests.native++;
    this._count(status);
  }

  _count(status) {
    const cls = `${Math.min(5, Math.max(1, Math.floor(status / 100)))}xx`;
    this._stats.responses[cls]++;
  }

  _end(ex) {
    if (ex.state === DONE) return;
    if (ex.waiting) {
      ex.waiting = false;
      this._waiting--;
    }
    ex.state = DONE;
    if (ex.timer !== null) clearTimeout(ex.timer);
    if (ex.streamTimer !== null) clearTimeout(ex.streamTimer);
    if (ex.bodyTimer !== null) clearTimeout(ex.bodyTimer);
    ex.timer = ex.streamTimer = ex.bodyTimer = null;
    if (ex.id !== 0) this._live.delete(ex.id);
    this.inFlight--;
    if (this.inFlight === 0 && this.onIdle !== null) this.onIdle();
  }

  // ---- statics and the response cache (src/stored.rs)

  _sendStored(ex, entry, age, close = false, spec = undefined) {
    const inm = header(ex.head.headers, 'if-none-match');
    if (entry.status >= 200 && entry.status < 300 && inm !== undefined && etagMatches(inm, entry.etag)) {
      this._stats.cache.notModified += age === null ? 0 : 1;
      const headers = [...entry.revalidation, ['etag', entry.etag]];
      if (age !== null) headers.push(['age', String(age)]);
      this._finish(ex, { status: 304, headers, body: EMPTY, length: undefined, close });
      return ex;
    }
    const headers = [...entry.headers, ['etag', entry.etag]];
    if (age !== null) headers.push(['age', String(age)]);
    this._finish(ex, { status: entry.status, headers, body: entry.body, length: entry.body.length, close }, spec ?? entry.spec);
    return ex;
  }

  _fromCache(ex, target) {
    const entry = this._cache.get(target);
    if (entry === undefined) {
      this._stats.cache.misses++;
      return false;
    }
    const now = Date.now();
    if (now >= entry.expires) {
      this._dropCached(target, entry);
      this._stats.cache.misses++;
      return false;
    }
    // Least recently used first out: a hit moves to the end.
    this._cache.delete(target);
    this._cache.set(target, entry);
    this._stats.cache.hits++;
    this._stats.requests.native++;
    this._sendStored(ex, entry, Math.floor((now - entry.stored) / 1000));
    return true;
  }

  _store(key, status, headers, body, ttlMs, spec) {
    if (headers.some(([name]) => name.toLowerCase() === 'set-cookie')) return null;
    const entry = stored(status, headers, body);
    entry.spec = spec;
    entry.stored = Date.now();
    entry.expires = entry.stored + ttlMs;
    entry.canonical = canonicalTarget(key);
    const old = this._cache.get(key);
    if (old !== undefined) this._dropCached(key, old);
    if (entry.size > this._limits.cacheMaxBytes) return entry;
    this._cache.set(key, entry);
    this._cacheBytes += entry.size;
    for (const [k, e] of this._cache) {
      if (this._cacheBytes <= this._limits.cacheMaxBytes && this._cache.size <= this._limits.cacheMaxEntries) break;
      this._dropCached(k, e);
      this._stats.cache.evictions++;
    }
    return entry;
  }

  _dropCached(key, entry) {
    this._cache.delete(key);
    this._cacheBytes -= entry.size;
  }

  cacheInvalidate(pattern) {
    const prefix = pattern.endsWith('*');
    const want = canonicalTarget(prefix ? pattern.slice(0, -1) : pattern);
    for (const [key, entry] of this._cache) {
      const c = entry.canonical;
      const q = c.indexOf('?');
      if (prefix ? c.startsWith(want) : (q === -1 ? c : c.slice(0, q)) === want) this._dropCached(key, entry);
    }
  }

  cacheClear() {
    this._cache.clear();
    this._cacheBytes = 0;
  }

  // ---- directory mounts (js/host/files.js)

  // A mount answers from disk, or (nothing there, and it falls through) the app does.
  _dir(ex, found) {
    if (ex.sink.mount === undefined) return this._toApp(ex, null);
    ex.state = FILES;
    // Counted as answered here from the start (the client may have its answer before the promise
    // settles), taken back if the mount falls through.
    this._stats.requests.native++;
    ex.sink.mount(this._dirs[found.index], found.rest, this._spec(ex)).then(
      (served) => {
        if (ex.state !== FILES) return;
        if (!served) {
          this._stats.requests.native--;
          return this._toApp(ex, null);
        }
        this._end(ex);
      },
      () => {
        if (ex.state !== FILES) return;
        this._end(ex);
        ex.sink.abort();
      },
    );
    return ex;
  }

  // ---- records from the app

  respond(buf) {
    env.readRecords(buf, (record) => {
      const ex = this._live.get(record.id);
      if (ex === undefined) return;
      if (record.kind === env.KIND_RESPONSE) this._response(ex, record);
      else if (record.kind === env.KIND_DATA) this._data(ex, record);
      else if (record.kind === env.KIND_CREDIT) this._credit(ex, record.bytes);
      // WebSocket records: no socket exists on this backend (listen() refuses ws routes).
    });
    return undefined;
  }

  _response(ex, record) {
    if (ex.state !== JS) return;
    const { flags } = record;
    if (flags & env.FLAG_UPGRADE) return;
    if (flags & env.FLAG_FILE) {
      // A front that serves no files (app.fetch, inject on this backend): the 500 must go out
      // before the exchange ends, or nothing answers.
      if (ex.sink.file === undefined) {
        this._answerWith(ex, 500, false);
        return;
      }
      this._end(ex);
      // The path and the pseudo headers are UTF-8 text (docs/bridge.md "File answers").
      const utf8 = (v) => Buffer.from(v, 'latin1').toString('utf8');
      const headers = record.headers.map(([n, v]) => (n.startsWith(':') ? [n, utf8(v)] : [n, v]));
      ex.sink.file(record.body.toString('utf8'), headers, record.status, this._spec(ex)).catch(() => ex.sink.abort());
      return;
    }
    const status = validStatus(record.status);
    let close = false;
    let jsLength;
    const headers = [];
    for (const pair of record.headers) {
      const lower = pair[0].toLowerCase();
      if (FRAMING.has(lower)) {
        if (lower === 'connection' && /(^|,)\s*close\s*(,|$)/i.test(pair[1])) close = true;
        else if (lower === 'content-length' && /^\d+$/.test(pair[1])) jsLength = Number(pair[1]);
        continue;
      }
      if (!SAFE_NAME.test(pair[0]) || UNSAFE_VALUE.test(pair[1])) continue;
      headers.push(pair);
    }
    if (flags & env.FLAG_END) {
      let { body } = record;
      const method = ex.head.method;
      if (record.cacheTtlMs > 0 && (method === 'GET' || method === 'HEAD')) {
        this._caching.add(ex.routeId);
        const entry = this._store(record.cacheKey, status, headers, body, record.cacheTtlMs, this._spec(ex));
        if (entry !== null) {
          this._sendStored(ex, entry, null, close);
          return;
        }
      }
      // A HEAD answer ended without a body after setting the length announces that length.
      const length = jsLength !== undefined && method === 'HEAD' && body.length === 0 ? jsLength : body.length;
      this._finish(ex, { status, headers, body, length, close }, this._spec(ex));
      return;
    }
    // The head of a streamed answer.
    const http10 = ex.head.http10;
    if (!hasBody(status) || ex.head.method === 'HEAD') ex.omit = true;
    else if (jsLength !== undefined) ex.remaining = jsLength;
    else if (http10) close = true;
    if (ex.streamsBody && !ex.bodyEnded) close = true;
    let outHeaders = headers;
    let length = hasBody(status) ? jsLength : undefined;
    const spec = this._spec(ex);
    if (spec !== undefined && hasBody(status)) {
      const accept = header(ex.head.headers, 'accept-encoding');
      // Rust plans a streamed answer with no length: compressed whatever its Content-Length.
      const coding = compress.negotiate(spec, accept, status, headers, { head: ex.head.method === 'HEAD' });
      const vary = compress.varies(spec, status, headers);
      if (coding !== null || vary) outHeaders = compress.rewriteHeaders(headers, coding, vary);
      if (coding !== null) {
        ex.remaining = undefined;
        length = undefined;
        ex.encoder = this._encoder(ex, compress.compressStream(coding, spec));
      }
    }
    ex.waiting = false;
    this._waiting--;
    ex.state = STREAMING;
    if (ex.timer !== null) clearTimeout(ex.timer);
    ex.timer = null;
    this._count(status);
    // Chunked framing on HTTP/1.1 when there is a body and no length (src/h1/encode.rs).
    const chunked = !ex.omit && length === undefined && !http10;
    ex.sink.start({ status, reason: reason(status), headers: outHeaders, length, close, chunked });
    this._armStreamTimer(ex);
    if (record.body.length !== 0 || (flags & env.FLAG_WAITING)) this._write(ex, record.body, (flags & env.FLAG_WAITING) !== 0);
  }

  _data(ex, record) {
    const { flags } = record;
    // An abort before any head (res.destroy() first thing): the connection goes at once, as Rust
    // drops it, rather than waiting for handlerTimeout's 503.
    if (flags & env.FLAG_ABORT && ex.state === JS) {
      this._end(ex);
      ex.sink.abort();
      return;
    }
    if (ex.state !== STREAMING) return;
    if (flags & env.FLAG_ABORT) {
      this._end(ex);
      ex.sink.abort();
      return;
    }
    this._armStreamTimer(ex);
    if (record.body.length !== 0 || (flags & env.FLAG_WAITING)) this._write(ex, record.body, (flags & env.FLAG_WAITING) !== 0);
    if (ex.state !== STREAMING) return;
    if (flags & env.FLAG_END) {
      const short = ex.remaining !== undefined && ex.remaining > 0;
      this._end(ex);
      // A body that ends short of its content-length closes the connection (src/h1/encode.rs).
      if (short) ex.sink.abort();
      else ex.out().end();
    }
  }

  // A piece of a streamed answer; credits what the front took.
  _write(ex, chunk, waiting) {
    let bytes = chunk;
    if (ex.omit) bytes = EMPTY;
    else if (ex.remaining !== undefined) {
      if (bytes.length > ex.remaining) {
        // Past the content-length JS set: cut there, tell the app, close (event 7).
        const fits = bytes.subarray(0, ex.remaining);
        if (fits.length !== 0) ex.out().write(fits);
        ex.remaining = 0;
        this._control(env.EVENT_LENGTH_EXCEEDED, ex.id);
        this._end(ex);
        ex.sink.abort();
        return;
      }
      ex.remaining -= bytes.length;
    }
    ex.owed += chunk.length;
    const ok = bytes.length === 0 ? !ex.blocked : ex.out().write(bytes);
    if (!ok) {
      ex.blocked = true;
      return;
    }
    if (waiting || ex.owed >= CREDIT_BATCH) this._creditOut(ex);
  }

  _creditOut(ex) {
    if (ex.owed === 0) return;
    this._post(env.creditRecord(ex.id, ex.owed));
    ex.owed = 0;
  }

  // A streamed answer through a compressor: the app's bytes go in, the encoded ones out to the
  // sink at its pace; the app is credited as the compressor takes them.
  _encoder(ex, stream) {
    stream.on('data', (chunk) => {
      if (!ex.sink.write(chunk)) stream.pause();
    });
    stream.on('end', () => ex.sink.end());
    stream.on('error', () => ex.sink.abort());
    stream.on('drain', () => this._drained(ex));
    return stream;
  }

  _drained(ex) {
    ex.blocked = false;
    if (ex.state === STREAMING) {
      this._armStreamTimer(ex);
      this._creditOut(ex);
    }
  }

  _armStreamTimer(ex) {
    const ms = this._limits.streamTimeout;
    if (ms === 0) return;
    if (ex.streamTimer !== null) {
      ex.streamTimer.refresh();
      return;
    }
    ex.streamTimer = setTimeout(() => {
      ex.streamTimer = null;
      if (ex.state !== STREAMING) return;
      // Waiting on the client is the client's silence, not the handler's: streamTimeout does not
      // apply; requestTimeout does, to a client whose socket takes nothing (Rust's write
      // progress rule).
      if (ex.blocked) {
        const progress = ex.sink.progress?.() ?? 0;
        const now = Date.now();
        if (progress !== ex.progress || ex.progressAt === 0) {
          ex.progress = progress;
          ex.progressAt = now;
        }
        const limit = this._limits.requestTimeout;
        if (limit === 0 || now - ex.progressAt < limit) {
          this._armStreamTimer(ex);
          return;
        }
        this._control(env.EVENT_CLIENT_GONE, ex.id);
        this._end(ex);
        ex.sink.abort();
        return;
      }
      this._control(env.EVENT_STREAM_TIMED_OUT, ex.id);
      this._end(ex);
      ex.sink.abort();
    }, ms);
  }

  // The app consumed `bytes` of a streamed request body.
  _credit(ex, bytes) {
    ex.uncredited = Math.max(0, ex.uncredited - bytes);
    if (ex.paused && ex.uncredited <= STREAM_WINDOW) {
      ex.paused = false;
      ex.sink.resume();
      this._armBodyTimer(ex);
    }
  }

  // requestTimeout (docs/bridge.md): from the end of the head to the end of the body, as an idle
  // timeout on the body's bytes; not while the body waits on the app (its window is full).
  _armBodyTimer(ex) {
    const ms = this._limits.requestTimeout;
    if (ms === 0 || ex.bodyEnded || ex.state === DONE) return;
    if (ex.bodyTimer !== null) {
      ex.bodyTimer.refresh();
      return;
    }
    ex.bodyTimer = setTimeout(() => {
      ex.bodyTimer = null;
      if (ex.bodyEnded || ex.paused) return;
      if (ex.state === BODY || ex.state === FILES) return this._simple(ex, 408, true);
      if (ex.state === DONE) return;
      this._control(env.EVENT_BODY_TIMED_OUT, ex.id);
      if (ex.state === JS) this._answerWith(ex, 408, true);
      else {
        this._end(ex);
        ex.sink.abort();
      }
    }, ms);
  }

  _clearBodyTimer(ex) {
    if (ex.bodyTimer !== null) clearTimeout(ex.bodyTimer);
    ex.bodyTimer = null;
  }

  // The request's body was malformed (the front's parser refused it): event 6, as Rust sends.
  _bodyInvalid(ex) {
    if (ex.id !== 0 && (ex.state === JS || ex.state === STREAMING)) this._control(env.EVENT_BODY_INVALID, ex.id);
  }

  _gone(ex) {
    if (ex.state === DONE) return;
    if (ex.id !== 0) this._control(env.EVENT_CLIENT_GONE, ex.id);
    this._end(ex);
  }

  // The server is gone: nothing will answer what is in flight.
  closeAll() {
    for (const ex of [...this._live.values()]) this._gone(ex);
    this._flushOutbox();
    this._closed = true;
  }

  stats() {
    const s = this._stats;
    s.cache.entries = this._cache.size;
    s.cache.bytes = this._cacheBytes;
    return JSON.parse(JSON.stringify(s));
  }
}

// One request on its way through the core (see the API at the top).
class Exchange {
  constructor(core, head, sink) {
    this._core = core;
    this.head = head;
    this.sink = sink;
    this.state = BODY;
    this.id = 0;
    this.route = null;
    this.routeId = NO_ROUTE;
    this.params = [];
    this.path = '';
    this.query = null;
    this.streamsBody = false;
    this.bodyLimit = 0;
    this.bodyBytes = 0;
    this.bodyEnded = false;
    this.chunks = [];
    this.body = EMPTY;
    this.uncredited = 0;
    this.paused = false;
    this.waiting = false;
    this.timer = null;
    this.streamTimer = null;
    this.bodyTimer = null;
    this.progress = 0;
    this.progressAt = 0;
    // A streamed answer: bytes not credited yet, whether the front asked to wait, the
    // content-length bytes still owed, and whether nothing goes on the wire (HEAD, 204, 304).
    this.owed = 0;
    this.blocked = false;
    this.remaining = undefined;
    this.omit = false;
    this.encoder = null;
  }

  // Whether its answer is streaming out.
  get streaming() {
    return this.state === STREAMING;
  }

  get wantsBody() {
    return this.state === BODY || (this.streamsBody && !this.bodyEnded && this.state !== DONE);
  }

  data(chunk) {
    if (this.wantsBody) this._core._bodyData(this, chunk);
  }

  end() {
    if (!this.bodyEnded && this.state !== DONE) this._core._bodyEnd(this);
    this.bodyEnded = true;
  }

  drained() {
    if (this.encoder !== null) this.encoder.resume();
    else this._core._drained(this);
  }

  // Where a streamed answer's bytes go: the sink, or the compressor in front of it.
  out() {
    return this.encoder ?? this.sink;
  }

  gone() {
    this._core._gone(this);
  }

  invalid() {
    this._core._bodyInvalid(this);
  }
}

// A response known in full (a static, a cached answer): headers without framing, its ETag
// (the app's, else a strong one from the body), what a 304 repeats, and its size.
function stored(status, pairs, body) {
  const headers = [];
  const revalidation = [];
  let etag;
  for (const [name, value] of pairs) {
    const lower = name.toLowerCase();
    if (FRAMING.has(lower) || lower === 'age') continue;
    if (lower === 'etag') {
      etag = value;
      continue;
    }
    headers.push([name, value]);
    if (REVALIDATION.has(lower)) revalidation.push([name, value]);
  }
  const bytes = hasBody(status) ? Buffer.from(body) : EMPTY;
  if (etag === undefined) etag = strongEtag(bytes);
  let size = bytes.length + etag.length;
  for (const [name, value] of headers) size += name.length + value.length + 4;
  return { status, headers, revalidation, etag, body: bytes, size };
}

// `"<hash>-<length in hex>"`, stable for a body across restarts (src/stored.rs's shape).
function strongEtag(body) {
  const hash = crypto.createHash('sha1').update(body).digest('hex').slice(0, 16);
  return `"${hash}-${body.length.toString(16)}"`;
}

// The weak comparison of If-None-Match (RFC 9110 §13.1.2).
function etagMatches(header, etag) {
  const ours = etag.startsWith('W/') ? etag.slice(2) : etag;
  return header.split(',').some((raw) => {
    const tag = raw.trim();
    return tag === '*' || (tag.startsWith('W/') ? tag.slice(2) : tag) === ours;
  });
}

// What src/h1/parse.rs refuses in a head the parser accepted: an HTTP/1.1 request needs exactly
// one Host (RFC 9112 §3.2), a valid one; a transfer coding other than chunked is not implemented.
// Returns the status, or 0.
function badHead(head) {
  let hosts = 0;
  for (const [name, value] of head.headers) {
    if (name === 'host') {
      hosts++;
      if (!HOST_VALUE.test(value)) return 400;
    } else if (name === 'transfer-encoding') {
      // HTTP/1.0 has no chunked framing: a body framed so is faulty (RFC 9112 §6.1).
      if (head.http10) return 400;
      if (value.trim().toLowerCase() !== 'chunked') return 501;
    }
  }
  if (hosts > 1 || (hosts === 0 && !head.http10)) return 400;
  return 0;
}

function header(headers, name) {
  for (const [n, v] of headers) if (n === name) return v;
  return undefined;
}

function contentLength(headers) {
  const value = header(headers, 'content-length');
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

function newStats() {
  return {
    connections: { open: 0, total: 0 },
    requests: { total: 0, native: 0, js: 0 },
    cache: { hits: 0, misses: 0, entries: 0, bytes: 0, evictions: 0, notModified: 0 },
    bridge: { calls: 0, requests: 0, direct: 0, polled: 0, waited: 0 },
    bodies: { bytes: 0, waiting: 0 },
    responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    ws: { open: 0, total: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, published: 0, dropped: 0 },
    tls: { handshakes: 0, failures: 0 },
    h2: { connections: 0, streams: 0 },
  };
}

module.exports = { Core, REASONS, reason };
