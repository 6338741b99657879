'use strict';
// fastify with its own plugins, the battery rows' fastify server (bench/batteries.js):
// @fastify/cors, @fastify/rate-limit (draft-spec headers), @fastify/cookie, @fastify/session over
// @fastify/cookie, and fastify's own route schema validation (ajv), with the options and routes
// the other rows get (batteries-shared.js), one battery per process from BATTERY.
const Fastify = require('fastify');
const shared = require('./batteries-shared');
const { listenFastify } = require('./fastify-listen');

const battery = shared.batteryFromEnv();
const app = Fastify({ logger: false, keepAliveTimeout: 60000 });

// Plugins first, awaited: @fastify/rate-limit hooks the routes declared after it is loaded.
async function setup() {
  switch (battery) {
    case 'cors':
      await app.register(require('@fastify/cors'), shared.CORS_OPTIONS);
      break;
    case 'rate-limit':
    case 'rate-limit-over':
      await app.register(require('@fastify/rate-limit'), {
        max: battery === 'rate-limit' ? shared.RATE_LIMIT : shared.OVER_LIMIT,
        timeWindow: shared.RATE_WINDOW_MS,
        enableDraftSpec: true,
      });
      break;
    case 'cookies':
      await app.register(require('@fastify/cookie'), { secret: shared.SECRET });
      app.get(shared.COOKIE_PATH, (request, reply) => {
        const user = request.unsignCookie(request.cookies.user || '');
        reply.setCookie(shared.SET_COOKIE.name, shared.SET_COOKIE.value, { httpOnly: true, sameSite: 'lax', path: '/', maxAge: shared.SET_COOKIE.maxAgeSeconds });
        reply.send({ theme: request.cookies.theme, user: user.valid ? user.value : null });
      });
      break;
    case 'session':
      await app.register(require('@fastify/cookie'));
      await app.register(require('@fastify/session'), {
        secret: shared.SECRET,
        saveUninitialized: false,
        cookie: { secure: false, httpOnly: true, sameSite: 'lax', path: '/' },
      });
      app.post(shared.LOGIN_PATH, (request, reply) => {
        request.session.set('user', shared.SESSION_USER);
        reply.send({ ok: true });
      });
      app.get(shared.SESSION_PATH, (request, reply) => {
        reply.send({ user: request.session.get('user') || null });
      });
      app.get(`${shared.SESSION_PATH}/count`, (request, reply) => {
        const count = (request.session.get('count') || 0) + 1;
        request.session.set('count', count);
        reply.send({ count });
      });
      break;
    case 'validation':
      app.post(shared.VALIDATE_PATH, { schema: { body: shared.USER_SCHEMA } }, (request, reply) => {
        reply.send({ name: request.body.name, age: request.body.age });
      });
      break;
    default:
  }
  app.get('/users/:id', (request, reply) => {
    reply.send({ id: request.params.id });
  });
}

listenFastify(app, setup());
