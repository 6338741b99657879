'use strict';
// serve-static (express.static), unmodified, at the root and mounted under a prefix: it reads
// req.url relative to the mount and req.originalUrl for its redirects, as under Express. (The
// header methods it needs are in express-static.test.js.)
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const express = require('express');
const serveStatic = require('serve-static');
const { serve, get } = require('./helpers');

const T = { timeout: 15000 };

function tree(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-serve-static-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'docs'));
  fs.writeFileSync(path.join(dir, 'docs', 'index.html'), '<h1>docs</h1>');
  fs.writeFileSync(path.join(dir, 'app.js'), 'console.log(1)');
  fs.writeFileSync(path.join(dir, '.secret'), 'hidden');
  return dir;
}

test('mounted under a prefix: files by their path under the mount, index files, redirects to the mount-relative directory', T, async (t) => {
  const dir = tree(t);
  const s = await serve(t, (app) => {
    app.use('/assets', express.static(dir, { maxAge: '1h', setHeaders: (res) => res.setHeader('x-static', 'yes') }));
    app.get('/assets/generated', (req, res) => res.send('a route under the mount'));
  });
  const js = await get(s.port, '/assets/app.js');
  assert.equal(js.status, 200);
  assert.equal(js.text, 'console.log(1)');
  assert.match(js.headers['content-type'], /javascript/);
  assert.equal(js.headers['cache-control'], 'public, max-age=3600');
  assert.equal(js.headers['x-static'], 'yes');

  assert.equal((await get(s.port, '/assets/docs/')).text, '<h1>docs</h1>');
  // A directory without its slash: serve-static redirects to originalUrl + '/'.
  const redirect = await get(s.port, '/assets/docs?x=1');
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.location, '/assets/docs/?x=1');

  // Dotfiles are ignored (a miss), and a miss falls through to the app.
  assert.equal((await get(s.port, '/assets/.secret')).status, 404);
  assert.equal((await get(s.port, '/assets/generated')).text, 'a route under the mount');
  // The mount's own files are not served outside it.
  assert.equal((await get(s.port, '/app.js')).status, 404);
});

test('serve-static with fallthrough: false answers its own 404 and 405, and HEAD has no body', T, async (t) => {
  const dir = tree(t);
  const s = await serve(t, (app) => {
    app.use('/files', serveStatic(dir, { fallthrough: false }));
    app.use((err, req, res, next) => res.status(err.status || 500).json({ status: err.status, url: req.url }));
  });
  const miss = await get(s.port, '/files/nope.txt');
  assert.equal(miss.status, 404);
  assert.deepEqual(miss.json(), { status: 404, url: '/files/nope.txt' });
  const post = await get(s.port, '/files/app.js', { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');
  const head = await get(s.port, '/files/app.js', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String('console.log(1)'.length));
  assert.equal(head.body.length, 0);
});
