'use strict';
// Starting the native server, and what listen() resolves to: where it is, and how to stop it.
const { EventEmitter } = require('node:events');
const { closeTimeout } = require('./options');
const { tlsOptions, tlsError } = require('./tls-options');
const { HN_ERR_BAD_OPTION } = require('./errors');

// The addresses that mean every interface, and the one a client on this machine reaches them by:
// a `::` socket is dual-stack (listen.rs), so 127.0.0.1 works for both.
const WILDCARDS = new Map([
  ['::', '127.0.0.1'],
  ['0.0.0.0', '127.0.0.1'],
]);

const family = (address) => (address.includes(':') ? 'IPv6' : 'IPv4');
const urlHost = (address) => (family(address) === 'IPv6' ? `[${address}]` : address);

// An EventEmitter for 'error': an internal error the server thread contained (it keeps serving).
// One Server may stand for several native servers on one port (`ioThreads`): `_members`, each a
// native server and its bridge, all running the same app in this thread.
class Server extends EventEmitter {
  constructor(members, onClosed, nativeOptions, backendName) {
    super();
    const [{ native, bridge }] = members;
    this.port = native.port;
    // The bound address: '::' (or '0.0.0.0') when listening on every interface.
    this.host = native.host;
    this.driver = native.driver;
    // Which backend serves: 'native' (the addon) or 'node' (js/host/).
    this.backend = backendName;
    this.ioThreads = members.length;
    // Where a client on this machine connects, also when the server listens on every interface.
    this.secure = nativeOptions.tls !== undefined;
    this.url = `${this.secure ? 'https' : 'http'}://${urlHost(WILDCARDS.get(this.host) ?? this.host)}:${this.port}`;
    // setSecureContext() takes what changes; the rest stays as listen() set it (ALPN, mTLS...).
    this._tls = nativeOptions.tls;
    this._members = members;
    // The first thread's: the cache calls reach every thread through Rust's cache group.
    this._native = native;
    this._bridge = bridge;
    this._closing = undefined;
    this._onClosed = onClosed;
  }

  // As node's tls.Server#setSecureContext: new handshakes use these certificates (and any other
  // tls option given); connections already open keep theirs. Throws HN_ERR_TLS, changing nothing,
  // when they cannot be used.
  setSecureContext(options) {
    if (this._tls === undefined) throw new HN_ERR_BAD_OPTION('setSecureContext(): the server was not started with tls');
    const next = { ...this._tls, ...tlsOptions(options, 'setSecureContext()') };
    try {
      // Checked by the first; the same options then cannot fail on the others.
      for (const { native } of this._members) native.setSecureContext(next);
    } catch (err) {
      throw tlsError(err);
    }
    this._tls = next;
  }

  // node's net.Server#address() shape; null once close() was called, as node's is once closed.
  address() {
    if (this._closing !== undefined) return null;
    return { address: this.host, family: family(this.host), port: this.port };
  }

  // Counters since the server started (docs/bridge.md, "Stats"), plus bridge.requestsPerCall: the
  // average batch size, which shows how much the batching saves. With several I/O threads, the
  // sum over them, and each thread's own under `threads`.
  stats() {
    if (this._members.length === 1) return withRatios(this._native.stats());
    const threads = this._members.map(({ native }) => withRatios(native.stats()));
    const stats = withRatios(sumStats(threads));
    stats.threads = threads;
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
      const closed = this._members.map(({ native }) => native.close(timeout));
      this._closing = Promise.all(closed).then(async () => {
        // The server thread's last batch (WebSocket ends, abandoned requests) was handed over
        // before it exited; its delivery and this completion are separate wake-ups of the
        // event loop, so let one more turn deliver it before ending what is left as 1006.
        await new Promise(setImmediate);
        for (const { bridge } of this._members) {
          bridge.native = null;
          // Whatever still streamed has ended with its connection.
          bridge.closeAll();
        }
        if (this._onClosed !== undefined) this._onClosed(this);
      });
    }
    return this._closing;
  }
}

function withRatios(stats) {
  const { calls, requests } = stats.bridge;
  stats.bridge.requestsPerCall = calls === 0 ? 0 : Math.round((requests / calls) * 100) / 100;
  return stats;
}

// Every counter summed over several servers' stats, but the cache's size: each thread holds its
// own copy of every entry (their bodies shared), so the largest copy is what the cache holds.
const LARGEST = new Set(['cache.entries', 'cache.bytes']);
function sumStats(list, prefix = '') {
  const out = {};
  for (const [key, value] of Object.entries(list[0])) {
    const name = prefix === '' ? key : `${prefix}.${key}`;
    if (typeof value === 'number') {
      const values = list.map((s) => s[key] ?? 0);
      out[key] = LARGEST.has(name) ? Math.max(...values) : values.reduce((a, b) => a + b, 0);
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = sumStats(list.map((s) => s[key] ?? {}), name);
    }
  }
  return out;
}

// Starts serving `routes` ([{ id, method, path }]) on `backend` (js/backend.js: a module with the
// native surface) with requests going to `bridges` (one native server each, on one port: the
// first binds it, the others join it with SO_REUSEPORT), and `statics` ([{ path, status, headers,
// body }]) and `dirs` (directory mounts, docs/bridge.md) from the backend alone. Rejects with what
// NativeServer.start throws (bind errors, routes Rust refuses), with any thread already started
// closed. `onClosed(server)` runs once close() has finished. `guards`: the native guards
// (js/native-guards.js), or undefined.
async function startServer(backend, nativeOptions, routes, bridges, statics, dirs, onClosed, guards) {
  const { NativeServer } = backend;
  const backendName = backend.backend ?? 'native';
  // The JavaScript backend has one thread, the app's: a second bridge would have nothing to run on.
  const used = backendName === 'native' ? bridges : bridges.slice(0, 1);
  const members = [];
  let options = nativeOptions;
  try {
    for (const bridge of used) {
      const native = NativeServer.start(options, routes, bridge.onBatch, statics, dirs, guards);
      bridge.native = native;
      members.push({ native, bridge });
      // node binds asynchronously (js/host/node-server.js).
      if (native.listening !== undefined) await native.listening;
      // The port the first one bound (port 0 picks one), for the others to share.
      options = { ...nativeOptions, port: native.port };
    }
  } catch (err) {
    for (const { native, bridge } of members) {
      bridge.native = null;
      native.close(0).catch(() => {});
    }
    throw tlsError(withListenCode(err, options));
  }
  const server = new Server(members, onClosed, nativeOptions, backendName);
  // Without a listener, an 'error' event would throw, turning a contained failure into a crash:
  // it is logged instead.
  const onServerError = (err) => {
    if (server.listenerCount('error') > 0) server.emit('error', err);
    else console.error('http-native:', err);
  };
  for (const bridge of used) {
    bridge.onServerError = onServerError;
    // A socket's publish reaches the subscribers of every thread (js/ws.js).
    bridge.siblings = used.filter((other) => other !== bridge);
  }
  return server;
}

// Rust words bind failures like node does ("listen EADDRINUSE: address already in use"); give
// them the fields of node's own listen errors too, so `err.code === 'EADDRINUSE'` works. Without
// a host the address tried first is '::', as in node's errors.
function withListenCode(err, { host, port }) {
  const match = /^listen (E[A-Z]+):/.exec(err.message);
  if (match !== null) {
    err.code = match[1];
    err.syscall = 'listen';
    err.address = host ?? '::';
    err.port = port;
  }
  return err;
}

// The startup line's account of where the server listens.
function listeningOn(server) {
  if (!WILDCARDS.has(server.host)) return server.url;
  const families = server.host === '::' ? 'IPv6 and IPv4' : 'IPv4';
  return `every interface (${urlHost(server.host)}:${server.port}, ${families}), ${server.url} from this machine`;
}

// NODE_DEBUG is a comma-separated list of module names, as for util.debuglog().
function debugFromEnv() {
  const list = process.env.NODE_DEBUG;
  return list !== undefined && list.split(/[\s,]+/).some((name) => name.toLowerCase() === 'http-native');
}

module.exports = { startServer, debugFromEnv, listeningOn, sumStats, withRatios };
