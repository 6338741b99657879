'use strict';
// What the battery rows' servers (bench/servers/*-batteries.js) and their runner (bench/batteries.js)
// share: the battery each server process enables (BATTERY), the routes, the options every
// framework gets for each battery (the same origins, limits, secret, cookie attributes and schema),
// the requests the runner sends, and the npm-middleware setup that Express and http-native with npm
// middleware both run (the same code on both, so the two rows differ only by the framework).

const signature = require('cookie-signature');

// One battery per server process: a route with only that one enabled.
const BATTERIES = ['none', 'cors', 'rate-limit', 'rate-limit-over', 'cookies', 'session', 'validation'];

const JS_PATH = '/users/42';
const JS_BODY = '{"id":"42"}';

// CORS: a list of allowed origins with credentials, as an API serving its own front ends has.
const ORIGIN = 'https://app.example.com';
const OTHER_ORIGIN = 'https://evil.example.net';
const CORS_MAX_AGE = 600;
const CORS_OPTIONS = { origin: [ORIGIN, 'https://admin.example.com'], credentials: true, maxAge: CORS_MAX_AGE };

// Rate limits, one key (every request comes from 127.0.0.1). The window outlasts any run, so a
// count never resets mid-run: under the limit every request reaches the route; over it (after the
// check's OVER_LIMIT requests) every request is refused.
const RATE_WINDOW_MS = 10 * 60 * 1000;
const RATE_LIMIT = 1e9;
const OVER_LIMIT = 2;

// Cookies and sessions. @fastify/session wants a secret of 32 characters or more.
const SECRET = 'bench-secret-0123456789abcdefghijklmnop';
const COOKIE_PATH = '/cookies';
const COOKIE_USER = 'ada';
// The cookie the route sets on every answer: res.cookie(SET_COOKIE.name, SET_COOKIE.value, ...).
const SET_COOKIE = { name: 'seen', value: '1', maxAgeSeconds: 3600 };
// The Cookie header of the cookies row: two plain cookies and a signed one, in cookie-parser's
// format (`s:` + cookie-signature) for Express and http-native, and @fastify/cookie's (the same
// signature without the prefix) for fastify.
function cookieHeader(format) {
  const signed = signature.sign(COOKIE_USER, SECRET);
  const user = format === 'fastify' ? signed : `s:${signed}`;
  return `theme=dark; lang=en-GB; user=${encodeURIComponent(user)}`;
}
const COOKIE_ANSWER = JSON.stringify({ theme: 'dark', user: COOKIE_USER });

const LOGIN_PATH = '/login';
const SESSION_PATH = '/session';
const SESSION_USER = 'ada';

// Validation: one JSON body, the same constraints as a JSON Schema (http-native's route `schema`,
// checked in Rust; fastify's own, with ajv) and as a zod schema (the npm rows). Written out
// rather than converted, so fastify's ajv (draft-07) reads it as it is.
const VALIDATE_PATH = '/validate';
const USER_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'email', 'age'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100 },
    email: { type: 'string', maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' },
    age: { type: 'integer', minimum: 0, maximum: 150 },
    tags: { type: 'array', maxItems: 10, items: { type: 'string', maxLength: 32 } },
  },
};
const GOOD_BODY = JSON.stringify({ name: 'Ada Lovelace', email: 'ada@example.com', age: 36, tags: ['math', 'engines'] });
const BAD_BODY = JSON.stringify({ name: '', email: 'ada', age: -1, tags: 'math' });
const VALIDATE_ANSWER = JSON.stringify({ name: 'Ada Lovelace', age: 36 });

let zodUser;
function zodUserSchema() {
  if (!zodUser) {
    const { z } = require('zod');
    zodUser = z.strictObject({
      name: z.string().min(1).max(100),
      email: z.string().max(254).regex(/^[^@\s]+@[^@\s]+$/),
      age: z.number().int().min(0).max(150),
      tags: z.array(z.string().max(32)).max(10).optional(),
    });
  }
  return zodUser;
}

// The battery this server process enables, from BATTERY; an unknown one stops the server.
function batteryFromEnv() {
  const battery = process.env.BATTERY || 'none';
  if (!BATTERIES.includes(battery)) throw new Error(`BATTERY must be one of ${BATTERIES.join(', ')}, got ${battery}`);
  return battery;
}

// A 400 listing what failed, in http-native's shape ({ error, issues: [{ in, path, message }] }),
// from a zod body check: the npm rows' validation middleware.
function zodBody(schema) {
  return (req, res, next) => {
    const result = schema.safeParse(req.body);
    if (!result.success) {
      const issues = result.error.issues.map((i) => ({ in: 'body', path: `/${i.path.join('/')}`, message: i.message }));
      res.status(400).json({ error: 'Bad Request', issues });
      return;
    }
    req.validBody = result.data;
    next();
  };
}

// The npm-middleware server: `app` is an Express app or an http-native one, given the same
// middleware for `battery`. `jsonBody` is the body parser the framework needs for the validation
// route (express.json(); none for http-native, which parses JSON bodies itself); `setCookie(res,
// name, value, options)` sets a cookie the framework's way (Express's res.cookie; the `cookie`
// package's serialize on http-native, so its native res.cookie stays out of the npm row).
function installNpm(app, battery, { jsonBody, setCookie }) {
  switch (battery) {
    case 'cors':
      app.use(require('cors')(CORS_OPTIONS));
      break;
    case 'rate-limit':
    case 'rate-limit-over': {
      const { rateLimit } = require('express-rate-limit');
      const limit = battery === 'rate-limit' ? RATE_LIMIT : OVER_LIMIT;
      // draft-7 headers are the ones http-native sends (RateLimit, RateLimit-Policy).
      app.use(rateLimit({ windowMs: RATE_WINDOW_MS, limit, standardHeaders: 'draft-7', legacyHeaders: false }));
      break;
    }
    case 'cookies':
      app.use(require('cookie-parser')(SECRET));
      app.get(COOKIE_PATH, (req, res) => {
        setCookie(res, SET_COOKIE.name, SET_COOKIE.value, { httpOnly: true, sameSite: 'lax', path: '/', maxAgeSeconds: SET_COOKIE.maxAgeSeconds });
        res.json({ theme: req.cookies.theme, user: req.signedCookies.user || null });
      });
      break;
    case 'session':
      app.use(
        require('express-session')({
          secret: SECRET,
          resave: false,
          saveUninitialized: false,
          cookie: { httpOnly: true, sameSite: 'lax', path: '/' },
        }),
      );
      sessionRoutes(app);
      break;
    case 'validation':
      app.post(VALIDATE_PATH, ...jsonBody, zodBody(zodUserSchema()), (req, res) => {
        res.json({ name: req.validBody.name, age: req.validBody.age });
      });
      break;
    default:
  }
  jsRoute(app);
}

// The JS route every battery but cookies, session and validation is measured on.
function jsRoute(app) {
  app.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
}

// Session routes for the frameworks whose req.session is express-session's (Express, http-native):
// log in once, then read the user (or count the requests, a write to the store each time).
function sessionRoutes(app) {
  app.post(LOGIN_PATH, (req, res) => {
    req.session.user = SESSION_USER;
    res.json({ ok: true });
  });
  app.get(SESSION_PATH, (req, res) => {
    res.json({ user: req.session.user || null });
  });
  app.get(`${SESSION_PATH}/count`, (req, res) => {
    req.session.count = (req.session.count || 0) + 1;
    res.json({ count: req.session.count });
  });
}

module.exports = {
  BATTERIES,
  JS_PATH,
  JS_BODY,
  ORIGIN,
  OTHER_ORIGIN,
  CORS_MAX_AGE,
  CORS_OPTIONS,
  RATE_WINDOW_MS,
  RATE_LIMIT,
  OVER_LIMIT,
  SECRET,
  COOKIE_PATH,
  COOKIE_USER,
  SET_COOKIE,
  COOKIE_ANSWER,
  cookieHeader,
  LOGIN_PATH,
  SESSION_PATH,
  SESSION_USER,
  VALIDATE_PATH,
  USER_SCHEMA,
  GOOD_BODY,
  BAD_BODY,
  VALIDATE_ANSWER,
  zodUserSchema,
  batteryFromEnv,
  installNpm,
  jsRoute,
  sessionRoutes,
};
