'use strict';
// The fetch entry: app.fetch(request) → Promise<Response>, the WHATWG face of the JavaScript
// backend, which Bun.serve, Deno.serve and Cloudflare Workers call. It turns a Request into the
// parsed request js/host/core.js takes and the core's answer into a Response, with no socket of
// its own: routing, the 404/413 answers, the response cache and the bridge to the app are the
// core's, so an app behaves here as it does under listen().
//
// Only what a WHATWG runtime has is used at request time (Request, Response, ReadableStream,
// Headers, Buffer, queueMicrotask, setTimeout): no node:http, no node:net, no socket.
const { Core } = require('./core');
const { HN_ERR_INVALID_ARG, HN_ERR_CLIENT_GONE, HN_ERR_ANSWER_ABORTED } = require('../errors');

// A streamed answer's ReadableStream queues this many bytes before it stops taking more from the
// core: past it the core withholds credit, so the app's res.write() says wait (js/outgoing.js)
// until the reader pulls. One 64 KiB write's worth, as the core credits in 64 KiB batches.
const STREAM_HIGH_WATER_MARK = 64 * 1024;
// Statuses a Response may carry (the Response constructor throws a RangeError outside them).
const MIN_STATUS = 200;
const MAX_STATUS = 599;
// Statuses whose Response must have a null body (Fetch standard, "null body status").
const NULL_BODY = new Set([204, 205, 304]);
const EMPTY = new Uint8Array(0);
// The envelope carries the client's address with a one-byte length (docs/bridge.md): a longer
// `ip` (no address is) is not one.
const MAX_IP_LENGTH = 255;

const JSON_TYPE = 'application/json; charset=utf-8';
const FAILURE_BODY = Buffer.from('{"error":"Internal Server Error"}');
let warnedFile = false;

// One compiled app behind app.fetch: the core, and the bridge the app's dispatcher reads from.
class FetchFront {
  // `options`: the native options listen() would pass (the app's limits, dispatchUnmatched...);
  // `bridge`: the app's bridge (js/bridge.js), whose records go to the core.
  constructor(options, routes, bridge, statics, dirs) {
    this._core = new Core(options, routes, bridge.onBatch, statics, dirs);
    this.native = this._core;
  }

  // request: a WHATWG Request; info: { ip } or the runtime's second argument (see peerIp()).
  handle(request, info) {
    if (request === null || typeof request !== 'object' || typeof request.url !== 'string' || typeof request.method !== 'string') {
      return Promise.reject(new HN_ERR_INVALID_ARG(`app.fetch(request) expects a Request, got ${request === null ? 'null' : typeof request}`));
    }
    return new Promise((resolve, reject) => {
      const answer = new Answer(request, resolve, reject);
      const head = {
        method: request.method,
        target: rawTarget(request.url),
        headers: headerPairs(request),
        ip: peerIp(request, info),
        http10: false,
        secure: request.url.startsWith('https:'),
      };
      const exchange = this._core.begin(head, answer);
      answer.exchange = exchange;
      answer.watchClient();
      feedBody(request, exchange, answer);
    });
  }
}

// The request target as the URL carries it: path and query, escapes kept as the client sent them
// (the runtime serialized the URL: non-ASCII characters are escaped, dot segments resolved),
// without the fragment, which never reaches a server.
function rawTarget(url) {
  const scheme = url.indexOf('://');
  const start = scheme === -1 ? -1 : url.indexOf('/', scheme + 3);
  const hash = url.indexOf('#', start === -1 ? 0 : start);
  const end = hash === -1 ? url.length : hash;
  if (start === -1 || start > end) {
    // No path after the authority (or a URL of another shape): the URL parser's view of it.
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  }
  return url.slice(start, end);
}

// [lowerName, value] pairs: Headers gives names lower-cased and values as byte strings (one char
// per byte, what the core takes), repeated fields joined with ', ' except set-cookie. A Request
// built by hand may lack Host, which every HTTP/1.1 request has: it is taken from the URL.
function headerPairs(request) {
  const pairs = [];
  let hasHost = false;
  for (const [name, value] of request.headers) {
    if (name === 'host') hasHost = true;
    pairs.push([name, value]);
  }
  if (!hasHost) {
    const at = request.url.indexOf('://');
    if (at !== -1) {
      const rest = request.url.slice(at + 3);
      const end = rest.search(/[/?#]/);
      const authority = end === -1 ? rest : rest.slice(0, end);
      const host = authority.slice(authority.lastIndexOf('@') + 1);
      if (host !== '') pairs.unshift(['host', host]);
    }
  }
  return pairs;
}

// The client's address for req.ip: `info.ip` when the caller knows it; Bun's server (Bun.serve
// passes itself as the second argument) through requestIP(); Deno's ServeHandlerInfo through
// remoteAddr; else '' (a Worker's client address comes in headers the app chooses to trust).
function peerIp(request, info) {
  if (info === null || typeof info !== 'object') return '';
  if (typeof info.ip === 'string') return info.ip.length <= MAX_IP_LENGTH ? info.ip : '';
  if (typeof info.requestIP === 'function') {
    try {
      const address = info.requestIP(request);
      if (address !== null && typeof address === 'object' && typeof address.address === 'string' && address.address.length <= MAX_IP_LENGTH) {
        return address.address;
      }
    } catch {
      // Not Bun's server after all.
    }
    return '';
  }
  const remote = info.remoteAddr;
  if (remote !== null && typeof remote === 'object' && typeof remote.hostname === 'string' && remote.hostname.length <= MAX_IP_LENGTH) {
    return remote.hostname;
  }
  return '';
}

// Hands the request body to the core as it arrives, at the core's pace (pause/resume), or drops
// it once the core answered without it (404, 413...).
async function feedBody(request, exchange, answer) {
  let reader;
  try {
    const body = request.body;
    if (body === null || body === undefined) {
      exchange.end();
      return;
    }
    // Throws when the caller already read or locked it: the request cannot be served as sent.
    reader = body.getReader();
    for (;;) {
      if (!exchange.wantsBody) {
        reader.cancel().catch(() => {});
        return;
      }
      if (answer.paused) await answer.resumed();
      const { value, done } = await reader.read();
      if (done) {
        exchange.end();
        return;
      }
      // The core may keep the chunk (a body collected for the envelope): the reader gave it away.
      if (value.length !== 0) exchange.data(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
  } catch (err) {
    // The client's body failed (it went away mid-upload): as a connection that closed.
    answer.bodyFailed(err);
  }
}

// The core's sink for one request (js/host/core.js): a whole answer becomes a Response with a
// byte body, a streamed one a Response over a ReadableStream that pulls from the core.
class Answer {
  constructor(request, resolve, reject) {
    this._request = request;
    this._resolve = resolve;
    this._reject = reject;
    this.exchange = null;
    this._settled = false;
    this._controller = null;
    // The core was told the stream is full: the next pull tells it to go on.
    this._blocked = false;
    this._ended = false;
    // Feeding the request body is held while the core's window for it is full.
    this.paused = false;
    this._resume = null;
    this._onAbort = null;
  }

  // The client going away (Bun and Deno abort request.signal when its connection closes) ends
  // the exchange: req.signal aborts in the app, a streamed answer stops.
  watchClient() {
    const signal = this._request.signal;
    if (this._ended || signal === undefined || signal === null) return;
    if (signal.aborted) {
      this._clientGone();
      return;
    }
    this._onAbort = () => this._clientGone();
    signal.addEventListener('abort', this._onAbort, { once: true });
  }

  _clientGone() {
    if (this._ended) return;
    this._finished();
    this.exchange.gone();
    const err = new HN_ERR_CLIENT_GONE('app.fetch(): the request was aborted (the client went away) before the answer was complete');
    if (this._controller !== null) {
      try {
        this._controller.error(err);
      } catch {
        // Already closed.
      }
    }
    this._fail(err);
  }

  _finished() {
    this._ended = true;
    if (this._onAbort !== null) {
      this._request.signal.removeEventListener('abort', this._onAbort);
      this._onAbort = null;
    }
    // A body feed waiting for room wakes up to find the exchange over, and cancels the body.
    this.resume();
  }

  bodyFailed(err) {
    if (this._ended) return;
    this._finished();
    this.exchange.gone();
    if (this._controller !== null) {
      try {
        this._controller.error(err);
      } catch {
        // Already closed.
      }
    }
    this._fail(err);
  }

  _fail(err) {
    if (this._settled) return;
    this._settled = true;
    this._reject(err);
  }

  _settle(response) {
    if (this._settled) return;
    this._settled = true;
    this._resolve(response);
  }

  // A whole answer: { status, headers, body (Buffer, empty for HEAD), length }.
  answer({ status, headers, body, length }) {
    this._finished();
    const init = responseInit(status, headers, length);
    if (init === null) {
      this._settle(unsendable());
      return;
    }
    const bytes = body.length === 0 || NULL_BODY.has(init.status) ? null : body;
    this._settle(new Response(bytes, init));
  }

  // The head of a streamed answer: { status, headers, length }; its body follows in write().
  start({ status, headers, length }) {
    const init = responseInit(status, headers, length);
    if (init === null) {
      // What the app goes on writing is dropped, as for a client that left.
      this._finished();
      this.exchange.gone();
      this._settle(unsendable());
      return;
    }
    if (NULL_BODY.has(init.status) || this._request.method === 'HEAD') {
      // No body may follow: the core drops what the app still writes (HEAD, 204, 304).
      this._settle(new Response(null, init));
      return;
    }
    const stream = new ReadableStream(
      {
        start: (controller) => {
          this._controller = controller;
        },
        pull: () => {
          if (this._blocked) {
            this._blocked = false;
            this.exchange.drained();
          }
        },
        cancel: () => {
          // The reader stopped reading (the client went away): as a closed connection.
          if (this._ended) return;
          this._finished();
          this._controller = null;
          this.exchange.gone();
        },
      },
      { highWaterMark: STREAM_HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
    );
    this._settle(new Response(stream, init));
  }

  // A piece of the streamed answer; false when the stream's queue is full (the core then waits
  // for drained(), which the next pull gives).
  write(chunk) {
    const controller = this._controller;
    if (controller === null) return true;
    controller.enqueue(ownBytes(chunk));
    if (controller.desiredSize > 0) return true;
    this._blocked = true;
    return false;
  }

  end() {
    this._finished();
    if (this._controller !== null) this._controller.close();
    this._controller = null;
  }

  // The answer is cut off (res.destroy(), a failed source, past its content-length): the reader
  // sees the body fail, as a client sees a connection close mid-answer. Before any head there is
  // no Response to give: the promise rejects.
  abort() {
    this._finished();
    const err = new HN_ERR_ANSWER_ABORTED(
      this._controller === null ? 'app.fetch(): the app ended the request without an answer (res.destroy() before anything was sent)' : 'app.fetch(): the app cut its answer off',
    );
    if (this._controller !== null) {
      this._controller.error(err);
      this._controller = null;
    }
    this._fail(err);
  }

  // A file answer (res.sendFile(), res.download()): the fetch entry reads no files (a Worker has
  // no file system to read them from), so it is the default error answer, as for a file that
  // cannot be read. Said once per process on the console, as an unhandled server error is.
  file() {
    if (!warnedFile && process.env.NODE_ENV !== 'test') {
      warnedFile = true;
      console.error('http-native: app.fetch() serves no files: res.sendFile()/res.download() answered 500');
    }
    this.answer({ status: 500, headers: [['content-type', JSON_TYPE]], body: FAILURE_BODY, length: FAILURE_BODY.length });
    return Promise.resolve();
  }

  // The core's window for the request body is full: feedBody waits for resume().
  pause() {
    this.paused = true;
  }

  resume() {
    this.paused = false;
    const resume = this._resume;
    this._resume = null;
    if (resume !== null) resume();
  }

  resumed() {
    return new Promise((resolve) => {
      this._resume = resolve;
    });
  }
}

// The bytes of `chunk` in an ArrayBuffer of their own: a small Buffer shares node's pool with
// unrelated ones, and a runtime may transfer (detach) the buffers a stream hands it.
function ownBytes(chunk) {
  if (chunk.byteLength === 0) return EMPTY;
  if (chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength) return new Uint8Array(chunk.buffer);
  return new Uint8Array(chunk);
}

// Status and headers as a ResponseInit, or null when a Response cannot carry them: a status
// outside 200-599 (1xx answers and statuses past 599 have no Response), or a header the runtime's
// Headers refuses. Pairs keep their order and repeats (each set-cookie stays its own field); the
// content-length the core computed is announced, as the native backend does (for HEAD, the
// length the GET would have).
function responseInit(status, pairs, length) {
  if (status < MIN_STATUS || status > MAX_STATUS) return null;
  const headers = new Headers();
  try {
    for (const [name, value] of pairs) headers.append(name, value);
  } catch {
    return null;
  }
  if (length !== undefined && !NULL_BODY.has(status)) headers.set('content-length', String(length));
  // An answer the core compressed is sent as it is: workerd encodes a body itself after its
  // Content-Encoding unless told it already is (encodeBody, Cloudflare's ResponseInit field;
  // other runtimes ignore it).
  if (headers.has('content-encoding')) return { status, headers, encodeBody: 'manual' };
  return { status, headers };
}

// What a client gets for an answer no Response can carry: the default error answer.
function unsendable() {
  return new Response(FAILURE_BODY, { status: 500, headers: { 'content-type': JSON_TYPE } });
}

module.exports = { FetchFront, rawTarget, headerPairs, peerIp };
