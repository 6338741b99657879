'use strict';
// Starting the native server, and what listen() resolves to: where it is, and how to stop it.
const { EventEmitter } = require('node:events');
const { closeTimeout } = require('./options');

// An EventEmitter for 'error': an internal error the server thread contained (it keeps serving).
class Server extends EventEmitter {
  constructor(native, bridge, onClosed) {
    super();
    this.port = native.port;
    this.host = native.host;
    this.driver = native.driver;
    this.url = `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
    this._native = native;
    this._bridge = bridge;
    this._closing = undefined;
    this._onClosed = onClosed;
  }

  // Counters since the server started (docs/bridge.md, "Stats"), plus bridge.requestsPerCall: the
  // average batch size, which shows how much the batching saves.
  stats() {
    const stats = this._native.stats();
    const { calls, requests } = stats.bridge;
    stats.bridge.requestsPerCall = calls === 0 ? 0 : Math.round((requests / calls) * 100) / 100;
    return stats;
  }

  // Stops accepting, lets in-flight requests finish (forcing them closed after `timeout` ms), and
  // resolves once nothing of the server keeps the process alive. Calling it again returns the
  // same promise.
  close(options) {
    let timeout;
    try {
      timeout = closeTimeout(options);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this._closing === undefined) {
      this._closing = this._native.close(timeout).then(() => {
        this._bridge.native = null;
        if (this._onClosed !== undefined) this._onClosed(this);
      });
    }
    return this._closing;
  }
}

// Starts serving `routes` ([{ id, method, path }]) with requests going to `bridge`, and `statics`
// ([{ path, status, headers, body }]) from Rust alone. Throws what NativeServer.start throws (bind
// errors, routes Rust refuses). `onClosed(server)` runs once close() has finished.
function startServer(nativeOptions, routes, bridge, statics, onClosed) {
  // Loaded here rather than at require() time so that an app can be built (and its routes
  // checked) before the addon is; a missing addon then rejects listen() with HN_ERR_ADDON_MISSING.
  const { NativeServer } = require('./native');
  let native;
  try {
    native = NativeServer.start(nativeOptions, routes, bridge.onBatch, statics);
  } catch (err) {
    throw withListenCode(err, nativeOptions);
  }
  bridge.native = native;
  const server = new Server(native, bridge, onClosed);
  // Without a listener, an 'error' event would throw, turning a contained failure into a crash:
  // it is logged instead.
  bridge.onServerError = (err) => {
    if (server.listenerCount('error') > 0) server.emit('error', err);
    else console.error('http-native:', err);
  };
  return server;
}

// Rust words bind failures like node does ("listen EADDRINUSE: address already in use"); give
// them the fields of node's own listen errors too, so `err.code === 'EADDRINUSE'` works.
function withListenCode(err, { host, port }) {
  const match = /^listen (E[A-Z]+):/.exec(err.message);
  if (match !== null) {
    err.code = match[1];
    err.syscall = 'listen';
    err.address = host;
    err.port = port;
  }
  return err;
}

// NODE_DEBUG is a comma-separated list of module names, as for util.debuglog().
function debugFromEnv() {
  const list = process.env.NODE_DEBUG;
  return list !== undefined && list.split(/[\s,]+/).some((name) => name.toLowerCase() === 'http-native');
}

module.exports = { startServer, debugFromEnv };
