'use strict';
// The `cors` package, unmodified, as plain middleware (the built-in cors() is cors.test.js's).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const cors = require('cors');
const { serve, get } = require('./helpers');

const T = { timeout: 15000 };

test('defaults: any origin, simple requests and preflights (204, methods, reflected request headers)', T, async (t) => {
  const s = await serve(t, (app) => {
    app.use(cors());
    app.get('/data', (req, res) => res.json({ ok: true }));
  });
  const simple = await get(s.port, '/data', { headers: [['origin', 'http://a.example']] });
  assert.equal(simple.headers['access-control-allow-origin'], '*');
  assert.deepEqual(simple.json(), { ok: true });

  const pre = await get(s.port, '/data', {
    method: 'OPTIONS',
    headers: [['origin', 'http://a.example'], ['access-control-request-method', 'PUT'], ['access-control-request-headers', 'x-token, content-type']],
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], '*');
  assert.equal(pre.headers['access-control-allow-methods'], 'GET,HEAD,PUT,PATCH,POST,DELETE');
  assert.equal(pre.headers['access-control-allow-headers'], 'x-token, content-type');
  assert.equal(pre.headers.vary, 'Access-Control-Request-Headers');
  // cors sets Content-Length: 0; a 204 has none on the wire (RFC 9110 §8.6).
  assert.equal(pre.body.length, 0);
});

test('an origin list: allowed origins reflected with Vary: Origin, others get no CORS headers', T, async (t) => {
  const s = await serve(t, (app) => {
    app.use(
      cors({
        origin: ['http://good.example', /\.trusted\.example$/],
        credentials: true,
        exposedHeaders: ['x-total'],
        maxAge: 600,
        allowedHeaders: ['content-type'],
        optionsSuccessStatus: 200,
      }),
    );
    app.get('/data', (req, res) => res.set('x-total', '3').send('ok'));
  });
  const good = await get(s.port, '/data', { headers: [['origin', 'http://good.example']] });
  assert.equal(good.headers['access-control-allow-origin'], 'http://good.example');
  assert.equal(good.headers['access-control-allow-credentials'], 'true');
  assert.equal(good.headers['access-control-expose-headers'], 'x-total');
  assert.equal(good.headers.vary, 'Origin');

  const sub = await get(s.port, '/data', { headers: [['origin', 'https://api.trusted.example']] });
  assert.equal(sub.headers['access-control-allow-origin'], 'https://api.trusted.example');

  const bad = await get(s.port, '/data', { headers: [['origin', 'http://evil.example']] });
  assert.equal(bad.headers['access-control-allow-origin'], undefined);
  assert.equal(bad.headers.vary, 'Origin');
  assert.equal(bad.text, 'ok');

  const pre = await get(s.port, '/data', {
    method: 'OPTIONS',
    headers: [['origin', 'http://good.example'], ['access-control-request-method', 'DELETE']],
  });
  assert.equal(pre.status, 200);
  assert.equal(pre.headers['access-control-max-age'], '600');
  assert.equal(pre.headers['access-control-allow-headers'], 'content-type');
});

test('an origin function (async decision) and preflightContinue handing OPTIONS to the app', T, async (t) => {
  const s = await serve(t, (app) => {
    app.use(
      cors({
        origin: (origin, cb) => setImmediate(() => cb(null, origin === 'http://ok.example')),
        preflightContinue: true,
      }),
    );
    app.options('/data', (req, res) => res.status(299).send('the app answered'));
    app.get('/data', (req, res) => res.send('ok'));
  });
  const ok = await get(s.port, '/data', { headers: [['origin', 'http://ok.example']] });
  assert.equal(ok.headers['access-control-allow-origin'], 'http://ok.example');
  const no = await get(s.port, '/data', { headers: [['origin', 'http://no.example']] });
  assert.equal(no.headers['access-control-allow-origin'], undefined);
  const pre = await get(s.port, '/data', {
    method: 'OPTIONS',
    headers: [['origin', 'http://ok.example'], ['access-control-request-method', 'PUT']],
  });
  assert.equal(pre.status, 299);
  assert.equal(pre.text, 'the app answered');
  assert.equal(pre.headers['access-control-allow-methods'], 'GET,HEAD,PUT,PATCH,POST,DELETE');
});
