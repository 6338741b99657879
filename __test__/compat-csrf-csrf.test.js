'use strict';
// csrf-csrf (double-submit cookie), unmodified, with cookie-parser: unsafe methods need the token
// in a header matching the cookie; safe methods pass. Issuing a token calls res.cookie() (the
// Express response helper, from js/response-helpers.js): that test runs once res.cookie exists.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const cookieParser = require('cookie-parser');
const { doubleCsrf } = require('csrf-csrf');
const { Response } = require('../js/response');
const { serve, request } = require('./helpers');

const T = { timeout: 15000 };
const HAS_RES_COOKIE = typeof Response.prototype.cookie === 'function';

function setup(app) {
  const { generateCsrfToken, doubleCsrfProtection } = doubleCsrf({
    getSecret: () => 'csrf secret',
    getSessionIdentifier: (req) => req.get('x-session') || 'anonymous',
  });
  app.use(cookieParser());
  app.get('/token', (req, res) => res.json({ token: generateCsrfToken(req, res) }));
  app.use(doubleCsrfProtection);
  app.get('/read', (req, res) => res.send('safe method'));
  app.post('/write', (req, res) => res.send('accepted'));
  app.use((err, req, res, next) => res.status(err.status || 500).json({ code: err.code, message: err.message }));
}

test('unsafe requests without a valid token are refused with 403 EBADCSRFTOKEN; safe ones pass', T, async (t) => {
  const s = await serve(t, setup);
  assert.equal(await (await request(s.base, '/read')).text(), 'safe method');
  const bare = await request(s.base, '/write', { method: 'POST' });
  assert.equal(bare.status, 403);
  assert.deepEqual(await bare.json(), { code: 'EBADCSRFTOKEN', message: 'invalid csrf token' });
  // A header and a cookie that agree but were not made with the secret.
  const forged = await request(s.base, '/write', {
    method: 'POST',
    headers: { 'x-csrf-token': 'abc.def', cookie: '__Host-psifi.x-csrf-token=abc.def' },
  });
  assert.equal(forged.status, 403);
});

test('a token issued with its cookie is accepted back, for its session only', { ...T, skip: HAS_RES_COOKIE ? false : 'needs res.cookie() (the Express response helpers, merged separately)' }, async (t) => {
  const s = await serve(t, setup);
  const issued = await request(s.base, '/token', { headers: { 'x-session': 'one' } });
  const { token } = await issued.json();
  const setCookie = issued.headers.getSetCookie()[0];
  assert.match(setCookie, /^__Host-psifi\.x-csrf-token=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
  const cookie = setCookie.split(';')[0];
  const ok = await request(s.base, '/write', { method: 'POST', headers: { 'x-session': 'one', 'x-csrf-token': token, cookie } });
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), 'accepted');
  const otherSession = await request(s.base, '/write', { method: 'POST', headers: { 'x-session': 'two', 'x-csrf-token': token, cookie } });
  assert.equal(otherSession.status, 403);
});
