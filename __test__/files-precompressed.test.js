'use strict';
// precompressed: true — app.js.br / .zst / .gz beside app.js are sent as they are to a client that
// accepts their coding (q-values honoured, br > zstd > gzip between equals), with the original's
// Content-Type, Content-Encoding, Vary: Accept-Encoding and their own validators; a client that
// accepts none gets the original. Without the option the siblings are never used.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const { start, get, request } = require('./helpers');
const { makeTree, mount, zstdFrame, rangesOf } = require('./support/files');

const T = { timeout: 20000 };
const JS = Buffer.from(`// a script\n${Array.from({ length: 200 }, (_, i) => `export const value${i} = ${i} * 2;`).join('\n')}\n`);
const CSS = Buffer.from(`${Array.from({ length: 100 }, (_, i) => `.c${i} { margin: ${i}px }`).join('\n')}\n`);
const HTML = Buffer.from(`<!doctype html><title>index</title>${'<p>para</p>'.repeat(100)}`);
const SIBLINGS = {
  br: zlib.brotliCompressSync(JS),
  zstd: zstdFrame(JS),
  gzip: zlib.gzipSync(JS),
};
const DECODE = {
  br: (b) => zlib.brotliDecompressSync(b),
  gzip: (b) => zlib.gunzipSync(b),
  zstd: (b) => (typeof zlib.zstdDecompressSync === 'function' ? zlib.zstdDecompressSync(b) : null),
};
const JS_TYPE = /^text\/javascript; ?charset=utf-8$/i;

function varies(res) {
  return (res.headers.vary || '').split(',').some((v) => v.trim().toLowerCase() === 'accept-encoding' || v.trim() === '*');
}

describe('precompressed siblings', () => {
  let s;
  let plain;
  const tmp = [];
  before(async () => {
    const tree = makeTree((fn) => tmp.push(fn), {
      'app.js': JS,
      'app.js.br': SIBLINGS.br,
      'app.js.zst': SIBLINGS.zstd,
      'app.js.gz': SIBLINGS.gzip,
      'style.css': CSS,
      'style.css.gz': zlib.gzipSync(CSS),
      'index.html': HTML,
      'index.html.gz': zlib.gzipSync(HTML),
      'alone.txt': 'no siblings\n',
    });
    s = await start((app) => mount(app, '/assets', tree.root, { precompressed: true }));
    plain = await start((app) => mount(app, '/assets', tree.root));
  });
  after(async () => {
    await s.close();
    await plain.close();
    for (const fn of tmp) fn();
  });

  const js = (acceptEncoding, extra = {}, port = s.port) =>
    get(port, '/assets/app.js', { headers: acceptEncoding === undefined ? extra : { 'Accept-Encoding': acceptEncoding, ...extra } });

  function assertCoded(res, coding, what) {
    assert.equal(res.status, 200, what);
    assert.equal(res.headers['content-encoding'], coding, what);
    assert.match(res.headers['content-type'], JS_TYPE, `${what}: the original's type`);
    assert.ok(res.body.equals(SIBLINGS[coding]), `${what}: the ${coding} sibling's bytes`);
    assert.equal(res.headers['content-length'], String(SIBLINGS[coding].length), what);
    assert.ok(varies(res), `${what}: Vary: Accept-Encoding (got ${res.headers.vary})`);
    const decoded = DECODE[coding](res.body);
    if (decoded) assert.ok(decoded.equals(JS), `${what}: decodes to the original`);
  }

  function assertIdentity(res, what) {
    assert.equal(res.status, 200, what);
    assert.equal(res.headers['content-encoding'], undefined, what);
    assert.ok(res.body.equals(JS), `${what}: the original bytes`);
    assert.match(res.headers['content-type'], JS_TYPE, what);
  }

  test('each coding alone gets its sibling', T, async () => {
    assertCoded(await js('br'), 'br', 'br');
    assertCoded(await js('zstd'), 'zstd', 'zstd');
    assertCoded(await js('gzip'), 'gzip', 'gzip');
    assertCoded(await js('x-unknown, gzip'), 'gzip', 'an unknown coding beside gzip');
  });

  test('several accepted: br, then zstd, then gzip; q-values first; q=0 refuses', T, async () => {
    assertCoded(await js('gzip, deflate, br, zstd'), 'br', 'all of them');
    assertCoded(await js('gzip, zstd'), 'zstd', 'zstd over gzip');
    assertCoded(await js('br;q=0.1, gzip;q=0.8'), 'gzip', 'the higher q');
    assertCoded(await js('br;q=0, gzip'), 'gzip', 'br refused with q=0');
    assertCoded(await js('BR'), 'br', 'coding names are case-insensitive');
    const any = await js('*');
    assert.ok(['br', 'zstd', 'gzip'].includes(any.headers['content-encoding']), `*: ${any.headers['content-encoding']}`);
    assertCoded(any, any.headers['content-encoding'], '*');
  });

  test('no acceptable coding: the original, still with Vary', T, async () => {
    for (const ae of [undefined, 'identity', 'br;q=0', 'deflate', '', 'gzip;q=0, br;q=0, zstd;q=0']) {
      const res = await js(ae);
      assertIdentity(res, `Accept-Encoding: ${ae}`);
      assert.ok(varies(res), `Accept-Encoding: ${ae}: the answer varies with it, so Vary says so (got ${res.headers.vary})`);
    }
  });

  test('only the siblings that exist: style.css has a .gz alone; a file without siblings is sent as it is', T, async () => {
    const css = await get(s.port, '/assets/style.css', { headers: { 'Accept-Encoding': 'br, zstd, gzip' } });
    assert.equal(css.headers['content-encoding'], 'gzip');
    assert.ok(zlib.gunzipSync(css.body).equals(CSS));
    assert.match(css.headers['content-type'], /^text\/css/);
    const alone = await get(s.port, '/assets/alone.txt', { headers: { 'Accept-Encoding': 'br, gzip' } });
    assert.equal(alone.headers['content-encoding'], undefined);
    assert.equal(alone.text, 'no siblings\n');
  });

  test('an index file has siblings too', T, async () => {
    const res = await get(s.port, '/assets/', { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.match(res.headers['content-type'], /^text\/html/);
    assert.ok(zlib.gunzipSync(res.body).equals(HTML));
  });

  test('validators: a coded answer has its own ETag; If-None-Match with it gives a 304 that keeps Vary', T, async () => {
    const identity = await js(undefined);
    const br = await js('br');
    const gz = await js('gzip');
    assert.ok(br.headers.etag && gz.headers.etag && identity.headers.etag);
    assert.notEqual(br.headers.etag, identity.headers.etag, 'br and identity are different representations');
    assert.notEqual(br.headers.etag, gz.headers.etag, 'br and gzip are different representations');
    const notModified = await js('br', { 'If-None-Match': br.headers.etag });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.etag, br.headers.etag);
    assert.ok(varies(notModified), 'a 304 keeps Vary');
    assert.equal(notModified.body.length, 0);
  });

  test('HEAD: the coded answer\'s headers, no body', T, async () => {
    const res = await get(s.port, '/assets/app.js', { method: 'HEAD', headers: { 'Accept-Encoding': 'br' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'br');
    assert.equal(res.headers['content-length'], String(SIBLINGS.br.length));
    assert.equal(res.body.length, 0);
  });

  test('a Range applies to the representation sent: bytes of the sibling with its Content-Encoding, or of the original without one', T, async () => {
    const res = await js('gzip', { Range: 'bytes=0-9' });
    const [part] = rangesOf(res);
    if (res.headers['content-encoding'] === 'gzip') {
      assert.equal(part.size, SIBLINGS.gzip.length);
      assert.ok(part.body.equals(SIBLINGS.gzip.subarray(0, 10)));
    } else {
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(part.size, JS.length);
      assert.ok(part.body.equals(JS.subarray(0, 10)));
    }
  });

  test('without precompressed: the original for every client (the siblings are plain files)', T, async () => {
    for (const ae of ['br', 'gzip', 'zstd', 'gzip, br, zstd']) {
      const res = await js(ae, {}, plain.port);
      assertIdentity(res, `no precompressed, Accept-Encoding: ${ae}`);
    }
  });

  test('node fetch() gets the original text back, whatever it negotiated', T, async () => {
    for (const path of ['/assets/app.js', '/assets/style.css']) {
      const res = await request(s.base, path);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), (path.endsWith('.js') ? JS : CSS).toString());
    }
  });
});
