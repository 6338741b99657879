'use strict';
// Range requests on a directory mount (RFC 9110 §14): single, suffix and open ranges, several
// ranges as multipart/byteranges (each part parsed and checked), 416 with `bytes */size`, invalid
// or unknown-unit ranges ignored (200), If-Range in its ETag and date forms, HEAD, and many ranges
// in one header. Checked byte for byte against the file.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { start, get, buildRequest, RawClient, withRoot, assertStillServes } = require('./helpers');
const { makeTree, mount, pattern, rangesOf, parseContentRange, httpDate } = require('./support/files');

const T = { timeout: 20000 };
const SIZE = 100000;
const DATA = pattern(SIZE, 7);
const MTIME = new Date('2024-03-04T05:06:07Z');

describe('Range on a file', () => {
  let s;
  let etag;
  const tmp = [];

  before(async () => {
    const tree = makeTree((fn) => tmp.push(fn), { 'bin.dat': DATA, 'page.html': '<p>0123456789</p>', 'empty.txt': '' });
    fs.utimesSync(path.join(tree.root, 'bin.dat'), MTIME, MTIME);
    s = await start((app) => {
      withRoot(app);
      mount(app, '/assets', tree.root);
    });
    etag = (await get(s.port, '/assets/bin.dat')).headers.etag;
  });
  after(async () => {
    await s.close();
    for (const fn of tmp) fn();
  });

  const ranged = (range, headers = {}, target = '/assets/bin.dat') => get(s.port, target, { headers: { Range: range, ...headers } });

  function assertRange(res, start, end, what) {
    assert.equal(res.status, 206, what);
    assert.deepEqual(parseContentRange(res.headers['content-range']), { start, end, size: SIZE }, what);
    assert.equal(res.headers['content-length'], String(end - start + 1), what);
    assert.ok(res.body.equals(DATA.subarray(start, end + 1)), `${what}: the bytes ${start}-${end}`);
    assert.equal(res.headers['accept-ranges'], 'bytes', what);
  }

  function assertFull(res, what) {
    assert.equal(res.status, 200, what);
    assert.equal(res.headers['content-range'], undefined, what);
    assert.ok(res.body.equals(DATA), `${what}: the whole file`);
  }

  function assert416(res, what) {
    assert.equal(res.status, 416, what);
    assert.equal(res.headers['content-range'], `bytes */${SIZE}`, what);
    assert.ok(res.body.length === 0 || !DATA.includes(res.body.subarray(0, 16)), `${what}: no file bytes in a 416`);
  }

  test('a 200 says Accept-Ranges: bytes', T, async () => {
    assert.equal((await get(s.port, '/assets/bin.dat')).headers['accept-ranges'], 'bytes');
  });

  test('single ranges: first bytes, middle, last byte, an end past the size (clamped)', T, async () => {
    assertRange(await ranged('bytes=0-99'), 0, 99, '0-99');
    assertRange(await ranged('bytes=0-0'), 0, 0, '0-0');
    assertRange(await ranged('bytes=31337-65535'), 31337, 65535, 'middle');
    assertRange(await ranged(`bytes=${SIZE - 1}-${SIZE - 1}`), SIZE - 1, SIZE - 1, 'last byte');
    assertRange(await ranged(`bytes=${SIZE - 10}-${SIZE * 10}`), SIZE - 10, SIZE - 1, 'end past the size');
    assertRange(await ranged(`bytes=0-${SIZE - 1}`), 0, SIZE - 1, 'the whole file as a range');
  });

  test('suffix ranges: the last N bytes; a suffix longer than the file is all of it', T, async () => {
    assertRange(await ranged('bytes=-500'), SIZE - 500, SIZE - 1, '-500');
    assertRange(await ranged('bytes=-1'), SIZE - 1, SIZE - 1, '-1');
    assertRange(await ranged(`bytes=-${SIZE * 3}`), 0, SIZE - 1, 'a suffix past the start');
  });

  test('open ranges: from N to the end', T, async () => {
    assertRange(await ranged('bytes=500-'), 500, SIZE - 1, '500-');
    assertRange(await ranged('bytes=0-'), 0, SIZE - 1, '0-');
    assertRange(await ranged(`bytes=${SIZE - 1}-`), SIZE - 1, SIZE - 1, 'the last byte, open');
  });

  test('several ranges: multipart/byteranges, each part with its Content-Type, Content-Range and bytes', T, async () => {
    const res = await ranged('bytes=0-9, 20-29,-5');
    assert.equal(res.status, 206);
    assert.equal(res.headers['content-range'], undefined, 'no Content-Range on the multipart answer itself');
    assert.equal(res.headers['content-length'], String(res.body.length));
    const parts = rangesOf(res);
    assert.deepEqual(parts.map((p) => [p.start, p.end, p.size]), [[0, 9, SIZE], [20, 29, SIZE], [SIZE - 5, SIZE - 1, SIZE]]);
    for (const p of parts) {
      assert.ok(p.body.equals(DATA.subarray(p.start, p.end + 1)), `part ${p.start}-${p.end}`);
      assert.equal(p.headers['content-type'], 'application/octet-stream', 'each part has the file\'s type');
    }

    const html = await ranged('bytes=3-4,7-8', {}, '/assets/page.html');
    const htmlParts = rangesOf(html);
    assert.deepEqual(htmlParts.map((p) => p.body.toString()), ['01', '45']);
    for (const p of htmlParts) assert.match(p.headers['content-type'], /^text\/html/);
  });

  test('several ranges, some unsatisfiable: only the satisfiable ones are sent', T, async () => {
    const res = await ranged(`bytes=${SIZE + 5}-${SIZE + 10},10-19`);
    const parts = rangesOf(res);
    assert.deepEqual(parts.map((p) => [p.start, p.end]), [[10, 19]]);
    assert.ok(parts[0].body.equals(DATA.subarray(10, 20)));
  });

  test('unsatisfiable: 416 with Content-Range: bytes */size', T, async () => {
    assert416(await ranged(`bytes=${SIZE}-`), 'start at the size');
    assert416(await ranged(`bytes=${SIZE + 100}-${SIZE + 200}`), 'past the end');
    assert416(await ranged('bytes=-0'), 'a zero-length suffix');
    assert416(await ranged(`bytes=${SIZE}-,${SIZE * 2}-`), 'two unsatisfiable ranges');
  });

  test('invalid ranges and unknown units are ignored: 200 with the whole file', T, async () => {
    for (const range of ['bytes=abc', 'bytes=5-2', 'items=0-5', 'bytes 0-5', 'bytes=', 'bytes=--1', 'bytes=0-1-2', 'bytes=1-2,x', 'bytes=0x10-0x20', 'bytes=-', 'bytes=99999999999999999999999-']) {
      assertFull(await ranged(range), `Range: ${range}`);
    }
  });

  test('If-Range with the ETag: the range when it matches (strong), the whole file when it does not', T, async () => {
    const strong = !etag.startsWith('W/');
    const res = await ranged('bytes=0-9', { 'If-Range': etag });
    if (strong) assertRange(res, 0, 9, 'If-Range: the current strong ETag');
    else assertFull(res, 'If-Range with a weak ETag (strong comparison only)');
    assertFull(await ranged('bytes=0-9', { 'If-Range': '"something-else"' }), 'If-Range: another ETag');
    assertFull(await ranged('bytes=0-9', { 'If-Range': `W/${strong ? etag : etag.slice(2)}` }), 'If-Range: a weak tag');
  });

  test('If-Range with a date: the range when it is the Last-Modified, the whole file when older', T, async () => {
    const lastModified = (await get(s.port, '/assets/bin.dat')).headers['last-modified'];
    assert.equal(lastModified, httpDate(MTIME.getTime()));
    assertRange(await ranged('bytes=100-199', { 'If-Range': lastModified }), 100, 199, 'If-Range: the Last-Modified');
    assertFull(await ranged('bytes=100-199', { 'If-Range': httpDate(MTIME.getTime() - 1000) }), 'If-Range: a second older');
    // If-Range alone, without Range, changes nothing.
    assertFull(await get(s.port, '/assets/bin.dat', { headers: { 'If-Range': '"x"' } }), 'If-Range without Range');
  });

  test('HEAD with a Range: no body; 200 (Range is defined for GET only) or a 206 head that matches', T, async () => {
    const res = await get(s.port, '/assets/bin.dat', { method: 'HEAD', headers: { Range: 'bytes=0-9' } });
    assert.equal(res.body.length, 0);
    if (res.status === 200) {
      assert.equal(res.headers['content-length'], String(SIZE));
    } else {
      assert.equal(res.status, 206);
      assert.equal(res.headers['content-range'], `bytes 0-9/${SIZE}`);
      assert.equal(res.headers['content-length'], '10');
    }
  });

  test('a range on an empty file: 416 bytes */0 (or the empty file, 200)', T, async () => {
    const res = await ranged('bytes=0-0', {}, '/assets/empty.txt');
    if (res.status === 200) {
      assert.equal(res.body.length, 0);
    } else {
      assert.equal(res.status, 416);
      assert.equal(res.headers['content-range'], 'bytes */0');
    }
  });

  test('many ranges in one header: a bounded answer (200, 206 with the right bytes, or 416), and the server goes on', T, async () => {
    const specs = Array.from({ length: 500 }, (_, i) => `${i * 100}-${i * 100}`).join(',');
    const res = await ranged(`bytes=${specs}`);
    assert.ok([200, 206, 416].includes(res.status), `status ${res.status}`);
    if (res.status === 206) {
      for (const p of rangesOf(res)) assert.ok(p.body.equals(DATA.subarray(p.start, p.end + 1)), `part ${p.start}-${p.end}`);
    }
    if (res.status === 200) assert.ok(res.body.equals(DATA));
    // Overlapping ranges over the whole file many times: never more than a few copies of it.
    const overlapping = await ranged(`bytes=${Array.from({ length: 200 }, () => '0-').join(',')}`);
    assert.ok([200, 206, 416].includes(overlapping.status), `status ${overlapping.status}`);
    assert.ok(overlapping.body.length <= 2 * SIZE + 4096, `an answer of ${overlapping.body.length} bytes for 200 overlapping whole-file ranges`);
    await assertStillServes(s.port);
  });

  test('ranges pipelined on one keep-alive connection', T, async (t) => {
    const c = await RawClient.connect(s.port);
    t.after(() => c.destroy());
    const wanted = [[0, 4095], [4096, 8191], [SIZE - 100, SIZE - 1], [12345, 12345]];
    await c.write(Buffer.concat(wanted.map(([a, b]) => buildRequest('GET', '/assets/bin.dat', { headers: { Range: `bytes=${a}-${b}` } }))));
    const answers = await c.readResponses(wanted.length);
    for (const [i, [a, b]] of wanted.entries()) assertRange(answers[i], a, b, `pipelined ${a}-${b}`);
    assert.equal(c.leftover.length, 0);
  });
});
