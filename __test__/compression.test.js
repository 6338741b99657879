'use strict';
// Compression (createApp({ compression }) and route options): Accept-Encoding negotiation with
// q-values, the rules that leave an answer alone (threshold, type, no-transform, already encoded,
// HEAD, 204/304), Vary and weak ETags, res.ncache and app.static variants made once, streamed
// answers and SSE decoded event by event, and bytes unchanged after decompression, as raw sockets,
// node fetch and curl --compressed see them.
const { test, describe, before, after } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const { execFile, execFileSync } = require('node:child_process');
const { createApp } = require('..');
const { start, serve, get, buildRequest, RawClient, request, curlMissing, deferred, withTimeout, chunkedSoFar } = require('./helpers');
const chromium = require('./support/chromium');

const T = { timeout: 30000 };
const CODINGS = ['br', 'zstd', 'gzip'];
// Long enough to be compressed (over the 1024-byte default threshold), and compressible.
const TEXT = 'The quick brown fox jumps over the lazy dog. '.repeat(100);
const JSON_BODY = { items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'] })) };

// zstd: node's zlib has it from 22.15/23.8; before that the zstd command line decodes it.
let zstdChecked;
function zstdMissing() {
  if (zstdChecked === undefined) {
    zstdChecked = 'neither node:zlib (node < 22.15) nor a zstd command can decode zstd here';
    if (typeof zlib.zstdDecompressSync === 'function') zstdChecked = false;
    else {
      try {
        execFileSync('zstd', ['--version'], { stdio: 'ignore' });
        zstdChecked = false;
      } catch {}
    }
  }
  return zstdChecked;
}

function decode(coding, buf) {
  switch (coding) {
    case 'gzip':
      return zlib.gunzipSync(buf);
    case 'br':
      return zlib.brotliDecompressSync(buf);
    case 'zstd':
      if (typeof zlib.zstdDecompressSync === 'function') return zlib.zstdDecompressSync(buf);
      return execFileSync('zstd', ['-d', '-c', '-q'], { input: buf, maxBuffer: 64 << 20 });
    default:
      throw new Error(`no decoder for ${coding}`);
  }
}

// A decoder fed bytes as they arrive, as a browser's is; null where node has none (zstd < 22.15).
function streamingDecoder(coding) {
  if (coding === 'gzip') return zlib.createGunzip();
  if (coding === 'br') return zlib.createBrotliDecompress();
  if (coding === 'zstd' && typeof zlib.createZstdDecompress === 'function') return zlib.createZstdDecompress();
  return null;
}

function curl(args) {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--max-time', '20', ...args], { encoding: 'buffer', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`curl ${args.join(' ')}: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

// A raw GET with these request headers; `head` for a HEAD.
function ask(port, target, headers = {}, method = 'GET') {
  return get(port, target, { method, headers });
}

describe('negotiation and the rules', () => {
  let s;
  before(async () => {
    s = await start(
      (app) => {
        app.get('/text', (req, res) => res.type('text/plain').send(TEXT));
        app.get('/json', (req, res) => res.json(JSON_BODY));
        app.get('/sized/:n', (req, res) => res.type('text/plain').send('x'.repeat(Number(req.params.n))));
        app.get('/png', (req, res) => res.type('image/png').send(Buffer.alloc(5000, 7)));
        app.get('/untyped', (req, res) => res.send(Buffer.alloc(5000, 7)));
        app.get('/no-transform', (req, res) => res.set('cache-control', 'public, no-transform').type('text/plain').send(TEXT));
        app.get('/encoded', (req, res) => res.set('content-encoding', 'gzip').type('text/plain').send(zlib.gzipSync(TEXT)));
        app.get('/identity', (req, res) => res.set('content-encoding', 'identity').type('text/plain').send(TEXT));
        app.get('/no-content', (req, res) => res.status(204).set('content-type', 'text/plain').end());
        app.get('/not-modified', (req, res) => res.status(304).set('content-type', 'text/plain').end());
        app.get('/strong', (req, res) => res.set('etag', '"v1"').type('text/plain').send(TEXT));
        app.get('/weak', (req, res) => res.set('etag', 'W/"v2"').type('text/plain').send(TEXT));
        app.get('/vary', (req, res) => res.set('vary', 'Origin').type('text/plain').send(TEXT));
        app.get('/vary-star', (req, res) => res.set('vary', '*').type('text/plain').send(TEXT));
        app.get('/error', (req, res) => res.status(404).type('text/html').send(`<p>${TEXT}</p>`));
        app.get('/off', { compression: false }, (req, res) => res.type('text/plain').send(TEXT));
        app.get('/gzip-only', { compression: { encodings: ['gzip'], threshold: 0 } }, (req, res) => res.type('text/plain').send('tiny'));
        app.get('/custom-type', { compression: { types: ['application/x-custom'] } }, (req, res) => res.type('application/x-custom').send(TEXT));
        app.get('/custom-type/text', { compression: { types: ['application/x-custom'] } }, (req, res) => res.type('text/plain').send(TEXT));
        app.get('/levels', { compression: { level: { gzip: 1, br: 0, zstd: 1 } } }, (req, res) => res.type('text/plain').send(TEXT));
      },
      { appOptions: { compression: true } },
    );
  });
  after(() => s.close());

  test('each coding alone: Content-Encoding, Vary, the encoded length, and the bytes back after decoding', T, async (t) => {
    for (const coding of CODINGS) {
      if (coding === 'zstd' && zstdMissing()) {
        t.diagnostic(`zstd not decoded: ${zstdMissing()}`);
        continue;
      }
      const res = await ask(s.port, '/text', { 'Accept-Encoding': coding });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], coding);
      assert.equal(res.headers.vary, 'Accept-Encoding');
      assert.equal(Number(res.headers['content-length']), res.body.length);
      assert.ok(res.body.length < TEXT.length / 5, `${coding}: ${res.body.length} bytes`);
      assert.equal(decode(coding, res.body).toString(), TEXT);
    }
  });

  test('q-values, *, identity;q=0 and unknown codings choose as RFC 9110 says', T, async () => {
    const cases = [
      [undefined, undefined],
      ['', undefined],
      ['gzip, deflate, br, zstd', 'br'],
      ['gzip, zstd', 'zstd'],
      ['br;q=0.5, gzip;q=0.9', 'gzip'],
      ['br;q=0.5, gzip;q=0.9, zstd;q=0.91', 'zstd'],
      ['gzip;q=0, br;q=0, zstd;q=0', undefined],
      ['*', 'br'],
      ['br;q=0, *', 'zstd'],
      ['*;q=0', undefined],
      ['identity;q=0, gzip;q=0.1', 'gzip'],
      ['gzip;q=0.5, identity', undefined],
      ['deflate, compress', undefined],
      ['x-gzip', 'gzip'],
      ['GZIP;Q=1', 'gzip'],
    ];
    for (const [accept, expected] of cases) {
      const res = await ask(s.port, '/text', accept === undefined ? {} : { 'Accept-Encoding': accept });
      assert.equal(res.headers['content-encoding'], expected, `Accept-Encoding: ${accept}`);
      assert.equal(res.headers.vary, 'Accept-Encoding', `Vary with Accept-Encoding: ${accept}`);
      const body = expected === undefined ? res.body : decode(expected, res.body);
      if (expected !== 'zstd' || !zstdMissing()) assert.equal(body.toString(), TEXT);
    }
  });

  test('threshold: shorter bodies go out as they are, still with Vary', T, async () => {
    const small = await ask(s.port, '/sized/1023', { 'Accept-Encoding': 'gzip' });
    assert.equal(small.headers['content-encoding'], undefined);
    assert.equal(small.headers.vary, 'Accept-Encoding');
    assert.equal(small.body.length, 1023);
    const big = await ask(s.port, '/sized/1024', { 'Accept-Encoding': 'gzip' });
    assert.equal(big.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(big.body).toString(), 'x'.repeat(1024));
    // A route's own threshold (0) and encodings (gzip only).
    const tiny = await ask(s.port, '/gzip-only', { 'Accept-Encoding': 'br, zstd, gzip' });
    assert.equal(tiny.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(tiny.body).toString(), 'tiny');
    assert.equal((await ask(s.port, '/gzip-only', { 'Accept-Encoding': 'br' })).headers['content-encoding'], undefined);
  });

  test('types: images and untyped bodies are left alone, without Vary; a route may list its own types', T, async () => {
    for (const target of ['/png', '/untyped']) {
      const res = await ask(s.port, target, { 'Accept-Encoding': 'gzip, br' });
      assert.equal(res.headers['content-encoding'], undefined, target);
      assert.equal(res.headers.vary, undefined, target);
      assert.deepEqual(res.body, Buffer.alloc(5000, 7));
    }
    const custom = await ask(s.port, '/custom-type', { 'Accept-Encoding': 'gzip' });
    assert.equal(custom.headers['content-encoding'], 'gzip');
    const text = await ask(s.port, '/custom-type/text', { 'Accept-Encoding': 'gzip' });
    assert.equal(text.headers['content-encoding'], undefined, 'text/plain is not in that route\'s list');
  });

  test('Cache-Control: no-transform and an answer the app encoded itself go out untouched', T, async () => {
    const nt = await ask(s.port, '/no-transform', { 'Accept-Encoding': 'gzip, br' });
    assert.equal(nt.headers['content-encoding'], undefined);
    assert.equal(nt.text, TEXT);
    // `Content-Encoding: identity` is no coding: the answer is compressed, and says so once.
    const identity = await ask(s.port, '/identity', { 'Accept-Encoding': 'br' });
    assert.equal(identity.headers['content-encoding'], 'br');
    assert.equal(decode('br', identity.body).toString(), TEXT);
    const own = await ask(s.port, '/encoded', { 'Accept-Encoding': 'br, gzip' });
    assert.equal(own.headers['content-encoding'], 'gzip');
    assert.equal(own.headers.vary, undefined);
    assert.equal(zlib.gunzipSync(own.body).toString(), TEXT, 'encoded once, by the app');
  });

  test('HEAD gets the unencoded length and Vary; 204 and 304 carry no coding', T, async () => {
    const head = await ask(s.port, '/text', { 'Accept-Encoding': 'gzip, br' }, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-encoding'], undefined);
    assert.equal(head.headers.vary, 'Accept-Encoding');
    assert.equal(Number(head.headers['content-length']), TEXT.length);
    assert.equal(head.body.length, 0);
    for (const [target, status] of [['/no-content', 204], ['/not-modified', 304]]) {
      const res = await ask(s.port, target, { 'Accept-Encoding': 'gzip, br' });
      assert.equal(res.status, status);
      assert.equal(res.headers['content-encoding'], undefined, target);
      assert.equal(res.headers['content-length'], undefined, target);
    }
  });

  test('a strong ETag becomes weak on an encoded answer; a weak one and an unencoded one are kept', T, async () => {
    const encoded = await ask(s.port, '/strong', { 'Accept-Encoding': 'br' });
    assert.equal(encoded.headers['content-encoding'], 'br');
    assert.equal(encoded.headers.etag, 'W/"v1"');
    const plain = await ask(s.port, '/strong');
    assert.equal(plain.headers.etag, '"v1"');
    const weak = await ask(s.port, '/weak', { 'Accept-Encoding': 'br' });
    assert.equal(weak.headers.etag, 'W/"v2"');
  });

  test('Vary merges with the app\'s own; error pages are compressed too', T, async () => {
    assert.equal((await ask(s.port, '/vary', { 'Accept-Encoding': 'br' })).headers.vary, 'Origin, Accept-Encoding');
    assert.equal((await ask(s.port, '/vary')).headers.vary, 'Origin, Accept-Encoding');
    assert.equal((await ask(s.port, '/vary-star', { 'Accept-Encoding': 'br' })).headers.vary, '*');
    const notFound = await ask(s.port, '/error', { 'Accept-Encoding': 'gzip' });
    assert.equal(notFound.status, 404);
    assert.equal(zlib.gunzipSync(notFound.body).toString(), `<p>${TEXT}</p>`);
  });

  test('compression: false on a route turns it off there: no coding, no Vary', T, async () => {
    const res = await ask(s.port, '/off', { 'Accept-Encoding': 'gzip, br, zstd' });
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.headers.vary, undefined);
    assert.equal(res.text, TEXT);
  });

  test('levels are the route\'s: a lower level still decodes to the same bytes', T, async () => {
    for (const coding of ['gzip', 'br']) {
      const res = await ask(s.port, '/levels', { 'Accept-Encoding': coding });
      assert.equal(res.headers['content-encoding'], coding);
      assert.equal(decode(coding, res.body).toString(), TEXT);
    }
  });

  test('node fetch decodes what it asked for (gzip by default, br when asked)', T, async () => {
    const res = await request(s.base, '/json');
    assert.match(res.headers.get('content-encoding'), /^(gzip|br)$/);
    assert.deepEqual(await res.json(), JSON_BODY);
    const br = await request(s.base, '/json', { headers: { 'accept-encoding': 'br' } });
    assert.equal(br.headers.get('content-encoding'), 'br');
    assert.deepEqual(await br.json(), JSON_BODY);
  });

  test('curl --compressed: br by preference, and gzip and zstd when only those are offered', { ...T, skip: curlMissing() }, async () => {
    const expected = Buffer.from(JSON.stringify(JSON_BODY));
    const headers = (await curl(['--compressed', '-D', '-', '-o', '/dev/null', `${s.base}/json`])).toString();
    assert.match(headers, /^content-encoding: br\r$/im);
    assert.deepEqual(await curl(['--compressed', `${s.base}/json`]), expected);
    for (const coding of ['gzip', 'zstd']) {
      const args = ['--compressed', '-H', `Accept-Encoding: ${coding}`];
      const seen = (await curl([...args, '-D', '-', '-o', '/dev/null', `${s.base}/json`])).toString();
      assert.match(seen, new RegExp(`^content-encoding: ${coding}\\r$`, 'im'));
      assert.deepEqual(await curl([...args, `${s.base}/json`]), expected, coding);
    }
  });
});

test('default off: no option, no coding and no Vary', T, async (t) => {
  const s = await serve(t, (app) => app.get('/text', (req, res) => res.type('text/plain').send(TEXT)));
  const res = await ask(s.port, '/text', { 'Accept-Encoding': 'gzip, br, zstd' });
  assert.equal(res.headers['content-encoding'], undefined);
  assert.equal(res.headers.vary, undefined);
  assert.equal(res.text, TEXT);
});

test('a route may turn compression on when the app has it off', T, async (t) => {
  const s = await serve(t, (app) => {
    app.get('/on', { compression: true }, (req, res) => res.type('text/plain').send(TEXT));
    app.get('/plain', (req, res) => res.type('text/plain').send(TEXT));
  });
  assert.equal((await ask(s.port, '/on', { 'Accept-Encoding': 'gzip' })).headers['content-encoding'], 'gzip');
  assert.equal((await ask(s.port, '/plain', { 'Accept-Encoding': 'gzip' })).headers['content-encoding'], undefined);
});

test('bad options are coded errors', T, async () => {
  for (const compression of ['yes', null, 1, { threshold: -1 }, { encodings: ['deflate'] }, { encodings: [] }, { encodings: ['br', 'br'] }, { level: { br: 12 } }, { level: { gzip: 0 } }, { level: { lz4: 1 } }, { types: ['text'] }, { types: 'text/*' }, { x: 1 }]) {
    assert.throws(() => createApp({ compression }), { code: 'HN_ERR_BAD_OPTION' }, JSON.stringify(compression));
    const app = createApp();
    assert.throws(() => app.get('/', { compression }, () => {}), { code: 'HN_ERR_BAD_OPTION' }, `route ${JSON.stringify(compression)}`);
  }
  await assert.rejects(createApp().listen({ port: 0, compression: true }), { code: 'HN_ERR_BAD_OPTION' });
});

describe('res.ncache and app.static: each coding made once and kept', () => {
  let s;
  let runs = 0;
  const css = 'body { color: #333; margin: 0 auto; max-width: 60em }\n'.repeat(60);
  before(async () => {
    s = await start(
      (app) => {
        app.get('/cached', (req, res) => {
          runs++;
          res.type('text/plain');
          res.ncache(TEXT, 60);
        });
        app.get('/cached-off', { compression: false }, (req, res) => {
          res.type('text/plain');
          res.ncache(TEXT, 60);
        });
        app.static('/site.css', css, { type: 'css' });
        app.static('/logo.png', Buffer.alloc(4000, 1), { type: 'png' });
      },
      { appOptions: { compression: true } },
    );
  });
  after(() => s.close());

  test('res.ncache: one handler run; each coding encoded on first use, counted in cache bytes, then the same bytes', T, async () => {
    const first = await ask(s.port, '/cached', { 'Accept-Encoding': 'br' });
    assert.equal(first.headers['content-encoding'], 'br');
    assert.equal(first.headers.vary, 'Accept-Encoding');
    assert.match(first.headers.etag, /^W\/"/);
    assert.equal(decode('br', first.body).toString(), TEXT);
    const bytes = s.server.stats().cache.bytes;
    const again = await ask(s.port, '/cached', { 'Accept-Encoding': 'gzip;q=0.5, br' });
    assert.deepEqual(again.body, first.body, 'the stored variant');
    assert.equal(s.server.stats().cache.bytes, bytes, 'made once');
    const gz = await ask(s.port, '/cached', { 'Accept-Encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(gz.body).toString(), TEXT);
    assert.ok(s.server.stats().cache.bytes > bytes, 'the gzip variant counts against the cache bound');
    const plain = await ask(s.port, '/cached');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers.vary, 'Accept-Encoding');
    assert.match(plain.headers.etag, /^"/);
    assert.equal(plain.text, TEXT);
    const head = await ask(s.port, '/cached', { 'Accept-Encoding': 'br' }, 'HEAD');
    assert.equal(head.headers['content-encoding'], undefined);
    assert.equal(Number(head.headers['content-length']), TEXT.length);
    assert.equal(runs, 1, 'the handler ran once');
  });

  test('res.ncache: a 304 for either tag of an encoded variant, repeating the weak tag and Vary', T, async () => {
    const res = await ask(s.port, '/cached', { 'Accept-Encoding': 'br' });
    for (const tag of [res.headers.etag, res.headers.etag.slice(2)]) {
      const nm = await ask(s.port, '/cached', { 'Accept-Encoding': 'br', 'If-None-Match': tag });
      assert.equal(nm.status, 304, tag);
      assert.equal(nm.headers.etag, res.headers.etag);
      assert.equal(nm.headers.vary, 'Accept-Encoding');
      assert.equal(nm.headers['content-encoding'], undefined);
    }
  });

  test('res.ncache on a route with compression off is stored and served as is', T, async () => {
    for (let i = 0; i < 2; i++) {
      const res = await ask(s.port, '/cached-off', { 'Accept-Encoding': 'br, gzip' });
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(res.headers.vary, undefined);
      assert.equal(res.text, TEXT);
    }
  });

  test('app.static: variants per coding, natively, with Vary and a weak tag; images left alone', T, async (t) => {
    const before = s.server.stats().requests.js;
    for (const coding of CODINGS) {
      for (let i = 0; i < 2; i++) {
        const res = await ask(s.port, '/site.css', { 'Accept-Encoding': coding });
        assert.equal(res.headers['content-encoding'], coding);
        assert.equal(res.headers.vary, 'Accept-Encoding');
        assert.match(res.headers.etag, /^W\/"/);
        if (coding === 'zstd' && zstdMissing()) t.diagnostic(`zstd not decoded: ${zstdMissing()}`);
        else assert.equal(decode(coding, res.body).toString(), css);
      }
    }
    const plain = await ask(s.port, '/site.css');
    assert.equal(plain.text, css);
    assert.equal(plain.headers.vary, 'Accept-Encoding');
    const nm = await ask(s.port, '/site.css', { 'Accept-Encoding': 'gzip', 'If-None-Match': plain.headers.etag });
    assert.equal(nm.status, 304);
    assert.match(nm.headers.etag, /^W\/"/);
    const png = await ask(s.port, '/logo.png', { 'Accept-Encoding': 'gzip' });
    assert.equal(png.headers['content-encoding'], undefined);
    assert.equal(png.headers.vary, undefined);
    assert.equal(s.server.stats().requests.js, before, 'no JS ran');
  });
});

describe('streamed answers', () => {
  test('res.write pieces: chunked, encoded, the app\'s Content-Length dropped, the bytes back', T, async (t) => {
    const pieces = Array.from({ length: 20 }, (_, i) => `piece ${i}: ${'lorem ipsum '.repeat(i * 10)}\n`);
    const s = await serve(
      t,
      (app) => {
        app.get('/stream', (req, res) => {
          res.type('text/plain');
          res.set('content-length', String(pieces.join('').length));
          for (const p of pieces) res.write(p);
          res.end();
        });
      },
      { appOptions: { compression: true } },
    );
    for (const coding of CODINGS) {
      if (coding === 'zstd' && zstdMissing()) continue;
      const res = await ask(s.port, '/stream', { 'Accept-Encoding': coding });
      assert.equal(res.headers['content-encoding'], coding);
      assert.equal(res.headers['transfer-encoding'], 'chunked');
      assert.equal(res.headers['content-length'], undefined);
      assert.equal(res.headers.vary, 'Accept-Encoding');
      assert.equal(decode(coding, res.body).toString(), pieces.join(''));
    }
    const plain = await ask(s.port, '/stream');
    assert.equal(plain.headers['content-length'], String(pieces.join('').length), 'unencoded keeps the app\'s length');
    assert.equal(plain.text, pieces.join(''));
    const head = await ask(s.port, '/stream', { 'Accept-Encoding': 'gzip' }, 'HEAD');
    assert.equal(head.headers['content-encoding'], undefined);
  });

  // Each event is sent only once the client has decoded the one before: were an encoder to hold
  // bytes back until more came, the client would wait for an event that never comes.
  for (const coding of CODINGS) {
    test(`SSE with ${coding}: every event decodes as it arrives, before the next is sent`, T, async (t) => {
      const decoder = streamingDecoder(coding);
      if (decoder === null) {
        t.skip(`node ${process.version} has no streaming ${coding} decoder`);
        return;
      }
      const events = 5;
      const acks = Array.from({ length: events }, () => deferred());
      const s = await serve(
        t,
        (app) => {
          app.get('/events', async (req, res) => {
            const sse = res.sse({ heartbeat: 0 });
            for (let i = 0; i < events; i++) {
              sse.send({ id: i, event: 'tick', data: { n: i, pad: 'x'.repeat(300) } });
              await acks[i].promise;
            }
            sse.close();
          });
        },
        { appOptions: { compression: true } },
      );
      const c = await RawClient.connect(s.port);
      t.after(() => c.destroy());
      let decoded = '';
      decoder.on('data', (d) => {
        decoded += d.toString();
        for (let i = 0; i < events; i++) {
          if (decoded.includes(`id: ${i}\nevent: tick\ndata: {"n":${i},`) && decoded.endsWith('\n\n')) acks[i].resolve();
        }
      });
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
      await c.write(buildRequest('GET', '/events', { headers: { 'Accept-Encoding': coding } }));
      for (let i = 0; i < events; i++) await withTimeout(acks[i].promise, 10000, `event ${i} decoded before event ${i + 1} is sent`);
      await withTimeout(new Promise((resolve) => decoder.on('end', resolve)), 10000, 'the stream to end');
      assert.match(head, new RegExp(`\r\ncontent-encoding: ${coding}\r\n`, 'i'));
      assert.match(head, /\r\ntransfer-encoding: chunked\r\n/i);
      assert.equal(decoded.split('event: tick').length - 1, events);
    });
  }
});

// A real EventSource: each event must reach the page (decoded by the browser) before the server
// sends the next, or the page never acknowledges it and the test times out.
test('EventSource in headless Chromium gets each compressed event as it is sent', { skip: chromium.skip, timeout: 120000 }, async (t) => {
  const events = 4;
  const acks = Array.from({ length: events }, () => deferred());
  let accepted;
  let report;
  const s = await serve(
    t,
    (app) => {
      app.get('/', (req, res) =>
        res.html(
          chromium.page(`
            const es = new EventSource('/events');
            const got = [];
            await new Promise((resolve, reject) => {
              es.addEventListener('tick', (e) => {
                got.push(JSON.parse(e.data).n);
                fetch('/ack/' + e.lastEventId, { method: 'POST' });
              });
              es.addEventListener('done', () => {
                es.close();
                resolve();
              });
              es.onerror = () => reject(new Error('EventSource error, readyState ' + es.readyState));
            });
            return { got };
          `),
        ),
      );
      app.get('/events', async (req, res) => {
        accepted = req.get('accept-encoding');
        const sse = res.sse({ heartbeat: 0 });
        for (let i = 0; i < events; i++) {
          sse.send({ id: i, event: 'tick', data: { n: i, pad: 'x'.repeat(200) } });
          await acks[i].promise;
        }
        sse.send({ event: 'done', data: '' });
      });
      app.post('/ack/:n', (req, res) => {
        acks[Number(req.params.n)].resolve();
        res.status(204).end();
      });
      report = chromium.reports(app);
    },
    { appOptions: { compression: true } },
  );
  const { got } = await chromium.run(t, `${s.base}/`, report);
  t.diagnostic(`Accept-Encoding: ${accepted}`);
  assert.deepEqual(got, [0, 1, 2, 3]);
  assert.match(accepted, /\b(gzip|br|zstd)\b/, 'the browser accepts a coding we offer, so the stream was compressed');
});

describe('bytes unchanged after decompression', () => {
  let s;
  const payloads = new Map();
  const sizes = [0, 1, 1023, 1024, 4097, 65537, (1 << 20) + 3];
  for (const size of sizes) {
    payloads.set(`random-${size}`, crypto.randomBytes(size));
    const words = ['alpha', 'beta', 'gamma', '{"k":1}', '\n', 'é', 'data: x\n\n'];
    let text = '';
    while (text.length < size) text += words[crypto.randomInt(words.length)] + ' ';
    payloads.set(`text-${size}`, Buffer.from(text).subarray(0, size));
  }
  before(async () => {
    s = await start(
      (app) => {
        app.get('/whole/:name', (req, res) => res.type('text/plain').send(payloads.get(req.params.name)));
        app.get('/streamed/:name', (req, res) => {
          const body = payloads.get(req.params.name);
          res.type('text/plain');
          // Uneven pieces, so piece boundaries fall anywhere.
          let at = 0;
          for (let i = 1; at < body.length; i++) {
            const n = Math.min(body.length - at, (i * 7919) % 70000 + 1);
            res.write(body.subarray(at, at + n));
            at += n;
          }
          res.end();
        });
      },
      { appOptions: { compression: { threshold: 0 } } },
    );
  });
  after(() => s.close());

  test('random and text payloads of several sizes, whole and streamed, in every coding', { timeout: 120000 }, async (t) => {
    for (const coding of CODINGS) {
      if (coding === 'zstd' && zstdMissing()) {
        t.diagnostic(`zstd skipped: ${zstdMissing()}`);
        continue;
      }
      for (const [name, body] of payloads) {
        for (const kind of ['whole', 'streamed']) {
          const res = await ask(s.port, `/${kind}/${name}`, { 'Accept-Encoding': coding });
          assert.equal(res.status, 200);
          assert.equal(res.headers['content-encoding'], coding, `${kind} ${name}`);
          assert.ok(decode(coding, res.body).equals(body), `${coding} ${kind} ${name}`);
        }
      }
    }
  });
});
