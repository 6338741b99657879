'use strict';
// express-session with its MemoryStore, unmodified (connect-redis is tested in
// compat-express-session-redis). It sets its cookie from a writeHead wrap (on-headers) and saves
// the session from its res.end wrapper, which every answer goes through.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const session = require('express-session');
const signature = require('cookie-signature');
const { serve, request } = require('./helpers');

const T = { timeout: 15000 };
const SECRET = 'keyboard cat';

function setup(options = {}) {
  const store = new session.MemoryStore();
  return {
    store,
    setup(app) {
      app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, store, ...options }));
      app.get('/count', (req, res) => {
        req.session.views = (req.session.views || 0) + 1;
        res.json({ views: req.session.views, id: req.sessionID });
      });
      app.get('/peek', (req, res) => res.json({ views: req.session.views ?? null, id: req.sessionID }));
      app.post('/regenerate', (req, res, next) => {
        const before = req.sessionID;
        req.session.regenerate((err) => {
          if (err) return next(err);
          req.session.views = 100;
          res.json({ before, after: req.sessionID });
        });
      });
      app.post('/logout', (req, res, next) => {
        req.session.destroy((err) => (err ? next(err) : res.send('bye')));
      });
      app.get('/stream', (req, res) => {
        req.session.streamed = true;
        res.write('a');
        res.end('b');
      });
    },
  };
}

function cookieOf(res) {
  const set = res.headers.getSetCookie();
  return set.length === 0 ? undefined : set[0];
}

test('a session is created on first change, kept across requests by its signed cookie, and stored in the MemoryStore', T, async (t) => {
  const { store, setup: app } = setup({ cookie: { maxAge: 60000, sameSite: 'lax' } });
  const s = await serve(t, app);
  // saveUninitialized: false: nothing changed, no cookie.
  const untouched = await request(s.base, '/peek');
  assert.equal(cookieOf(untouched), undefined);

  const first = await request(s.base, '/count');
  const setCookie = cookieOf(first);
  assert.match(setCookie, /^connect\.sid=s%3A[^;]+; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
  const { views, id } = await first.json();
  assert.equal(views, 1);
  // The cookie is the id signed with the secret (cookie-signature), as express-session writes it.
  const value = decodeURIComponent(setCookie.split(';')[0].slice('connect.sid='.length));
  assert.equal(signature.unsign(value.slice(2), SECRET), id);

  const cookie = setCookie.split(';')[0];
  const second = await request(s.base, '/count', { headers: { cookie } });
  assert.deepEqual(await second.json(), { views: 2, id });
  // A changed session with an expiry gets its cookie again (a new Expires); an unchanged one
  // does not (not rolling).
  assert.match(cookieOf(second), /^connect\.sid=/);
  const peek = await request(s.base, '/peek', { headers: { cookie } });
  assert.deepEqual(await peek.json(), { views: 2, id });
  assert.equal(cookieOf(peek), undefined);

  const stored = await new Promise((resolve, reject) => store.get(id, (err, sess) => (err ? reject(err) : resolve(sess))));
  assert.equal(stored.views, 2);
});

test('a tampered or unknown cookie starts a fresh session', T, async (t) => {
  const s = await serve(t, setup().setup);
  const first = await request(s.base, '/count');
  const { id } = await first.json();
  const forged = `connect.sid=${encodeURIComponent(`s:${id}.forgedsignature`)}`;
  const res = await request(s.base, '/count', { headers: { cookie: forged } });
  const body = await res.json();
  assert.equal(body.views, 1);
  assert.notEqual(body.id, id);
});

test('regenerate() gives a new id keeping nothing of the old session; destroy() removes it', T, async (t) => {
  const { store, setup: app } = setup();
  const s = await serve(t, app);
  const cookie = cookieOf(await request(s.base, '/count')).split(';')[0];
  const regen = await request(s.base, '/regenerate', { method: 'POST', headers: { cookie } });
  const { before, after } = await regen.json();
  assert.notEqual(before, after);
  const newCookie = cookieOf(regen).split(';')[0];
  assert.deepEqual(await (await request(s.base, '/peek', { headers: { cookie: newCookie } })).json(), { views: 100, id: after });
  // The old id is gone from the store.
  assert.equal((await (await request(s.base, '/peek', { headers: { cookie } })).json()).views, null);

  assert.equal(await (await request(s.base, '/logout', { method: 'POST', headers: { cookie: newCookie } })).text(), 'bye');
  assert.equal(await new Promise((resolve) => store.length((err, n) => resolve(n))), 0);
});

test('rolling: the cookie is sent again on every answer; a streamed answer saves the session too', T, async (t) => {
  const { store, setup: app } = setup({ rolling: true, cookie: { maxAge: 60000 } });
  const s = await serve(t, app);
  const cookie = cookieOf(await request(s.base, '/count')).split(';')[0];
  const again = await request(s.base, '/peek', { headers: { cookie } });
  assert.match(cookieOf(again), /^connect\.sid=/);
  const { id } = await again.json();

  const streamed = await request(s.base, '/stream', { headers: { cookie } });
  assert.equal(await streamed.text(), 'ab');
  const stored = await new Promise((resolve) => store.get(id, (err, sess) => resolve(sess)));
  assert.equal(stored.streamed, true);
});
