'use strict';
// Streamed responses (issue 11), end to end over real sockets: res.write/end/flushHeaders and their
// framing on the wire (chunked on HTTP/1.1, close-delimited on 1.0, a Content-Length the app set),
// backpressure against a client that does not read, every source res.send() and pipe() take, a
// source or handler failing mid-stream, a client leaving mid-stream, pipelining behind a stream,
// res.ncache(stream), streamTimeout versus handlerTimeout, and server.close() with a stream open.
// Raw node:net clients where the bytes on the wire are the point, fetch and curl where a real
// client's view is.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const { Readable } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const { execFile } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const {
  serve,
  request,
  buildRequest,
  parseResponse,
  RawClient,
  sleep,
  withTimeout,
  waitUntil,
  assertStillServes,
  deferred,
  curlMissing,
} = require('./helpers');

const T = { timeout: 30000 };

// Every server here answers GET / with 'ok', for assertStillServes.
function withRoot(app) {
  app.get('/', (req, res) => res.send('ok'));
}

// Resolves once the raw client's buffer satisfies `check` (returns a value other than undefined).
function until(client, check, what, timeout = 10000) {
  return client._waitFor(check, timeout, what);
}

// Splits raw response bytes at the end of the head.
function splitHead(buf) {
  const end = buf.indexOf('\r\n\r\n');
  assert.notEqual(end, -1, `a complete head in ${JSON.stringify(buf.toString('latin1').slice(0, 200))}`);
  return { head: buf.subarray(0, end + 4).toString('latin1'), rest: buf.subarray(end + 4) };
}

// Decodes chunked framing strictly: every size line is hex digits and CRLF, every chunk's data is
// followed by CRLF. Returns the body, whether the last (zero) chunk and its CRLF arrived, the
// number of data chunks, and the bytes after the framing.
function decodeChunked(buf) {
  const parts = [];
  let pos = 0;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', pos);
    if (lineEnd === -1) return { body: Buffer.concat(parts), complete: false, chunks: parts.length, rest: Buffer.alloc(0) };
    const line = buf.subarray(pos, lineEnd).toString('latin1');
    assert.match(line, /^[0-9a-f]+$/i, `a chunk size line, got ${JSON.stringify(line)}`);
    const size = parseInt(line, 16);
    pos = lineEnd + 2;
    if (size === 0) {
      if (buf.length < pos + 2) return { body: Buffer.concat(parts), complete: false, chunks: parts.length, rest: Buffer.alloc(0) };
      assert.equal(buf.subarray(pos, pos + 2).toString('latin1'), '\r\n', 'the last chunk ends with an empty line');
      return { body: Buffer.concat(parts), complete: true, chunks: parts.length, rest: buf.subarray(pos + 2) };
    }
    if (buf.length < pos + size + 2) {
      parts.push(buf.subarray(pos, Math.min(buf.length, pos + size)));
      return { body: Buffer.concat(parts), complete: false, chunks: parts.length, rest: Buffer.alloc(0) };
    }
    parts.push(buf.subarray(pos, pos + size));
    assert.equal(buf.subarray(pos + size, pos + size + 2).toString('latin1'), '\r\n', 'chunk data ends with CRLF');
    pos += size + 2;
  }
}

function headerOf(head, name) {
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(head);
  return m === null ? undefined : m[1].trim();
}

// `n` bytes where every 4-byte word holds its own index (little-endian): a byte out of place,
// lost or repeated shows.
function counterPattern(n) {
  const buf = Buffer.alloc(n);
  for (let i = 0; i + 4 <= n; i += 4) buf.writeUInt32LE(i / 4, i);
  return buf;
}

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

// A Promise for the abort of `signal`, with its reason.
function aborted(signal) {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
}

// Runs curl with `args`; resolves with its stdout (a Buffer).
function curl(args) {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--max-time', '20', ...args], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`curl ${args.join(' ')} failed: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

// ---------------------------------------------------------------------------------------------
describe('framing on the wire', () => {
  test('res.write()/res.end() on HTTP/1.1: chunked, every chunk well framed, the connection kept', T, async (t) => {
    const s = await serve(t, (app) => {
      withRoot(app);
      app.get('/w', async (req, res) => {
        res.type('text');
        assert.equal(res.write('hello '), true);
        await sleep(5);
        res.write(Buffer.from('streamed '));
        res.write(new Uint8Array(Buffer.from('world')));
        res.end('!');
      });
    });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/w'));
      const raw = await until(c, () => {
        const at = c.buf.indexOf('\r\n\r\n');
        if (at === -1) return undefined;
        return decodeChunked(c.buf.subarray(at + 4)).complete ? c.buf : undefined;
      }, 'a complete chunked body');
      const { head, rest } = splitHead(raw);
      assert.match(head, /^HTTP\/1\.1 200 /);
      assert.equal(headerOf(head, 'transfer-encoding'), 'chunked');
      assert.equal(headerOf(head, 'content-length'), undefined, 'no content-length with chunked');
      assert.equal(headerOf(head, 'content-type'), 'text/plain; charset=utf-8');
      const decoded = decodeChunked(rest);
      assert.equal(decoded.body.toString(), 'hello streamed world!');
      assert.ok(decoded.chunks >= 2, `the body came in pieces as written (${decoded.chunks} chunks)`);
      assert.equal(decoded.rest.length, 0, 'nothing after the last chunk');
      // The same connection answers the next request.
      c.buf = Buffer.alloc(0);
      await c.write(buildRequest('GET', '/'));
      const next = await c.readResponse();
      assert.equal(next.text, 'ok');
      assert.ok(!c.isClosedByPeer);
    } finally {
      c.destroy();
    }
  });

  test('write(chunk, encoding, callback): the encoding is honoured and the callback called', T, async (t) => {
    const calls = [];
    const s = await serve(t, (app) => {
      app.get('/enc', (req, res) => {
        res.write('68656c6c6f', 'hex', (err) => calls.push(err === undefined || err === null ? 'ok' : err));
        res.write(' ', () => calls.push('ok'));
        res.end('d29ybGQ=', 'base64', () => calls.push('end'));
      });
    });
    const r = await request(s.base, '/enc');
    assert.equal(await r.text(), 'hello world');
    await waitUntil(() => calls.length === 3, { what: 'the callbacks' });
    assert.deepEqual(calls, ['ok', 'ok', 'end']);
  });

  test('fetch reads a streamed response as the handler wrote it', T, async (t) => {
    const s = await serve(t, (app) => {
      app.get('/w', async (req, res) => {
        for (let i = 0; i < 50; i++) if (!res.write(`line ${i}\n`)) await once(res, 'drain');
        res.end();
      });
    });
    const r = await request(s.base, '/w');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('transfer-encoding'), 'chunked');
    assert.equal(await r.text(), Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join(''));
  });

  test('HTTP/1.0: no chunked framing, the body ends with the connection (even with keep-alive asked)', T, async (t) => {
    const s = await serve(t, (app) => {
      app.get('/w', async (req, res) => {
        res.write('one,');
        await sleep(5);
        res.write('two,');
        res.end('three');
      });
    });
    for (const headers of [[], [['Connection', 'keep-alive']]]) {
      const c = await RawClient.connect(s.port);
      try {
        await c.write(buildRequest('GET', '/w', { version: '1.0', headers }));
        await c.waitForClose(10000);
        const { head, rest } = splitHead(c.buf);
        assert.match(head, /^HTTP\/1\.[01] 200 /);
        assert.equal(headerOf(head, 'transfer-encoding'), undefined, 'no chunked on HTTP/1.0');
        assert.equal(headerOf(head, 'content-length'), undefined);
        assert.notEqual((headerOf(head, 'connection') || '').toLowerCase(), 'keep-alive', 'a close-delimited body cannot keep the connection');
        assert.equal(rest.toString(), 'one,two,three');
      } finally {
        c.destroy();
      }
    }
  });

  test('res.flushHeaders() sends the head before any body byte; the body follows when the handler writes', T, async (t) => {
    const go = deferred();
    const s = await serve(t, (app) => {
      app.get('/f', async (req, res) => {
        res.status(201).set('x-early', 'yes');
        res.flushHeaders();
        assert.equal(res.headersSent, true);
        await go.promise;
        res.write('after the head');
        res.end();
      });
    });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/f'));
      await until(c, () => (c.buf.indexOf('\r\n\r\n') !== -1 ? true : undefined), 'the head');
      const { head, rest } = splitHead(c.buf);
      assert.match(head, /^HTTP\/1\.1 201 /);
      assert.equal(headerOf(head, 'x-early'), 'yes');
      assert.equal(headerOf(head, 'transfer-encoding'), 'chunked');
      assert.equal(rest.length, 0, 'no body byte before the handler wrote one');
      go.resolve();
      const res = await c.readResponse();
      assert.equal(res.status, 201);
      assert.equal(res.text, 'after the head');
    } finally {
      go.resolve();
      c.destroy();
    }
  });

  test('a Content-Length set before the first write is sent as such, without chunked framing', T, async (t) => {
    const s = await serve(t, (app) => {
      withRoot(app);
      app.get('/len', async (req, res) => {
        res.set('content-length', '11');
        res.write('hello');
        await sleep(5);
        res.end(' world');
      });
    });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/len'));
      const res = await c.readResponse();
      assert.equal(res.headers['content-length'], '11');
      assert.equal(res.headers['transfer-encoding'], undefined);
      assert.equal(res.text, 'hello world');
      // The length was honoured exactly: the connection is still in step.
      await c.write(buildRequest('GET', '/'));
      assert.equal((await c.readResponse()).text, 'ok');
    } finally {
      c.destroy();
    }
  });

  test('bytes past the Content-Length are cut off and the connection closes', T, async (t) => {
    const closed = deferred();
    const s = await serve(t, (app) => {
      withRoot(app);
      app.get('/over', async (req, res) => {
        res.on('close', () => closed.resolve());
        res.set('content-length', '5');
        res.write('hel');
        await sleep(5);
        res.write('lo, and more that was never announced');
        res.end();
      });
    });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/over'));
      await c.waitForClose(10000);
      const { head, rest } = splitHead(c.buf);
      assert.equal(headerOf(head, 'content-length'), '5');
      assert.equal(rest.toString(), 'hello', 'exactly the announced bytes, nothing after');
      await withTimeout(closed.promise, 5000, "res 'close'");
      await assertStillServes(s.port);
    } finally {
      c.destroy();
    }
  });

  // `first`: the size of the first chunk; 64 KiB runs over with the head, 10 bytes with a later piece.
  for (const first of [64 * 1024, 10]) {
    test(`bytes past the Content-Length (first chunk ${first} bytes): the producer is told (res 'close', writes return false), a piped source is released`, { ...T, todo: "bug: a stream cut at its Content-Length closes the connection without telling JS: no res 'close', req.signal does not abort, write() keeps returning false with no 'drain', a piped source waits until server.close()" }, async (t) => {
      const seen = { close: false, unpiped: false };
      const s = await serve(t, (app) => {
        withRoot(app);
        app.get('/over', (req, res) => {
          res.set('content-length', '100');
          res.on('close', () => (seen.close = true));
          let n = 0;
          const source = new Readable({
            read() {
              n++;
              this.push(n > 200 ? null : Buffer.alloc(n === 1 ? first : 64 * 1024, 'o'));
            },
          });
          // pipe() emits 'unpipe' on its destination when it lets go.
          res.on('unpipe', () => (seen.unpiped = true));
          seen.res = res;
          source.pipe(res);
        });
      });
      const c = await RawClient.connect(s.port);
      try {
        await c.write(buildRequest('GET', '/over'));
        await c.waitForClose(10000);
        assert.equal(splitHead(c.buf).rest.length, 100, 'exactly the announced bytes');
        await waitUntil(() => seen.close, { timeout: 3000, what: "res 'close'" });
        assert.equal(seen.unpiped, true, 'pipe() let go of the response');
        assert.equal(seen.res.write('more'), false);
      } finally {
        c.destroy();
      }
      await assertStillServes(s.port);
    });
  }

  test('a body that ends short of its Content-Length closes the connection: the client sees it short', T, async (t) => {
    const s = await serve(t, (app) => {
      withRoot(app);
      app.get('/under', async (req, res) => {
        res.set('content-length', '100');
        res.write('only ');
        await sleep(5);
        res.end('this');
      });
    });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(Buffer.concat([buildRequest('GET', '/under'), buildRequest('GET', '/')]));
      await c.waitForClose(10000);
      const { head, rest } = splitHead(c.buf);
      assert.equal(headerOf(head, 'content-length'), '100');
      assert.equal(rest.toString(), 'only this', 'the short body, and no answer after it');
      // fetch sees the body cut short.
      await assert.rejects(request(s.base, '/under').then((r) => r.arrayBuffer()));
      await assertStillServes(s.port);
    } finally {
      c.destroy();
    }
  });

  test('HEAD on a streaming route: the head only, and the connection stays in step', T, async (t) => {
    const finished = [];
    const s = await serve(t, (app) => {
      withRoot(app);
      app.get('/s', async (req, res) => {
        res.on('finish', () => finished.push(req.method));
        res.type('text');
        res.write('a body HEAD must not get');
        await sleep(5);
        res.end('!');
      });
      app.get('/s-len', (req, res) => {
        res.set('content-length', '6');
        res.write('abc');
        res.end('def');
      });
    });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(Buffer.concat([buildRequest('HEAD', '/s'), buildRequest('HEAD', '/s-len'), buildRequest('GET', '/')]));
      const [a, b, next] = await c.readResponses(3, { heads: [true, true, false] });
      assert.equal(a.status, 200);
      assert.equal(a.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(b.status, 200);
      assert.equal(b.headers['content-length'], '6', 'a length the app set is announced to HEAD too');
      assert.equal(next.text, 'ok', 'no stray body bytes before the next answer');
      assert.equal(c.leftover.length, 0);
      await waitUntil(() => finished.includes('HEAD'), { what: "'finish' for the HEAD request" });
    } finally {
      c.destroy();
    }
  });

  test('empty writes do not end the chunked body early; flushHeaders() then end() is an empty body', T, async (t) => {
    const s = await serve(t, (app) => {
      app.get('/empty-writes', async (req, res) => {
        res.write('');
        await sleep(2);
        res.write(Buffer.alloc(0));
        res.write('a');
        res.write('');
        await sleep(2);
        res.end('');
      });
      app.get('/flush-only', (req, res) => {
        res.flushHeaders();
        res.end();
      });
    });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(Buffer.concat([buildRequest('GET', '/empty-writes'), buildRequest('GET', '/flush-only')]));
      const [a, b] = await c.readResponses(2);
      assert.equal(a.headers['transfer-encoding'], 'chunked');
      assert.equal(a.text, 'a');
      assert.equal(b.headers['transfer-encoding'], 'chunked');
      assert.equal(b.body.length, 0);
      assert.equal(c.leftover.length, 0);
    } finally {
      c.destroy();
    }
  });

  test('one write far larger than the window: write() returns false, drain comes, the bytes are whole', T, async (t) => {
    const data = counterPattern(10 * 1024 * 1024);
    const seen = {};
    const s = await serve(t, (app) => {
      app.get('/one', async (req, res) => {
        seen.first = res.write(data);
        if (!seen.first) await once(res, 'drain');
        seen.drained = true;
        res.end();
      });
    });
    const r = await request(s.base, '/one');
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(data));
    assert.equal(seen.first, false);
    assert.equal(seen.drained, true);
  });

  test('res.write() after res.end(): returns false, the callback and an error listener get HN_ERR_WRITE_AFTER_END', T, async (t) => {
    const seen = deferred();
    const s = await serve(t, (app) => {
      app.get('/after-end', (req, res) => {
        res.on('error', (err) => seen.resolve({ ...seen.got, event: err.code }));
        res.write('body');
        res.end();
        const ret = res.write('more', (err) => (seen.got = { ret, callback: err && err.code }));
        seen.got = { ret };
      });
    });
    const r = await request(s.base, '/after-end');
    assert.equal(await r.text(), 'body');
    const got = await withTimeout(seen.promise, 5000, "res 'error'");
    assert.equal(got.ret, false);
    assert.equal(got.callback, 'HN_ERR_WRITE_AFTER_END');
    assert.equal(got.event, 'HN_ERR_WRITE_AFTER_END');
  });

  // Bytes of a body that never goes on the wire must still be credited back, or the producer waits
  // for a 'drain' that never comes (until streamTimeout cuts the connection).
  const OMITTED_BUG = 'bug: a streamed body that is omitted (HEAD, 204, 304) is never credited: past 64 KiB write() returns false for good, no drain, the answer hangs until streamTimeout';
  for (const [method, status] of [['HEAD', 200], ['GET', 204], ['GET', 304]]) {
    test(`${method} answered ${status} by a handler writing far more than the window: it finishes, the next request is answered`, { ...T, todo: OMITTED_BUG }, async (t) => {
      const finished = deferred();
      const s = await serve(
        t,
        (app) => {
          withRoot(app);
          app.get('/big', async (req, res) => {
            res.status(status);
            const piece = Buffer.alloc(64 * 1024, 'b');
            for (let i = 0; i < 64; i++) if (!res.write(piece)) await once(res, 'drain');
            res.end();
            finished.resolve();
          });
        },
        // Fails fast instead of after the 2-minute default: the handler writes without pause.
        { appOptions: { streamTimeout: 2000 } },
      );
      const c = await RawClient.connect(s.port);
      try {
        await c.write(Buffer.concat([buildRequest(method, '/big'), buildRequest('GET', '/')]));
        const [a, next] = await c.readResponses(2, { heads: [method === 'HEAD', false], timeout: 10000 });
        assert.equal(a.status, status);
        assert.equal(next.text, 'ok');
        assert.equal(c.leftover.length, 0);
        await withTimeout(finished.promise, 5000, 'the handler to finish');
      } finally {
        c.destroy();
      }
    });
  }

  test('HEAD on a route that pipes a file larger than the window', { ...T, todo: OMITTED_BUG }, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-head-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'big.bin');
    fs.writeFileSync(file, Buffer.alloc(3 * 1024 * 1024, 'h'));
    const finished = deferred();
    const s = await serve(
      t,
      (app) => {
        withRoot(app);
        app.get('/file', (req, res) => {
          res.on('finish', () => finished.resolve());
          fs.createReadStream(file).pipe(res);
        });
      },
      { appOptions: { streamTimeout: 2000 } },
    );
    const c = await RawClient.connect(s.port);
    try {
      await c.write(Buffer.concat([buildRequest('HEAD', '/file'), buildRequest('GET', '/')]));
      const [a, next] = await c.readResponses(2, { heads: [true, false], timeout: 10000 });
      assert.equal(a.status, 200);
      assert.equal(next.text, 'ok');
      await withTimeout(finished.promise, 5000, "'finish'");
    } finally {
      c.destroy();
    }
  });

  for (const status of [204, 304]) {
    test(`${status} with writes: no body on the wire`, T, async (t) => {
      const s = await serve(t, (app) => {
        withRoot(app);
        app.get('/n', async (req, res) => {
          res.status(status);
          res.write('not for the wire');
          await sleep(5);
          res.end('nor this');
        });
      });
      const c = await RawClient.connect(s.port);
      try {
        await c.write(Buffer.concat([buildRequest('GET', '/n'), buildRequest('GET', '/')]));
        const [a, next] = await c.readResponses(2);
        assert.equal(a.status, status);
        assert.equal(a.headers['transfer-encoding'], undefined);
        assert.equal(next.status, 200);
        assert.equal(next.text, 'ok', 'the next answer follows the head directly');
        assert.equal(c.leftover.length, 0);
      } finally {
        c.destroy();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
describe('backpressure', () => {
  // What a client that reads nothing can make the handler produce: the stream window (64 KiB) and
  // the kernel's socket buffers on both ends (about 4 MiB here with tcp_wmem's 4 MiB ceiling),
  // nowhere near the whole body. A server that ignored backpressure would take all 32 MiB at once.
  const TOTAL = 32 * 1024 * 1024;
  const PIECE = 64 * 1024;
  const BOUND = 8 * 1024 * 1024;

  test('a client that does not read: write() returns false, the handler stays bounded, drain comes, every byte arrives', { timeout: 60000 }, async (t) => {
    const expected = counterPattern(TOTAL);
    const state = { written: 0, falses: 0, drains: 0, waiting: false, done: false, maxLength: 0 };
    let response;
    const s = await serve(t, (app) => {
      withRoot(app);
      app.get('/big', async (req, res) => {
        response = res;
        res.on('drain', () => state.drains++);
        res.set('content-type', 'application/octet-stream');
        for (let off = 0; off < TOTAL; off += PIECE) {
          state.written += PIECE;
          const ok = res.write(expected.subarray(off, off + PIECE));
          state.maxLength = Math.max(state.maxLength, res.writableLength);
          if (!ok) {
            state.falses++;
            state.waiting = true;
            await once(res, 'drain');
            state.waiting = false;
          }
        }
        res.end();
        state.done = true;
      });
    });
    const sock = net.connect({ port: s.port, host: '127.0.0.1' });
    t.after(() => sock.destroy());
    await once(sock, 'connect');
    sock.pause();
    sock.write(buildRequest('GET', '/big'));

    // Until the handler is parked on 'drain' and its count has stopped growing.
    let last = -1;
    let same = 0;
    await waitUntil(
      () => {
        if (state.waiting && state.written === last) same++;
        else same = 0;
        last = state.written;
        return same >= 10;
      },
      { timeout: 20000, interval: 30, what: 'the handler to stop producing' },
    );
    t.diagnostic(`the handler got ${state.written} bytes out to a client that read nothing`);
    assert.ok(state.falses > 0, 'write() returned false');
    assert.ok(!state.done);
    assert.ok(state.written < BOUND, `the handler got ${state.written} bytes out to a client that read nothing (bound ${BOUND})`);
    assert.ok(response.writableLength <= BOUND, `writableLength ${response.writableLength}`);
    assert.ok(state.maxLength < BOUND, `writableLength peaked at ${state.maxLength}`);
    assert.ok(response.writableNeedDrain, 'writableNeedDrain while parked');

    // Now read everything.
    const parts = [];
    let received = 0;
    const complete = new Promise((resolve, reject) => {
      sock.on('data', (d) => {
        parts.push(d);
        received += d.length;
        // A chunked body ends with "0\r\n\r\n": only then is a full parse worth it.
        if (d.length >= 5 && d.subarray(d.length - 5).toString('latin1') === '0\r\n\r\n') {
          const all = Buffer.concat(parts);
          const parsed = parseResponse(all);
          if (parsed !== null) resolve(parsed.response);
        }
      });
      sock.on('close', () => reject(new Error(`closed after ${received} bytes`)));
      sock.on('error', reject);
    });
    sock.resume();
    const res = await withTimeout(complete, 40000, 'the whole body');
    assert.equal(res.status, 200);
    assert.equal(res.body.length, TOTAL);
    assert.ok(res.body.equals(expected), 'every byte arrived, in order');
    await waitUntil(() => state.done, { what: 'the handler to finish' });
    assert.ok(state.drains > 0, "'drain' came");
    assert.ok(state.drains <= state.falses, 'one drain per wait at most');
  });

  test('a client slower than streamTimeout, with the handler waiting on drain, is not cut off', { timeout: 60000, todo: 'bug: streamTimeout counts time the handler is held back by the client (waiting on drain), cutting a blameless stream' }, async (t) => {
    // The handler sends nothing while it waits for the client: that silence is the client's,
    // not a handler that went quiet, so streamTimeout must not end the stream.
    const TOTAL_SMALL = 8 * 1024 * 1024;
    const expected = counterPattern(TOTAL_SMALL);
    const state = { waiting: false, done: false, reason: null };
    const s = await serve(
      t,
      (app) => {
        app.get('/slow', async (req, res) => {
          req.signal.addEventListener('abort', () => (state.reason = req.signal.reason));
          for (let off = 0; off < TOTAL_SMALL; off += PIECE) {
            if (!res.write(expected.subarray(off, off + PIECE))) {
              state.waiting = true;
              await once(res, 'drain');
              state.waiting = false;
            }
          }
          res.end();
          state.done = true;
        });
      },
      { appOptions: { streamTimeout: 300 } },
    );
    const c = await RawClient.connect(s.port);
    c.socket.pause();
    try {
      await c.write(buildRequest('GET', '/slow'));
      await waitUntil(() => state.waiting, { timeout: 20000, what: 'the handler to wait for drain' });
      // Longer than streamTimeout without the client reading.
      await sleep(1000);
      c.socket.resume();
      const res = await c.readResponse({ timeout: 40000 }).catch((err) => err);
      assert.equal(state.reason, null, `req.signal aborted: ${state.reason && state.reason.code}`);
      assert.ok(!(res instanceof Error), String(res && res.message).slice(0, 200));
      assert.ok(res.body.equals(expected));
    } finally {
      c.destroy();
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('sources', () => {
  const FILE_SIZE = 3 * 1024 * 1024 + 123;
  let dir;
  let file;
  let fileBytes;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-streams-'));
    file = path.join(dir, 'source.bin');
    fileBytes = crypto.randomBytes(FILE_SIZE);
    fs.writeFileSync(file, fileBytes);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('fs.createReadStream(file).pipe(res)', T, async (t) => {
    const f = file;
    const s = await serve(t, (app) => {
      app.get('/file', (req, res) => fs.createReadStream(f).pipe(res));
    });
    const r = await request(s.base, '/file');
    assert.equal(r.status, 200);
    const body = Buffer.from(await r.arrayBuffer());
    assert.equal(body.length, FILE_SIZE);
    assert.equal(sha256(body), sha256(fileBytes));
  });

  test('fs.createReadStream(file).pipe(res), read by curl', { ...T, skip: curlMissing() }, async (t) => {
    const f = file;
    const s = await serve(t, (app) => {
      app.get('/file', (req, res) => fs.createReadStream(f).pipe(res));
    });
    const body = await curl([`${s.base}/file`]);
    assert.equal(body.length, FILE_SIZE);
    assert.equal(sha256(body), sha256(fileBytes));
    // And over HTTP/1.0, where the body is close-delimited.
    const body10 = await curl(['-0', `${s.base}/file`]);
    assert.equal(sha256(body10), sha256(fileBytes));
  });

  test('await pipeline(readable, res), then the handler goes on', T, async (t) => {
    const after = deferred();
    const s = await serve(t, (app) => {
      app.get('/p', async (req, res) => {
        const source = Readable.from((function* () {
          for (let i = 0; i < 1000; i++) yield Buffer.from(`row ${i}\n`);
        })());
        await pipeline(source, res);
        after.resolve({ ended: res.writableEnded, finished: res.writableFinished });
      });
    });
    const r = await request(s.base, '/p');
    assert.equal(await r.text(), Array.from({ length: 1000 }, (_, i) => `row ${i}\n`).join(''));
    const seen = await withTimeout(after.promise, 5000, 'pipeline to resolve');
    assert.equal(seen.ended, true);
    assert.equal(seen.finished, true);
  });

  test('res.send(readable), a Node Readable', T, async (t) => {
    const data = crypto.randomBytes(512 * 1024);
    const s = await serve(t, (app) => {
      app.get('/r', (req, res) => {
        const chunks = [];
        for (let i = 0; i < data.length; i += 10000) chunks.push(data.subarray(i, i + 10000));
        res.send(Readable.from(chunks));
      });
    });
    const r = await request(s.base, '/r');
    assert.equal(r.headers.get('content-type'), 'application/octet-stream');
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(data));
  });

  test('res.send((await fetch(url)).body): a web ReadableStream from a second real server', T, async (t) => {
    const data = counterPattern(2 * 1024 * 1024);
    const upstream = await serve(t, (app) => {
      app.get('/data', async (req, res) => {
        res.type('application/x-counter');
        for (let off = 0; off < data.length; off += 100000) {
          if (!res.write(data.subarray(off, off + 100000))) await once(res, 'drain');
        }
        res.end();
      });
    });
    const s = await serve(t, (app) => {
      app.get('/proxy', async (req, res) => {
        const up = await fetch(`${upstream.base}/data`);
        res.type(up.headers.get('content-type'));
        res.send(up.body);
      });
    });
    const r = await request(s.base, '/proxy');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/x-counter');
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(data));
  });

  test('res.send(asyncGenerator())', T, async (t) => {
    const s = await serve(t, (app) => {
      app.get('/gen', (req, res) => {
        res.type('text');
        res.send((async function* () {
          for (let i = 0; i < 100; i++) {
            if (i % 10 === 0) await sleep(1);
            yield i % 2 === 0 ? `${i},` : Buffer.from(`${i},`);
          }
        })());
      });
    });
    const r = await request(s.base, '/gen');
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(await r.text(), Array.from({ length: 100 }, (_, i) => `${i},`).join(''));
  });

  test('res.send(blob): its bytes and its type', T, async (t) => {
    const data = crypto.randomBytes(300 * 1024);
    const s = await serve(t, (app) => {
      app.get('/blob', (req, res) => res.send(new Blob([data.subarray(0, 1000), data.subarray(1000)], { type: 'image/x-test' })));
      app.get('/blob-untyped', (req, res) => res.send(new Blob(['plain'])));
    });
    const r = await request(s.base, '/blob');
    assert.equal(r.headers.get('content-type'), 'image/x-test');
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(data));
    const u = await request(s.base, '/blob-untyped');
    assert.equal(u.headers.get('content-type'), 'application/octet-stream');
    assert.equal(await u.text(), 'plain');
  });

  test('res.send(blob) is sent with its length (issue 11: "a sized source is sent as such")', { ...T, todo: 'a Blob has a known size but is sent chunked' }, async (t) => {
    const s = await serve(t, (app) => {
      app.get('/blob', (req, res) => res.send(new Blob(['twelve bytes'])));
    });
    const r = await request(s.base, '/blob');
    assert.equal(r.headers.get('content-length'), '12');
    assert.equal(await r.text(), 'twelve bytes');
  });
});

// ---------------------------------------------------------------------------------------------
describe('failures mid-stream', () => {
  test('a source that errors before its first chunk: 500', T, async (t) => {
    const s = await serve(t, (app) => {
      withRoot(app);
      app.get('/gen', (req, res) => {
        res.send((async function* () {
          await sleep(1);
          throw new Error('source failed');
        })());
      });
      app.get('/readable', (req, res) => {
        res.send(new Readable({
          read() {
            this.destroy(new Error('source failed'));
          },
        }));
      });
      app.get('/web', (req, res) => {
        res.send(new ReadableStream({
          pull(controller) {
            controller.error(new Error('source failed'));
          },
        }));
      });
    });
    for (const p of ['/gen', '/readable', '/web']) {
      const c = await RawClient.connect(s.port);
      try {
        await c.write(Buffer.concat([buildRequest('GET', p), buildRequest('GET', '/')]));
        const [r, next] = await c.readResponses(2);
        assert.equal(r.status, 500, p);
        assert.equal(r.headers['transfer-encoding'], undefined, 'a whole error answer, not a stream');
        assert.deepEqual(r.json(), { error: 'Internal Server Error' });
        assert.equal(next.text, 'ok', 'the connection goes on');
      } finally {
        c.destroy();
      }
    }
  });

  test('a source that errors after its first chunk: the answer is cut off (no last chunk, connection closed)', T, async (t) => {
    const s = await serve(t, (app) => {
      withRoot(app);
      app.get('/gen', (req, res) => {
        res.send((async function* () {
          yield 'first part;';
          await sleep(5);
          yield 'second part;';
          throw new Error('source failed');
        })());
      });
      app.get('/readable', (req, res) => {
        let n = 0;
        res.send(new Readable({
          read() {
            if (n++ === 0) this.push('first part;');
            else setImmediate(() => this.destroy(new Error('source failed')));
          },
        }));
      });
    });
    for (const p of ['/gen', '/readable']) {
      const c = await RawClient.connect(s.port);
      try {
        await c.write(Buffer.concat([buildRequest('GET', p), buildRequest('GET', '/')]));
        await c.waitForClose(10000);
        const { head, rest } = splitHead(c.buf);
        assert.match(head, /^HTTP\/1\.1 200 /, p);
        assert.equal(headerOf(head, 'transfer-encoding'), 'chunked');
        const decoded = decodeChunked(rest);
        assert.equal(decoded.complete, false, `${p}: no last chunk`);
        assert.ok(decoded.body.toString().startsWith('first part;'), decoded.body.toString());
        assert.ok(!c.buf.includes('HTTP/1.1 200 OK\r\n', 10), 'the pipelined request behind it is not answered on this connection');
      } finally {
        c.destroy();
      }
      // fetch sees an error while reading the body.
      await assert.rejects(request(s.base, p).then((r) => r.text()));
    }
    await assertStillServes(s.port);
  });

  test('a handler that throws after writing: cut off, the server keeps serving', T, async (t) => {
    const s = await serve(t, (app) => {
      withRoot(app);
      app.get('/async', async (req, res) => {
        res.write('partial');
        await sleep(5);
        throw new Error('handler failed');
      });
      app.get('/sync', (req, res) => {
        res.write('partial');
        throw new Error('handler failed');
      });
      app.get('/next', (req, res, next) => {
        res.write('partial');
        next(new Error('handler failed'));
      });
    });
    for (const p of ['/async', '/sync', '/next']) {
      const c = await RawClient.connect(s.port);
      try {
        await c.write(buildRequest('GET', p));
        await c.waitForClose(10000);
        const { head, rest } = splitHead(c.buf);
        assert.match(head, /^HTTP\/1\.1 200 /, p);
        const decoded = decodeChunked(rest);
        assert.equal(decoded.complete, false, `${p}: cut off`);
        assert.equal(decoded.body.toString(), 'partial');
      } finally {
        c.destroy();
      }
    }
    await assertStillServes(s.port);
  });

  test("res.destroy() mid-stream: cut off, 'close' without 'finish', the server keeps serving", T, async (t) => {
    const seen = deferred();
    const s = await serve(t, (app) => {
      withRoot(app);
      app.get('/d', async (req, res) => {
        let finished = false;
        res.on('finish', () => (finished = true));
        const closed = once(res, 'close');
        res.write('partial');
        await sleep(5);
        res.destroy();
        await closed;
        seen.resolve({ finished, late: res.write('late'), destroyed: res.destroyed });
      });
    });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(Buffer.concat([buildRequest('GET', '/d'), buildRequest('GET', '/')]));
      await c.waitForClose(10000);
      const decoded = decodeChunked(splitHead(c.buf).rest);
      assert.equal(decoded.complete, false);
      assert.equal(decoded.body.toString(), 'partial');
      const got = await withTimeout(seen.promise, 5000, "res 'close'");
      assert.deepEqual(got, { finished: false, late: false, destroyed: true });
    } finally {
      c.destroy();
    }
    await assertStillServes(s.port);
  });

  // Express throws ERR_HTTP_HEADERS_SENT from such a send (its final handler then destroys the
  // socket); node's res.end(data) would end the body with it. Either way the answer ends now:
  // a silently dropped send leaves the client hanging until streamTimeout (2 minutes).
  test('res.send()/res.json() after res.write() or flushHeaders(): the answer ends, it does not hang', { ...T, todo: 'bug: a send after the head went out is silently ignored; the stream stays open until streamTimeout, then is cut' }, async (t) => {
    const s = await serve(t, (app) => {
      withRoot(app);
      app.get('/write-send', (req, res) => {
        res.write('a');
        res.send('b');
      });
      app.get('/flush-json', (req, res) => {
        res.flushHeaders();
        res.json({ x: 1 });
      });
    });
    try {
      for (const [p, whole] of [['/write-send', 'ab'], ['/flush-json', '{"x":1}']]) {
        const c = await RawClient.connect(s.port);
        try {
          await c.write(buildRequest('GET', p));
          // Ended: a complete body (the sent data appended) or a cut-off answer and a closed connection.
          const outcome = await until(c, () => {
            const at = c.buf.indexOf('\r\n\r\n');
            if (at !== -1 && decodeChunked(c.buf.subarray(at + 4)).complete) return 'complete';
            return c.isClosedByPeer ? 'closed' : undefined;
          }, `${p} to end`, 5000);
          if (outcome === 'complete') assert.equal(decodeChunked(splitHead(c.buf).rest).body.toString(), whole);
        } finally {
          c.destroy();
        }
      }
      await assertStillServes(s.port);
    } finally {
      // A stream left open must not hold close() for its whole grace period.
      await s.server.close({ timeout: 200 });
    }
  });

  test('an app error handler cannot answer once the head is gone: still cut off', T, async (t) => {
    const errors = [];
    const s = await serve(t, (app) => {
      withRoot(app);
      app.get('/async', async (req, res) => {
        res.write('partial');
        await sleep(5);
        throw new Error('handler failed');
      });
      app.error((err, req, res) => {
        errors.push(err.message);
        res.status(500).send('an error page that cannot be sent now');
      });
    });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/async'));
      await c.waitForClose(10000);
      const { rest } = splitHead(c.buf);
      const decoded = decodeChunked(rest);
      assert.equal(decoded.complete, false);
      assert.equal(decoded.body.toString(), 'partial');
    } finally {
      c.destroy();
    }
    await assertStillServes(s.port);
  });
});

// ---------------------------------------------------------------------------------------------
describe('a client leaving mid-stream', () => {
  for (const how of ['destroy', 'resetAndDestroy']) {
    test(`socket.${how}(): res emits 'close', req.signal aborts (HN_ERR_CLIENT_GONE), later writes return false, the server keeps serving`, T, async (t) => {
      const seen = deferred();
      const s = await serve(t, (app) => {
        withRoot(app);
        app.get('/ticker', async (req, res) => {
          const closed = once(res, 'close');
          let finished = false;
          res.on('finish', () => (finished = true));
          const abort = aborted(req.signal);
          res.write('first;');
          // Like an SSE feed: something now and then until the client is gone.
          while (!req.signal.aborted) {
            res.write('tick;');
            await Promise.race([sleep(10), abort]);
          }
          const reason = req.signal.reason;
          let late;
          let threw = null;
          try {
            late = res.write('late');
            res.end('end');
          } catch (err) {
            threw = err;
          }
          await closed;
          seen.resolve({ reason, late, threw, finished, destroyed: res.destroyed, writable: res.writable });
        });
      });
      const c = await RawClient.connect(s.port);
      await c.write(buildRequest('GET', '/ticker'));
      await until(c, () => (c.buf.includes('tick;') ? true : undefined), 'the stream to start');
      c.socket[how]();
      const got = await withTimeout(seen.promise, 10000, 'the handler to see the client leave');
      assert.equal(got.reason && got.reason.code, 'HN_ERR_CLIENT_GONE');
      assert.equal(got.threw, null, 'writing to a response whose client left does not throw');
      assert.equal(got.late, false, 'res.write() returns false once the client left');
      assert.equal(got.finished, false, "no 'finish' for a response that was never complete");
      assert.equal(got.destroyed, true);
      assert.equal(got.writable, false);
      await assertStillServes(s.port);
    });
  }

  // A producer that waits on the response must not wait forever once the client is gone. As with
  // node:http, a bare once(res, 'drain') would (no 'drain' comes after 'close'): these are the
  // ways that end, each parked on a client that stopped reading when it leaves.
  test('producers parked on backpressure are released when the client leaves: pipeline(), res.send(source), once(res, "drain", { signal })', T, async (t) => {
    const released = {};
    const chunk = Buffer.alloc(64 * 1024, 'x');
    // An endless source that notes being destroyed.
    const endless = (name) =>
      new Readable({
        read() {
          this.push(chunk);
        },
        destroy(err, cb) {
          released[name] = { ...released[name], sourceDestroyed: true };
          cb(err);
        },
      });
    const s = await serve(t, (app) => {
      withRoot(app);
      app.get('/pipeline', async (req, res) => {
        try {
          await pipeline(endless('pipeline'), res);
          released.pipeline = { ...released.pipeline, settled: 'resolved' };
        } catch (err) {
          released.pipeline = { ...released.pipeline, settled: err.code };
        }
      });
      app.get('/send', (req, res) => {
        res.send((async function* () {
          try {
            for (;;) yield chunk;
          } finally {
            released.send = { settled: 'returned' };
          }
        })());
      });
      app.get('/drain', async (req, res) => {
        try {
          for (;;) if (!res.write(chunk)) await once(res, 'drain', { signal: req.signal });
        } catch (err) {
          released.drain = { settled: err.name, reason: req.signal.reason.code };
        }
      });
    });
    for (const p of ['pipeline', 'send', 'drain']) {
      const sock = net.connect({ port: s.port, host: '127.0.0.1' });
      sock.on('error', () => {});
      await once(sock, 'connect');
      sock.write(buildRequest('GET', `/${p}`));
      await once(sock, 'data');
      // Stop reading, let the server fill what it can, then leave.
      sock.pause();
      await sleep(50);
      sock.destroy();
      await waitUntil(() => released[p] !== undefined && released[p].settled !== undefined, { what: `the ${p} producer to be released` });
    }
    assert.equal(released.pipeline.settled, 'ERR_STREAM_PREMATURE_CLOSE');
    assert.equal(released.pipeline.sourceDestroyed, true, 'pipeline destroyed its source');
    assert.equal(released.send.settled, 'returned', "res.send() ended the generator (its finally ran)");
    assert.equal(released.drain.settled, 'AbortError');
    assert.equal(released.drain.reason, 'HN_ERR_CLIENT_GONE');
    await assertStillServes(s.port);
  });
});

// ---------------------------------------------------------------------------------------------
describe('pipelining and the cache', () => {
  test('pipelined requests behind a streamed response are answered after it, in order', T, async (t) => {
    const release = deferred();
    const answered = [];
    const s = await serve(t, (app) => {
      app.get('/stream', async (req, res) => {
        res.write('stream part 1;');
        await release.promise;
        res.write('stream part 2;');
        res.end('stream end');
      });
      app.get('/a', (req, res) => {
        answered.push('a');
        res.send('answer a');
      });
      app.get('/b', async (req, res) => {
        answered.push('b');
        res.write('answer ');
        res.end('b');
      });
    });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(Buffer.concat([buildRequest('GET', '/stream'), buildRequest('GET', '/a'), buildRequest('GET', '/b')]));
      await until(c, () => (c.buf.includes('stream part 1;') ? true : undefined), 'the first part of the stream');
      // /a and /b are answered by their handlers while the stream is still open …
      await waitUntil(() => answered.length === 2, { what: 'the pipelined handlers to answer' });
      release.resolve();
      // … and go out only after it, in order.
      const [first, second, third] = await c.readResponses(3);
      assert.equal(first.text, 'stream part 1;stream part 2;stream end');
      assert.equal(second.text, 'answer a');
      assert.equal(third.text, 'answer b');
      assert.equal(c.leftover.length, 0);
    } finally {
      release.resolve();
      c.destroy();
    }
  });

  test('res.ncache(stream) throws HN_ERR_CACHE_STREAM, and nothing is cached', T, async (t) => {
    let runs = 0;
    const sources = {
      readable: () => Readable.from(['x']),
      web: () => new ReadableStream({ start: (c) => c.close() }),
      iterable: () => (async function* () { yield 'x'; })(),
      blob: () => new Blob(['x']),
    };
    const s = await serve(t, (app) => {
      app.get('/c/:kind', (req, res) => {
        runs++;
        try {
          res.ncache(sources[req.params.kind](), 60);
          res.json({ code: null });
        } catch (err) {
          res.json({ code: err.code });
        }
      });
      app.get('/uncaught', (req, res) => res.ncache(Readable.from(['x']), 60));
    });
    for (const kind of Object.keys(sources)) {
      for (let i = 0; i < 2; i++) {
        const r = await request(s.base, `/c/${kind}`);
        assert.deepEqual(await r.json(), { code: 'HN_ERR_CACHE_STREAM' }, kind);
      }
    }
    assert.equal(runs, 8, 'every request ran its handler: nothing was cached');
    const r = await request(s.base, '/uncaught');
    assert.equal(r.status, 500);
  });
});

// ---------------------------------------------------------------------------------------------
describe('timeouts and close', () => {
  test('streamTimeout ends a stream that goes quiet: connection closed, req.signal aborts with HN_ERR_STREAM_TIMEOUT', T, async (t) => {
    const seen = deferred();
    const s = await serve(
      t,
      (app) => {
        withRoot(app);
        app.get('/quiet', async (req, res) => {
          const closed = once(res, 'close');
          res.write('said something;');
          const reason = await aborted(req.signal);
          await closed;
          seen.resolve({ reason, late: res.write('late') });
        });
      },
      { appOptions: { streamTimeout: 300 } },
    );
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/quiet'));
      await c.waitForClose(10000);
      const { rest } = splitHead(c.buf);
      const decoded = decodeChunked(rest);
      assert.equal(decoded.complete, false, 'cut off');
      assert.equal(decoded.body.toString(), 'said something;');
      const got = await withTimeout(seen.promise, 5000, 'the handler to see the timeout');
      assert.equal(got.reason.code, 'HN_ERR_STREAM_TIMEOUT');
      assert.equal(got.late, false);
    } finally {
      c.destroy();
    }
    await assertStillServes(s.port);
  });

  test('a stream that keeps writing is not cut by handlerTimeout', T, async (t) => {
    const s = await serve(
      t,
      (app) => {
        app.get('/long', async (req, res) => {
          // Writing for well past handlerTimeout (200 ms), a piece every 25 ms.
          for (let i = 0; i < 40; i++) {
            res.write(`${i};`);
            await sleep(25);
          }
          res.end('done');
        });
      },
      { appOptions: { handlerTimeout: 200 } },
    );
    const r = await request(s.base, '/long');
    assert.equal(r.status, 200);
    assert.equal(await r.text(), Array.from({ length: 40 }, (_, i) => `${i};`).join('') + 'done');
  });

  test('handlerTimeout still answers 503 to a streaming route that never sent its head', T, async (t) => {
    const s = await serve(
      t,
      (app) => {
        app.get('/late', async (req, res) => {
          await aborted(req.signal);
          res.write('too late');
          res.end();
        });
      },
      { appOptions: { handlerTimeout: 200 } },
    );
    const r = await request(s.base, '/late');
    assert.equal(r.status, 503);
  });

  test('server.close() lets an open stream finish within its timeout', T, async (t) => {
    const release = deferred();
    const s = await serve(t, (app) => {
      app.get('/s', async (req, res) => {
        res.write('before close;');
        await release.promise;
        res.end('after close');
      });
    });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/s'));
      await until(c, () => (c.buf.includes('before close;') ? true : undefined), 'the stream to start');
      const closing = s.server.close({ timeout: 10000 });
      release.resolve();
      const res = await c.readResponse();
      assert.equal(res.text, 'before close;after close');
      await c.waitForClose(10000);
      await withTimeout(closing, 10000, 'server.close()');
    } finally {
      release.resolve();
      c.destroy();
    }
  });

  test('server.close() ends a stream still open at its timeout', T, async (t) => {
    const seen = deferred();
    const s = await serve(t, (app) => {
      app.get('/forever', async (req, res) => {
        const closed = once(res, 'close');
        res.write('open;');
        const reason = await aborted(req.signal);
        await closed;
        seen.resolve({ reason, late: res.write('late') });
      });
    });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/forever'));
      await until(c, () => (c.buf.includes('open;') ? true : undefined), 'the stream to start');
      await withTimeout(s.server.close({ timeout: 300 }), 10000, 'server.close({ timeout: 300 })');
      await c.waitForClose(10000);
      const decoded = decodeChunked(splitHead(c.buf).rest);
      assert.equal(decoded.complete, false, 'cut off');
      assert.equal(decoded.body.toString(), 'open;');
      const got = await withTimeout(seen.promise, 5000, 'the handler to be told');
      assert.ok(got.reason instanceof Error, 'req.signal aborted');
      assert.equal(got.late, false);
    } finally {
      c.destroy();
    }
  });
});
