'use strict';
// The `compression` middleware, unmodified. It replaces res.write/res.end and wraps writeHead
// (on-headers); every answer (res.send/json too, as Express's send calls res.end) goes through
// them. Checked on the raw bytes (fetch would decode them).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const { Readable } = require('node:stream');
const compression = require('compression');
const { serve, get } = require('./helpers');

const T = { timeout: 15000 };
const BIG = 'compress me please '.repeat(200);

function setup(app) {
  app.use(compression());
  app.get('/big', (req, res) => res.send(BIG));
  app.get('/json', (req, res) => res.json({ text: BIG }));
  app.get('/small', (req, res) => res.send('tiny'));
  app.get('/no-transform', (req, res) => res.set('cache-control', 'no-transform').send(BIG));
  app.get('/image', (req, res) => res.type('image/png').send(Buffer.alloc(4096, 1)));
  app.get('/streamed', (req, res) => {
    res.type('text');
    res.write(BIG);
    res.write(BIG);
    res.end('end');
  });
  app.get('/piped', (req, res) => res.type('text').send(Readable.from([BIG, BIG])));
}

test('over the threshold, gzip/deflate/br by Accept-Encoding with Vary; the body decodes to what was sent', T, async (t) => {
  const s = await serve(t, setup);
  const gz = await get(s.port, '/big', { headers: [['accept-encoding', 'gzip']] });
  assert.equal(gz.status, 200);
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(gz.headers.vary, 'Accept-Encoding');
  assert.equal(gz.headers['content-length'], undefined);
  assert.equal(zlib.gunzipSync(gz.body).toString(), BIG);
  assert.ok(gz.body.length < BIG.length / 10);

  const deflated = await get(s.port, '/json', { headers: [['accept-encoding', 'deflate']] });
  assert.equal(deflated.headers['content-encoding'], 'deflate');
  assert.deepEqual(JSON.parse(zlib.inflateSync(deflated.body)), { text: BIG });

  const br = await get(s.port, '/big', { headers: [['accept-encoding', 'br']] });
  assert.equal(br.headers['content-encoding'], 'br');
  assert.equal(zlib.brotliDecompressSync(br.body).toString(), BIG);
});

test('below the threshold, without Accept-Encoding, no-transform, or an incompressible type: sent as is', T, async (t) => {
  const s = await serve(t, setup);
  const small = await get(s.port, '/small', { headers: [['accept-encoding', 'gzip']] });
  assert.equal(small.headers['content-encoding'], undefined);
  assert.equal(small.text, 'tiny');
  assert.equal(small.headers.vary, 'Accept-Encoding');

  const identity = await get(s.port, '/big', { headers: [['accept-encoding', 'identity']] });
  assert.equal(identity.headers['content-encoding'], undefined);
  assert.equal(identity.text, BIG);

  const noTransform = await get(s.port, '/no-transform', { headers: [['accept-encoding', 'gzip']] });
  assert.equal(noTransform.headers['content-encoding'], undefined);
  assert.equal(noTransform.text, BIG);

  const image = await get(s.port, '/image', { headers: [['accept-encoding', 'gzip']] });
  assert.equal(image.headers['content-encoding'], undefined);
  assert.equal(image.body.length, 4096);

  const head = await get(s.port, '/big', { method: 'HEAD', headers: [['accept-encoding', 'gzip']] });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-encoding'], undefined);
  assert.equal(head.body.length, 0);
});

test('a streamed answer (res.write/end) and res.send(stream) are compressed as they go', T, async (t) => {
  const s = await serve(t, setup);
  const streamed = await get(s.port, '/streamed', { headers: [['accept-encoding', 'gzip']] });
  assert.equal(streamed.headers['content-encoding'], 'gzip');
  assert.equal(streamed.headers['transfer-encoding'], 'chunked');
  assert.equal(zlib.gunzipSync(streamed.body).toString(), `${BIG}${BIG}end`);

  const piped = await get(s.port, '/piped', { headers: [['accept-encoding', 'gzip']] });
  assert.equal(piped.headers['content-encoding'], 'gzip');
  assert.equal(zlib.gunzipSync(piped.body).toString(), `${BIG}${BIG}`);
});

test('res.flush() (added by compression) sends what was written so far while the answer stays open', T, async (t) => {
  const { RawClient, buildRequest, deferred } = require('./helpers');
  const release = deferred();
  const s = await serve(t, (app) => {
    app.use(compression());
    app.get('/sse', async (req, res) => {
      res.type('text/event-stream');
      res.write('data: first\n\n');
      res.flush();
      await release.promise;
      res.end('data: last\n\n');
    });
  });
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  await c.write(buildRequest('GET', '/sse', { headers: [['accept-encoding', 'gzip']] }));
  const { chunkedSoFar, waitUntil } = require('./helpers');
  const first = await waitUntil(() => {
    const { head, body } = chunkedSoFar(c.buf);
    if (head === undefined || body.length === 0) return undefined;
    try {
      return zlib.gunzipSync(body, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString();
    } catch {
      return undefined;
    }
  }, { what: 'the flushed first event' });
  assert.equal(first, 'data: first\n\n');
  release.resolve();
  const res = await c.readResponse();
  assert.equal(zlib.gunzipSync(res.body).toString(), 'data: first\n\ndata: last\n\n');
});

test('res.sendFile() under compression: the file goes as it is on disk, never labelled with an encoding it does not have', T, async (t) => {
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-compression-file-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'big.txt');
  fs.writeFileSync(file, BIG);
  const s = await serve(t, (app) => {
    app.use(compression());
    // A content type set first makes compression's writeHead listener choose gzip.
    app.get('/file', (req, res) => res.type('text/plain').sendFile(file));
  });
  const res = await get(s.port, '/file', { headers: [['accept-encoding', 'gzip']] });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-encoding'], undefined);
  assert.equal(res.text, BIG);
});
