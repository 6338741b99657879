'use strict';
// The node:http front of the JavaScript backend: NativeServer.start (docs/bridge.md "Native
// surface") on a node:http server. node parses, frames and enforces the limits it knows
// (maxHeaderSize, headersTimeout, keepAliveTimeout); js/host/core.js does the
// rest, as src/ does for the native backend.
const http = require('node:http');
const { Core, reason } = require('./core');
const files = require('./files');
const { HN_ERR_BACKEND_UNSUPPORTED } = require('../errors');

// node checks its headersTimeout/requestTimeout only every connectionsCheckingInterval (30 s by
// default): a quarter of the shortest timeout, within these bounds, keeps the answer close to the
// limit without a timer firing every few milliseconds.
const MIN_CHECK_MS = 50;
const MAX_CHECK_MS = 1000;
// An IPv4 client of a dual-stack socket, as Rust reports it: the plain address.
const V4_MAPPED = '::ffff:';
// node counts maxHeaderSize its own way, never more than the head's bytes: its bound stops a head
// that never ends, and the core checks the exact limit on the head it rebuilds (Rust's count).
const HEADER_SIZE_SLACK = 0;
// A socket whose connection closes after the answer being written: requests node parsed after it
// (pipelined in the same read) are not served.
const CLOSING = Symbol('http-native.closing');
// The exchange of the request a socket is reading, told when its body turns out malformed.
const EXCHANGE = Symbol('http-native.exchange');
// node's parser errors, answered as src/h1/ answers them (then the connection closes).
const CLIENT_ERRORS = { HPE_HEADER_OVERFLOW: 431, ERR_HTTP_REQUEST_TIMEOUT: 408, HPE_HEADERS_TIMEOUT: 408 };

class NodeServer {
  // Synchronous like the addon's: throws what it cannot serve; the bind itself completes in
  // `listening` (a Promise js/server.js awaits), as node binds asynchronously.
  static start(options, routes, onBatch, statics, dirs /* , guards: the JS middleware answers */) {
    unsupported(options, routes);
    return new NodeServer(options, routes, onBatch, statics, dirs);
  }

  constructor(options, routes, onBatch, statics, dirs) {
    this.driver = 'node';
    this.port = 0;
    this.host = '';
    this._core = new Core(options, routes, onBatch, statics, dirs);
    this._sockets = new Set();
    this._closing = null;
    // Host is checked by the core (one, valid, on HTTP/1.1), as Rust checks it.
    const serverOptions = { maxHeaderSize: (options.maxHeaderSize ?? 16384) + HEADER_SIZE_SLACK, requireHostHeader: false };
    const server = http.createServer(serverOptions);
    const headersTimeout = options.headersTimeout ?? 10000;
    const requestTimeout = options.requestTimeout ?? 30000;
    server.headersTimeout = headersTimeout;
    // The core times bodies out itself (an idle timeout not counting the time the app holds the
    // body back, as Rust's); node's would cut a slow upload that is still arriving.
    server.requestTimeout = 0;
    // A client that half-closes after its request still gets its answers (Rust's rule).
    server.httpAllowHalfOpen = true;
    server.keepAliveTimeout = options.keepAliveTimeout ?? 5000;
    // node drops headers past maxHeadersCount; one more than the limit lets the core see the
    // excess and answer 431 as Rust does.
    server.maxHeadersCount = (options.maxHeaders ?? 128) + 1;
    server.timeout = 0;
    this._server = server;
    server.on('connection', (socket) => {
      const stats = this._core._stats.connections;
      stats.open++;
      stats.total++;
      this._sockets.add(socket);
      // A client that half-closes while its answer streams has left (an SSE reader that went
      // away); one that half-closes while its handler runs still gets the answer.
      socket.on('end', () => {
        const ex = socket[EXCHANGE];
        if (ex !== undefined && ex.streaming) {
          ex.gone();
          socket.destroy();
        }
      });
      socket.on('close', () => {
        stats.open--;
        this._sockets.delete(socket);
      });
    });
    server.on('request', (req, res) => this._request(req, res, false));
    // Expect: 100-continue: the core decides first (a body over the limit is 413, no 100).
    server.on('checkContinue', (req, res) => this._request(req, res, true));
    server.on('clientError', (err, socket) => clientError(err, socket, this._core));
    const shortest = Math.min(...[headersTimeout, requestTimeout].filter((t) => t > 0), MAX_CHECK_MS * 4);
    this._checkInterval = Math.max(MIN_CHECK_MS, Math.min(MAX_CHECK_MS, Math.floor(shortest / 4)));
    this.listening = new Promise((resolve, reject) => {
      server.once('error', reject);
      const listenOptions = { port: options.port, backlog: options.backlog ?? 1024 };
      if (options.host !== undefined) listenOptions.host = options.host;
      server.listen(listenOptions, () => {
        server.off('error', reject);
        const address = server.address();
        this.port = address.port;
        this.host = address.address;
        resolve(this);
      });
    });
    // The interval is set by node at listen(); lower it for the limits above.
    server.connectionsCheckingInterval = this._checkInterval;
  }

  _request(req, res, expectsContinue) {
    if (req.socket[CLOSING]) return;
    // The client's own `Connection: close` (or HTTP/1.0 without keep-alive): nothing after this
    // request on the connection is served.
    if (!res.shouldKeepAlive) req.socket[CLOSING] = true;
    const raw = req.rawHeaders;
    const headers = [];
    // The head as the client sent it, in bytes (for maxHeaderSize): request line, header lines, CRLF.
    let headSize = req.method.length + req.url.length + 14;
    for (let i = 0; i < raw.length; i += 2) {
      headers.push([raw[i].toLowerCase(), raw[i + 1]]);
      headSize += raw[i].length + raw[i + 1].length + 4;
    }
    const address = req.socket.remoteAddress ?? '';
    const ip = address.startsWith(V4_MAPPED) && address.includes('.') ? address.slice(V4_MAPPED.length) : address;
    const head = { method: req.method, target: req.url, headers, ip, version: req.httpVersion, http10: req.httpVersion === '1.0', secure: false, headSize };
    const ex = this._core.begin(head, sink(req, res, this));
    req.socket[EXCHANGE] = ex;
    if (expectsContinue && ex.wantsBody) res.writeContinue();
    res.on('close', () => ex.gone());
    res.on('drain', () => ex.drained());
    // Always read to the end: a body nobody wants is dropped by the exchange, and a mount that
    // falls through still needs to know when the request is complete.
    req.on('data', (chunk) => ex.data(chunk));
    req.on('end', () => ex.end());
  }

  respond(buf) {
    return this._core.respond(buf);
  }

  cacheInvalidate(pattern) {
    this._core.cacheInvalidate(pattern);
  }

  cacheClear() {
    this._core.cacheClear();
  }

  stats() {
    return this._core.stats();
  }

  setSecureContext() {
    throw new HN_ERR_BACKEND_UNSUPPORTED('setSecureContext(): the node backend serves no TLS');
  }

  // Stops accepting now, lets in-flight requests finish, closes idle connections as they become
  // idle, and force-closes everything after `timeoutMs`.
  close(timeoutMs) {
    if (this._closing !== null) return this._closing;
    const server = this._server;
    const core = this._core;
    this._closing = new Promise((resolve) => {
      const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
      server.close(() => {
        clearTimeout(timer);
        // Every connection is gone (node calls back only then), whatever order its events came in.
        core._stats.connections.open = 0;
        core.closeAll();
        resolve();
      });
      const idle = () => {
        server.closeIdleConnections();
        // A keep-alive connection whose request just finished closes once its answer is out.
        for (const socket of this._sockets) if (socket._httpMessage == null) socket.destroySoon?.();
      };
      core.onIdle = idle;
      if (core.inFlight === 0) idle();
      else server.closeIdleConnections();
    });
    return this._closing;
  }
}

// What a listen() asks that this backend does not do is refused by name, before anything binds.
function unsupported(options, routes) {
  const refuse = (what) => {
    throw new HN_ERR_BACKEND_UNSUPPORTED(`${what} is not available on the node backend (listen({ backend: 'node' }), or no native addon loaded); use the native backend`);
  };
  if (options.tls !== undefined) refuse('TLS (listen({ tls }))');
  if (options.http2 !== undefined && options.http2.enabled) refuse('HTTP/2 (listen({ http2 }))');
  if (routes.some((r) => r.method === 'WS')) refuse('WebSocket (app.ws())');
}

// A request node's parser refused: Rust's short JSON answer, then the connection closes.
function clientError(err, socket, core) {
  const pending = socket._httpMessage;
  if (!socket.writable || socket[CLOSING]) {
    // The connection was closing anyway: what follows the last request is not read, and the
    // answer owed to it still goes out.
    if (pending != null && !pending.writableFinished) pending.once('finish', () => socket.destroySoon());
    else socket.destroy();
    return;
  }
  // The client half-closed in the middle of a request: nothing to answer (Rust just closes).
  if (err.code === 'HPE_INVALID_EOF_STATE') {
    socket[EXCHANGE]?.gone();
    return socket.destroy();
  }
  socket[CLOSING] = true;
  // An answer still owed to an earlier request on the connection goes first; the request whose
  // body failed gets no answer but this one.
  if (pending != null && !pending.writableFinished && pending.req?.complete) {
    pending.once('finish', () => writeError(err, socket, core));
    pending.once('close', () => socket.destroy());
    return;
  }
  if (pending != null && !pending.writableFinished) socket[EXCHANGE]?.invalid();
  writeError(err, socket, core);
}

function writeError(err, socket, core) {
  let status = CLIENT_ERRORS[err.code] ?? 400;
  // A well-formed request line of another HTTP version is 505; anything else malformed is 400.
  if (err.code === 'HPE_INVALID_VERSION' && /^[!-~]+ [!-~]+ HTTP\/\d\.\d\r\n/.test(String(err.rawPacket ?? ''))) status = 505;
  // Nothing came of the connection yet (a timeout before any byte): just close it.
  if (status === 408 && err.bytesParsed === 0 && !err.rawPacket) return socket.destroy();
  core.countNative(status);
  const body = `{"error":"${reason(status)}"}`;
  socket.end(
    `HTTP/1.1 ${status} ${reason(status)}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${body.length}\r\ndate: ${new Date().toUTCString()}\r\nconnection: close\r\n\r\n${body}`,
  );
}

// The core's answers written with node:http (see js/host/core.js for the contract).
// `server`: once it is closing, every answer closes its connection (as Rust's do), so that no
// client sends another request on a connection about to go.
function sink(req, res, server) {
  const writeHead = (status, reason, headers, length, close) => {
    const flat = [];
    for (const [name, value] of headers) flat.push(name, value);
    if (length !== undefined) flat.push('content-length', String(length));
    if (close || server._closing !== null) {
      flat.push('connection', 'close');
      req.socket[CLOSING] = true;
    }
    res.writeHead(status, reason, flat);
  };
  return {
    answer({ status, reason, headers, body, length, close }) {
      writeHead(status, reason, headers, length, close);
      if (body.length !== 0) res.end(body);
      else res.end();
    },
    start({ status, reason, headers, length, close, chunked }) {
      // Said among the headers rather than left to node, which would write it last.
      writeHead(status, reason, chunked ? [...headers, ['transfer-encoding', 'chunked']] : headers, length, close);
      // The head goes now: a stream may take a while to produce its first bytes (SSE).
      res.flushHeaders();
    },
    write(chunk) {
      return res.write(chunk);
    },
    end() {
      res.end();
    },
    // Cut the connection once what was written is out: the client sees the answer end there.
    abort() {
      const socket = res.socket;
      if (socket == null || res.headersSent === false) return res.destroy();
      socket[CLOSING] = true;
      socket.destroySoon();
    },
    // Bytes that left node's buffers for the kernel.
    progress() {
      const socket = res.socket;
      return socket == null ? 0 : socket.bytesWritten - socket.writableLength;
    },
    pause() {
      req.pause();
    },
    file(path, headers, status, compression) {
      return files.serveFile(req, res, path, headers, { status, compression });
    },
    mount(dir, rest, compression) {
      return files.serveMount(req, res, dir, rest, { compression });
    },
    resume() {
      req.resume();
    },
    req,
    res,
  };
}

module.exports = { NativeServer: NodeServer };
