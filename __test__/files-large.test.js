'use strict';
// Large files from a directory mount: sparse files (they cost no disk) of 5 GiB, with markers
// written at known offsets, one of them across the 4 GiB line (a 32-bit offset or length would
// wrap there), read with HEAD and Ranges; then a full 1 GiB download from a server in a child
// process while its RSS is sampled — a file is streamed, never held whole — and a client that
// stops reading, and clients that leave mid-file.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const net = require('node:net');
const { get, sleep, withRoot, assertStillServes } = require('./helpers');
const { makeTree, serveDir, pattern, rangesOf, spawnDirServer, rssBytes } = require('./support/files');

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const BIG = 5 * GiB;
const FULL = 1 * GiB;
// A streamed file needs a few buffers per connection, not the file: the RSS bound leaves room for
// allocator and runtime noise while staying far under the file's size.
const RSS_GROWTH_BOUND = 200 * MiB;
const STALLED_GROWTH_BOUND = 64 * MiB;
// The download client's own pace does not matter; a transfer with no byte for this long has stalled.
const IDLE_TIMEOUT_MS = 30000;

// Writes `markers` ([offset, Buffer]) into a sparse file of `size` bytes.
function sparseFile(file, size, markers) {
  const fd = fs.openSync(file, 'w');
  try {
    fs.ftruncateSync(fd, size);
    for (const [offset, bytes] of markers) fs.writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

function expected(markers, start, end) {
  // The bytes of [start, end] given zeros everywhere but the markers.
  const out = Buffer.alloc(end - start + 1);
  for (const [offset, bytes] of markers) {
    const from = Math.max(offset, start);
    const to = Math.min(offset + bytes.length - 1, end);
    if (from <= to) bytes.copy(out, from - start, from - offset, to - offset + 1);
  }
  return out;
}

test('a 5 GiB sparse file: HEAD, ranges in the middle, across 4 GiB, at the end, and several at once', { timeout: 60000 }, async (t) => {
  const tree = makeTree(t, {});
  const markers = [
    [0, pattern(100, 1)],
    [2.5 * GiB, pattern(4096, 2)],
    [4 * GiB - 50, pattern(100, 3)],
    [4 * GiB + 1000, pattern(64, 4)],
    [BIG - 64, pattern(64, 5)],
  ];
  sparseFile(path.join(tree.root, 'big.bin'), BIG, markers);
  const s = await serveDir(t, { root: tree.root, setup: withRoot });

  const head = await get(s.port, '/assets/big.bin', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(BIG));
  assert.equal(head.headers['accept-ranges'], 'bytes');

  const cases = [
    [2.5 * GiB - 10, 2.5 * GiB + 4100],
    [4 * GiB - 60, 4 * GiB + 60],
    [4 * GiB + 990, 4 * GiB + 1100],
    [BIG - 100, BIG - 1],
    [0, 99],
  ];
  for (const [start, end] of cases) {
    const res = await get(s.port, '/assets/big.bin', { headers: { Range: `bytes=${start}-${end}` } });
    const [part] = rangesOf(res);
    assert.deepEqual([part.start, part.end, part.size], [start, end, BIG], `${start}-${end}`);
    assert.ok(part.body.equals(expected(markers, start, end)), `the bytes ${start}-${end}`);
  }
  const suffix = await get(s.port, '/assets/big.bin', { headers: { Range: 'bytes=-64' } });
  assert.ok(rangesOf(suffix)[0].body.equals(markers[4][1]), 'the last 64 bytes');
  const open = await get(s.port, '/assets/big.bin', { headers: { Range: `bytes=${BIG - 64}-` } });
  assert.ok(rangesOf(open)[0].body.equals(markers[4][1]), 'an open range from near the end');

  const multi = await get(s.port, '/assets/big.bin', { headers: { Range: `bytes=10-19,${4 * GiB - 50}-${4 * GiB + 49},-10` } });
  const parts = rangesOf(multi);
  assert.deepEqual(parts.map((p) => [p.start, p.end, p.size]), [[10, 19, BIG], [4 * GiB - 50, 4 * GiB + 49, BIG], [BIG - 10, BIG - 1, BIG]]);
  for (const p of parts) assert.ok(p.body.equals(expected(markers, p.start, p.end)), `part ${p.start}-${p.end}`);

  const unsatisfiable = await get(s.port, '/assets/big.bin', { headers: { Range: `bytes=${BIG}-` } });
  assert.equal(unsatisfiable.status, 416);
  assert.equal(unsatisfiable.headers['content-range'], `bytes */${BIG}`);
  await assertStillServes(s.port);
});

// GETs `target` and checks the bytes at the markers as they pass; resolves with the byte count.
function download(port, target, markers) {
  return new Promise((resolve, reject) => {
    const seen = markers.map(([, bytes]) => Buffer.alloc(bytes.length));
    const req = http.get({ host: '127.0.0.1', port, path: target, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
      let at = 0;
      res.on('data', (chunk) => {
        for (const [i, [offset, bytes]] of markers.entries()) {
          const from = Math.max(offset, at);
          const to = Math.min(offset + bytes.length, at + chunk.length);
          if (from < to) chunk.copy(seen[i], from - offset, from - at, to - at);
        }
        at += chunk.length;
      });
      res.on('end', () => {
        for (const [i, [offset, bytes]] of markers.entries()) {
          if (!seen[i].equals(bytes)) return reject(new Error(`wrong bytes at offset ${offset}`));
        }
        resolve({ bytes: at, contentLength: Number(res.headers['content-length']) });
      });
      res.on('error', reject);
    });
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no byte for ${IDLE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
  });
}

test('a full 1 GiB download: every byte arrives, and the server\'s RSS stays far under the file size', { timeout: 180000 }, async (t) => {
  const tree = makeTree(t, { 'warm.bin': pattern(8 * MiB, 9) });
  const markers = Array.from({ length: 9 }, (_, i) => [Math.min(i * 128 * MiB, FULL - 256), pattern(256, 10 + i)]);
  sparseFile(path.join(tree.root, 'one.bin'), FULL, markers);
  const server = await spawnDirServer(t, [{ prefix: '/assets', root: tree.root }]);
  if (rssBytes(server.pid) === null) return t.skip('/proc/<pid>/status is not readable here: RSS cannot be measured');

  // Warm-up: the first transfer grows the buffers and runtime to their working size.
  await download(server.port, '/assets/warm.bin', []);
  await sleep(300);
  const before = rssBytes(server.pid);
  let peak = before;
  const sampler = setInterval(() => {
    const now = rssBytes(server.pid);
    if (now !== null && now > peak) peak = now;
  }, 10);
  let got;
  try {
    got = await download(server.port, '/assets/one.bin', markers);
  } finally {
    clearInterval(sampler);
  }
  const after = rssBytes(server.pid);
  if (after !== null) peak = Math.max(peak, after);
  t.diagnostic(`server RSS before ${(before / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB, growth ${((peak - before) / MiB).toFixed(1)} MiB for a ${FULL / MiB} MiB file`);
  assert.equal(got.contentLength, FULL);
  assert.equal(got.bytes, FULL);
  assert.ok(peak - before < RSS_GROWTH_BOUND, `the server's RSS grew by ${((peak - before) / MiB).toFixed(1)} MiB while sending a ${FULL / MiB} MiB file`);
});

test('a client that requests a 1 GiB file and stops reading: the server does not buffer the file', { timeout: 60000 }, async (t) => {
  const tree = makeTree(t, { 'warm.bin': pattern(8 * MiB, 9) });
  sparseFile(path.join(tree.root, 'one.bin'), FULL, []);
  const server = await spawnDirServer(t, [{ prefix: '/assets', root: tree.root }]);
  if (rssBytes(server.pid) === null) return t.skip('/proc/<pid>/status is not readable here: RSS cannot be measured');
  await download(server.port, '/assets/warm.bin', []);
  await sleep(300);
  const before = rssBytes(server.pid);

  const sockets = [];
  t.after(() => sockets.forEach((c) => c.destroy()));
  for (let i = 0; i < 4; i++) {
    const c = net.connect(server.port, '127.0.0.1');
    sockets.push(c);
    c.write('GET /assets/one.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    c.pause(); // never read: the kernel's buffers fill, then the server must wait
  }
  let peak = before;
  for (let i = 0; i < 100; i++) {
    await sleep(20);
    peak = Math.max(peak, rssBytes(server.pid));
  }
  t.diagnostic(`server RSS before ${(before / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB with 4 stalled 1 GiB downloads`);
  assert.ok(peak - before < STALLED_GROWTH_BOUND, `RSS grew by ${((peak - before) / MiB).toFixed(1)} MiB for clients that do not read`);
  for (const c of sockets) c.destroy();

  // It still serves, byte-exact.
  const again = await download(server.port, '/assets/warm.bin', [[0, pattern(8 * MiB, 9).subarray(0, 4096)]]);
  assert.equal(again.bytes, 8 * MiB);
});

test('clients that leave in the middle of a large file: the server goes on', { timeout: 60000 }, async (t) => {
  const tree = makeTree(t, {});
  sparseFile(path.join(tree.root, 'one.bin'), 256 * MiB, [[0, pattern(16, 1)]]);
  const s = await serveDir(t, { root: tree.root, setup: withRoot });
  await Promise.all(
    Array.from({ length: 16 }, (_, i) =>
      new Promise((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: s.port, path: '/assets/one.bin', agent: false }, (res) => {
          res.on('error', () => {}); // the abort below, seen from the response
          let n = 0;
          res.on('data', (chunk) => {
            n += chunk.length;
            if (n > (i + 1) * 256 * 1024) {
              req.destroy();
              resolve();
            }
          });
          res.on('end', resolve);
        });
        req.on('error', (err) => (err.code === 'ECONNRESET' ? resolve() : reject(err)));
      }),
    ),
  );
  await assertStillServes(s.port);
  const res = await get(s.port, '/assets/one.bin', { headers: { Range: 'bytes=0-15' } });
  assert.ok(rangesOf(res)[0].body.equals(pattern(16, 1)));
});
