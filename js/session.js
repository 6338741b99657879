'use strict';
// session(): sessions with express-session's semantics. The session id travels in a signed cookie
// in express-session's own format (`s:` + cookie-signature), so cookie-parser and express-session
// read it; the data lives in a store (js/session-stores.js: the native MemorySessionStore by
// default, js/redis-stores.js to share it between instances). A session is saved when its data
// changed (the serialized data compared), or always under `resave`; an unchanged one is touched
// (its TTL extended); a new one is kept only once something was put in it, unless
// `saveUninitialized`. The cookie is set at the last look at the head (a res.writeHead wrap); the
// save happens at the answer's end, and for a store that answers asynchronously the end waits
// for it (res._beforeEnd, js/response.js), so a client never has an answer whose session change
// is not yet stored.
const { randomBytes } = require('node:crypto');
const { HN_ERR_BAD_OPTION, HN_ERR_SESSION_GONE } = require('./errors');
const { MemorySessionStore } = require('./session-stores');
const { TOKEN } = require('./header-values');
const { signValue, unsignValue } = require('./cookies');

// express-session's ids: uid-safe(24), 24 random bytes as 32 base64url characters (192 bits).
const ID_BYTES = 24;
const OPTIONS = ['secret', 'name', 'store', 'cookie', 'rolling', 'resave', 'saveUninitialized', 'genid'];
const COOKIE_OPTIONS = ['path', 'httpOnly', 'secure', 'sameSite', 'maxAge', 'domain', 'partitioned', 'priority'];
// The per-request bookkeeping, out of the session's data (JSON.stringify skips symbol keys).
const STATE = Symbol('session state');

let cookieLib;

function session(options) {
  const config = checkOptions(options);
  cookieLib = cookieLib || require('cookie');
  return function session(req, res, next) {
    // Already given a session (two session() in one chain): the first one owns it.
    if (req.session) {
      next();
      return;
    }
    // The cookie is only sent back under its path, so the session is not looked for elsewhere.
    if (!pathname(req).startsWith(config.cookie.path)) {
      next();
      return;
    }
    const state = new RequestSession(config, req, res);
    req.sessionStore = config.store;
    const writeHead = res.writeHead;
    res.writeHead = function writeHeadWithSession(...args) {
      if (!this.headersSent) state.onHead();
      return writeHead.apply(this, args);
    };
    res._beforeEnd = () => state.onEnd();
    const cookieId = state.cookieId;
    if (cookieId === undefined) {
      state.generate();
      next();
      return;
    }
    let got;
    try {
      got = config.store.get(cookieId);
    } catch (err) {
      next(err);
      return;
    }
    if (got !== null && typeof got === 'object' && typeof got.then === 'function') {
      got.then(
        (data) => {
          try {
            state.loaded(data);
          } catch (err) {
            next(err);
            return;
          }
          next();
        },
        (err) => next(err),
      );
    } else {
      state.loaded(got);
      next();
    }
  };
}

// One request's session: what came in (the cookie's id, the data as loaded) against what goes
// out, express-session's rules for when to set the cookie, save and touch.
class RequestSession {
  constructor(config, req, res) {
    this.config = config;
    this.req = req;
    this.res = res;
    this.cookieId = readCookie(req, config);
    // The id and the serialized data as first seen this request, and as last saved.
    this.originalId = undefined;
    this.originalJson = undefined;
    this.savedJson = undefined;
    this.touched = false;
    // A save failed: no cookie may point at it.
    this.failed = false;
  }

  generate() {
    const { req, config } = this;
    const id = config.genid(req);
    if (typeof id !== 'string' || id === '') throw new HN_ERR_BAD_OPTION('session(): genid(req) must return a non-empty string');
    req.sessionID = id;
    const sess = new Session(req, undefined, this);
    sess.cookie = new SessionCookie(config.cookie);
    if (config.cookie.secure === 'auto') sess.cookie.secure = isSecure(req);
    req.session = sess;
    this.originalId = id;
    this.originalJson = dataJson(sess);
    this.savedJson = undefined;
  }

  // The store's answer for the cookie's id: a session, or none (expired, destroyed, unknown).
  loaded(data) {
    const expires = data && data.cookie && data.cookie.expires;
    if (!data || typeof data !== 'object' || (expires && Date.parse(expires) <= Date.now())) {
      this.generate();
      return;
    }
    this.req.sessionID = this.cookieId;
    this.inflate(data);
  }

  inflate(data) {
    const { req, config } = this;
    const sess = new Session(req, data, this);
    sess.cookie = SessionCookie.from(data.cookie, config.cookie);
    if (config.cookie.secure === 'auto') sess.cookie.secure = isSecure(req);
    req.session = sess;
    this.originalId = req.sessionID;
    this.originalJson = dataJson(sess);
    // Under resave, a loaded session counts as never saved, so it is saved again.
    this.savedJson = config.resave ? undefined : this.originalJson;
  }

  isModified(sess) {
    return this.originalId !== this.req.sessionID || this.originalJson !== dataJson(sess);
  }

  isSaved(sess) {
    return this.originalId === this.req.sessionID && this.savedJson === dataJson(sess);
  }

  shouldSave(sess) {
    const { config, req } = this;
    return !config.saveUninitialized && this.savedJson === undefined && this.cookieId !== req.sessionID
      ? this.isModified(sess)
      : !this.isSaved(sess);
  }

  touch(sess) {
    if (!this.touched) {
      this.touched = true;
      sess.cookie.resetMaxAge();
    }
  }

  // The last look at the head: Set-Cookie when the browser needs the id (a new session that is
  // kept, or rolling / a change to one whose cookie expires).
  onHead() {
    const { req, res, config } = this;
    const sess = req.session;
    if (!(sess instanceof Session) || sess[STATE] !== this || this.failed) return;
    this.touch(sess);
    const set =
      this.cookieId !== req.sessionID
        ? config.saveUninitialized || this.isModified(sess)
        : config.rolling || (sess.cookie.expires !== null && this.isModified(sess));
    if (!set || (sess.cookie.secure && !isSecure(req))) return;
    res.append('Set-Cookie', cookieLib.serialize(config.name, signValue(req.sessionID, config.secrets[0]), sess.cookie.data));
  }

  // The answer's end: save or touch; a promise when the store's answer has to be waited for.
  onEnd() {
    const sess = this.req.session;
    if (!(sess instanceof Session) || sess[STATE] !== this) return undefined;
    this.touch(sess);
    try {
      let result;
      if (this.shouldSave(sess)) result = this.save(sess);
      else if (typeof this.config.store.touch === 'function' && this.cookieId === this.req.sessionID) {
        result = this.config.store.touch(sess.id, sess, ttlOf(sess));
      }
      if (isThenable(result)) {
        return result.then(undefined, (err) => {
          this.failed = true;
          throw err;
        });
      }
    } catch (err) {
      this.failed = true;
      throw err;
    }
    return undefined;
  }

  // store.set; marks the data saved once the store took it.
  save(sess) {
    const json = dataJson(sess);
    const result = this.config.store.set(sess.id, sess, ttlOf(sess));
    if (isThenable(result)) {
      return result.then(() => {
        if (this.req.session === sess) this.savedJson = json;
      });
    }
    if (this.req.session === sess) this.savedJson = json;
    return undefined;
  }
}

// req.session: the session's data as own enumerable properties, its cookie under `cookie`, and
// express-session's methods. Each method returns a Promise, or takes a callback (err) instead.
class Session {
  constructor(req, data, state) {
    Object.defineProperty(this, 'req', { value: req });
    Object.defineProperty(this, 'id', { value: req.sessionID });
    Object.defineProperty(this, STATE, { value: state });
    if (data !== undefined) {
      for (const key of Object.keys(data)) if (key !== 'cookie' && !(key in this)) this[key] = data[key];
    }
  }

  // Restarts the cookie's maxAge from now (done on every request, as express-session does).
  resetMaxAge() {
    this.cookie.resetMaxAge();
    return this;
  }

  touch(cb) {
    return settle(this, cb, () => {
      this.resetMaxAge();
    });
  }

  save(cb) {
    return settle(this, cb, () => this[STATE].save(this));
  }

  reload(cb) {
    const state = this[STATE];
    return settle(this, cb, () =>
      then(state.config.store.get(this.id), (data) => {
        if (!data || typeof data !== 'object') throw new HN_ERR_SESSION_GONE(`session ${this.id} is no longer in the store`);
        state.inflate(data);
      }),
    );
  }

  destroy(cb) {
    const state = this[STATE];
    delete this.req.session;
    return settle(this, cb, () => state.config.store.destroy(this.id));
  }

  regenerate(cb) {
    const state = this[STATE];
    return settle(this, cb, () => then(state.config.store.destroy(this.id), () => state.generate()));
  }
}

// req.session.cookie: express-session's Cookie (maxAge in ms, counting down; originalMaxAge as
// configured; expires null for a browser-session cookie), stored as its toJSON().
class SessionCookie {
  constructor(defaults) {
    this.path = defaults.path;
    this.httpOnly = defaults.httpOnly;
    this.secure = defaults.secure === true;
    this.sameSite = defaults.sameSite;
    this.domain = defaults.domain;
    this.partitioned = defaults.partitioned;
    this.priority = defaults.priority;
    this._expires = null;
    this.originalMaxAge = null;
    if (defaults.maxAge !== undefined) this.maxAge = defaults.maxAge;
  }

  // A stored cookie; what it lacks comes from the options.
  static from(stored, defaults) {
    const cookie = new SessionCookie(defaults);
    if (stored && typeof stored === 'object') {
      for (const key of ['path', 'httpOnly', 'secure', 'sameSite', 'domain', 'partitioned', 'priority']) {
        if (stored[key] !== undefined && stored[key] !== null) cookie[key] = stored[key];
      }
      cookie._expires = typeof stored.expires === 'string' ? new Date(stored.expires) : null;
      cookie.originalMaxAge = typeof stored.originalMaxAge === 'number' ? stored.originalMaxAge : null;
    }
    return cookie;
  }

  set expires(date) {
    this._expires = date;
    this.originalMaxAge = this.maxAge;
  }

  get expires() {
    return this._expires;
  }

  // originalMaxAge is `ms` itself, not read back from the expiry: read back, it loses the
  // millisecond that passed meanwhile, and restarted from on every request it would drift down
  // (express-session's Cookie does that).
  set maxAge(ms) {
    if (ms !== null && (typeof ms !== 'number' || !Number.isFinite(ms))) {
      throw new HN_ERR_BAD_OPTION(`session cookie maxAge must be a number of milliseconds or null, got ${String(ms)}`);
    }
    this._expires = ms === null ? null : new Date(Date.now() + ms);
    this.originalMaxAge = ms;
  }

  get maxAge() {
    return this._expires instanceof Date ? this._expires.valueOf() - Date.now() : null;
  }

  resetMaxAge() {
    if (this.originalMaxAge !== null) this.maxAge = this.originalMaxAge;
  }

  // The cookie package's serialize options.
  get data() {
    return {
      originalMaxAge: this.originalMaxAge,
      partitioned: this.partitioned,
      priority: this.priority,
      expires: this._expires === null ? undefined : this._expires,
      secure: this.secure,
      httpOnly: this.httpOnly,
      domain: this.domain,
      path: this.path,
      sameSite: this.sameSite,
    };
  }

  toJSON() {
    return { ...this.data, expires: this._expires };
  }
}

// Runs `work` (which may return a value, a promise, or throw) for a session method: a Promise,
// or with `cb`, cb(err) — a callback that throws costs the request a 500, not the process.
function settle(sess, cb, work) {
  let promise;
  try {
    promise = Promise.resolve(work());
  } catch (err) {
    promise = Promise.reject(err);
  }
  if (typeof cb !== 'function') return promise;
  const call = (err) => {
    try {
      cb(err);
    } catch (thrown) {
      const res = sess.req._res;
      if (res !== undefined && typeof res._fail === 'function') res._fail(thrown);
      else throw thrown;
    }
  };
  promise.then(() => call(null), call);
  return undefined;
}

// then() for a value that may or may not be a promise.
function then(value, fn) {
  return isThenable(value) ? value.then(fn) : fn(value);
}

function isThenable(value) {
  return value !== null && typeof value === 'object' && typeof value.then === 'function';
}

// The data as compared for changes: everything but the cookie (whose expiry moves every request).
function dataJson(sess) {
  return JSON.stringify(sess, function omitCookie(key, value) {
    return this === sess && key === 'cookie' ? undefined : value;
  });
}

// The store's TTL for a session: what is left of its cookie, or the store's own default for a
// browser-session cookie.
function ttlOf(sess) {
  const left = sess.cookie.maxAge;
  return left === null ? undefined : Math.max(1, left);
}

function isSecure(req) {
  return req.secure === true;
}

function pathname(req) {
  const url = typeof req.originalUrl === 'string' ? req.originalUrl : req.url;
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

// The session id from the request's cookie, when it carries one signed by any of the secrets.
function readCookie(req, config) {
  let header = req.headers.cookie;
  if (header === undefined) return undefined;
  if (Array.isArray(header)) header = header.join('; ');
  const raw = cookieLib.parse(header)[config.name];
  if (raw === undefined) return undefined;
  const id = unsignValue(raw, config.secrets);
  return id === false ? undefined : id;
}

function defaultGenid() {
  return randomBytes(ID_BYTES).toString('base64url');
}

function checkOptions(options) {
  const fail = (message) => {
    throw new HN_ERR_BAD_OPTION(`session(): ${message}`);
  };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) fail('expects an options object with a secret');
  for (const key of Object.keys(options)) if (!OPTIONS.includes(key)) fail(`unknown option "${key}" (known: ${OPTIONS.join(', ')})`);
  const { secret, name = 'sid', store, rolling = false, resave = false, saveUninitialized = false, genid = defaultGenid } = options;
  const secrets = Array.isArray(secret) ? secret : [secret];
  if (secrets.length === 0 || !secrets.every((s) => typeof s === 'string' && s !== '')) {
    fail('secret must be a non-empty string or a non-empty array of them (the first signs, any verifies)');
  }
  if (typeof name !== 'string' || !TOKEN.test(name)) fail('name must be a cookie name (a token)');
  const storeMethods = ['get', 'set', 'destroy'];
  if (store !== undefined && (store === null || typeof store !== 'object' || !storeMethods.every((m) => typeof store[m] === 'function'))) {
    fail('store must have get(), set() and destroy() methods (js/session-stores.js describes the interface)');
  }
  for (const [key, value] of Object.entries({ rolling, resave, saveUninitialized })) {
    if (typeof value !== 'boolean') fail(`${key} must be a boolean`);
  }
  if (typeof genid !== 'function') fail('genid must be a function (req) => string');
  return {
    secrets,
    name,
    store: store === undefined ? new MemorySessionStore() : store,
    cookie: checkCookie(options.cookie, fail),
    rolling,
    resave,
    saveUninitialized,
    genid,
  };
}

function checkCookie(cookie = {}, fail) {
  if (cookie === null || typeof cookie !== 'object' || Array.isArray(cookie)) fail('cookie must be an object');
  for (const key of Object.keys(cookie)) {
    if (!COOKIE_OPTIONS.includes(key)) fail(`unknown cookie option "${key}" (known: ${COOKIE_OPTIONS.join(', ')})`);
  }
  const { path = '/', httpOnly = true, secure = false, sameSite = 'lax', maxAge, domain, partitioned, priority } = cookie;
  if (typeof path !== 'string' || !path.startsWith('/')) fail('cookie.path must be a string starting with /');
  if (typeof httpOnly !== 'boolean') fail('cookie.httpOnly must be a boolean');
  if (secure !== true && secure !== false && secure !== 'auto') fail("cookie.secure must be true, false or 'auto'");
  if (![true, false, 'lax', 'strict', 'none'].includes(typeof sameSite === 'string' ? sameSite.toLowerCase() : sameSite)) {
    fail("cookie.sameSite must be true, false, 'lax', 'strict' or 'none'");
  }
  if (maxAge !== undefined && (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge <= 0)) {
    fail('cookie.maxAge must be a positive number of milliseconds');
  }
  if (domain !== undefined && typeof domain !== 'string') fail('cookie.domain must be a string');
  if (partitioned !== undefined && typeof partitioned !== 'boolean') fail('cookie.partitioned must be a boolean');
  if (priority !== undefined && !['low', 'medium', 'high'].includes(String(priority).toLowerCase())) {
    fail("cookie.priority must be 'low', 'medium' or 'high'");
  }
  return { path, httpOnly, secure, sameSite, maxAge, domain, partitioned, priority };
}

module.exports = { session, Session, SessionCookie };
