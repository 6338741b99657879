'use strict';
// The node:http front of the JavaScript backend: NativeServer.start (docs/bridge.md "Native
// surface") on a node:http server. node parses, frames and enforces the limits it knows
// (maxHeaderSize, headersTimeout, requestTimeout, keepAliveTimeout); js/host/core.js does the
// rest, as src/ does for the native backend.
const http = require('node:http');
const { Core } = require('./core');
const files = require('./files');
const { HN_ERR_BACKEND_UNSUPPORTED } = require('../errors');

// node checks its headersTimeout/requestTimeout only every connectionsCheckingInterval (30 s by
// default): a quarter of the shortest timeout, within these bounds, keeps the answer close to the
// limit without a timer firing every few milliseconds.
const MIN_CHECK_MS = 50;
const MAX_CHECK_MS = 1000;
// An IPv4 client of a dual-stack socket, as Rust reports it: the plain address.
const V4_MAPPED = '::ffff:';

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
    const serverOptions = { keepAlive: false, maxHeaderSize: options.maxHeaderSize ?? 16384 };
    const server = http.createServer(serverOptions);
    const headersTimeout = options.headersTimeout ?? 10000;
    const requestTimeout = options.requestTimeout ?? 30000;
    server.headersTimeout = requestTimeout > 0 && headersTimeout > requestTimeout ? requestTimeout : headersTimeout;
    server.requestTimeout = requestTimeout;
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
      socket.on('close', () => {
        stats.open--;
        this._sockets.delete(socket);
      });
    });
    server.on('request', (req, res) => this._request(req, res));
    const shortest = Math.min(...[server.headersTimeout, requestTimeout].filter((t) => t > 0), MAX_CHECK_MS * 4);
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

  _request(req, res) {
    const raw = req.rawHeaders;
    const headers = [];
    for (let i = 0; i < raw.length; i += 2) headers.push([raw[i].toLowerCase(), raw[i + 1]]);
    const address = req.socket.remoteAddress ?? '';
    const ip = address.startsWith(V4_MAPPED) && address.includes('.') ? address.slice(V4_MAPPED.length) : address;
    const head = { method: req.method, target: req.url, headers, ip, http10: req.httpVersion === '1.0', secure: false };
    const ex = this._core.begin(head, sink(req, res, this));
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

// The core's answers written with node:http (see js/host/core.js for the contract).
// `server`: once it is closing, every answer closes its connection (as Rust's do), so that no
// client sends another request on a connection about to go.
function sink(req, res, server) {
  const writeHead = (status, reason, headers, length, close) => {
    const flat = [];
    for (const [name, value] of headers) flat.push(name, value);
    if (length !== undefined) flat.push('content-length', String(length));
    if (close || server._closing !== null) flat.push('connection', 'close');
    res.writeHead(status, reason, flat);
  };
  return {
    answer({ status, reason, headers, body, length, close }) {
      writeHead(status, reason, headers, length, close);
      if (body.length !== 0) res.end(body);
      else res.end();
    },
    start({ status, reason, headers, length, close }) {
      writeHead(status, reason, headers, length, close);
      // The head goes now: a stream may take a while to produce its first bytes (SSE).
      res.flushHeaders();
    },
    write(chunk) {
      return res.write(chunk);
    },
    end() {
      res.end();
    },
    abort() {
      res.destroy();
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
