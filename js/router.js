'use strict';
// Route and middleware registration, and their compilation at listen() time into what each side
// needs: the route list Rust matches against, and per route id the full chain of functions JS runs.
//
// Chains follow Express's single stack: registration order decides. A route's chain is every
// middleware registered before it whose path may match, the route's handlers, then the middleware
// registered after it (reached when the handlers call next()). Rust picks the route, so each
// route gets its own slice of the stack, computed once here instead of walked per request.
//
// Matching itself is Rust's job; JS only checks that a path is one Rust can express and derives the
// parameter names from it (Rust sends the values in order of appearance).
const { HN_ERR_ROUTE, HN_ERR_SCHEMA } = require('./errors');
const { compression, routeCompression } = require('./options');
const { wsHandlers, wsOptions } = require('./ws-options');
const { upgradeStep } = require('./ws');
const { routeSchema, compileSchema } = require('./schema');
const { compileGuards } = require('./native-guards');

const PARAM = /^:[A-Za-z_]\w*$/;
const WILDCARD = /^\*([A-Za-z_]\w*)?$/;
// Syntax of other routers (regexps, optional parts, matchit's braces) that would silently mean
// something else here.
const UNSUPPORTED = /[\s?#(){}[\]]/;

class Router {
  constructor() {
    this._routes = [];
    this._routeByKey = new Map();
    // Every use() function and every route registration, in registration order (Express's stack):
    // { prefix, fn, isError } for middleware, { route, fns } for a route's handlers.
    this._stack = [];
    // Middleware that can answer a request (not only error middleware): without any, Rust answers
    // unmatched requests itself.
    this._ordinaryMiddleware = 0;
    // app.static() responses by path, answered by Rust for GET and HEAD.
    this._statics = new Map();
    // app.static() directory mounts (DirSpecs, js/static.js) by prefix.
    this._dirs = new Map();
  }

  get hasOrdinaryMiddleware() {
    return this._ordinaryMiddleware > 0;
  }

  // `handlers` may start with a route options object: `{ bodyLimit, body, compression }`.
  addRoute(method, path, handlers) {
    const where = `${method === 'ALL' ? 'all' : method.toLowerCase()}('${path}')`;
    const options = isOptions(handlers[0]) ? routeOptions(handlers.shift(), where) : {};
    const fns = functions(handlers, where);
    if (fns.length === 0) throw new HN_ERR_ROUTE(`Route ${method} ${path} needs at least one handler`);
    if (STATIC_METHODS.has(method) && this._statics.has(path)) throw staticConflict(path, method);
    const key = `${method} ${path}`;
    let route = this._routeByKey.get(key);
    if (route === undefined) {
      // Same (method, path) twice: one route for Rust, whose handlers run at each registration's
      // place in the stack, as in Express.
      route = { method, path, paramNames: paramNames(path), bodyLimit: undefined, bodyStream: false, compression: undefined, schema: undefined };
      this._routeByKey.set(key, route);
      this._routes.push(route);
    }
    if (options.bodyLimit !== undefined) route.bodyLimit = options.bodyLimit;
    if (options.body === 'stream') route.bodyStream = true;
    if (options.compression !== undefined) route.compression = options.compression;
    if (options.schema !== undefined) route.schema = options.schema;
    if (route.schema !== undefined && route.schema.body !== undefined && route.bodyStream) {
      throw new HN_ERR_SCHEMA(`${where}: schema.body cannot check a streamed body ({ body: 'stream' })`);
    }
    this._stack.push({ route, fns });
  }

  // app.ws(path, handlers, options): a route Rust upgrades (method 'WS' in the route list), whose
  // chain is the middleware registered before it, then the upgrade step (js/ws.js). It may share
  // its path with HTTP routes: a GET on it without an upgrade goes to those.
  addWs(path, handlers, options) {
    const where = `ws('${path}')`;
    const route = {
      method: 'WS',
      path,
      paramNames: paramNames(path),
      handlers: wsHandlers(handlers, where),
      options: wsOptions(options, where),
    };
    const key = `WS ${path}`;
    if (this._routeByKey.has(key)) throw new HN_ERR_ROUTE(`${where} is registered twice: one route has one set of handlers`);
    this._routeByKey.set(key, route);
    this._routes.push(route);
    this._stack.push({ route, fns: [upgradeStep(route)] });
  }

  // `response` comes from staticResponse() (js/static.js). A static path answers GET and HEAD
  // itself, so a JS route for either method on the same path could never run: refused either way
  // round.
  addStatic(response) {
    const { path } = response;
    if (this._statics.has(path)) throw new HN_ERR_ROUTE(`static('${path}') is registered twice`);
    for (const method of STATIC_METHODS) {
      if (this._routeByKey.has(`${method} ${path}`)) throw staticConflict(path, method);
    }
    this._statics.set(path, response);
  }

  // `spec` comes from staticDirectory() (js/static.js). Routes under the prefix are not refused:
  // with `fallthrough` a miss on disk reaches them.
  addDirectory(spec) {
    if (this._dirs.has(spec.prefix)) throw new HN_ERR_ROUTE(`static('${spec.prefix}', { root }): a directory is already mounted there`);
    this._dirs.set(spec.prefix, spec);
  }

  addMiddleware(prefix, fns) {
    if (prefix.includes(':') || prefix.includes('*')) {
      throw new HN_ERR_ROUTE(`Middleware path ${prefix} cannot have parameters or wildcards: it is a prefix`);
    }
    for (const fn of fns) {
      // Express's rule: a function declaring four parameters is error middleware.
      const isError = fn.length === 4;
      if (!isError) this._ordinaryMiddleware++;
      this._stack.push({ prefix: prefix === '' ? null : prefix, fn, isError });
    }
  }

  // Whether ordinary middleware registered before `route` may run for it: its schemas are then
  // enforced after that middleware (js/schema.js), not by Rust alone.
  _middlewareBefore(route) {
    for (const entry of this._stack) {
      if (entry.route === route) return false;
      if (entry.route === undefined && !entry.isError && (entry.prefix === null || prefixApplies(route.path, entry.prefix) !== 'never')) return true;
    }
    return false;
  }

  // Chains are arrays of layers, all of one shape (see `layer()`); the dispatcher walks them.
  // `appCompression`: the app's compression spec (js/options.js), which route options refine.
  // `guardContext`: what decides which guards can run natively (js/native-guards.js).
  compile(appCompression, guardContext = {}) {
    const routes = [];
    const chains = [];
    // Rust's tree refuses '/users/:id' next to '/users/:userId' (same shape, other names), which
    // Express allows. Names are JS's business (Rust sends values by position), so every route of a
    // shape is sent to Rust with the path of the first one.
    const pathByShape = new Map();
    for (let id = 0; id < this._routes.length; id++) {
      const route = this._routes[id];
      const shape = route.path.replace(/\/:\w+/g, '/:').replace(/\/\*\w*$/, '/*');
      if (!pathByShape.has(shape)) pathByShape.set(shape, route.path);
      if (route.method === 'WS') {
        routes.push({ id, method: 'WS', path: pathByShape.get(shape), ws: route.options.native });
      } else {
        routes.push({
          id,
          method: route.method,
          path: pathByShape.get(shape),
          bodyLimit: route.bodyLimit,
          bodyStream: route.bodyStream,
          compression: routeCompression(route.compression, appCompression),
        });
      }
      // A route's schemas (js/schema.js): Rust's part in its spec, and a step run first.
      const schema = route.schema === undefined ? null : compileSchema(route.schema, route.paramNames, !this._middlewareBefore(route));
      if (schema !== null && schema.spec !== null) routes[routes.length - 1].schema = schema.spec;
      const chain = [];
      for (const entry of this._stack) {
        if (entry.route === route) {
          if (schema !== null && !chain.some((l) => l.fn === schema.step)) chain.push(layer(schema.step, null, null, false, -1, -1));
          const start = chain.length;
          const end = start + entry.fns.length;
          for (const fn of entry.fns) chain.push(layer(fn, null, null, fn.length === 4, start, end));
        } else if (entry.route === undefined) {
          const applies = entry.prefix === null ? 'always' : prefixApplies(route.path, entry.prefix);
          if (applies === 'never') continue;
          chain.push(layer(entry.fn, applies === 'always' ? null : entry.prefix, entry.prefix, entry.isError, -1, -1));
        }
      }
      chains.push({ method: route.method, paramNames: route.paramNames, chain });
    }
    // Requests no route matched (sent by Rust only when ordinary middleware or a not-found handler
    // exist) walk the middleware alone.
    const chain = [];
    for (const entry of this._stack) {
      if (entry.route === undefined) chain.push(layer(entry.fn, entry.prefix, entry.prefix, entry.isError, -1, -1));
    }
    const unmatched = { method: null, paramNames: [], chain };
    const guards = compileGuards(routes, chains, unmatched, guardContext);
    return { routes, chains, unmatched, statics: [...this._statics.values()], dirs: [...this._dirs.values()], guards };
  }
}

// One step of a chain. `prefix`: null when the function applies to every request of this route,
// else the middleware prefix to check against req.path at runtime. `mount`: the prefix the
// middleware was registered under (null for none and for a route's handlers), stripped from
// req.url while it runs (js/dispatch.js). `isError`: takes (err, req, res,
// next) and runs only while an error is being handled. `start`/`end`: for a route's handlers, the
// chain indexes of their registration (next('route') jumps to `end`, and a route's own error
// handlers see only errors raised from `start` on); -1 for middleware.
function layer(fn, prefix, mount, isError, start, end) {
  return { fn, prefix, mount, isError, start, end };
}

// The methods a static path answers (HEAD through GET), and 'ALL', which would include them.
const STATIC_METHODS = new Set(['GET', 'HEAD', 'ALL']);

function staticConflict(path, method) {
  const route = method === 'ALL' ? `all('${path}')` : `${method.toLowerCase()}('${path}')`;
  return new HN_ERR_ROUTE(
    `${route} conflicts with static('${path}'): Rust answers GET and HEAD on a static path without running JS, so the route could never run`,
  );
}


// Whether middleware mounted at `prefix` applies to every request of the route at `routePath`
// ('always'), to none ('never'), or depends on the values of its parameters ('maybe').
function prefixApplies(routePath, prefix) {
  const route = routePath.split('/');
  const wanted = prefix.split('/');
  for (let i = 1; i < wanted.length; i++) {
    if (i >= route.length) return 'never';
    if (route[i].startsWith(':') || route[i].startsWith('*')) return 'maybe';
    if (route[i] !== wanted[i]) return 'never';
  }
  return 'always';
}

// Parameter names in order of appearance. Parameters are whole segments (`:id`), the wildcard is
// the last segment (`*path`, or bare `*` which Fastify-style becomes params['*']).
function paramNames(path) {
  checkPath(path);
  const names = [];
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i];
    let name;
    if (segment.startsWith(':')) {
      if (!PARAM.test(segment)) throw new HN_ERR_ROUTE(`Invalid parameter "${segment}" in route ${path}: expected :name`);
      name = segment.slice(1);
    } else if (segment.startsWith('*')) {
      if (!WILDCARD.test(segment) || i !== segments.length - 1) {
        throw new HN_ERR_ROUTE(`Invalid wildcard "${segment}" in route ${path}: expected *name or * as the last segment`);
      }
      name = segment.length === 1 ? '*' : segment.slice(1);
    } else if (segment.includes(':') || segment.includes('*')) {
      throw new HN_ERR_ROUTE(`Invalid segment "${segment}" in route ${path}: a parameter must be a whole segment`);
    } else {
      continue;
    }
    if (names.includes(name)) throw new HN_ERR_ROUTE(`Parameter "${name}" appears twice in route ${path}`);
    names.push(name);
  }
  return names;
}

function checkPath(path) {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new HN_ERR_ROUTE(`A route path must be a string starting with "/", got ${JSON.stringify(path)}`);
  }
  if (UNSUPPORTED.test(path)) throw new HN_ERR_ROUTE(`Unsupported character in route path ${JSON.stringify(path)}`);
}

// '/api/' -> '/api', '/' -> '' so that joining never doubles a slash.
function normalizePrefix(prefix) {
  checkPath(prefix);
  return prefix.replace(/\/+$/, '');
}

// A route at '/' inside a group is the group's own path, as with Express routers.
function joinPath(prefix, path) {
  checkPath(path);
  if (prefix === '') return path;
  return path === '/' ? prefix : prefix + path;
}

// Handlers may be passed as several arguments, arrays, or both.
function isOptions(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Route options, checked once at registration. `body: 'stream'` hands the request body to the
// handler as it arrives (req is a Readable) instead of collecting it first; `'buffer'` is the default.
// `compression` overrides the app's for this route (js/options.js).
function routeOptions(options, where) {
  const result = {};
  for (const [key, value] of Object.entries(options)) {
    if (key !== 'bodyLimit' && key !== 'body' && key !== 'compression' && key !== 'schema') {
      throw new HN_ERR_ROUTE(`${where}: unknown route option "${key}" (known: bodyLimit, body, compression, schema)`);
    }
    if (value === undefined) continue;
    if (key === 'schema') {
      result.schema = routeSchema(value, where);
      continue;
    }
    if (key === 'compression') {
      result.compression = compression(value, where);
      continue;
    }
    if (key === 'body') {
      if (value !== 'stream' && value !== 'buffer') {
        throw new HN_ERR_ROUTE(`${where}: "body" must be 'stream' or 'buffer', got ${JSON.stringify(value)}`);
      }
      result.body = value;
      continue;
    }
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new HN_ERR_ROUTE(`${where}: "bodyLimit" must be an integer number of bytes from 0 to 4294967295, got ${String(value)}`);
    }
    result.bodyLimit = value;
  }
  return result;
}

function functions(list, where) {
  const fns = list.flat(Infinity);
  for (const fn of fns) {
    if (typeof fn !== 'function') throw new HN_ERR_ROUTE(`${where}: expected handler functions, got ${typeof fn}`);
  }
  return fns;
}

module.exports = { Router, normalizePrefix, joinPath, functions };
