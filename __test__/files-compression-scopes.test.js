'use strict';
// Which policy a file answer follows (files-compression.test.js has the encoding itself): a
// mount's `compression: false` keeps its files as they are; without the app's `compression`
// nothing is compressed; res.sendFile follows its route's (`{ compression: false }` included).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const { serve, get } = require('./helpers');
const { makeTree, mount } = require('./support/files');

const T = { timeout: 30000 };
// Text that compresses (JSON), small enough to be kept in memory, and one too large to be.
const SMALL = Buffer.from(JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ i, name: `item ${i}`, tags: ['a', 'b'] }))));
const LARGE = Buffer.from(JSON.stringify(Array.from({ length: 40000 }, (_, i) => ({ i, name: `item ${i}`, n: (i * 7919) % 1000 }))));
async function setup(t, options = {}, appOptions = { compression: true }) {
  const tree = makeTree(t, { 'small.json': SMALL, 'large.json': LARGE, 'logo.png': Buffer.alloc(4096, 7) });
  const s = await serve(t, (app) => {
    mount(app, '/f', tree.root, options);
    app.get('/send', (req, res) => res.sendFile(`${tree.root}/large.json`));
    app.get('/plain', { compression: false }, (req, res) => res.sendFile(`${tree.root}/small.json`));
  }, { appOptions });
  return s;
}

test('a mount with compression: false, an app without compression, and sendFile under its route', T, async (t) => {
  const off = await setup(t, { compression: false });
  const res = await get(off.port, '/f/small.json', { headers: [['accept-encoding', 'gzip']] });
  assert.equal(res.headers['content-encoding'], undefined);
  assert.ok(res.body.equals(SMALL));

  const noApp = await setup(t, {}, {});
  const res2 = await get(noApp.port, '/f/large.json', { headers: [['accept-encoding', 'gzip']] });
  assert.equal(res2.headers['content-encoding'], undefined);
  assert.ok(res2.body.equals(LARGE));

  const s = await setup(t);
  const sent = await get(s.port, '/send', { headers: [['accept-encoding', 'br']] });
  assert.equal(sent.headers['content-encoding'], 'br');
  assert.ok(zlib.brotliDecompressSync(sent.body).equals(LARGE));
  const plain = await get(s.port, '/plain', { headers: [['accept-encoding', 'br']] });
  assert.equal(plain.headers['content-encoding'], undefined, 'a route with compression: false sends the file as it is');
  assert.ok(plain.body.equals(SMALL));
});
