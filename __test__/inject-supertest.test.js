'use strict';
// supertest's request(app.callback()): supertest serves the listener app.callback() returns on its
// own node:http server, and each request reaches the app through app.inject() (the Rust parser,
// router and writer over an in-memory connection; http-native opens no port).
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const supertest = require('supertest');
const { createApp } = require('..');

const T = { timeout: 15000 };

function appFor(t) {
  const app = createApp();
  app.get('/users/:id', (req, res) => res.json({ id: Number(req.params.id) }));
  app.post('/echo', (req, res) => res.status(201).json(req.body));
  app.get('/login', (req, res) => res.set('set-cookie', 'sid=abc; Path=/').send('in'));
  app.get('/whoami', (req, res) => res.send(req.get('cookie') || 'nobody'));
  app.get('/events', (req, res) => {
    const sse = res.sse({ heartbeat: 0 });
    sse.send({ data: 'one' });
    sse.send({ data: 'two' });
    sse.close();
  });
  t.after(() => app.close());
  return app;
}

test('request(app.callback()): status, headers, JSON bodies and 404s through inject()', T, async (t) => {
  const app = appFor(t);
  await supertest(app.callback())
    .get('/users/7')
    .expect('Content-Type', /json/)
    .expect(200, { id: 7 });
  const res = await supertest(app.callback()).post('/echo').send({ a: [1, 2] }).expect(201);
  assert.deepEqual(res.body, { a: [1, 2] });
  await supertest(app.callback()).get('/nothing').expect(404, { error: 'Not Found' });
  await supertest(app.callback()).get('/events').expect('content-type', /event-stream/).expect(200, 'data: one\n\ndata: two\n\n');
  // Every one of them went through the app's inject server.
  assert.equal(app.injectServer.stats().requests.total, 4);
});

test('request.agent(app.callback()) keeps cookies between requests', T, async (t) => {
  const app = appFor(t);
  const agent = supertest.agent(app.callback());
  await agent.get('/whoami').expect(200, 'nobody');
  await agent.get('/login').expect('set-cookie', 'sid=abc; Path=/');
  await agent.get('/whoami').expect(200, 'sid=abc');
});
