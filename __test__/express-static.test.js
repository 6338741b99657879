'use strict';
// express.static (serve-static over send) as middleware, unmodified: it is written against
// node:http's ServerResponse header methods (setHeader, getHeader, ...), which `res` has. Before
// they existed, send's getHeader call in an fs callback threw and took the process down.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const express = require('express');
const { serve, get } = require('./helpers');

const T = { timeout: 20000 };

function tree(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-express-static-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'index.html'), '<h1>home</h1>');
  fs.writeFileSync(path.join(dir, 'data.txt'), '0123456789');
  return dir;
}

test('express.static serves files, ranges and conditionals, and a miss goes on to the app', T, async (t) => {
  const dir = tree(t);
  const s = await serve(t, (app) => {
    app.use(express.static(dir));
    app.get('/after', (req, res) => res.send('the next route'));
  });
  const home = await get(s.port, '/');
  assert.equal(home.status, 200);
  assert.equal(home.body.toString(), '<h1>home</h1>');
  assert.match(home.headers['content-type'], /^text\/html/);

  const range = await get(s.port, '/data.txt', { headers: [['range', 'bytes=2-4']] });
  assert.equal(range.status, 206);
  assert.equal(range.body.toString(), '234');

  const again = await get(s.port, '/data.txt', { headers: [['if-none-match', range.headers.etag]] });
  assert.equal(again.status, 304);

  assert.equal((await get(s.port, '/after')).body.toString(), 'the next route');
  assert.equal((await get(s.port, '/nothing-here')).status, 404);
  // Still serving: nothing above cost the process.
  assert.equal((await get(s.port, '/data.txt')).body.toString(), '0123456789');
});

test("res has node:http's header methods, over the same headers as res.set()/res.get()", T, async (t) => {
  const s = await serve(t, (app) => {
    app.get('/h', (req, res) => {
      res.setHeader('X-One', '1');
      res.set('x-two', ['a', 'b']);
      const seen = {
        one: res.getHeader('x-one'),
        hasTwo: res.hasHeader('X-Two'),
        names: res.getHeaderNames(),
        all: { ...res.getHeaders() },
      };
      res.removeHeader('x-two');
      seen.afterRemove = res.hasHeader('x-two');
      res.json(seen);
    });
  });
  const res = await get(s.port, '/h');
  const seen = JSON.parse(res.body);
  assert.deepEqual(seen, { one: '1', hasTwo: true, names: ['x-one', 'x-two'], all: { 'x-one': '1', 'x-two': ['a', 'b'] }, afterRemove: false });
  assert.equal(res.headers['x-one'], '1');
  assert.equal(res.headers['x-two'], undefined);
});
