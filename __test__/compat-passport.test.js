'use strict';
// passport with passport-local, unmodified: a login form over express-session (serializeUser,
// session regeneration on login, req.isAuthenticated(), req.logout()), and a stateless use
// (session: false) answering 401 itself.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const express = require('express');
const session = require('express-session');
const { Passport } = require('passport');
const { Strategy: LocalStrategy } = require('passport-local');
const { serve, request } = require('./helpers');

const T = { timeout: 15000 };
const USERS = new Map([[1, { id: 1, username: 'ann', password: 'secret' }]]);

function passportFor() {
  const passport = new Passport();
  passport.use(
    new LocalStrategy((username, password, done) => {
      const user = [...USERS.values()].find((u) => u.username === username);
      if (!user || user.password !== password) return done(null, false, { message: 'bad credentials' });
      done(null, user);
    }),
  );
  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id, done) => done(null, USERS.get(id) || false));
  return passport;
}

function cookieOf(res) {
  const set = res.headers.getSetCookie();
  return set.length === 0 ? undefined : set[0].split(';')[0];
}

test('a login form with sessions: redirects, the user on later requests, logout', T, async (t) => {
  const passport = passportFor();
  const s = await serve(t, (app) => {
    app.use(express.urlencoded({ extended: false }));
    app.use(session({ secret: 'passport test', resave: false, saveUninitialized: false }));
    app.use(passport.session());
    app.post('/login', passport.authenticate('local', { successRedirect: '/me', failureRedirect: '/login' }));
    app.get('/me', (req, res) => res.json({ authenticated: req.isAuthenticated(), user: req.user ? req.user.username : null }));
    app.post('/logout', (req, res, next) => req.logout((err) => (err ? next(err) : res.redirect('/me'))));
  });
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const failed = await request(s.base, '/login', { method: 'POST', body: 'username=ann&password=wrong', headers: form, redirect: 'manual' });
  assert.equal(failed.status, 302);
  assert.equal(failed.headers.get('location'), '/login');

  const ok = await request(s.base, '/login', { method: 'POST', body: 'username=ann&password=secret', headers: form, redirect: 'manual' });
  assert.equal(ok.status, 302);
  assert.equal(ok.headers.get('location'), '/me');
  const cookie = cookieOf(ok);
  assert.match(cookie, /^connect\.sid=/);

  const me = await request(s.base, '/me', { headers: { cookie } });
  assert.deepEqual(await me.json(), { authenticated: true, user: 'ann' });
  assert.deepEqual(await (await request(s.base, '/me')).json(), { authenticated: false, user: null });

  const out = await request(s.base, '/logout', { method: 'POST', headers: { cookie }, redirect: 'manual' });
  assert.equal(out.status, 302);
  // Logging out regenerates the session: the old cookie no longer names a user.
  assert.deepEqual(await (await request(s.base, '/me', { headers: { cookie } })).json(), { authenticated: false, user: null });
});

test("stateless (session: false): the user on success, passport's own 401 and passport-local's 400", T, async (t) => {
  const passport = passportFor();
  const s = await serve(t, (app) => {
    app.use(express.json());
    app.use(passport.initialize());
    app.post('/token', passport.authenticate('local', { session: false }), (req, res) => res.json({ id: req.user.id }));
  });
  const json = { 'content-type': 'application/json' };
  const ok = await request(s.base, '/token', { method: 'POST', body: JSON.stringify({ username: 'ann', password: 'secret' }), headers: json });
  assert.deepEqual(await ok.json(), { id: 1 });
  const bad = await request(s.base, '/token', { method: 'POST', body: JSON.stringify({ username: 'ann', password: 'nope' }), headers: json });
  assert.equal(bad.status, 401);
  assert.equal(await bad.text(), 'Unauthorized');
  // Missing fields: passport-local fails with 400.
  const missing = await request(s.base, '/token', { method: 'POST', body: '{}', headers: json });
  assert.equal(missing.status, 400);
});
