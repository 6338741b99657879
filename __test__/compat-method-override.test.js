'use strict';
// method-override, unmodified: req.method from a header or a form field for POST, req.originalMethod
// kept, Vary set for the header form. The route was chosen by Rust from the method on the wire,
// so an overridden request runs the POST route's (or an all() route's) handlers, which see the new
// method: the documented limit (README, "Express middleware").
const { test } = require('node:test');
const assert = require('node:assert/strict');
const express = require('express');
const methodOverride = require('method-override');
const { serve, request } = require('./helpers');

const T = { timeout: 15000 };

test('the X-HTTP-Method-Override header: POST only, Vary, originalMethod', T, async (t) => {
  const s = await serve(t, (app) => {
    app.use(methodOverride('X-HTTP-Method-Override'));
    app.all('/item', (req, res) => res.json({ method: req.method, original: req.originalMethod }));
  });
  const put = await request(s.base, '/item', { method: 'POST', headers: { 'x-http-method-override': 'PUT' } });
  assert.deepEqual(await put.json(), { method: 'PUT', original: 'POST' });
  assert.equal(put.headers.get('vary'), 'X-HTTP-Method-Override');
  // Only POST is overridden (the package's default `methods`), and only to a known method.
  const get = await request(s.base, '/item', { headers: { 'x-http-method-override': 'DELETE' } });
  assert.deepEqual(await get.json(), { method: 'GET', original: 'GET' });
  const unknown = await request(s.base, '/item', { method: 'POST', headers: { 'x-http-method-override': 'BREW' } });
  assert.deepEqual(await unknown.json(), { method: 'POST', original: 'POST' });
});

test('a form field through a getter function, after the body parser', T, async (t) => {
  const s = await serve(t, (app) => {
    app.use(express.urlencoded({ extended: false }));
    app.use(
      methodOverride((req) => {
        if (req.body && typeof req.body === 'object' && '_method' in req.body) {
          const method = req.body._method;
          delete req.body._method;
          return method;
        }
        return undefined;
      }),
    );
    app.post('/posts/:id', (req, res) => res.json({ method: req.method, id: req.params.id, body: req.body }));
  });
  const res = await request(s.base, '/posts/9', {
    method: 'POST',
    body: '_method=DELETE&reason=spam',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.deepEqual(await res.json(), { method: 'DELETE', id: '9', body: { reason: 'spam' } });
});
