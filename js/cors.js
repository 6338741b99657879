'use strict';
// cors(options): the `cors` package's middleware (expressjs/cors 2.8), its options and its
// answers header for header, plus `privateNetworkAccess` (Private Network Access preflights).
// It works as plain middleware anywhere. When its options are static (no function, no RegExp)
// Rust answers preflights for the routes it covers without waking JS (js/native-guards.js,
// src/guard/cors.rs): the same bytes this file writes.
const { GUARD } = require('./native-guards');
const { headerValue } = require('./header-values');

const DEFAULTS = {
  origin: '*',
  methods: 'GET,HEAD,PUT,PATCH,POST,DELETE',
  preflightContinue: false,
  optionsSuccessStatus: 204,
};

let vary;

function cors(options) {
  // The package's two forms: an options object, or `(req, cb) => cb(err, options)` per request.
  const perRequest = typeof options === 'function' ? options : null;
  const fixed = perRequest === null ? Object.assign({}, DEFAULTS, options) : null;
  const middleware = function corsMiddleware(req, res, next) {
    if (perRequest === null) return withOrigin(fixed, req, res, next);
    perRequest(req, (err, opts) => {
      if (err) next(err);
      else withOrigin(Object.assign({}, DEFAULTS, opts), req, res, next);
    });
  };
  const spec = fixed === null ? null : nativeSpec(fixed);
  if (spec !== null) {
    middleware[GUARD] = { kind: 'cors', spec: () => ({ cors: spec }), nativeFn: middleware };
  }
  return middleware;
}

// The origin option resolved (a function is asked per request), as the package does: a falsy
// origin turns the middleware off.
function withOrigin(options, req, res, next) {
  const origin = options.origin;
  if (!origin) return next();
  if (typeof origin !== 'function') return apply(options, req, res, next);
  origin(req.headers.origin, (err, allowed) => {
    if (err || !allowed) next(err);
    else apply({ ...options, origin: allowed }, req, res, next);
  });
}

function apply(options, req, res, next) {
  const preflight = req.method === 'OPTIONS';
  setOrigin(options, req, res);
  if (options.credentials === true) res.setHeader('Access-Control-Allow-Credentials', 'true');
  if (preflight) {
    const methods = joined(options.methods);
    if (methods) res.setHeader('Access-Control-Allow-Methods', methods);
    let allowed = options.allowedHeaders || options.headers;
    if (!allowed) {
      allowed = req.headers['access-control-request-headers'];
      addVary(res, 'Access-Control-Request-Headers');
    } else {
      allowed = joined(allowed);
    }
    if (allowed && allowed.length) res.setHeader('Access-Control-Allow-Headers', allowed);
    const maxAge = maxAgeOf(options.maxAge);
    if (maxAge) res.setHeader('Access-Control-Max-Age', maxAge);
  }
  const exposed = joined(options.exposedHeaders);
  if (exposed && exposed.length) res.setHeader('Access-Control-Expose-Headers', exposed);
  if (!preflight) return next();
  if (options.privateNetworkAccess === true && req.headers['access-control-request-private-network'] === 'true') {
    res.setHeader('Access-Control-Allow-Private-Network', 'true');
  }
  if (options.preflightContinue) return next();
  res.statusCode = options.optionsSuccessStatus;
  // Safari waits for a body on a 204 without it (the package's comment).
  res.setHeader('Content-Length', '0');
  res.end();
}

function setOrigin(options, req, res) {
  const origin = options.origin;
  if (origin === '*') {
    res.setHeader('Access-Control-Allow-Origin', '*');
    return;
  }
  if (typeof origin === 'string' || origin instanceof String) {
    res.setHeader('Access-Control-Allow-Origin', origin);
  } else {
    const requested = req.headers.origin;
    if (requested && isAllowed(requested, origin)) res.setHeader('Access-Control-Allow-Origin', requested);
  }
  addVary(res, 'Origin');
}

function isAllowed(origin, allowed) {
  if (Array.isArray(allowed)) return allowed.some((a) => isAllowed(origin, a));
  if (typeof allowed === 'string' || allowed instanceof String) return origin === String(allowed);
  if (allowed instanceof RegExp) return allowed.test(origin);
  return Boolean(allowed);
}

function addVary(res, field) {
  vary ??= require('vary');
  vary(res, field);
}

function joined(value) {
  return value && typeof value.join === 'function' ? value.join(',') : value;
}

function maxAgeOf(maxAge) {
  return (typeof maxAge === 'number' || maxAge) && maxAge.toString();
}

// What Rust needs to answer preflights as apply() does, or null when the options need JS: an
// origin function or RegExp, preflightContinue (the route answers), a status or header value
// Rust should not be trusted to write as given.
function nativeSpec(options) {
  const { origin } = options;
  let kind;
  let origins = [];
  if (!origin || typeof origin === 'function' || origin instanceof RegExp || origin instanceof String) return null;
  if (origin === '*') kind = 'any';
  else if (typeof origin === 'string') [kind, origins] = ['fixed', [origin]];
  else if (origin === true) kind = 'reflect';
  else if (Array.isArray(origin) && origin.every((o) => typeof o === 'string')) [kind, origins] = ['list', origin];
  else return null;
  if (options.preflightContinue) return null;
  const status = options.optionsSuccessStatus;
  if (!Number.isInteger(status) || status < 200 || status > 599) return null;
  const allowed = options.allowedHeaders || options.headers;
  const allowedText = allowed ? joined(allowed) : undefined;
  const spec = {
    origin: kind,
    origins,
    credentials: options.credentials === true,
    methods: text(joined(options.methods)),
    // An empty list sets no header and, unlike no list, does not reflect the request's.
    allowedHeaders: allowedText === '' ? '' : text(allowedText),
    maxAge: text(maxAgeOf(options.maxAge)),
    exposedHeaders: text(joined(options.exposedHeaders)),
    status,
    privateNetwork: options.privateNetworkAccess === true,
  };
  const values = [...origins, spec.methods, spec.allowedHeaders, spec.maxAge, spec.exposedHeaders];
  for (const value of values) {
    if (value === null) return null;
    if (value !== undefined && !safe(value)) return null;
  }
  if (spec.methods === undefined) spec.methods = '';
  return spec;
}

// A header value as the middleware would set it: a string, or undefined when it sets none; null
// when it is something only JS can turn into text the way setHeader would.
function text(value) {
  if (!value) return undefined;
  return typeof value === 'string' ? value : null;
}

function safe(value) {
  try {
    headerValue('cors', value);
    return true;
  } catch {
    return false;
  }
}

module.exports = { cors };
