'use strict';
// body-parser (express.json, urlencoded, raw, text), unmodified: it reads req as a stream
// (raw-body), checks Content-Type with type-is, and sets req.body; its errors carry their status.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const express = require('express');
const bodyParser = require('body-parser');
const { serve, request } = require('./helpers');

const T = { timeout: 15000 };

function errors(app) {
  app.use((err, req, res, next) => res.status(err.status || 500).json({ status: err.status, type: err.type }));
}

test('express.json: objects, strict mode, a custom type, gzip bodies, size limit and bad JSON', T, async (t) => {
  const s = await serve(t, (app) => {
    app.use(express.json({ limit: '1kb', type: ['application/json', 'application/vnd.api+json'] }));
    app.post('/', (req, res) => res.json({ body: req.body ?? null }));
    errors(app);
  });
  const post = (body, headers) => request(s.base, '/', { method: 'POST', body, headers });
  assert.deepEqual(await (await post('{"a":[1,{"b":true}]}', { 'content-type': 'application/json' })).json(), { body: { a: [1, { b: true }] } });
  assert.deepEqual(await (await post('{"x":1}', { 'content-type': 'application/vnd.api+json' })).json(), { body: { x: 1 } });
  // A gzip-encoded body is inflated (body-parser's `inflate`).
  const gz = await post(zlib.gzipSync('{"zipped":true}'), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
  assert.deepEqual(await gz.json(), { body: { zipped: true } });

  const strict = await post('"just a string"', { 'content-type': 'application/json' });
  assert.equal(strict.status, 400);
  assert.deepEqual(await strict.json(), { status: 400, type: 'entity.parse.failed' });
  const bad = await post('{nope', { 'content-type': 'application/json' });
  assert.deepEqual(await bad.json(), { status: 400, type: 'entity.parse.failed' });
  const big = await post(JSON.stringify({ s: 'x'.repeat(2000) }), { 'content-type': 'application/json' });
  assert.equal(big.status, 413);
  assert.deepEqual(await big.json(), { status: 413, type: 'entity.too.large' });
});

test('express.urlencoded (extended: nested objects and arrays) and simple', T, async (t) => {
  const s = await serve(t, (app) => {
    app.use('/extended', express.urlencoded({ extended: true }));
    app.use('/simple', bodyParser.urlencoded({ extended: false }));
    app.post('/extended', (req, res) => res.json(req.body));
    app.post('/simple', (req, res) => res.json(req.body));
  });
  const form = 'user[name]=Ann&user[tags][]=a&user[tags][]=b&plain=x%20y';
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  assert.deepEqual(await (await request(s.base, '/extended', { method: 'POST', body: form, headers })).json(), {
    user: { name: 'Ann', tags: ['a', 'b'] },
    plain: 'x y',
  });
  assert.deepEqual(await (await request(s.base, '/simple', { method: 'POST', body: form, headers })).json(), {
    'user[name]': 'Ann',
    'user[tags][]': ['a', 'b'],
    plain: 'x y',
  });
});

test('express.raw gives a Buffer and express.text a string decoded from its charset', T, async (t) => {
  const s = await serve(t, (app) => {
    app.use(express.raw({ type: 'application/octet-stream' }));
    app.use(express.text({ type: 'text/*' }));
    app.post('/', (req, res) => {
      const body = req.body;
      res.json({ kind: Buffer.isBuffer(body) ? 'buffer' : typeof body, value: Buffer.isBuffer(body) ? [...body] : body });
    });
  });
  const raw = await request(s.base, '/', { method: 'POST', body: Buffer.from([0, 1, 255]), headers: { 'content-type': 'application/octet-stream' } });
  assert.deepEqual(await raw.json(), { kind: 'buffer', value: [0, 1, 255] });
  const text = await request(s.base, '/', { method: 'POST', body: Buffer.from('caf\xe9', 'latin1'), headers: { 'content-type': 'text/plain; charset=iso-8859-1' } });
  assert.deepEqual(await text.json(), { kind: 'string', value: 'café' });
});
