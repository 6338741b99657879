'use strict';
// app.inject(): one request through the app with no socket and no port, in light-my-request's
// shape (fastify's inject), and app.callback(), a node:http request listener built on it (for
// supertest's request(app.callback()), or to mount the app in a node:http server).
//
// With the native backend the request is written as HTTP/1.1 bytes into an in-memory connection
// on the server thread (src/inject/), so it meets the real Rust parser, router, response cache,
// guards, files and response writer; the answer's bytes come back as the connection writes them
// and are parsed here. The server is a socketless one the app starts on its first inject (with
// the app's createApp() options), which does not keep the process alive while idle; app.close()
// closes it.
//
// Both backends report to one sink (head, data, end, fail): the native exchange parses the bytes
// Rust wrote; on the JavaScript backend (js/host/core.js) `coreExchange()` hands the request to the
// core as parts and reports the answer it builds.
const { Readable } = require('node:stream');
const { isIP } = require('node:net');
const { TOKEN, headerValue } = require('./header-values');
const { HN_ERR_INJECT_OPTION, HN_ERR_INJECT_ABORTED } = require('./errors');

const INJECT_KEYS = ['method', 'url', 'path', 'query', 'headers', 'body', 'payload', 'cookies', 'authority', 'remoteAddress', 'payloadAsStream'];
// light-my-request's defaults: what a handler sees of a request that did not say.
const DEFAULT_AUTHORITY = 'localhost:80';
const DEFAULT_REMOTE_ADDRESS = '127.0.0.1';
// A request target may not contain what would end or split the request line.
const BAD_TARGET_CHARS = /[\x00-\x20\x7f]/;
// Fields the request's framing owns: the body given is sent with its own Content-Length.
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding']);
// A response head larger than this is not one our writer produces: a broken answer, not a wait.
const MAX_HEAD_BYTES = 1024 * 1024;

// The socketless server of each app, started on its first inject (a promise while starting).
const injectServers = new WeakMap();

// inject(options[, callback]): resolves to the response, or calls back (err, response).
function inject(app, options, callback) {
  const answer = injectAsync(app, options);
  if (typeof callback !== 'function') return answer;
  answer.then(
    (res) => process.nextTick(() => callback(null, res)),
    (err) => process.nextTick(() => callback(err)),
  );
  return undefined;
}

async function injectAsync(app, options) {
  const request = injectRequest(options);
  const body = await bodyBytes(request.body);
  // The JavaScript backend has no bytes to parse: the request goes to its core as parts, through
  // the core app.fetch compiles (the same routing, cache and bridge as listen() on that backend).
  if (require('./backend').loadBackend().backend !== 'native') {
    const core = (app._fetchFront ?? app._startFetch()).native;
    return new Promise((resolve, reject) => {
      const sink = responseSink(request, resolve, reject);
      sink.bind(coreExchange(core, { ...request, body }, sink));
    });
  }
  const server = await injectServer(app);
  return new Promise((resolve, reject) => {
    const sink = responseSink(request, resolve, reject);
    sink.bind(nativeExchange(server._native, { ...request, body }, sink));
  });
}

// The app's socketless server, started once (concurrent first injects share the start); once
// closed (app.close()), the next inject starts a fresh one.
function injectServer(app) {
  const current = injectServers.get(app);
  if (current !== undefined && (current instanceof Promise || current._closing === undefined)) return current;
  const starting = app._listen([{ debug: false }], { socketless: true }).then(
    (started) => {
      injectServers.set(app, started);
      return started;
    },
    (err) => {
      injectServers.delete(app);
      throw err;
    },
  );
  injectServers.set(app, starting);
  return starting;
}

// The server app.inject() uses, once started (undefined before the first inject).
function injectServerOf(app) {
  const server = injectServers.get(app);
  return server instanceof Promise ? undefined : server;
}

// --- The seam: one request to a server, its answer to `sink` ---------------------------------

// The JavaScript backend's exchange (js/host/core.js's sink API): the answer comes as parts, and
// is reported to the inject sink as the native exchange reports parsed bytes. Files are not served
// here (the core answers 500, as app.fetch does).
function coreExchange(core, request, sink) {
  let paused = false;
  let done = false;
  let exchange = null;
  const finish = (trailers = {}) => {
    if (done) return;
    done = true;
    sink.end(trailers);
  };
  const pairs = (headers, length, chunked) => {
    const raw = [];
    for (const [name, value] of headers) raw.push(name, String(value));
    if (length !== undefined) raw.push('content-length', String(length));
    else if (chunked) raw.push('transfer-encoding', 'chunked');
    return raw;
  };
  const coreSink = {
    answer({ status, reason, headers, body, length }) {
      sink.head(status, reason, pairs(headers, length, false));
      if (request.method !== 'HEAD' && body.length > 0) sink.data(Buffer.from(body));
      finish();
    },
    start({ status, reason, headers, length, chunked }) {
      sink.head(status, reason, pairs(headers, length, chunked));
    },
    write(chunk) {
      if (!done && request.method !== 'HEAD') sink.data(Buffer.from(chunk));
      return !paused;
    },
    end() {
      finish();
    },
    abort() {
      if (done) return;
      done = true;
      sink.fail(new HN_ERR_INJECT_ABORTED('app.inject(): the answer was cut off before its end'));
    },
    pause() {},
    resume() {},
  };
  const head = {
    method: request.method,
    target: request.target,
    headers: request.headers.map(([name, value]) => [name.toLowerCase(), String(value)]),
    ip: request.ip,
    http10: false,
    secure: false,
    version: '1.1',
  };
  if (request.body !== null) head.headers.push(['content-length', String(request.body.length)]);
  exchange = core.begin(head, coreSink);
  if (request.body !== null && request.body.length > 0 && exchange.wantsBody) exchange.data(request.body);
  exchange.end();
  return {
    pause() {
      paused = true;
    },
    resume() {
      if (!paused) return;
      paused = false;
      if (!done) exchange.drained();
    },
    close() {
      if (done) return;
      done = true;
      exchange.gone();
    },
  };
}

// Through the addon: the request's bytes into an in-memory connection on the server thread, the
// answer's bytes parsed here.
function nativeExchange(native, request, sink) {
  const parser = new ResponseParser(request.method === 'HEAD', sink);
  let done = false;
  // Bytes of the answer the reader has not taken yet (a streamed answer read slowly): credited
  // back to Rust once it asks for more, so an unread answer holds the server up.
  let paused = false;
  let withheld = 0;
  const handle = native.inject(serializeRequest(request), request.ip, (chunk) => {
    if (done) return;
    if (chunk === null) {
      parser.finish();
      close();
      return;
    }
    parser.feed(chunk);
    if (done) return;
    if (paused) withheld += chunk.length;
    else handle.credit(chunk.length);
  });
  const close = () => {
    if (done) return;
    done = true;
    // The whole answer is here (or it failed, or its reader left): the connection goes.
    handle.close();
  };
  parser.onDone = close;
  return {
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      if (withheld > 0 && !done) handle.credit(withheld);
      withheld = 0;
    },
    close,
  };
}

// The request as HTTP/1.1 bytes: request line, headers, Content-Length for a body.
function serializeRequest({ method, target, headers, body }) {
  let head = `${method} ${target} HTTP/1.1\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  if (body !== null) head += `content-length: ${body.length}\r\n`;
  head += '\r\n';
  const headBytes = Buffer.from(head, 'latin1');
  return body === null || body.length === 0 ? headBytes : Buffer.concat([headBytes, body]);
}

// --- Options -------------------------------------------------------------------------------

// light-my-request's options, checked: { method, target, headers ([name, value] pairs), body
// (string | Buffer | Readable | null), ip, stream }.
function injectRequest(options) {
  if (typeof options === 'string') options = { url: options };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new HN_ERR_INJECT_OPTION(`app.inject(options): options must be an object or a URL string, got ${show(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!INJECT_KEYS.includes(key)) throw new HN_ERR_INJECT_OPTION(`app.inject(): unknown option "${key}" (known: ${INJECT_KEYS.join(', ')})`);
  }
  const method = options.method ?? 'GET';
  if (typeof method !== 'string' || !TOKEN.test(method)) {
    throw new HN_ERR_INJECT_OPTION(`app.inject(): method must be an HTTP method name, got ${show(method)}`);
  }
  const { target, host } = requestTarget(options.url ?? options.path ?? '/', options.query);
  const headers = headerPairs(options.headers);
  const names = new Set(headers.map(([name]) => name));
  if (!names.has('host')) headers.unshift(['host', stringOption('authority', options.authority) ?? host ?? DEFAULT_AUTHORITY]);
  if (options.cookies !== undefined) headers.push(['cookie', cookieHeader(options.cookies)]);
  let body = options.body !== undefined ? options.body : options.payload;
  if (body === undefined || body === null) body = null;
  else if (typeof body === 'string' || Buffer.isBuffer(body)) {
    // As given.
  } else if (body instanceof Uint8Array) body = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  else if (body instanceof Readable || typeof body[Symbol.asyncIterator] === 'function') {
    // Read whole before it is sent.
  } else if (typeof body === 'object') {
    body = JSON.stringify(body);
    if (!names.has('content-type')) headers.push(['content-type', 'application/json']);
  } else {
    throw new HN_ERR_INJECT_OPTION(`app.inject(): body must be a string, a Buffer, a stream or an object to send as JSON, got ${show(body)}`);
  }
  const ip = stringOption('remoteAddress', options.remoteAddress) ?? DEFAULT_REMOTE_ADDRESS;
  if (isIP(ip) === 0) throw new HN_ERR_INJECT_OPTION(`app.inject(): remoteAddress must be an IP address, got ${show(ip)}`);
  const stream = options.payloadAsStream ?? false;
  if (typeof stream !== 'boolean') throw new HN_ERR_INJECT_OPTION(`app.inject(): payloadAsStream must be a boolean, got ${show(stream)}`);
  return { method: method.toUpperCase(), target, headers, body, ip, stream };
}

// The request target as the request line carries it: the path as given (percent-encoding and
// dot segments untouched, so the parser and router see what a client sent), plus `query`.
function requestTarget(url, query) {
  let target;
  let host;
  if (typeof url === 'object' && url !== null && !(url instanceof URL)) {
    // light-my-request's object form: { pathname, query, hostname, port }.
    target = stringOption('url.pathname', url.pathname) ?? '/';
    if (url.query !== undefined) query = query === undefined ? url.query : { ...queryObject(url.query), ...queryObject(query) };
    if (url.hostname !== undefined) host = url.port === undefined ? String(url.hostname) : `${url.hostname}:${url.port}`;
  } else if (url instanceof URL || /^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    const parsed = url instanceof URL ? url : new URL(url);
    target = parsed.pathname + parsed.search;
    host = parsed.host;
  } else if (typeof url === 'string') {
    target = url;
  } else {
    throw new HN_ERR_INJECT_OPTION(`app.inject(): url must be a string, a URL or { pathname, query }, got ${show(url)}`);
  }
  if (target === '') target = '/';
  if (!target.startsWith('/') && target !== '*') {
    throw new HN_ERR_INJECT_OPTION(`app.inject(): url must start with "/" (or be an absolute URL), got ${show(url)}`);
  }
  if (BAD_TARGET_CHARS.test(target)) {
    throw new HN_ERR_INJECT_OPTION(`app.inject(): url ${show(target)} contains a space or control character (percent-encode it)`);
  }
  if (query !== undefined) {
    const extra = new URLSearchParams(queryObject(query)).toString();
    if (extra !== '') target += (target.includes('?') ? '&' : '?') + extra;
  }
  // The request line is written as latin1: UTF-8 in the target goes as its bytes.
  return { target: Buffer.from(target, 'utf8').toString('latin1'), host };
}

function queryObject(query) {
  if (typeof query === 'string') return Object.fromEntries(new URLSearchParams(query));
  if (typeof query !== 'object' || query === null) {
    throw new HN_ERR_INJECT_OPTION(`app.inject(): query must be an object or a string, got ${show(query)}`);
  }
  // Arrays become repeated keys, as querystring writes them.
  const params = [];
  for (const [key, value] of Object.entries(query)) {
    for (const one of Array.isArray(value) ? value : [value]) if (one !== undefined) params.push([key, String(one)]);
  }
  return params;
}

// Header names lower-cased; a value may be an array (one line each). Framing fields are dropped:
// the body given decides them.
function headerPairs(headers) {
  if (headers === undefined) return [];
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new HN_ERR_INJECT_OPTION(`app.inject(): headers must be an object, got ${show(headers)}`);
  }
  const pairs = [];
  for (const [rawName, value] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    if (!TOKEN.test(name)) throw new HN_ERR_INJECT_OPTION(`app.inject(): header name ${show(rawName)} is not a token`);
    if (FRAMING_HEADERS.has(name) || value === undefined) continue;
    // Throws HN_ERR_INVALID_HEADER for CR, LF, NUL and other control characters.
    for (const one of Array.isArray(value) ? value : [value]) pairs.push([name, headerValue(rawName, one)]);
  }
  return pairs;
}

function cookieHeader(cookies) {
  if (typeof cookies !== 'object' || cookies === null) {
    throw new HN_ERR_INJECT_OPTION(`app.inject(): cookies must be an object, got ${show(cookies)}`);
  }
  return headerValue('cookie', Object.entries(cookies).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join('; '));
}

function stringOption(name, value) {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new HN_ERR_INJECT_OPTION(`app.inject(): ${name} must be a string, got ${show(value)}`);
  return value;
}

async function bodyBytes(body) {
  if (body === null || Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body);
  const chunks = [];
  for await (const chunk of body) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

function show(value) {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

// --- The answer ----------------------------------------------------------------------------

// An HTTP/1.1 answer parsed as it comes: interim 1xx skipped (a 101 ends it), then the head,
// then the body by its framing (none for HEAD, 204 and 304; Content-Length; chunked, with
// trailers; else until the connection ends).
class ResponseParser {
  constructor(headRequest, sink) {
    this.headRequest = headRequest;
    this.sink = sink;
    this.buf = Buffer.alloc(0);
    this.state = 'head';
    this.left = 0;
    this.trailers = {};
    // Set by a step that used bytes without changing state (a body piece, a trailer line).
    this.progressed = false;
    this.onDone = () => {};
  }

  feed(chunk) {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    try {
      this.parse();
    } catch (err) {
      this.fail(err);
    }
  }

  // The connection ended.
  finish() {
    if (this.state === 'close') {
      this.state = 'done';
      this.sink.end(this.trailers);
    } else if (this.state !== 'done' && this.state !== 'failed') {
      this.fail(new HN_ERR_INJECT_ABORTED(this.state === 'head'
        ? 'app.inject(): the server closed the connection without answering (is the app closing?)'
        : 'app.inject(): the server closed the connection before the answer was complete'));
    }
  }

  fail(err) {
    this.state = 'failed';
    this.sink.fail(err);
    this.onDone();
  }

  done() {
    this.state = 'done';
    this.sink.end(this.trailers);
    this.onDone();
  }

  // Consumes `n` bytes at the front.
  take(n) {
    const piece = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return piece;
  }

  parse() {
    for (;;) {
      const before = this.state;
      if (this.state === 'head') this.parseHead();
      else if (this.state === 'length') this.parseLength();
      else if (this.state === 'chunk-size') this.parseChunkSize();
      else if (this.state === 'chunk-data') this.parseChunkData();
      else if (this.state === 'trailers') this.parseTrailers();
      else if (this.state === 'close') {
        if (this.buf.length > 0) {
          this.sink.data(this.take(this.buf.length));
        }
        return;
      } else return;
      if (this.state === before && !this.progressed) return;
      this.progressed = false;
    }
  }

  parseHead() {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end === -1) {
      if (this.buf.length > MAX_HEAD_BYTES) throw new HN_ERR_INJECT_ABORTED('app.inject(): the answer\'s head does not end');
      return;
    }
    const lines = this.take(end + 4).toString('latin1').slice(0, -4).split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]);
    if (match === null) throw new HN_ERR_INJECT_ABORTED(`app.inject(): not an HTTP/1.1 answer: ${JSON.stringify(lines[0])}`);
    const status = Number(match[1]);
    const rawHeaders = [];
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      rawHeaders.push(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    if (status >= 100 && status < 200 && status !== 101) {
      // Interim (100 Continue, 103 Early Hints): the answer follows.
      this.progressed = true;
      return;
    }
    const fields = lowerMap(rawHeaders);
    this.sink.head(status, Buffer.from(match[2], 'latin1').toString('utf8'), rawHeaders);
    if (this.headRequest || status === 101 || status === 204 || status === 304) return this.done();
    if ((fields.get('transfer-encoding') ?? '').toLowerCase().includes('chunked')) this.state = 'chunk-size';
    else if (fields.has('content-length')) {
      this.left = Number(fields.get('content-length'));
      if (this.left === 0) return this.done();
      this.state = 'length';
    } else this.state = 'close';
  }

  parseLength() {
    if (this.buf.length === 0) return;
    const n = Math.min(this.left, this.buf.length);
    this.left -= n;
    this.sink.data(this.take(n));
    if (this.left === 0) this.done();
    else this.progressed = true;
  }

  parseChunkSize() {
    const end = this.buf.indexOf('\r\n');
    if (end === -1) return;
    const size = parseInt(this.take(end + 2).toString('latin1').split(';')[0], 16);
    if (!Number.isInteger(size) || size < 0) throw new HN_ERR_INJECT_ABORTED('app.inject(): bad chunked framing in the answer');
    if (size === 0) this.state = 'trailers';
    else {
      this.left = size;
      this.state = 'chunk-data';
    }
  }

  parseChunkData() {
    if (this.left > 0) {
      if (this.buf.length === 0) return;
      const n = Math.min(this.left, this.buf.length);
      this.left -= n;
      this.sink.data(this.take(n));
      this.progressed = true;
      return;
    }
    if (this.buf.length < 2) return;
    this.take(2);
    this.state = 'chunk-size';
  }

  parseTrailers() {
    const end = this.buf.indexOf('\r\n');
    if (end === -1) return;
    const line = this.take(end + 2).toString('latin1').slice(0, -2);
    if (line === '') return this.done();
    const colon = line.indexOf(':');
    this.trailers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    this.progressed = true;
  }
}

function lowerMap(rawHeaders) {
  const map = new Map();
  for (let i = 0; i < rawHeaders.length; i += 2) map.set(rawHeaders[i].toLowerCase(), rawHeaders[i + 1]);
  return map;
}

// Headers as node's IncomingMessage shapes them: lower-cased, set-cookie an array, others
// repeated joined with ', '.
function headersObject(rawHeaders) {
  const headers = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const value = rawHeaders[i + 1];
    if (name === 'set-cookie') (headers[name] ??= []).push(value);
    else headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return headers;
}

// The sink that builds inject()'s response: whole (body as a string), or with payloadAsStream
// at its head, the body read through res.stream().
function responseSink(request, resolve, reject) {
  let response = null;
  let chunks = [];
  let stream = null;
  let control = null;
  const sink = {
    head(statusCode, statusMessage, rawHeaders) {
      response = new InjectResponse(statusCode, statusMessage, rawHeaders);
      if (request.stream) {
        stream = new Readable({
          read() {
            control.resume();
          },
          destroy(err, cb) {
            // The reader went away before the end: the server sees its client go.
            control.close();
            cb(err);
          },
        });
        response._stream = stream;
        resolve(response);
      }
    },
    data(chunk) {
      if (stream === null) chunks.push(chunk);
      else if (!stream.push(chunk)) control.pause();
    },
    end(trailers) {
      response.trailers = trailers;
      if (stream !== null) {
        stream.push(null);
        return;
      }
      response.rawPayload = Buffer.concat(chunks);
      chunks = [];
      resolve(response);
    },
    fail(err) {
      if (stream !== null) stream.destroy(err);
      else reject(err);
    },
    // exchange()'s control, given by its caller.
    bind(exchangeControl) {
      control = exchangeControl;
    },
  };
  return sink;
}

// light-my-request's Response: statusCode, statusMessage, headers, rawHeaders, body/payload (the
// body as UTF-8), rawPayload (Buffer), json(), trailers; with payloadAsStream, stream().
class InjectResponse {
  constructor(statusCode, statusMessage, rawHeaders) {
    this.statusCode = statusCode;
    this.statusMessage = statusMessage;
    this.rawHeaders = rawHeaders;
    this.headers = headersObject(rawHeaders);
    this.rawPayload = null;
    this.trailers = {};
    this._stream = null;
  }

  get body() {
    return this.payload;
  }

  get payload() {
    if (this._stream !== null) throw new HN_ERR_INJECT_OPTION('app.inject(): with payloadAsStream, read the body with res.stream()');
    return this.rawPayload.toString('utf8');
  }

  json() {
    return JSON.parse(this.payload);
  }

  // The body as a Readable (async-iterable); only with payloadAsStream.
  stream() {
    if (this._stream === null) throw new HN_ERR_INJECT_OPTION('app.inject(): res.stream() needs payloadAsStream: true');
    return this._stream;
  }
}

// --- app.callback() -------------------------------------------------------------------------

// Hop-by-hop and framing fields of the injected answer that node:http writes for itself.
const NODE_OWNED = new Set(['connection', 'keep-alive', 'transfer-encoding']);

// A node:http request listener: each request read whole, injected, its answer streamed back.
function nodeListener(app) {
  return (req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const headers = {};
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i].toLowerCase();
        if (!FRAMING_HEADERS.has(name)) (headers[name] ??= []).push(req.rawHeaders[i + 1]);
      }
      const address = req.socket.remoteAddress ?? DEFAULT_REMOTE_ADDRESS;
      const options = {
        method: req.method,
        url: req.url,
        headers,
        body: chunks.length === 0 ? undefined : Buffer.concat(chunks),
        remoteAddress: address.startsWith('::ffff:') ? address.slice(7) : address,
        payloadAsStream: true,
      };
      inject(app, options).then(
        (answer) => {
          const rawHeaders = [];
          for (let i = 0; i < answer.rawHeaders.length; i += 2) {
            if (!NODE_OWNED.has(answer.rawHeaders[i].toLowerCase())) rawHeaders.push(answer.rawHeaders[i], answer.rawHeaders[i + 1]);
          }
          res.writeHead(answer.statusCode, answer.statusMessage, rawHeaders);
          const body = answer.stream();
          // The client went away: so does the injected request's client.
          res.on('close', () => body.destroy());
          body.on('error', () => res.destroy());
          body.pipe(res);
        },
        (err) => {
          res.statusCode = err.code === 'HN_ERR_INVALID_HEADER' || err.code === 'HN_ERR_INJECT_OPTION' ? 400 : 500;
          res.end();
        },
      );
    });
  };
}

module.exports = { inject, nodeListener, injectServerOf, serializeRequest, ResponseParser };
