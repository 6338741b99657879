'use strict';
// js/host/compress.js, the node backend's response compression, against Rust's: a native app and a
// node:http server answer the same routes (the node one through plan(), compressWhole() and
// compressStream(), as the node backend's core does), and every request must get the same status, coding, Vary, ETag and (decoded) bytes from both:
// q-values, *, identity, the threshold, types, no-transform, encoded answers, HEAD, 204/304,
// weak ETags, Vary merging, route options, large bodies, streams; and a streamed answer whose
// every piece decodes as it arrives.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const zlib = require('node:zlib');
const { start, buildRequest, RawClient, deferred, withTimeout, chunkedSoFar } = require('./helpers');
const { compression, routeCompression } = require('../js/options');
const { plan, negotiate, rewriteHeaders, compressWhole, compressStream, acceptedCoding, HAS_ZSTD } = require('../js/host/compress');

const T = { timeout: 30000 };
const TEXT = 'The quick brown fox jumps over the lazy dog. '.repeat(100);
const BIG = Buffer.from(JSON.stringify(Array.from({ length: 6000 }, (_, i) => ({ id: i, name: `item ${i}` }))));
const PIECES = Array.from({ length: 20 }, (_, i) => `piece ${i}: ${'lorem ipsum '.repeat(i * 10)}\n`);
const TYPE_TEXT = ['content-type', 'text/plain; charset=utf-8'];

// name → { status, headers, body | pieces, compression (the route option) }.
const ROUTES = {
  text: { headers: [TYPE_TEXT], body: TEXT },
  json: { headers: [['content-type', 'application/json; charset=utf-8']], body: JSON.stringify({ t: TEXT }) },
  big: { headers: [['content-type', 'application/json']], body: BIG },
  small: { headers: [TYPE_TEXT], body: 'x'.repeat(1023) },
  edge: { headers: [TYPE_TEXT], body: 'x'.repeat(1024) },
  png: { headers: [['content-type', 'image/png']], body: Buffer.alloc(5000, 7) },
  untyped: { headers: [], body: Buffer.alloc(5000, 7) },
  svg: { headers: [['content-type', 'image/svg+xml']], body: `<svg>${TEXT}</svg>` },
  notransform: { headers: [TYPE_TEXT, ['cache-control', 'public, No-Transform']], body: TEXT },
  encoded: { headers: [TYPE_TEXT, ['content-encoding', 'gzip']], body: zlib.gzipSync(TEXT) },
  identity: { headers: [TYPE_TEXT, ['content-encoding', 'identity']], body: TEXT },
  nocontent: { status: 204, headers: [TYPE_TEXT] },
  notmodified: { status: 304, headers: [TYPE_TEXT, ['etag', '"n"']] },
  strong: { headers: [TYPE_TEXT, ['etag', '"v1"']], body: TEXT },
  weak: { headers: [TYPE_TEXT, ['etag', 'W/"v2"']], body: TEXT },
  vary: { headers: [TYPE_TEXT, ['vary', 'Origin']], body: TEXT },
  varyhas: { headers: [TYPE_TEXT, ['vary', 'accept-encoding, Origin']], body: TEXT },
  varystar: { headers: [TYPE_TEXT, ['vary', '*']], body: TEXT },
  error: { status: 404, headers: [['content-type', 'text/html']], body: `<p>${TEXT}</p>` },
  partial: { status: 206, headers: [TYPE_TEXT, ['content-range', `bytes 0-${TEXT.length - 1}/9999`]], body: TEXT },
  off: { headers: [TYPE_TEXT], body: TEXT, compression: false },
  gzip: { headers: [TYPE_TEXT], body: 'tiny', compression: { encodings: ['gzip'], threshold: 0 } },
  order: { headers: [TYPE_TEXT], body: TEXT, compression: { encodings: ['gzip', 'br'] } },
  custom: { headers: [['content-type', 'application/x-custom']], body: TEXT, compression: { types: ['application/x-custom'] } },
  customtext: { headers: [TYPE_TEXT], body: TEXT, compression: { types: ['application/x-custom', '*/*+json'] } },
  levels: { headers: [TYPE_TEXT], body: TEXT, compression: { level: { gzip: 1, br: 0, zstd: 1 } } },
  stream: { headers: [TYPE_TEXT], pieces: PIECES },
  streamlen: { headers: [TYPE_TEXT, ['content-length', String(PIECES.join('').length)]], pieces: PIECES },
  streampng: { headers: [['content-type', 'image/png']], pieces: PIECES },
};

const APP_SPEC = compression(true, 'createApp()');

// What the node backend's core does with one answer: the coding, the headers, the body.
async function answer(req, res, route, spec) {
  const status = route.status ?? 200;
  const head = req.method === 'HEAD';
  const accept = req.headers['accept-encoding'];
  if (route.pieces !== undefined) {
    const { encoding, headers } = plan(spec, accept, status, route.headers, { head });
    res.writeHead(status, headers.flat());
    if (head) return res.end();
    const sink = encoding === null ? res : compressStream(encoding, spec);
    if (sink !== res) sink.pipe(res);
    for (const piece of route.pieces) sink.write(piece);
    sink.end();
    return undefined;
  }
  // A whole body's length is the server's to write, as Rust does (the encoded one when encoded).
  const body = Buffer.from(route.body ?? '');
  const planned = plan(spec, accept, status, route.headers, { head, length: body.length });
  const bytes = planned.encoding === null ? body : await compressWhole(planned.encoding, spec, body);
  const headers = planned.headers.filter(([name]) => name !== 'content-length');
  if (status !== 204 && status !== 304) headers.push(['content-length', String(bytes.length)]);
  res.writeHead(status, headers.flat());
  return res.end(head ? undefined : bytes);
}

function decode(coding, buf) {
  if (coding === 'gzip') return zlib.gunzipSync(buf);
  if (coding === 'br') return zlib.brotliDecompressSync(buf);
  return zlib.zstdDecompressSync(buf);
}

// What must be equal: status, coding, Vary, ETag, type, the framing of identity answers, and the
// bytes (decoded: the encoders differ).
function shape(res) {
  const h = res.headers;
  const coding = h['content-encoding'];
  const compressed = coding !== undefined && coding !== 'identity' && res.body.length > 0;
  let body = res.body;
  if (compressed) {
    try {
      body = decode(coding, res.body);
    } catch {
      // Not ours to decode (an answer the app encoded is passed through): compared as bytes.
    }
  }
  return {
    status: res.status,
    coding,
    vary: h.vary,
    etag: h.etag,
    type: h['content-type'],
    length: compressed ? undefined : h['content-length'],
    chunked: h['transfer-encoding'],
    body: body.toString('latin1'),
  };
}

async function ask(port, target, headers, method = 'GET') {
  const c = await RawClient.connect(port);
  try {
    await c.write(buildRequest(method, target, { headers }));
    return await c.readResponse({ head: method === 'HEAD' });
  } finally {
    c.destroy();
  }
}

describe('compression on node:http, beside Rust\'s', () => {
  let native;
  let node;
  const closers = [];

  before(async () => {
    const s = await start(
      (app) => {
        for (const [name, route] of Object.entries(ROUTES)) {
          const handler = (req, res) => {
            res.status(route.status ?? 200);
            for (const [n, v] of route.headers) res.set(n, v);
            if (route.pieces === undefined) return res.end(route.body === undefined ? undefined : Buffer.from(route.body));
            for (const piece of route.pieces) res.write(piece);
            return res.end();
          };
          if (route.compression === undefined) app.get(`/${name}`, handler);
          else app.get(`/${name}`, { compression: route.compression }, handler);
        }
      },
      { appOptions: { compression: true } },
    );
    closers.push(() => s.close());
    native = s.port;
    const specs = Object.fromEntries(
      Object.entries(ROUTES).map(([name, route]) => {
        const own = route.compression === undefined ? undefined : route.compression === false ? false : compression(route.compression, 'route');
        return [name, routeCompression(own, APP_SPEC) ?? APP_SPEC];
      }),
    );
    const srv = http.createServer((req, res) => {
      const name = req.url.slice(1);
      if (ROUTES[name] === undefined) {
        res.statusCode = 404;
        return res.end();
      }
      return answer(req, res, ROUTES[name], specs[name]);
    });
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => srv.close(resolve)));
    node = srv.address().port;
  });
  after(async () => {
    for (const close of closers) await close();
  });

  async function same(target, accept, method = 'GET') {
    const headers = accept === undefined ? [] : [['Accept-Encoding', accept]];
    const [a, b] = [await ask(native, target, headers, method), await ask(node, target, headers, method)];
    assert.deepEqual(shape(b), shape(a), `${method} ${target} with Accept-Encoding: ${accept}`);
    return b;
  }

  // zstd only where node:zlib has it; elsewhere its q-value cannot pick it on the node backend.
  const ACCEPTS = [
    undefined,
    '',
    'gzip',
    'br',
    'x-gzip',
    'GZIP, BR',
    'gzip, deflate, br, zstd',
    'br;q=0.5, gzip;q=0.9',
    'br;q=0, gzip;q=0.001',
    'br;q=0, gzip;q=0',
    'br;q=2, gzip',
    'br;q=abc, gzip;q=0.1',
    'br;level=3',
    '*',
    'gzip, *;q=0',
    '*;q=0',
    'gzip;q=0.5, identity',
    'gzip;q=0.5, identity;q=0.5',
    'identity;q=0',
    'deflate, compress',
    ...(HAS_ZSTD ? ['zstd', 'br;q=0, zstd', 'br;q=0, *'] : []),
  ];

  test('every route, every Accept-Encoding: the same coding, Vary, ETag and bytes', T, async () => {
    for (const name of Object.keys(ROUTES)) {
      for (const accept of ACCEPTS) await same(`/${name}`, accept);
    }
  });

  test('the rules, checked on the node answers themselves', T, async () => {
    const text = await same('/text', 'gzip, br');
    assert.equal(text.headers['content-encoding'], 'br');
    assert.equal(text.headers.vary, 'Accept-Encoding');
    assert.equal(zlib.brotliDecompressSync(text.body).toString(), TEXT);
    assert.equal((await same('/order', 'br, gzip')).headers['content-encoding'], 'gzip', 'the app\'s order breaks ties');
    assert.equal((await same('/text', 'br;q=0.5, gzip;q=0.9')).headers['content-encoding'], 'gzip', 'q-values first');
    const small = await same('/small', 'gzip');
    assert.deepEqual([small.headers['content-encoding'], small.headers.vary], [undefined, 'Accept-Encoding']);
    assert.equal((await same('/edge', 'gzip')).headers['content-encoding'], 'gzip', 'the threshold is inclusive');
    for (const name of ['png', 'untyped', 'notransform', 'encoded', 'off', 'partial', 'streampng']) {
      const res = await same(`/${name}`, 'gzip, br');
      assert.equal(res.headers.vary, undefined, name);
      assert.notEqual(res.headers['content-encoding'], 'br', name);
    }
    assert.equal((await same('/identity', 'gzip')).headers['content-encoding'], 'gzip');
    assert.equal((await same('/strong', 'gzip')).headers.etag, 'W/"v1"');
    assert.equal((await same('/strong')).headers.etag, '"v1"');
    assert.equal((await same('/weak', 'gzip')).headers.etag, 'W/"v2"');
    assert.equal((await same('/vary', 'gzip')).headers.vary, 'Origin, Accept-Encoding');
    assert.equal((await same('/varyhas', 'gzip')).headers.vary, 'accept-encoding, Origin');
    assert.equal((await same('/varystar', 'gzip')).headers.vary, '*');
    assert.equal((await same('/error', 'gzip')).headers['content-encoding'], 'gzip');
    assert.equal((await same('/custom', 'gzip')).headers['content-encoding'], 'gzip');
    assert.equal((await same('/customtext', 'gzip')).headers['content-encoding'], undefined);
    assert.equal((await same('/gzip', 'br, gzip')).headers['content-encoding'], 'gzip');
    assert.equal((await same('/levels', 'gzip')).headers['content-encoding'], 'gzip');
    const big = await same('/big', 'br');
    assert.ok(zlib.brotliDecompressSync(big.body).equals(BIG), 'a body over the synchronous limit');
  });

  test('HEAD gets the unencoded head with Vary; 204 and 304 carry no coding', T, async () => {
    for (const name of ['text', 'json', 'small', 'stream', 'streamlen', 'nocontent', 'notmodified']) {
      for (const accept of [undefined, 'gzip', 'br']) await same(`/${name}`, accept, 'HEAD');
    }
    const head = await same('/text', 'gzip', 'HEAD');
    assert.equal(head.headers['content-encoding'], undefined);
    assert.equal(head.headers.vary, 'Accept-Encoding');
    for (const name of ['nocontent', 'notmodified']) assert.equal((await same(`/${name}`, 'gzip')).headers['content-encoding'], undefined);
  });

  test('streamed answers: chunked and encoded, the app\'s Content-Length dropped, the bytes back', T, async () => {
    for (const coding of ['gzip', 'br']) {
      const res = await same('/streamlen', coding);
      assert.equal(res.headers['content-encoding'], coding);
      assert.equal(res.headers['transfer-encoding'], 'chunked');
      assert.equal(res.headers['content-length'], undefined);
      assert.equal(decode(coding, res.body).toString(), PIECES.join(''));
    }
    assert.equal((await same('/streamlen')).headers['content-length'], String(PIECES.join('').length));
  });

  test('zstd: offered where node:zlib has it; elsewhere a zstd-only client gets the identity answer with Vary', T, async () => {
    const res = await ask(node, '/text', [['Accept-Encoding', 'zstd']]);
    if (HAS_ZSTD) {
      assert.equal(res.headers['content-encoding'], 'zstd');
      assert.equal(decode('zstd', res.body).toString(), TEXT);
    } else {
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(res.headers.vary, 'Accept-Encoding');
      assert.equal(res.text, TEXT);
      assert.equal(acceptedCoding(APP_SPEC, 'zstd, gzip;q=0.5'), 'gzip');
      // `*` covers zstd on the native backend; here the next coding the app lists.
      assert.equal((await ask(node, '/text', [['Accept-Encoding', 'br;q=0, *']])).headers['content-encoding'], 'gzip');
    }
  });

  test('node fetch decodes what it negotiated', T, async () => {
    for (const name of ['text', 'big', 'stream']) {
      const res = await fetch(`http://127.0.0.1:${node}/${name}`, { signal: AbortSignal.timeout(5000) });
      const body = Buffer.from(await res.arrayBuffer());
      assert.ok(body.equals(Buffer.from(ROUTES[name].body ?? ROUTES[name].pieces.join(''))), name);
    }
  });
});

// Each piece is written only once the client has decoded the one before: an encoder that held
// bytes back until more came would leave the client waiting for a piece that never comes.
for (const coding of ['gzip', 'br', ...(HAS_ZSTD ? ['zstd'] : [])]) {
  test(`compressStream(${coding}): every piece decodes as it arrives, before the next is written`, T, async (t) => {
    const events = 5;
    const acks = Array.from({ length: events }, () => deferred());
    const spec = compression(true, 'test');
    const srv = http.createServer(async (req, res) => {
      const headers = [['content-type', 'text/event-stream']];
      const chosen = negotiate(spec, req.headers['accept-encoding'], 200, headers);
      res.writeHead(200, rewriteHeaders(headers, chosen, true).flat());
      const sink = compressStream(chosen, spec);
      sink.pipe(res);
      for (let i = 0; i < events; i++) {
        sink.write(`id: ${i}\ndata: ${'x'.repeat(300)}\n\n`);
        await acks[i].promise;
      }
      sink.end();
    });
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => srv.close(resolve)));
    const decoder = coding === 'gzip' ? zlib.createGunzip() : coding === 'br' ? zlib.createBrotliDecompress() : zlib.createZstdDecompress();
    let decoded = '';
    decoder.on('data', (d) => {
      decoded += d.toString();
      for (let i = 0; i < events; i++) if (decoded.includes(`id: ${i}\n`) && decoded.endsWith('\n\n')) acks[i].resolve();
    });
    const c = await RawClient.connect(srv.address().port);
    t.after(() => c.destroy());
    let fed = 0;
    let head;
    c.socket.on('data', () => {
      const got = chunkedSoFar(c.buf);
      if (got.head === undefined) return;
      head = got.head;
      if (got.body.length > fed) {
        decoder.write(got.body.subarray(fed));
        fed = got.body.length;
      }
      if (got.ended) decoder.end();
    });
    await c.write(buildRequest('GET', '/', { headers: { 'Accept-Encoding': coding } }));
    for (let i = 0; i < events; i++) await withTimeout(acks[i].promise, 10000, `piece ${i} decoded before piece ${i + 1} is written`);
    await withTimeout(new Promise((resolve) => decoder.on('end', resolve)), 10000, 'the stream to end');
    assert.match(head, new RegExp(`\r\ncontent-encoding: ${coding}\r\n`, 'i'));
    assert.match(head, /\r\nvary: Accept-Encoding\r\n/i);
    assert.equal(decoded.split('id: ').length - 1, events);
  });
}
