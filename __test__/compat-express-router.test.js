'use strict';
// Express's Router() (the `router` package), unmodified, mounted with app.use('/x', router): it
// matches against req.url relative to the mount and builds req.baseUrl, as under Express.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const express = require('express');
const { serve, get, request } = require('./helpers');

const T = { timeout: 15000 };

function users() {
  const router = express.Router();
  router.use((req, res, next) => {
    res.set('x-router-mw', `${req.baseUrl}|${req.url}`);
    next();
  });
  router.get('/', (req, res) => res.json({ list: true, baseUrl: req.baseUrl, url: req.url }));
  router.get('/:id', (req, res) => res.json({ id: req.params.id, baseUrl: req.baseUrl, url: req.url, originalUrl: req.originalUrl }));
  router
    .route('/:id/profile')
    .get((req, res) => res.send(`profile of ${req.params.id}`))
    .post((req, res) => res.status(201).send(`updated ${req.params.id}`));
  router.param('id', (req, res, next, id) => {
    if (id === 'bad') return next(Object.assign(new Error('bad id'), { status: 400 }));
    next();
  });
  return router;
}

test('routes and params of a router mounted under a prefix, with req.baseUrl and req.url relative to it', T, async (t) => {
  const s = await serve(t, (app) => {
    app.use('/users', users());
    app.get('/other', (req, res) => res.send(`other ${req.url}`));
  });
  const one = await get(s.port, '/users/42?full=1');
  assert.equal(one.status, 200);
  assert.deepEqual(one.json(), { id: '42', baseUrl: '/users', url: '/42?full=1', originalUrl: '/users/42?full=1' });
  assert.equal(one.headers['x-router-mw'], '/users|/42?full=1');

  assert.deepEqual((await get(s.port, '/users')).json(), { list: true, baseUrl: '/users', url: '/' });
  assert.deepEqual((await get(s.port, '/users/')).json(), { list: true, baseUrl: '/users', url: '/' });

  assert.equal((await get(s.port, '/users/7/profile')).text, 'profile of 7');
  const posted = await request(s.base, '/users/7/profile', { method: 'POST' });
  assert.equal(posted.status, 201);
  assert.equal(await posted.text(), 'updated 7');

  // router.param's next(err) goes to the app's error path with its status.
  assert.equal((await get(s.port, '/users/bad')).status, 400);
  // Nothing in the router matched: the app's own 404, and an unrelated route is untouched.
  assert.equal((await get(s.port, '/users/1/unknown')).status, 404);
  assert.equal((await get(s.port, '/other')).text, 'other /other');
});

test("a router's miss, next('router') and next(err) leave it with req.url whole again", T, async (t) => {
  const s = await serve(t, (app) => {
    const gate = express.Router();
    gate.use((req, res, next) => (req.get('x-skip') ? next('router') : next()));
    gate.get('/a', (req, res) => res.send('from the router'));
    gate.get('/boom', () => {
      throw Object.assign(new Error('router handler failed'), { status: 418 });
    });
    app.use('/api', gate);
    app.use((req, res, next) => {
      res.set('x-after', `${req.baseUrl}|${req.url}`);
      next();
    });
    app.get('/api/a', (req, res) => res.send('from the app'));
    app.use((err, req, res, next) => res.status(err.status).json({ error: err.message, url: req.url, baseUrl: req.baseUrl }));
  });
  assert.equal((await get(s.port, '/api/a')).text, 'from the router');
  const skipped = await get(s.port, '/api/a', { headers: [['x-skip', '1']] });
  assert.equal(skipped.text, 'from the app');
  assert.equal(skipped.headers['x-after'], '|/api/a');
  const boom = await get(s.port, '/api/boom');
  assert.equal(boom.status, 418);
  assert.deepEqual(boom.json(), { error: 'router handler failed', url: '/api/boom', baseUrl: '' });
});

test('routers nest: baseUrl grows with each mount', T, async (t) => {
  const s = await serve(t, (app) => {
    const inner = express.Router();
    inner.get('/leaf', (req, res) => res.json({ baseUrl: req.baseUrl, url: req.url }));
    const outer = express.Router();
    outer.use('/inner', inner);
    app.use('/outer', outer);
  });
  assert.deepEqual((await get(s.port, '/outer/inner/leaf')).json(), { baseUrl: '/outer/inner', url: '/leaf' });
});
