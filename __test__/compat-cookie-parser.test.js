'use strict';
// cookie-parser, unmodified: req.cookies, signed cookies in req.signedCookies (a tampered one is
// false), JSON cookies ('j:'), req.secret for the middleware after it.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const cookieParser = require('cookie-parser');
const signature = require('cookie-signature');
const { serve, get } = require('./helpers');

const T = { timeout: 15000 };

test('plain, signed, tampered and JSON cookies', T, async (t) => {
  const s = await serve(t, (app) => {
    app.use(cookieParser(['new secret', 'old secret']));
    app.get('/', (req, res) => res.json({ cookies: req.cookies, signed: req.signedCookies, secret: req.secret }));
  });
  const signedNew = `s:${signature.sign('alice', 'new secret')}`;
  const signedOld = `s:${signature.sign('bob', 'old secret')}`;
  const tampered = `s:${signature.sign('carol', 'new secret').replace('carol', 'mallory')}`;
  const json = `j:${JSON.stringify({ cart: [1, 2] })}`;
  const cookie = [
    'plain=hello%20world',
    `user=${encodeURIComponent(signedNew)}`,
    `legacy=${encodeURIComponent(signedOld)}`,
    `forged=${encodeURIComponent(tampered)}`,
    `prefs=${encodeURIComponent(json)}`,
  ].join('; ');
  const res = await get(s.port, '/', { headers: [['cookie', cookie]] });
  assert.deepEqual(res.json(), {
    cookies: { plain: 'hello world', prefs: { cart: [1, 2] } },
    signed: { user: 'alice', legacy: 'bob', forged: false },
    secret: 'new secret',
  });
  // No Cookie header: empty objects.
  assert.deepEqual((await get(s.port, '/')).json(), { cookies: {}, signed: {}, secret: 'new secret' });
});
