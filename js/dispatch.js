'use strict';
// The per-request pipeline of one running server: build req/res from an envelope, walk the
// route's chain (js/router.js: middleware and handlers in registration order, error middleware
// included), parse the body at the route boundary unless something read it earlier, and send
// anything that goes wrong down the error path. Handlers may be sync or async; a throw and a
// rejected promise are the same thing here, and neither may escape into the batch loop.
const { STATUS_CODES } = require('node:http');
const { Bridge } = require('./bridge');
const { Request } = require('./request');
const { Response } = require('./response');
const { BodyStream } = require('./incoming');
const { underPrefix } = require('./prefix');
const { Hub } = require('./ws-hub');
const { HN_ERR_BAD_ENVELOPE } = require('./errors');

const NO_ROUTE = 0xffffffff;

class Dispatcher {
  constructor({ app, chains, unmatched, errorHandler, notFoundHandler, debug }) {
    this._chains = chains;
    this._unmatched = unmatched;
    this._errorHandler = errorHandler;
    this._notFoundHandler = notFoundHandler;
    this._debug = debug;
    // Failures of the bridge itself are bugs (in Rust or here), not app errors: always visible.
    this.bridge = new Bridge(this.handle.bind(this), (err) => process.emitWarning(err));
    this.bridge.app = app;
    // The server's WebSocket topics (js/ws-hub.js); its sockets are in the bridge's maps.
    this.bridge.hub = new Hub(debug);
  }

  handle(buf, start) {
    const routeId = buf.readUInt32LE(start + 12);
    const route = routeId === NO_ROUTE ? this._unmatched : this._chains[routeId];
    if (route === undefined) throw new HN_ERR_BAD_ENVELOPE(`Request envelope names unknown route id ${routeId}`);
    const req = new Request(buf, start, route.paramNames);
    const res = new Response(this.bridge, req, route.method);
    req._bridge = this.bridge;
    req._res = res;
    if (req._streamsBody) {
      req._bodyStream = new BodyStream(req, true);
      this.bridge.streamBody(req);
    }
    this._run(route.chain, req, res);
  }

  // Walks the chain as Express walks its stack. In normal flow ordinary layers run and error
  // layers are skipped; once an error is raised (next(err), a throw, a rejection) only error
  // layers run, until one calls next() to resume normal flow. Past the end: the not-found
  // handler, or app.error / the default error answer.
  _run(chain, req, res) {
    let i = 0;
    let erring = false;
    let error;
    // Index of the layer that raised `error`: a route's own error handlers only see errors raised
    // inside that route, as a Route's stack does in Express.
    let errorFrom = -1;
    // The prefix stripped from req.url while a mounted middleware runs, put back when it calls
    // next() or fails (Express's rule: a mount sees paths relative to itself, req.baseUrl is the
    // mount); null when none is.
    let mounted = null;
    let slashAdded = false;
    let parentBase = '';
    const unmount = () => {
      if (mounted !== null) {
        leaveMount(req, mounted, slashAdded, parentBase);
        mounted = null;
      }
    };
    const walk = () => {
      while (i < chain.length) {
        const layer = chain[i++];
        if (layer.isError !== erring) continue;
        if (layer.prefix !== null && !underPrefix(req.path, layer.prefix)) continue;
        if (erring) {
          if (errorFrom < layer.start) continue;
        } else if (layer.start !== -1 && req._bodyPending) {
          // The route boundary: the route's handlers get a parsed body, after the middleware
          // registered before the route ran; a parse error takes the error path from here.
          try {
            req._parseBody();
          } catch (err) {
            erring = true;
            error = err;
            errorFrom = i - 1;
            continue;
          }
        }
        if (layer.mount !== null) {
          parentBase = req._baseUrl;
          slashAdded = enterMount(req, layer.mount);
          mounted = layer.mount;
        }
        let result;
        try {
          result = erring ? layer.fn(error, req, res, next) : layer.fn(req, res, next);
        } catch (err) {
          fail(err);
          return;
        }
        if (result && typeof result.then === 'function') result.then(undefined, fail);
        return;
      }
      if (erring) this._error(error, req, res);
      // Every function called next(): nothing answered, as in Express.
      else this._notFound(req, res);
    };
    const fail = (err) => {
      unmount();
      erring = true;
      error = err;
      errorFrom = i - 1;
      walk();
    };
    res._fail = fail;
    const next = (err) => {
      unmount();
      if (err === 'route') {
        // Skips the rest of this registration's handlers; from middleware it is a plain next().
        const end = i > 0 ? chain[i - 1].end : -1;
        if (end !== -1) i = end;
      } else if (err) {
        fail(err);
        return;
      }
      erring = false;
      error = undefined;
      walk();
    };
    walk();
  }

  _notFound(req, res) {
    if (this._notFoundHandler === null) {
      sendError(res, 404);
      return;
    }
    res._fail = (err) => this._error(err, req, res);
    invoke(this._notFoundHandler, req, res, undefined, res._fail);
  }

  _error(err, req, res) {
    if (this._errorHandler === null) {
      const status = statusOf(err);
      // Like Express's final handler: a server error nobody handled is logged (the client never
      // sees the message), except under NODE_ENV=test; debug mode logs client errors as well.
      if (this._debug || (status >= 500 && process.env.NODE_ENV !== 'test')) {
        console.error(`http-native: error in ${req.method} ${req.url}:`, err);
      }
      // A streamed answer whose head is gone cannot turn into an error: it is cut off, as
      // Express's final handler destroys the socket.
      if (!res.headersSent) sendError(res, status);
      else if (!res.writableEnded) res.destroy();
      return;
    }
    if (this._debug) console.error(`http-native: error in ${req.method} ${req.url}:`, err);
    if (res.headersSent) {
      if (!res.writableEnded) res.destroy();
      return;
    }
    res._fail = (handlerErr) => {
      console.error(`http-native: the error handler failed in ${req.method} ${req.url}:`, handlerErr);
      if (!res.headersSent) sendError(res, 500);
    };
    invoke(this._errorHandler, err, req, res, res._fail);
  }
}

// A middleware mounted at `mount` is about to run: req.url loses the prefix (keeping a leading
// '/': the mount's own path is '/' to it), req.baseUrl gains it. Returns whether a '/' was added.
function enterMount(req, mount) {
  const rest = req.url.slice(mount.length);
  const slashAdded = rest.charCodeAt(0) !== 47;
  req.url = slashAdded ? `/${rest}` : rest;
  req._baseUrl += mount;
  return slashAdded;
}

// The prefix goes back in front of req.url as it is now (a rewrite the middleware made is kept),
// and req.baseUrl is what it was before the mount.
function leaveMount(req, mount, slashAdded, parentBase) {
  const url = req.url;
  req.url = mount + (slashAdded ? url.slice(1) : url);
  req._baseUrl = parentBase;
}

// Calls fn(a, b, c); a throw or a rejected promise goes to `fail`.
function invoke(fn, a, b, c, fail) {
  let result;
  try {
    result = fn(a, b, c);
  } catch (err) {
    fail(err);
    return;
  }
  if (result && typeof result.then === 'function') result.then(undefined, fail);
}

// An error may choose its answer with a 4xx/5xx `status` (or `statusCode`), as http-errors and
// the body parser do; only the standard reason phrase is sent, never the message.
function statusOf(err) {
  if (err !== null && (typeof err === 'object' || typeof err === 'function')) {
    const status = err.status !== undefined ? err.status : err.statusCode;
    if (Number.isInteger(status) && status >= 400 && status <= 599 && STATUS_CODES[status]) return status;
  }
  return 500;
}

// The last answer of the error path, which must not throw (from a promise's rejection handler it
// would be an unhandled rejection). Only headers that cannot be encoded make it fail (a header
// array grown through res.get() past res.set()'s checks): they are dropped and the answer sent
// without them.
function sendError(res, status) {
  try {
    res.status(status).type('json').json({ error: STATUS_CODES[status] });
  } catch {
    // Past any res.end wrapper too (it may be what threw).
    res._clearHeaders();
    res.status(status).type('json');
    res._answer(JSON.stringify({ error: STATUS_CODES[status] }));
  }
}

module.exports = { Dispatcher };
