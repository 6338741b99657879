'use strict';
// A request is a view over its envelope in the batch Buffer (layout: docs/bridge.md). Fixed-size
// fields are read when it is built; strings are decoded on first access and cached, so a handler
// pays only for what it reads. The batch Buffer belongs to JS once onBatch gets it, so reading it
// later (after an await) is safe.
const querystring = require('node:querystring');
const { readBody } = require('./body');
const { BodyStream } = require('./incoming');
const outgoing = require('./outgoing');
const { guarded } = require('./contain');
const {
  HN_ERR_CLIENT_GONE,
  HN_ERR_HANDLER_TIMEOUT,
  HN_ERR_STREAM_TIMEOUT,
  HN_ERR_BODY_TIMEOUT,
  HN_ERR_BAD_BODY,
  HN_ERR_CONTENT_LENGTH_MISMATCH,
} = require('./errors');
const {
  EVENT_HANDLER_TIMED_OUT,
  EVENT_STREAM_TIMED_OUT,
  EVENT_BODY_TIMED_OUT,
  EVENT_BODY_INVALID,
  EVENT_LENGTH_EXCEEDED,
} = require('./bridge');

const HEADER_SIZE = 40;
const FLAG_HTTP_1_0 = 1;
const FLAG_HAS_QUERY = 2;
// The body follows in data records (a { body: 'stream' } route).
const FLAG_BODY_STREAM = 4;
// The connection is TLS; the request is an HTTP/2 stream; the client's certificate (DER) follows
// the headers, as a u32 length and its bytes.
const FLAG_TLS = 32;
const FLAG_HTTP2 = 64;
const FLAG_CLIENT_CERT = 128;
// Indexed by methodCode; 0 means "read the method bytes".
const METHODS = [undefined, 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

// node:http keeps the first value of these when they repeat instead of joining them.
const FIRST_VALUE_WINS = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
  'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards',
  'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
]);

class Request {
  constructor(buf, start, paramNames) {
    this._buf = buf;
    this._start = start;
    this._flags = buf[start + 6];
    this.id = buf.readUInt32LE(start + 8);

    const methodCode = buf[start + 5];
    const methodEnd = start + HEADER_SIZE + buf[start + 18];
    this._pathEnd = methodEnd + buf.readUInt32LE(start + 20);
    this._queryEnd = this._pathEnd + buf.readUInt32LE(start + 24);
    this._bodyStart = this._queryEnd + buf[start + 19];
    this._bodyEnd = this._bodyStart + buf.readUInt32LE(start + 28);
    this.method = methodCode === 0 ? buf.latin1Slice(start + HEADER_SIZE, methodEnd) : METHODS[methodCode];
    this.params = paramNames.length === 0 ? {} : readParams(buf, this._bodyEnd, paramNames);
    // The body is parsed on first read of req.body, or by the dispatcher just before the route's
    // first handler, whichever comes first: middleware registered before the route runs before a
    // parse error can answer (CORS headers...), and a request without a body parses nothing.
    this._body = undefined;
    this._bodyPending = this._bodyStart !== this._bodyEnd;

    this._path = undefined;
    this._url = undefined;
    this._query = undefined;
    this._headers = undefined;
    this._ip = undefined;
    this._protocol = undefined;
    this._clientCertificate = undefined;
    // Set by the dispatcher: who to ask to watch this request, and the response it is owed.
    this._bridge = null;
    this._res = null;
    this._controller = undefined;
    // Why the request was aborted (req.signal's reason), once it was.
    this._abortReason = undefined;
    // The body as a stream (js/incoming.js): created at dispatch for a streamed body, else on
    // first use.
    this._bodyStream = undefined;
    // req.baseUrl: the prefix of the mounted middleware now running (js/dispatch.js).
    this._baseUrl = '';
    // req.socket's facade (js/node-compat.js), built on first use.
    this._socket = undefined;
  }

  // The body arrives in data records rather than in the envelope.
  get _streamsBody() {
    return (this._flags & FLAG_BODY_STREAM) !== 0;
  }

  // A data record for a streamed body.
  _bodyData(chunk, end) {
    this._bodyStream.data(chunk, end);
  }

  // The body as a Node Readable (and async iterable).
  _stream() {
    if (this._bodyStream === undefined) {
      this._bodyStream = new BodyStream(this, false, this._buf.subarray(this._bodyStart, this._bodyEnd));
    }
    return this._bodyStream.readable();
  }

  [Symbol.asyncIterator]() {
    return this._stream()[Symbol.asyncIterator]();
  }

  // Aborts when the client goes away before its response is written, or when the handler timed
  // out (Rust answered 503). Created on first access: a handler that never looks pays nothing.
  get signal() {
    if (this._controller === undefined) {
      this._controller = new AbortController();
      if (this._abortReason !== undefined) this._controller.abort(this._abortReason);
      else if (!this._res.writableEnded) this._bridge.watch(this);
    }
    return this._controller.signal;
  }

  // Called by the bridge on a control record (`event`, docs/bridge.md): the response's writes
  // become no-ops and it emits 'close', req.signal aborts, a streamed body errors.
  _abort(event) {
    if (this._abortReason !== undefined) return;
    const reason = abortReason(event);
    this._abortReason = reason;
    outgoing.abort(this._res);
    if (this._controller !== undefined) this._controller.abort(reason);
    if (this._bodyStream !== undefined) this._bodyStream.fail(reason);
  }

  // A body that fails to parse throws from this read, inside whichever function made it, so the
  // error takes the error path from there; later reads give undefined, as they would in Express
  // after body-parser failed.
  get body() {
    if (this._bodyPending) this._parseBody();
    return this._body;
  }

  // A middleware may parse the body its own way and assign the result.
  set body(value) {
    this._bodyPending = false;
    this._body = value;
  }

  _parseBody() {
    this._bodyPending = false;
    this._body = readBody(this);
  }

  // Path and query are decoded as UTF-8, as node:http and WHATWG URL do (and as params are):
  // Rust lets non-ASCII bytes through only when the target is valid UTF-8, so the text encodes back
  // to exactly the bytes received.
  get path() {
    if (this._path === undefined) this._path = this._buf.utf8Slice(this._pathStart(), this._pathEnd);
    return this._path;
  }

  set path(value) {
    this._path = value;
  }

  get url() {
    if (this._url === undefined) {
      this._url = this._flags & FLAG_HAS_QUERY ? `${this.path}?${this._rawQuery()}` : this.path;
    }
    return this._url;
  }

  // As in Express, where req.path is read from req.url: a middleware that rewrites the URL (or a
  // mount that strips its prefix) moves the path with it.
  set url(value) {
    this._url = value;
    if (typeof value === 'string') {
      const q = value.indexOf('?');
      this._path = q === -1 ? value : value.slice(0, q);
    }
  }

  get query() {
    if (this._query === undefined) this._query = querystring.parse(this._rawQuery());
    return this._query;
  }

  set query(value) {
    this._query = value;
  }

  get headers() {
    if (this._headers === undefined) this._headers = readHeaders(this._buf, this._start);
    return this._headers;
  }

  set headers(value) {
    this._headers = value;
  }

  // The connection's peer address as Rust saw it (req.socket.remoteAddress; req.ip, with the
  // trust-proxy rules, is js/request-helpers.js's).
  _peerIp() {
    return this._buf.latin1Slice(this._queryEnd, this._bodyStart);
  }

  get httpVersion() {
    if (this._flags & FLAG_HTTP2) return '2.0';
    return this._flags & FLAG_HTTP_1_0 ? '1.0' : '1.1';
  }

  // The connection's own protocol (trust-proxy settings that read X-Forwarded-Proto are a
  // separate concern); assignable, as middleware behind a proxy sets it.
  get protocol() {
    if (this._protocol === undefined) this._protocol = this._flags & FLAG_TLS ? 'https' : 'http';
    return this._protocol;
  }

  set protocol(value) {
    this._protocol = value;
  }

  get secure() {
    return this.protocol === 'https';
  }

  // The client certificate the TLS handshake verified (mTLS), as a node:crypto X509Certificate
  // (subject, issuer, fingerprint256, raw...), built on first access; undefined without one.
  get clientCertificate() {
    if (!(this._flags & FLAG_CLIENT_CERT)) return undefined;
    if (this._clientCertificate === undefined) {
      const { X509Certificate } = require('node:crypto');
      this._clientCertificate = new X509Certificate(readCertificate(this._buf, this._start));
    }
    return this._clientCertificate;
  }

  get(name) {
    const key = name.toLowerCase();
    if (key === 'referer' || key === 'referrer') return this.headers.referer || this.headers.referrer;
    return this.headers[key];
  }

  header(name) {
    return this.get(name);
  }

  // First value of one header without building req.headers: the body parser needs only the
  // content type, and a handler that never reads headers should not pay for all of them.
  _firstHeader(name) {
    if (this._headers !== undefined) {
      const value = this._headers[name];
      return Array.isArray(value) ? value[0] : value;
    }
    const buf = this._buf;
    let pos = this._start + buf.readUInt32LE(this._start + 32);
    for (let i = buf.readUInt16LE(this._start + 16); i > 0; i--) {
      const nameLen = buf.readUInt16LE(pos);
      const valueStart = pos + 6 + nameLen;
      const valueEnd = valueStart + buf.readUInt32LE(pos + 2);
      if (nameLen === name.length && buf.latin1Slice(pos + 6, valueStart) === name) {
        return buf.utf8Slice(valueStart, valueEnd);
      }
      pos = valueEnd;
    }
    return undefined;
  }

  // fn(name, value) for each header as received: names lower-cased, order and repeats kept.
  _eachHeader(fn) {
    eachHeader(this._buf, this._start, fn);
  }

  // The request target as received (what req.url is until a middleware rewrites it): the response
  // cache's key. Encoded back as UTF-8 it gives Rust the exact bytes it matched on.
  _target() {
    const path = this._buf.utf8Slice(this._pathStart(), this._pathEnd);
    return this._flags & FLAG_HAS_QUERY ? `${path}?${this._rawQuery()}` : path;
  }

  // Bytes of _target() as received, for the cache key's u16 length.
  _targetBytes() {
    return this._queryEnd - this._pathStart() + (this._flags & FLAG_HAS_QUERY ? 1 : 0);
  }

  _pathStart() {
    return this._start + HEADER_SIZE + this._buf[this._start + 18];
  }

  _rawQuery() {
    return this._buf.utf8Slice(this._pathEnd, this._queryEnd);
  }

  // multipart/form-data as an async iterator of parts (js/multipart.js, loaded on first use).
  parts(options) { return require('./multipart').parts(this, options); }
}

function abortReason(event) {
  switch (event) {
    case EVENT_HANDLER_TIMED_OUT:
      return new HN_ERR_HANDLER_TIMEOUT('The handler did not answer within handlerTimeout; the client got 503');
    case EVENT_STREAM_TIMED_OUT:
      return new HN_ERR_STREAM_TIMEOUT('The streamed response sent nothing for streamTimeout; the server ended it');
    case EVENT_BODY_TIMED_OUT:
      return new HN_ERR_BODY_TIMEOUT('The request body stopped arriving for requestTimeout; the client got 408');
    case EVENT_BODY_INVALID:
      return new HN_ERR_BAD_BODY('The request body was malformed or over the route\'s bodyLimit; the client got 400/413');
    case EVENT_LENGTH_EXCEEDED:
      return new HN_ERR_CONTENT_LENGTH_MISMATCH('The response body ran past the Content-Length it was sent with; the server cut it there');
    default:
      return new HN_ERR_CLIENT_GONE('The client went away before the response was complete');
  }
}

// req as a Node Readable of its body, for req.pipe(dest), req.on('data'), pipeline(req, dest)
// and middleware that reads the raw body: each delegates to the Readable built on first use.
const READABLE_METHODS = [
  'off', 'removeListener', 'removeAllListeners', 'emit', 'listenerCount', 'listeners', 'pipe',
  'unpipe', 'read', 'pause', 'resume', 'isPaused', 'setEncoding', 'unshift', 'destroy',
];
// Listeners run later, outside any handler's try (a body parser's 'end', connect-timeout's
// 'timeout'): a throw from one is this request's error (js/contain.js), not the process's.
const LISTENER_METHODS = [
  ['on', 'on', false], ['addListener', 'on', false], ['once', 'on', true],
  ['prependListener', 'prependListener', false], ['prependOnceListener', 'prependListener', true],
];
for (const [name, method, once] of LISTENER_METHODS) {
  Object.defineProperty(Request.prototype, name, {
    configurable: true,
    writable: true,
    value(event, listener) {
      const readable = this._stream();
      readable[method](event, guarded(this._res, readable, event, listener, once));
      return this;
    },
  });
}
for (const name of READABLE_METHODS) {
  Object.defineProperty(Request.prototype, name, {
    configurable: true,
    writable: true,
    value(...args) {
      const readable = this._stream();
      const result = readable[name](...args);
      return result === readable ? this : result;
    },
  });
}
const READABLE_GETTERS = [
  'readable', 'readableEnded', 'readableLength', 'readableFlowing', 'readableHighWaterMark',
  'readableEncoding', 'readableObjectMode', 'destroyed', 'closed', 'errored', '_readableState',
];
for (const name of READABLE_GETTERS) {
  Object.defineProperty(Request.prototype, name, {
    configurable: true,
    get() {
      return this._stream()[name];
    },
  });
}

function readParams(buf, pos, names) {
  const params = {};
  for (let i = 0; i < names.length; i++) {
    const len = buf.readUInt32LE(pos);
    params[names[i]] = buf.utf8Slice(pos + 4, pos + 4 + len);
    pos += 4 + len;
  }
  return params;
}

// Same shape as node:http's req.headers: repeats joined with ', ' (cookie with '; '), set-cookie
// always an array, and the first value kept for headers that must not repeat.
// The DER bytes after the last header (FLAG_CLIENT_CERT).
function readCertificate(buf, start) {
  let pos = start + buf.readUInt32LE(start + 32);
  for (let i = buf.readUInt16LE(start + 16); i > 0; i--) {
    pos += 6 + buf.readUInt16LE(pos) + buf.readUInt32LE(pos + 2);
  }
  const len = buf.readUInt32LE(pos);
  return buf.subarray(pos + 4, pos + 4 + len);
}

function eachHeader(buf, start, fn) {
  let pos = start + buf.readUInt32LE(start + 32);
  for (let i = buf.readUInt16LE(start + 16); i > 0; i--) {
    const nameEnd = pos + 6 + buf.readUInt16LE(pos);
    const valueEnd = nameEnd + buf.readUInt32LE(pos + 2);
    fn(buf.latin1Slice(pos + 6, nameEnd), buf.utf8Slice(nameEnd, valueEnd));
    pos = valueEnd;
  }
}

function readHeaders(buf, start) {
  const headers = {};
  eachHeader(buf, start, (name, value) => {
    const prev = headers[name];
    if (name === 'set-cookie') {
      if (Array.isArray(prev)) prev.push(value);
      else headers[name] = [value];
    } else if (typeof prev !== 'string') {
      // Not only undefined: a header called e.g. `constructor` must shadow the inherited property.
      headers[name] = value;
    } else if (name === 'cookie') {
      headers[name] = `${prev}; ${value}`;
    } else if (!FIRST_VALUE_WINS.has(name)) {
      headers[name] = `${prev}, ${value}`;
    }
  });
  return headers;
}

require('./request-helpers').install(Request);
// node:http's remaining IncomingMessage surface (socket, rawHeaders, originalUrl...), as getters.
require('./node-compat').installRequest(Request);

module.exports = { Request };
