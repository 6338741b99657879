'use strict';
// The public application API: Express-style route and middleware registration, groups, the error
// and not-found hooks, and listen().
//
// Middleware order is Express's: one stack in registration order. A request runs the middleware
// registered before its route (whose path matches), the route's handlers, then the middleware
// registered after the route if the handlers call next(). Four-parameter functions are error
// middleware, reached by next(err) or a throw. Rust picks the route before JS sees the request, so
// each route's slice of the stack is computed once at listen() (js/router.js).
//
// Routes and middleware are compiled when listen() is called (and on app.fetch's first call);
// registering more afterwards only affects servers started later.
const { Router, normalizePrefix, joinPath, functions } = require('./router');
const { Dispatcher } = require('./dispatch');
const { startServer, debugFromEnv, listeningOn } = require('./server');
const { appOptions, listenArguments, listenOptions } = require('./options');
const { staticResponse, staticDirectory, isDirectoryForm } = require('./static');
const { topicArg, messageArg, SEND_BINARY, SEND_COMPRESS } = require('./ws');
const { HN_ERR_ROUTE, HN_ERR_INVALID_ARG } = require('./errors');
const { applyOptions } = require('./settings');
const { adaptMiddleware } = require('./cookies');
const { guardContext } = require('./native-guards');
const { sharedName } = require('./shared-scope');

// Names what the I/O threads of one listen() share (their cache group, their acceptor): unique
// in the process, whose every worker thread shares the addon's registry of names.
let listens = 0;
const listenName = (kind) => `${kind}-${require('node:worker_threads').threadId}-${++listens}`;

// The registration API shared by the app and the objects app.group() hands out: a prefix
// ('' at the root, never ending in '/') applied to every path registered through it.
class Scope {
  constructor(router, prefix) {
    this._router = router;
    this._prefix = prefix;
  }

  get(path, ...handlers) {
    return this._route('GET', path, handlers);
  }

  post(path, ...handlers) {
    return this._route('POST', path, handlers);
  }

  put(path, ...handlers) {
    return this._route('PUT', path, handlers);
  }

  patch(path, ...handlers) {
    return this._route('PATCH', path, handlers);
  }

  delete(path, ...handlers) {
    return this._route('DELETE', path, handlers);
  }

  options(path, ...handlers) {
    return this._route('OPTIONS', path, handlers);
  }

  head(path, ...handlers) {
    return this._route('HEAD', path, handlers);
  }

  all(path, ...handlers) {
    return this._route('ALL', path, handlers);
  }

  // ws(path, { upgrade, open, message, drain, close }[, options]): a WebSocket route (js/ws.js).
  // The middleware registered before it runs before the upgrade hook, as for a GET route.
  ws(path, handlers, options) {
    this._router.addWs(joinPath(this._prefix, path), handlers, options);
    return this;
  }

  // use([path], ...middleware): a path scopes the middleware to that prefix on segment
  // boundaries ('/api' covers '/api' and '/api/x', not '/apix').
  use(...args) {
    let prefix = this._prefix;
    if (typeof args[0] === 'string') prefix += normalizePrefix(args.shift());
    const fns = functions(args, 'use()').map(adaptMiddleware);
    if (fns.length === 0) throw new HN_ERR_ROUTE('use() needs at least one middleware function');
    this._router.addMiddleware(prefix, fns);
    return this;
  }

  // static(path, body[, options]): a response known at startup, answered by Rust for GET and HEAD
  // on `path` without running any JS (middleware included). static(prefix, { root, ...options }):
  // the files under `root`, served by Rust the same way (js/static.js tells the forms apart).
  static(path, body, options) {
    if (isDirectoryForm(body)) {
      if (options !== undefined) {
        throw new HN_ERR_ROUTE(`static('${path}', { root }): a directory mount takes its options in the same object as root, not a third argument`);
      }
      this._router.addDirectory(staticDirectory(joinPath(this._prefix, path), body));
    } else {
      this._router.addStatic(staticResponse(joinPath(this._prefix, path), body, options));
    }
    return this;
  }

  group(prefix, fn) {
    if (typeof fn !== 'function') throw new HN_ERR_ROUTE(`group('${prefix}', fn): fn must be a function`);
    fn(new Scope(this._router, this._prefix + normalizePrefix(prefix)));
    return this;
  }

  _route(method, path, handlers) {
    this._router.addRoute(method, joinPath(this._prefix, path), handlers);
    return this;
  }
}

// app.cache: the response cache (res.ncache()) of every server of the app that is running.
class AppCache {
  constructor(servers) {
    this._servers = servers;
    // js/cache-fanout.js's, while the app fans its changes out to other instances.
    this._fanOut = null;
    // app.fetch's core and bridge (js/host/fetch.js), once app.fetch was first called: its
    // cache is the app's too.
    this._fetchMember = null;
  }

  // Responses finished before this call but still in the bridge's buffer go to Rust first, so an
  // invalidation is not undone by an older answer stored after it. Returns each server's cache.
  _flushed() {
    const caches = [];
    for (const server of this._servers) {
      for (const { bridge } of server._members) bridge.flushNow();
      caches.push(server._native);
    }
    if (this._fetchMember !== null) {
      this._fetchMember.bridge.flushNow();
      caches.push(this._fetchMember.native);
    }
    return caches;
  }

  // '/users/1' drops that path with any query; '/users/*' drops every key starting with '/users/'.
  // Takes effect before any request a server reads after this returns.
  invalidate(pattern) {
    if (typeof pattern !== 'string' || !pattern.startsWith('/')) {
      throw new HN_ERR_INVALID_ARG(`app.cache.invalidate(pattern): pattern must be a string starting with "/", got ${JSON.stringify(pattern)}`);
    }
    for (const cache of this._flushed()) cache.cacheInvalidate(pattern);
    this._changed('invalidate', pattern);
  }

  clear() {
    for (const cache of this._flushed()) cache.cacheClear();
    this._changed('clear');
  }

  // fanOut(client[, { channel }]): invalidate() and clear() reach every instance fanned out on the
  // same Redis channel (js/cache-fanout.js).
  fanOut(client, options) {
    // Loaded on first use: an app that does not fan out loads none of it.
    return require('./cache-fanout').fanOut(this, client, options);
  }

  // The one hook of a change made here: told to the other instances when fanned out.
  _changed(op, pattern) {
    if (this._fanOut !== null) this._fanOut.publish(op, pattern);
  }
}

class App extends Scope {
  constructor(options) {
    super(new Router(), '');
    this._limits = appOptions(options);
    applyOptions(this, options);
    this._errorHandler = null;
    this._notFoundHandler = null;
    this._servers = new Set();
    this.cache = new AppCache(this._servers);
    // In a worker of serve(): where this app's publishes meet the other workers' (made at listen()).
    this._relayName = sharedName('publish');
    this._relay = null;
    // app.fetch's bound function, and what it runs once first called (js/host/fetch.js).
    this._fetch = undefined;
    this._fetchFront = undefined;
  }

  error(fn) {
    if (typeof fn !== 'function') throw new HN_ERR_ROUTE('error(fn): fn must be a function');
    this._errorHandler = fn;
    return this;
  }

  notFound(fn) {
    if (typeof fn !== 'function') throw new HN_ERR_ROUTE('notFound(fn): fn must be a function');
    this._notFoundHandler = fn;
    return this;
  }

  // To every socket subscribed to `topic`, on every running server of the app (and, under
  // serve(), of every worker); whether any subscribes (under serve(), true: the other workers'
  // subscribers are not known here). The fan-out is Rust's: one record per server, whatever the
  // number of subscribers.
  publish(topic, message, isBinary, compress = true) {
    const key = topicArg(topic, 'app.publish()');
    const payload = messageArg(message, 'app.publish()');
    const binary = isBinary === undefined ? typeof message !== 'string' : Boolean(isBinary);
    const flags = (binary ? SEND_BINARY : 0) | (compress ? SEND_COMPRESS : 0);
    const reached = this._publishHere(key, payload, flags);
    if (this._relay === null) return reached;
    this._relay.send(key, payload, flags);
    return true;
  }

  // A publish to the sockets of this thread's servers only.
  _publishHere(key, payload, flags) {
    let reached = false;
    for (const server of this._servers) {
      // A closing server has sent its sockets their close frames: nothing may follow them.
      if (server._closing !== undefined) continue;
      for (const { bridge } of server._members) {
        if (!bridge.hub.reaches(key, null)) continue;
        bridge.wsPublish(0, key, payload, flags);
        reached = true;
      }
    }
    return reached;
  }

  // Sockets subscribed to `topic`, over every running server of the app.
  numSubscribers(topic) {
    const key = topicArg(topic, 'app.numSubscribers()');
    let count = 0;
    for (const server of this._servers) for (const { bridge } of server._members) count += bridge.hub.count(key);
    return count;
  }

  // app.fetch(request[, info]) → Promise<Response>: the app as a WHATWG fetch handler
  // (js/host/fetch.js), which Bun.serve, Deno.serve and Cloudflare Workers call. A function bound
  // to the app, so `Bun.serve({ fetch: app.fetch })` works as well as `export default app`. The
  // app is compiled on the first call, as listen() compiles it: routes registered later do not
  // reach it.
  get fetch() {
    if (this._fetch === undefined) {
      this._fetch = (request, info) => {
        let front = this._fetchFront;
        if (front === undefined) {
          try {
            front = this._startFetch();
          } catch (err) {
            return Promise.reject(err);
          }
        }
        return front.handle(request, info);
      };
    }
    return this._fetch;
  }

  _startFetch() {
    const { FetchFront } = require('./host/fetch');
    const { routes, chains, unmatched, statics, dirs } = this._router.compile(this._limits.compression, guardContext(this));
    const { bridge } = this._dispatcher(chains, unmatched, debugFromEnv());
    // As listen() decides it: only middleware or a custom 404 can answer a request no route matched.
    const options = { ...this._limits, dispatchUnmatched: this._router.hasOrdinaryMiddleware || this._notFoundHandler !== null };
    const front = new FetchFront(options, routes, bridge, statics, dirs);
    bridge.native = front.native;
    this.cache._fetchMember = { native: front.native, bridge };
    this._fetchFront = front;
    return front;
  }

  // listen(port[, host][, backlog][, callback]) or listen(options[, callback]), as in node and
  // Express, resolving to the Server either way. The callback runs once listening, with `this`
  // the server and no arguments, or with the error if listening failed (as in Express 5). The
  // promise rejects then too, but it is marked handled: a failure a callback was told of must not
  // also end the process as an unhandled rejection.
  listen(...args) {
    const callback = typeof args.at(-1) === 'function' ? args.pop() : undefined;
    const listening = this._listen(args);
    if (callback !== undefined) {
      // Called outside the promise chain: a callback that throws is an uncaught exception, as it
      // is from node's 'listening' event, not a rejection nobody sees.
      listening.then(
        (server) => process.nextTick(() => callback.call(server)),
        (err) => process.nextTick(() => callback(err)),
      );
    }
    return listening;
  }

  // inject(options[, callback]): one request through the app with no socket (js/inject.js).
  inject(options, callback) {
    return require('./inject').inject(this, options, callback);
  }

  // The Server app.inject() uses (a socketless one), once the first inject started it.
  get injectServer() {
    return require('./inject').injectServerOf(this);
  }

  // A node:http request listener that serves each request through inject() (js/inject.js):
  // supertest's request(app.callback()), or http.createServer(app.callback()).
  callback() {
    return require('./inject').nodeListener(this);
  }

  // Closes every server the app started (listen()'s and inject()'s), as server.close() does.
  close(options) {
    return Promise.all([...this._servers].map((server) => server.close(options))).then(() => {});
  }

  // What runs the compiled chains for one server (one I/O thread, or app.fetch's core).
  _dispatcher(chains, unmatched, debug) {
    return new Dispatcher({
      app: this,
      chains,
      unmatched,
      errorHandler: this._errorHandler,
      notFoundHandler: this._notFoundHandler,
      debug,
    });
  }

  // `overrides`: native options set by the caller (inject()'s socketless server).
  async _listen(args, overrides) {
    const options = listenOptions(listenArguments(args), this._limits);
    const debug = options.debug === undefined ? debugFromEnv() : options.debug;
    const { routes, chains, unmatched, statics, dirs, guards } = this._router.compile(this._limits.compression, guardContext(this));
    // One dispatcher (and bridge) per I/O thread, all running the same compiled chains here.
    const bridges = [];
    for (let i = 0; i < options.ioThreads; i++) bridges.push(this._dispatcher(chains, unmatched, debug).bridge);
    const nativeOptions = {
      host: options.host,
      port: options.port,
      backlog: options.backlog,
      // Every thread binds the port and the kernel spreads connections over them, or the first
      // accepts for all (balance: 'acceptor').
      reusePort: options.reusePort || (options.ioThreads > 1 && options.balance === 'reuseport'),
      acceptor: options.ioThreads > 1 && options.balance === 'acceptor' ? listenName('accept') : undefined,
      driver: options.driver,
      tls: options.tls,
      http2: options.http2,
      // The threads of this listen() share one response cache, and in a worker of serve() so do
      // every worker's n-th listen() (js/shared-scope.js): the same app on the same port.
      cacheGroup: sharedName('cache') ?? (options.ioThreads > 1 ? listenName('listen') : undefined),
      // Middleware and a custom 404 need to see requests no route matched. Error middleware alone
      // cannot answer one (nothing raises an error), so Rust answers those 404s itself.
      dispatchUnmatched: this._router.hasOrdinaryMiddleware || this._notFoundHandler !== null,
      ...options.limits,
      ...overrides,
    };
    // Loaded here rather than at require() time so that an app can be built (and its routes
    // checked) before the addon is; a missing addon then rejects listen() with HN_ERR_ADDON_MISSING.
    const backend = require('./backend').loadBackend(options.backend);
    const server = await startServer(backend, nativeOptions, routes, bridges, statics, dirs, (closed) => this._servers.delete(closed), guards);
    if (this._relayName !== undefined && this._relay === null) {
      const { PublishRelay } = require('./publish-relay');
      this._relay = new PublishRelay(this._relayName, (topic, payload, flags) => this._publishHere(topic, payload, flags));
    }
    this._servers.add(server);
    if (debug && nativeOptions.socketless !== true) {
      const threads = server.ioThreads > 1 ? `, ${server.ioThreads} I/O threads` : '';
      process.stderr.write(`http-native: listening on ${listeningOn(server)} (driver ${server.driver}${threads})\n`);
    }
    return server;
  }
}

require('./settings').install(App);

module.exports = { App };
