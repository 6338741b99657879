'use strict';
// helmet, unmodified: its documented default headers, options that change them, and
// X-Powered-By removed.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const helmet = require('helmet');
const { serve, get } = require('./helpers');

const T = { timeout: 15000 };

test("helmet's defaults are on every answer, the app's own headers kept", T, async (t) => {
  const s = await serve(t, (app) => {
    app.use((req, res, next) => {
      res.setHeader('x-powered-by', 'something');
      next();
    });
    app.use(helmet());
    app.get('/', (req, res) => res.set('x-app', '1').send('ok'));
    app.get('/json', (req, res) => res.status(201).json({ ok: true }));
  });
  for (const path of ['/', '/json', '/missing']) {
    const res = await get(s.port, path);
    const h = res.headers;
    assert.equal(
      h['content-security-policy'],
      "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';" +
        "img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';" +
        'upgrade-insecure-requests',
      path,
    );
    assert.equal(h['cross-origin-opener-policy'], 'same-origin');
    assert.equal(h['cross-origin-resource-policy'], 'same-origin');
    assert.equal(h['origin-agent-cluster'], '?1');
    assert.equal(h['referrer-policy'], 'no-referrer');
    assert.equal(h['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    assert.equal(h['x-content-type-options'], 'nosniff');
    assert.equal(h['x-dns-prefetch-control'], 'off');
    assert.equal(h['x-download-options'], 'noopen');
    assert.equal(h['x-frame-options'], 'SAMEORIGIN');
    assert.equal(h['x-permitted-cross-domain-policies'], 'none');
    assert.equal(h['x-xss-protection'], '0');
    assert.equal(h['x-powered-by'], undefined);
  }
  assert.equal((await get(s.port, '/')).headers['x-app'], '1');
  assert.equal((await get(s.port, '/json')).status, 201);
});

test('helmet options: custom CSP directives, frameguard deny, a header turned off', T, async (t) => {
  const s = await serve(t, (app) => {
    app.use(
      helmet({
        contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], imgSrc: ['https://img.example'] } },
        frameguard: { action: 'deny' },
        strictTransportSecurity: { maxAge: 100, preload: true },
        xDnsPrefetchControl: false,
      }),
    );
    app.get('/', (req, res) => res.send('ok'));
  });
  const res = await get(s.port, '/');
  assert.equal(res.headers['content-security-policy'], "default-src 'none';img-src https://img.example");
  assert.equal(res.headers['x-frame-options'], 'DENY');
  assert.equal(res.headers['strict-transport-security'], 'max-age=100; includeSubDomains; preload');
  assert.equal(res.headers['x-dns-prefetch-control'], undefined);
});
