'use strict';
// supertest against a running server, as README.md documents: request(server.url). (supertest's
// request(app) form wants a node:http request listener, which an http-native app is not: the
// server is Rust's, so the test talks to it over a real socket.)
const { test } = require('node:test');
const assert = require('node:assert/strict');
const supertest = require('supertest');
const { serve } = require('./helpers');

const T = { timeout: 15000 };

function setup(app) {
  app.get('/users/:id', (req, res) => res.json({ id: Number(req.params.id) }));
  app.post('/echo', (req, res) => res.status(201).json(req.body));
  app.get('/login', (req, res) => res.set('set-cookie', 'sid=abc; Path=/').send('in'));
  app.get('/whoami', (req, res) => res.send(req.get('cookie') || 'nobody'));
}

test('request(server.url): status, headers and JSON bodies with expect()', T, async (t) => {
  const { server } = await serve(t, setup);
  await supertest(server.url)
    .get('/users/7')
    .expect('Content-Type', /json/)
    .expect(200, { id: 7 });
  const res = await supertest(server.url).post('/echo').send({ a: [1, 2] }).expect(201);
  assert.deepEqual(res.body, { a: [1, 2] });
  await supertest(server.url).get('/nothing').expect(404, { error: 'Not Found' });
});

test('request.agent(server.url) keeps cookies between requests', T, async (t) => {
  const { server } = await serve(t, setup);
  const agent = supertest.agent(server.url);
  await agent.get('/whoami').expect(200, 'nobody');
  await agent.get('/login').expect('set-cookie', 'sid=abc; Path=/');
  await agent.get('/whoami').expect(200, 'sid=abc');
});
