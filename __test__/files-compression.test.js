'use strict';
// Files from a directory mount compressed on the fly (createApp({ compression: true })): each
// coding decodes to the file's bytes, with Vary and a validator of its own; what is not compressed
// (small, not compressible, no-transform); HEAD, Range, 304; a precompressed sibling preferred;
// a file changed on disk compressed anew (a kept variant must not outlive its file).
const { test, before, after, describe } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const { start, get } = require('./helpers');
const { makeTree, mount, writeFile, pattern, rangesOf } = require('./support/files');

const T = { timeout: 30000 };
const text = (n, seed) => Buffer.from(Array.from({ length: Math.ceil(n / 40) }, (_, i) => `row ${(i * 7 + seed) % 1000}: some text to compress\n`).join('').slice(0, n));
const PAGE = text(20000, 1);
const JSON_BODY = Buffer.from(JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: i, name: `item ${i}` }))));
const BIG = text(2 * 2 ** 20, 3);
const CSS = text(8000, 4);
// Not gzip's default level: these bytes can only come from the file on disk.
const CSS_GZ = zlib.gzipSync(CSS, { level: 1 });

const DECODE = {
  br: (b) => zlib.brotliDecompressSync(b),
  gzip: (b) => zlib.gunzipSync(b),
  zstd: (b) => (typeof zlib.zstdDecompressSync === 'function' ? zlib.zstdDecompressSync(b) : null),
};

function varies(res) {
  return (res.headers.vary || '').split(',').some((v) => ['accept-encoding', '*'].includes(v.trim().toLowerCase()));
}

describe('files compressed on the fly', () => {
  let s;
  let root;
  const tmp = [];
  before(async () => {
    ({ root } = makeTree((fn) => tmp.push(fn), {
      'page.html': PAGE,
      'data.json': JSON_BODY,
      'big.txt': BIG,
      'small.txt': 'tiny\n',
      'photo.png': pattern(20000, 9),
      'style.css': CSS,
      'style.css.gz': CSS_GZ,
      'hot.txt': text(5000, 5),
    }));
    s = await start((app) => {
      mount(app, '/assets', root, { precompressed: true });
      mount(app, '/raw', root, { headers: { 'Cache-Control': 'no-transform' } });
    }, { appOptions: { compression: true } });
  });
  after(async () => {
    await s.close();
    for (const fn of tmp) fn();
  });

  const fetchAs = (target, acceptEncoding, headers = {}, method = 'GET') =>
    get(s.port, target, { method, headers: acceptEncoding === undefined ? headers : { 'Accept-Encoding': acceptEncoding, ...headers } });

  function assertCoded(res, coding, original, type, what) {
    assert.equal(res.status, 200, what);
    assert.equal(res.headers['content-encoding'], coding, what);
    assert.match(res.headers['content-type'], type, `${what}: the file's type`);
    assert.ok(varies(res), `${what}: Vary: Accept-Encoding (got ${res.headers.vary})`);
    assert.ok(res.body.length < original.length, `${what}: smaller than the file`);
    const decoded = DECODE[coding](res.body);
    if (decoded) assert.ok(decoded.equals(original), `${what}: decodes to the file`);
  }

  test('br, zstd, gzip: each decodes to the file, with the file\'s type and Vary', T, async () => {
    for (const coding of ['br', 'zstd', 'gzip']) {
      assertCoded(await fetchAs('/assets/page.html', coding), coding, PAGE, /^text\/html/, `page.html ${coding}`);
      assertCoded(await fetchAs('/assets/data.json', coding), coding, JSON_BODY, /^application\/json/, `data.json ${coding}`);
    }
  });

  test('a 2 MiB text file compressed whole', T, async () => {
    assertCoded(await fetchAs('/assets/big.txt', 'gzip'), 'gzip', BIG, /^text\/plain/, 'big.txt gzip');
    assertCoded(await fetchAs('/assets/big.txt', 'br'), 'br', BIG, /^text\/plain/, 'big.txt br');
  });

  test('not compressed: no acceptable coding, a file under the threshold, a type that does not compress, no-transform', T, async () => {
    for (const ae of [undefined, 'identity', 'br;q=0, gzip;q=0, zstd;q=0']) {
      const res = await fetchAs('/assets/page.html', ae);
      assert.equal(res.headers['content-encoding'], undefined, `Accept-Encoding: ${ae}`);
      assert.ok(res.body.equals(PAGE));
    }
    const small = await fetchAs('/assets/small.txt', 'br, gzip');
    assert.equal(small.headers['content-encoding'], undefined, 'under the threshold');
    assert.equal(small.text, 'tiny\n');
    const png = await fetchAs('/assets/photo.png', 'br, gzip');
    assert.equal(png.headers['content-encoding'], undefined, 'image/png is not compressed');
    assert.ok(png.body.equals(pattern(20000, 9)));
    const raw = await fetchAs('/raw/page.html', 'br, gzip');
    assert.equal(raw.headers['content-encoding'], undefined, 'Cache-Control: no-transform');
    assert.ok(raw.body.equals(PAGE));
  });

  test('validators: a coded answer has its own ETag, and If-None-Match with it is a 304 with Vary', T, async () => {
    // page.html is small enough to be kept in memory, big.txt is compressed as it is sent.
    for (const [target, coding] of [['/assets/page.html', 'br'], ['/assets/page.html', 'gzip'], ['/assets/big.txt', 'gzip']]) {
      const what = `${target} ${coding}`;
      const identity = await fetchAs(target, undefined);
      const coded = await fetchAs(target, coding);
      assert.ok(identity.headers.etag && coded.headers.etag, what);
      assert.notEqual(coded.headers.etag, identity.headers.etag, what);
      const again = await fetchAs(target, coding, { 'If-None-Match': coded.headers.etag });
      assert.equal(again.status, 304, `${what}: If-None-Match: ${coded.headers.etag}`);
      assert.equal(again.headers.etag, coded.headers.etag, what);
      assert.ok(varies(again), what);
      assert.equal(again.body.length, 0, what);
    }
  });

  test('HEAD: no body, and the headers of one representation: the coded one a GET gets, or the identity one', T, async () => {
    const res = await fetchAs('/assets/page.html', 'gzip', {}, 'HEAD');
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 0);
    assert.ok(varies(res), 'Vary: Accept-Encoding');
    if (res.headers['content-encoding'] === 'gzip') {
      assert.equal(res.headers.etag, (await fetchAs('/assets/page.html', 'gzip')).headers.etag, 'the gzip answer\'s ETag');
    } else {
      // Not compressed for HEAD (as Express's compression does): then the identity answer's head.
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(res.headers['content-length'], String(PAGE.length));
      assert.equal(res.headers.etag, (await fetchAs('/assets/page.html', undefined)).headers.etag, 'the identity answer\'s ETag');
    }
  });

  test('a Range with Accept-Encoding: the bytes of the representation it names', T, async () => {
    const res = await fetchAs('/assets/page.html', 'gzip', { Range: 'bytes=0-99' });
    const [part] = rangesOf(res);
    if (res.headers['content-encoding'] === 'gzip') {
      const whole = await fetchAs('/assets/page.html', 'gzip');
      assert.equal(part.size, whole.body.length);
      assert.ok(part.body.equals(whole.body.subarray(0, 100)), 'the first bytes of the gzip answer');
    } else {
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(part.size, PAGE.length);
      assert.ok(part.body.equals(PAGE.subarray(0, 100)));
    }
  });

  test('a precompressed sibling is sent as it is, not compressed again', T, async () => {
    const res = await fetchAs('/assets/style.css', 'gzip');
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.ok(res.body.equals(CSS_GZ), 'the .gz file\'s bytes');
  });

  test('a file changed on disk: its compressed answer is made from the new bytes', T, async () => {
    const first = await fetchAs('/assets/hot.txt', 'br');
    for (let i = 0; i < 4; i++) await fetchAs('/assets/hot.txt', 'br');
    assert.ok(DECODE.br(first.body).equals(text(5000, 5)));
    const changed = text(7000, 6);
    writeFile(root, 'hot.txt', changed);
    const second = await fetchAs('/assets/hot.txt', 'br');
    assert.equal(second.headers['content-encoding'], 'br');
    assert.ok(DECODE.br(second.body).equals(changed), 'the new bytes, compressed');
    assert.notEqual(second.headers.etag, first.headers.etag);
    const gz = await fetchAs('/assets/hot.txt', 'gzip');
    assert.ok(DECODE.gzip(gz.body).equals(changed));
  });
});
