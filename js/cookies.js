'use strict';
// Cookies, in cookie-parser's and Express's formats so that either side can read the other's:
// req.cookies / req.signedCookies parsed together on first read with the `cookie` package (JSON
// cookies `j:` decoded; signed ones `s:` + cookie-signature, moved to signedCookies when the app
// has secrets, false when no secret verifies them), and res.cookie()'s Set-Cookie value. The
// packages are loaded on first use: an app that never touches a cookie loads neither.
const { HN_ERR_NO_COOKIE_SECRET } = require('./errors');

// Parsed cookies of one request: { cookies, signed }.
function parseRequestCookies(header, secrets) {
  const cookies = header === undefined || header === '' ? Object.create(null) : require('cookie').parse(header);
  let signed = Object.create(null);
  if (secrets !== null) signed = jsonCookies(unsignCookies(cookies, secrets));
  return { cookies: jsonCookies(cookies), signed };
}

// cookie-parser's signedCookies(): every `s:` cookie leaves `cookies` for the result, as its
// value when a secret verifies it (any of the list: rotation), else false.
function unsignCookies(cookies, secrets) {
  const result = Object.create(null);
  for (const name of Object.keys(cookies)) {
    const value = cookies[name];
    if (typeof value !== 'string' || !value.startsWith('s:')) continue;
    result[name] = unsignValue(value, secrets);
    delete cookies[name];
  }
  return result;
}

// A signed value (`s:` + cookie-signature, cookie-parser's and express-session's format) made
// with the first secret; read back, its text if any of the secrets verifies it (rotation), else
// false (also for a value that is not signed).
function signValue(text, secret) {
  return `s:${require('cookie-signature').sign(text, secret)}`;
}

function unsignValue(value, secrets) {
  if (!value.startsWith('s:')) return false;
  const { unsign } = require('cookie-signature');
  for (const secret of secrets) {
    const plain = unsign(value.slice(2), secret);
    if (plain !== false) return plain;
  }
  return false;
}

// cookie-parser's JSONCookies(): `j:` + JSON becomes the value it encodes (left as it is when it
// does not parse, or encodes a falsy value, as cookie-parser leaves it).
function jsonCookies(cookies) {
  for (const name of Object.keys(cookies)) {
    const value = cookies[name];
    if (typeof value !== 'string' || !value.startsWith('j:')) continue;
    try {
      const decoded = JSON.parse(value.slice(2));
      if (decoded) cookies[name] = decoded;
    } catch {
      // Not JSON: the cookie keeps its text.
    }
  }
  return cookies;
}

// The Set-Cookie value res.cookie(name, value, options) appends, as Express 5 builds it: an
// object value as `j:` + JSON, `signed` with `secret` (the request's: the app's first), maxAge in
// milliseconds (Max-Age in seconds and Expires from it), Path=/ unless given. Invalid names,
// values or attributes throw the `cookie` package's TypeError.
function setCookieValue(name, value, options, secret) {
  const opts = { ...options };
  // null too, as Express writes it (typeof null is 'object'): 'j:null'.
  let text = typeof value === 'object' ? `j:${JSON.stringify(value)}` : String(value);
  if (opts.signed) {
    if (!secret) {
      throw new HN_ERR_NO_COOKIE_SECRET(
        "res.cookie(name, value, { signed: true }) needs a secret: createApp({ cookieSecret }) or app.set('cookie secret', secret)",
      );
    }
    text = signValue(text, secret);
  }
  delete opts.signed;
  if (opts.maxAge !== undefined && opts.maxAge !== null) {
    const maxAge = Number(opts.maxAge);
    if (!Number.isNaN(maxAge)) {
      opts.expires = new Date(Date.now() + maxAge);
      opts.maxAge = Math.floor(maxAge / 1000);
    }
  }
  if (opts.path === undefined || opts.path === null) opts.path = '/';
  return require('cookie').serialize(name, text, opts);
}

// res.clearCookie(name, options): the same attributes (a browser matches a cookie by name, domain
// and path), expired.
function clearCookieOptions(options) {
  const opts = { path: '/', ...options, expires: new Date(1) };
  delete opts.maxAge;
  return opts;
}

// cookie-parser reads req.cookies first and does nothing when it is set; with req.cookies parsed
// on first read it would never run, and the secret given to it would be lost (req.secret,
// req.signedCookies). So app.use() runs it with req.cookies reading undefined until it assigns
// its own: it is recognized by the name of the function it returns.
const DEFERRED = Symbol('cookies deferred to cookie-parser');

function adaptMiddleware(fn) {
  if (fn.name !== 'cookieParser' || fn.length !== 3) return fn;
  return function cookieParser(req, res, next) {
    if (req._cookies === undefined) req._cookies = DEFERRED;
    return fn(req, res, next);
  };
}

module.exports = { parseRequestCookies, setCookieValue, clearCookieOptions, adaptMiddleware, DEFERRED, signValue, unsignValue };
