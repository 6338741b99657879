'use strict';
// Files under createApp({ compression }): a small (kept) file compressed once per coding, a
// large one compressed as it is written (chunked), both byte-identical once decoded; a Range
// request, a HEAD and a mount with `compression: false` get the file as it is; `Vary` on every
// answer of a compressible file; the ETag of an encoded answer is weak. res.sendFile follows its
// route's policy.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const { serve, get } = require('./helpers');
const { makeTree, mount } = require('./support/files');

const T = { timeout: 30000 };
// Text that compresses (JSON), small enough to be kept in memory, and one too large to be.
const SMALL = Buffer.from(JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ i, name: `item ${i}`, tags: ['a', 'b'] }))));
const LARGE = Buffer.from(JSON.stringify(Array.from({ length: 40000 }, (_, i) => ({ i, name: `item ${i}`, n: (i * 7919) % 1000 }))));
const DECODE = {
  gzip: (b) => zlib.gunzipSync(b),
  br: (b) => zlib.brotliDecompressSync(b),
  zstd: typeof zlib.zstdDecompressSync === 'function' ? (b) => zlib.zstdDecompressSync(b) : null,
};

function varies(res) {
  return /(^|,)\s*accept-encoding\s*(,|$)/i.test(res.headers.vary || '');
}

async function setup(t, options = {}, appOptions = { compression: true }) {
  const tree = makeTree(t, { 'small.json': SMALL, 'large.json': LARGE, 'logo.png': Buffer.alloc(4096, 7) });
  const s = await serve(t, (app) => {
    mount(app, '/f', tree.root, options);
    app.get('/send', (req, res) => res.sendFile(`${tree.root}/large.json`));
    app.get('/plain', { compression: false }, (req, res) => res.sendFile(`${tree.root}/small.json`));
  }, { appOptions });
  return s;
}

test('a kept file and a large file, in each coding, decode to the file', T, async (t) => {
  const s = await setup(t);
  assert.ok(LARGE.length > 256 * 1024, 'the large file is past the kept-file size');
  for (const [coding, decode] of Object.entries(DECODE)) {
    if (decode === null) {
      t.diagnostic(`zstd not checked: this node (${process.version}) has no zlib.zstdDecompressSync`);
      continue;
    }
    for (const [name, bytes] of [['small.json', SMALL], ['large.json', LARGE]]) {
      // Twice: the second answer of the kept file comes from the variant made by the first.
      for (let round = 0; round < 2; round++) {
        const res = await get(s.port, `/f/${name}`, { headers: [['accept-encoding', coding]] });
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-encoding'], coding, `${name} in ${coding}`);
        assert.ok(varies(res));
        assert.match(res.headers.etag, /^W\//, 'an encoded variant has a weak ETag');
        if (name === 'large.json') assert.equal(res.headers['transfer-encoding'], 'chunked');
        else assert.equal(Number(res.headers['content-length']), res.body.length);
        assert.ok(res.body.length < bytes.length / 3, 'compressed');
        assert.ok(decode(res.body).equals(bytes), `${name} in ${coding} decodes to the file`);
      }
    }
  }
});

test('identity where compression must not apply: no Accept-Encoding, a Range, a HEAD, a binary type', T, async (t) => {
  const s = await setup(t);
  const plain = await get(s.port, '/f/small.json');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.ok(varies(plain), 'Vary on the identity answer of a compressible file too');
  assert.ok(plain.body.equals(SMALL));
  assert.match(plain.headers.etag, /^"/, 'the identity answer keeps the strong ETag');

  const range = await get(s.port, '/f/large.json', { headers: [['accept-encoding', 'gzip'], ['range', 'bytes=10-19']] });
  assert.equal(range.status, 206);
  assert.equal(range.headers['content-encoding'], undefined);
  assert.ok(range.body.equals(LARGE.subarray(10, 20)), 'a range is of the file as it is');

  const head = await get(s.port, '/f/small.json', { method: 'HEAD', headers: [['accept-encoding', 'gzip']] });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-encoding'], undefined);
  assert.equal(Number(head.headers['content-length']), SMALL.length);

  const png = await get(s.port, '/f/logo.png', { headers: [['accept-encoding', 'gzip']] });
  assert.equal(png.headers['content-encoding'], undefined);
  assert.ok(!varies(png), 'an incompressible type does not vary');

  // A conditional request with the weak ETag of the encoded variant is a 304.
  const gz = await get(s.port, '/f/small.json', { headers: [['accept-encoding', 'gzip']] });
  const again = await get(s.port, '/f/small.json', { headers: [['accept-encoding', 'gzip'], ['if-none-match', gz.headers.etag]] });
  assert.equal(again.status, 304);
});

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
