'use strict';
// Which middleware Rust runs natively (src/guard/): cors() with static options answers
// preflights, rateLimit() keyed by the peer's IP counts and refuses, in dispatch, before a
// request would go to JS. Decided once at listen(), for every route's chain and for requests no
// route matched: a guard is native where it runs before any ordinary middleware could, so what
// Rust answers is what the JS chain would have answered. Everywhere else the same middleware
// runs as plain JS.
//
// A guard middleware carries `fn[GUARD] = { kind, spec(context), nativeFn }`: `spec` is what
// Rust is given (null when this app cannot run it natively, e.g. rate limiting under 'trust
// proxy'), `nativeFn` what the chain runs in its place where Rust ran it (a limiter reads its
// count from the envelope instead of counting again).
const { underPrefix } = require('./prefix');

const GUARD = Symbol('http-native.guard');
// The envelope's guard word (docs/bridge.md): an allowed request's rate-limit count.
const WORD_OFFSET = 36;

function guardWord(req) {
  return req._buf.readUInt32LE(req._start + WORD_OFFSET);
}

// What listen() hands Rust (NativeServer.start's `guards`), or undefined when no guard is native.
// `routes` and `chains` are js/router.js's compile() output; the rate limiter's layers in chains
// it covers are switched to its native form here.
function compileGuards(routes, chains, unmatched, context) {
  const list = [];
  const index = new Map();
  const indexOf = (fn) => {
    let i = index.get(fn);
    if (i === undefined) {
      const spec = fn[GUARD].spec(context);
      i = spec === null ? -1 : list.push(spec) - 1;
      index.set(fn, i);
    }
    return i;
  };
  const routeGuards = [];
  for (let id = 0; id < chains.length; id++) {
    // A WebSocket upgrade does not pass through the guards (their JS forms run in its chain).
    if (routes[id].method === 'WS') continue;
    const guards = routeChain(chains[id].chain, indexOf);
    if (guards.length !== 0) routeGuards.push({ route: id, guards });
  }
  const unmatchedGuards = unmatchedChain(unmatched.chain, indexOf);
  if (routeGuards.length === 0 && unmatchedGuards.length === 0) return undefined;
  return { list, routes: routeGuards, unmatched: unmatchedGuards };
}

// A route's guards: the leading middleware of its chain that applies to every request of the
// route and is a guard native in this app, at most one of each kind (the envelope has one word,
// and a second cors() would rewrite the first's headers). Error middleware never runs first.
function routeChain(chain, indexOf) {
  const guards = [];
  const kinds = new Set();
  for (const layer of chain) {
    if (layer.isError) continue;
    const guard = layer.start === -1 && layer.prefix === null ? layer.fn[GUARD] : undefined;
    if (guard === undefined || kinds.has(guard.kind)) break;
    const i = indexOf(layer.fn);
    if (i === -1) break;
    guards.push(i);
    kinds.add(guard.kind);
    layer.fn = guard.nativeFn;
  }
  return guards;
}

// Requests no route matched walk every middleware, each under its prefix ('' for all): a guard is
// native for its prefix when no ordinary middleware registered before it, and no native guard of
// its kind, covers any path it covers.
function unmatchedChain(chain, indexOf) {
  const guards = [];
  const ordinary = [];
  const native = { cors: [], rateLimit: [] };
  for (const layer of chain) {
    if (layer.isError) continue;
    const prefix = layer.prefix === null ? '' : layer.prefix;
    const guard = layer.fn[GUARD];
    const i = guard === undefined ? -1 : indexOf(layer.fn);
    const free = (p) => !overlaps(p, prefix);
    if (i === -1 || !ordinary.every(free) || !native[guard.kind].every(free)) {
      ordinary.push(prefix);
      continue;
    }
    guards.push({ prefix, guard: i });
    native[guard.kind].push(prefix);
    layer.fn = guard.nativeFn;
  }
  return guards;
}

// Whether two middleware prefixes ('' for every path) cover a path in common.
function overlaps(a, b) {
  return a === '' || b === '' || underPrefix(a, b) || underPrefix(b, a);
}

// The app's side of what a guard may do natively: under 'trust proxy' the client is not the
// peer Rust sees, so a limiter keyed by req.ip counts in JS (app.enabled() is Express's getter).
function guardContext(app) {
  return { trustProxy: typeof app.enabled === 'function' ? Boolean(app.enabled('trust proxy')) : false };
}

module.exports = { GUARD, guardWord, compileGuards, guardContext };
