'use strict';
// rateLimit(options): a fixed-window rate limiter (each key's window starts at its first
// request), with the IETF draft's `RateLimit` and `RateLimit-Policy` headers and `Retry-After` on
// refusal. Counts live in native memory (src/guard/rate_limit.rs, bounded in keys and bytes),
// shared by every server of the app, or in a `store` the app gives (Redis, for several
// processes). Keyed by the peer's IP, with no function option and no store, Rust counts and
// refuses in dispatch for the routes it covers, without waking JS (js/native-guards.js); an
// allowed request's count then comes in its envelope and only the headers are set here.
const { sharedName } = require('./shared-scope');
const { GUARD, guardWord } = require('./native-guards');
const { HN_ERR_BAD_OPTION, HN_ERR_RATE_LIMIT_STORE } = require('./errors');
const { JSON_TYPE, TEXT_TYPE } = require('./header-values');

const DEFAULTS = { windowMs: 60_000, limit: 100, statusCode: 429, headers: true };
const DEFAULT_MESSAGE = { error: 'Too Many Requests' };
// A window Date.now()-based stores and Rust's Duration both hold: about 49 days.
const MAX_WINDOW_MS = 0xffffffff;
// The envelope word's layout (src/guard/rate_limit.rs): the count in the low COUNT_BITS bits,
// the seconds until the window ends above them; a limiter past either bound counts through the
// napi call instead.
const COUNT_BITS = 20;
const MAX_NATIVE_LIMIT = 2 ** COUNT_BITS - 1;
const MAX_NATIVE_WINDOW_SECS = 2 ** (32 - COUNT_BITS) - 1;
const OPTIONS = new Set(['windowMs', 'limit', 'max', 'key', 'store', 'statusCode', 'message', 'skip', 'headers', 'maxKeys']);

function rateLimit(options = {}) {
  const o = checked(options);
  const windowSecs = Math.ceil(o.windowMs / 1000);
  const message = typeof o.message === 'function' ? null : body(o.message);
  let counter;
  // Named now, in the order the app module makes its limiters, so that each worker of serve()
  // counts in the same native counter (js/shared-scope.js).
  const sharedAs = sharedName('rate-limit');
  // Made on first use: an app that never serves pays nothing, and every server shares it.
  const counts = () => {
    if (counter === undefined) {
      const { RateLimitCounter } = require('./native');
      counter = new RateLimitCounter(o.windowMs, o.maxKeys, undefined, sharedAs);
    }
    return counter;
  };

  // Sets the headers of an allowed request, or answers the refusal. `resetMs`: until the window ends.
  const decide = (req, res, next, count, resetMs) => {
    const resetSecs = Math.max(0, Math.ceil(resetMs / 1000));
    const remaining = Math.max(0, o.limit - count);
    req.rateLimit = { limit: o.limit, used: count, remaining, resetTime: new Date(Date.now() + resetMs) };
    if (o.headers) {
      res.setHeader('RateLimit-Policy', `${o.limit};w=${windowSecs}`);
      res.setHeader('RateLimit', `limit=${o.limit}, remaining=${remaining}, reset=${resetSecs}`);
    }
    if (count <= o.limit) return next();
    if (o.headers) res.setHeader('Retry-After', String(resetSecs));
    const answer = message === null ? body(o.message(req, res)) : message;
    res.statusCode = o.statusCode;
    res.setHeader('content-type', answer.type);
    res.end(answer.bytes);
  };

  const counted = async (req, res, next) => {
    if (o.skip !== undefined && (await o.skip(req, res))) return next();
    const key = o.key === undefined ? req.ip : await o.key(req, res);
    if (o.store === undefined) {
      const [count, resetMs] = counts().hit(String(key));
      return decide(req, res, next, count, resetMs);
    }
    const result = await o.store.increment(String(key), o.windowMs);
    const count = Number(result?.count);
    const resetMs = Number(result?.resetMs);
    if (!Number.isFinite(count) || !Number.isFinite(resetMs)) {
      throw new HN_ERR_RATE_LIMIT_STORE(`rateLimit(): store.increment() must resolve to { count, resetMs } (numbers), got ${JSON.stringify(result)}`);
    }
    decide(req, res, next, count, resetMs);
  };

  const sync = o.skip === undefined && o.key === undefined && o.store === undefined;
  const middleware = function rateLimitMiddleware(req, res, next) {
    if (!sync) return counted(req, res, next);
    const [count, resetMs] = counts().hit(req.ip);
    decide(req, res, next, count, resetMs);
  };
  // Where Rust counted (js/native-guards.js): the envelope's word has the count and the seconds
  // left; 0 means this request did not pass Rust's guard (a WebSocket upgrade), so count here.
  const nativeFn = function rateLimitNative(req, res, next) {
    const word = guardWord(req);
    if (word === 0) return middleware(req, res, next);
    decide(req, res, next, word & MAX_NATIVE_LIMIT, (word >>> COUNT_BITS) * 1000);
  };
  const native = sync && message !== null && o.limit <= MAX_NATIVE_LIMIT && windowSecs <= MAX_NATIVE_WINDOW_SECS;
  if (native) {
    const spec = (context) => {
      if (context.trustProxy) return null;
      return {
        rateLimit: {
          counter: counts().handle(),
          limit: o.limit,
          windowSecs,
          status: o.statusCode,
          contentType: message.type,
          body: message.bytes,
          headers: o.headers,
        },
      };
    };
    middleware[GUARD] = { kind: 'rateLimit', spec, nativeFn };
  }
  // express-rate-limit's: forget a key's count (a user who just logged in, a test).
  middleware.resetKey = (key) => {
    if (o.store !== undefined) return o.store.resetKey?.(String(key));
    counts().resetKey(String(key));
  };
  return middleware;
}

// The refusal's body and type: a string as text, anything else as JSON.
function body(message) {
  if (typeof message === 'string') return { type: TEXT_TYPE, bytes: Buffer.from(message) };
  return { type: JSON_TYPE, bytes: Buffer.from(JSON.stringify(message)) };
}

function checked(options) {
  if (typeof options !== 'object' || options === null) throw bad(`options must be an object, got ${typeof options}`);
  for (const name of Object.keys(options)) {
    if (!OPTIONS.has(name)) throw bad(`unknown option "${name}" (known: ${[...OPTIONS].join(', ')})`);
  }
  const o = { ...DEFAULTS, message: DEFAULT_MESSAGE };
  for (const [name, value] of Object.entries(options)) if (value !== undefined) o[name] = value;
  // express-rate-limit's older name for `limit`.
  if (options.limit === undefined && options.max !== undefined) o.limit = options.max;
  integer(o, 'windowMs', 1, MAX_WINDOW_MS);
  integer(o, 'limit', 0, 0xffffffff);
  integer(o, 'statusCode', 400, 599);
  if (o.maxKeys !== undefined) integer(o, 'maxKeys', 1, 0xffffffff);
  for (const name of ['key', 'skip']) {
    if (o[name] !== undefined && typeof o[name] !== 'function') throw bad(`"${name}" must be a function (req, res), got ${typeof o[name]}`);
  }
  if (o.store !== undefined && (typeof o.store !== 'object' || o.store === null || typeof o.store.increment !== 'function')) {
    throw bad('"store" must be an object with increment(key, windowMs) → Promise<{ count, resetMs }>');
  }
  if (typeof o.headers !== 'boolean') throw bad(`"headers" must be a boolean, got ${typeof o.headers}`);
  if (o.message === null || !['string', 'object', 'function'].includes(typeof o.message)) {
    throw bad('"message" must be a string, a JSON value (object or array) or a function (req, res) returning one');
  }
  return o;
}

function integer(o, name, min, max) {
  const value = o[name];
  if (!Number.isInteger(value) || value < min || value > max) {
    throw bad(`"${name}" must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
}

function bad(message) {
  return new HN_ERR_BAD_OPTION(`rateLimit(): ${message}`);
}

module.exports = { rateLimit };
