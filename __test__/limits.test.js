'use strict';
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { start, serve, request, buildRequest, chunked, exchange, RawClient, sleep } = require('./helpers');

const T = { timeout: 20000 };

function routes(app) {
  app.get('/', (req, res) => res.send('ok'));
  app.post('/upload', (req, res) => res.json({ length: req.body ? req.body.length : 0 }));
  app.get('/p/*rest', (req, res) => res.json({ len: req.path.length }));
}

// The server must still answer normally on a fresh connection.
async function assertStillServing(port) {
  const res = await exchange(port, buildRequest('GET', '/'));
  assert.equal(res.status, 200);
  assert.equal(res.text, 'ok');
}

async function expectStatus(port, bytes, status) {
  const c = await RawClient.connect(port);
  try {
    await c.write(bytes);
    const res = await c.readResponse();
    assert.equal(res.status, status, `request ${JSON.stringify(bytes.toString('latin1').slice(0, 80))}`);
    return res;
  } finally {
    c.destroy();
  }
}

describe('default limits', () => {
  let s;
  before(async () => {
    s = await start(routes);
  });
  after(() => s.close());

  test('a body of exactly 1 MiB is accepted (limit is inclusive)', T, async () => {
    const body = Buffer.alloc(1024 * 1024, 0x61);
    const res = await request(s.base, '/upload', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { length: 1024 * 1024 });
  });

  test('a body of 1 MiB + 1 is 413 and the connection closes', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      const body = Buffer.alloc(1024 * 1024 + 1, 0x61);
      const req = buildRequest('POST', '/upload', { headers: [['Content-Type', 'application/octet-stream']], body });
      const headEnd = req.indexOf('\r\n\r\n') + 4;
      // Send the head first and give the server a chance to refuse on Content-Length alone (as
      // curl and fetch allow): writing 1 MiB into a socket the server already closed would reset
      // it, and Node drops unread data on a write error. Otherwise send the body.
      await c.write(req.subarray(0, headEnd));
      let res = await c.readResponse({ timeout: 1000 }).catch(() => null);
      if (!res) {
        await c.write(req.subarray(headEnd));
        res = await c.readResponse();
      }
      assert.equal(res.status, 413);
      await c.waitForClose();
    } finally {
      c.destroy();
    }
    await assertStillServing(s.port);
  });

  test('a header section over 16 KiB is 431', T, async () => {
    await expectStatus(s.port, buildRequest('GET', '/', { headers: [['X-Big', 'b'.repeat(17 * 1024)]] }), 431);
    await assertStillServing(s.port);
  });

  test('more than 128 headers is 431', T, async () => {
    const headers = [];
    for (let i = 0; i < 140; i++) headers.push([`X-N-${i}`, 'v']);
    await expectStatus(s.port, buildRequest('GET', '/', { headers }), 431);
    await assertStillServing(s.port);
  });

  test('a URL over 8 KiB is 414; one under it is routed', T, async () => {
    await expectStatus(s.port, buildRequest('GET', '/p/' + 'u'.repeat(9000)), 414);
    await expectStatus(s.port, buildRequest('GET', '/p/a?' + 'q'.repeat(9000)), 414);
    const ok = await expectStatus(s.port, buildRequest('GET', '/p/' + 'u'.repeat(8000)), 200);
    assert.deepEqual(ok.json(), { len: 8003 });
    await assertStillServing(s.port);
  });

  test('malformed request lines are 400', T, async () => {
    const cases = [
      'this is not http\r\n\r\n',
      'GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n',
      'GET / HTTX/1.1\r\nHost: x\r\n\r\n',
      '\x01\x02\x03 / HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n',
      'GET users HTTP/1.1\r\nHost: x\r\n\r\n',
    ];
    for (const raw of cases) await expectStatus(s.port, Buffer.from(raw, 'latin1'), 400);
    await assertStillServing(s.port);
  });

  test('HTTP/2.0 request line is 505', T, async () => {
    await expectStatus(s.port, Buffer.from('GET / HTTP/2.0\r\nHost: x\r\n\r\n'), 505);
    await expectStatus(s.port, Buffer.from('GET / HTTP/3.0\r\nHost: x\r\n\r\n'), 505);
    await assertStillServing(s.port);
  });

  test('HTTP/1.1 without Host is 400; HTTP/1.0 without Host is fine', T, async () => {
    await expectStatus(s.port, buildRequest('GET', '/', { host: null }), 400);
    const ok = await expectStatus(s.port, buildRequest('GET', '/', { host: null, version: '1.0' }), 200);
    assert.equal(ok.text, 'ok');
  });

  test('two Host headers is 400', T, async () => {
    await expectStatus(s.port, buildRequest('GET', '/', { host: null, headers: [['Host', 'a'], ['Host', 'b']] }), 400);
  });

  test('invalid or conflicting Content-Length is 400', T, async () => {
    await expectStatus(s.port, Buffer.from('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'), 400);
    await expectStatus(s.port, Buffer.from('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'), 400);
    await expectStatus(
      s.port,
      Buffer.from('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'),
      400,
    );
    // Content-Length is 1*DIGIT: a sign is a smuggling vector, not a number.
    await expectStatus(s.port, Buffer.from('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc'), 400);
    await assertStillServing(s.port);
  });

  test('Transfer-Encoding with Content-Length: never framed by Content-Length, connection closed', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(
        Buffer.from(
          'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n' +
            'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
        ),
      );
      const res = await c.readResponse();
      // Either refused, or framed by chunked (5 bytes) -- never by Content-Length (3 bytes).
      if (res.status !== 400) {
        assert.equal(res.status, 200);
        assert.deepEqual(res.json(), { length: 5 });
      }
      await c.waitForClose();
    } finally {
      c.destroy();
    }
    await assertStillServing(s.port);
  });

  test('an unsupported Transfer-Encoding is refused (501 or 400)', T, async () => {
    const res = await exchange(
      s.port,
      Buffer.from('POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc'),
    );
    assert.ok([400, 501].includes(res.status), `status ${res.status}`);
  });

  test('a malformed chunk size is 400', T, async () => {
    await expectStatus(
      s.port,
      Buffer.from('POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'),
      400,
    );
    await expectStatus(
      s.port,
      Buffer.from('POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n'),
      400,
    );
    // A chunk size that overflows 64 bits is refused rather than wrapped.
    const huge = await exchange(
      s.port,
      Buffer.from('POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nabc'),
    );
    assert.ok([400, 413].includes(huge.status), `status ${huge.status}`);
    await assertStillServing(s.port);
  });
});

describe('configured limits', () => {
  test('bodyLimit from createApp: limit accepted, limit + 1 is 413', T, async (t) => {
    const s = await serve(t, routes, { appOptions: { bodyLimit: 1024 } });
    const ok = await expectStatus(
      s.port,
      buildRequest('POST', '/upload', { headers: [['Content-Type', 'application/octet-stream']], body: Buffer.alloc(1024, 1) }),
      200,
    );
    assert.deepEqual(ok.json(), { length: 1024 });
    await expectStatus(
      s.port,
      buildRequest('POST', '/upload', { headers: [['Content-Type', 'application/octet-stream']], body: Buffer.alloc(1025, 1) }),
      413,
    );
    await assertStillServing(s.port);
  });

  test('bodyLimit from listen options', T, async (t) => {
    const s = await serve(t, routes, { listenOptions: { bodyLimit: 100 } });
    await expectStatus(
      s.port,
      buildRequest('POST', '/upload', { headers: [['Content-Type', 'application/octet-stream']], body: Buffer.alloc(101, 1) }),
      413,
    );
    await expectStatus(
      s.port,
      buildRequest('POST', '/upload', { headers: [['Content-Type', 'application/octet-stream']], body: Buffer.alloc(100, 1) }),
      200,
    );
  });

  test('a chunked body over bodyLimit is 413', T, async (t) => {
    const s = await serve(t, routes, { appOptions: { bodyLimit: 1024 } });
    const body = chunked([Buffer.alloc(600, 2), Buffer.alloc(600, 3)]);
    await expectStatus(
      s.port,
      buildRequest('POST', '/upload', {
        headers: [['Content-Type', 'application/octet-stream'], ['Transfer-Encoding', 'chunked']],
        body,
      }),
      413,
    );
    const okBody = chunked([Buffer.alloc(500, 2), Buffer.alloc(524, 3)]);
    const ok = await expectStatus(
      s.port,
      buildRequest('POST', '/upload', {
        headers: [['Content-Type', 'application/octet-stream'], ['Transfer-Encoding', 'chunked']],
        body: okBody,
      }),
      200,
    );
    assert.deepEqual(ok.json(), { length: 1024 });
  });

  test('maxHeaderSize: a header section over it is 431, under it is fine', T, async (t) => {
    const s = await serve(t, routes, { appOptions: { maxHeaderSize: 1024 } });
    await expectStatus(s.port, buildRequest('GET', '/', { headers: [['X-Big', 'b'.repeat(2000)]] }), 431);
    await expectStatus(s.port, buildRequest('GET', '/', { headers: [['X-Small', 'b'.repeat(500)]] }), 200);
  });

  test('maxHeaders: more headers than allowed is 431', T, async (t) => {
    const s = await serve(t, routes, { listenOptions: { maxHeaders: 10 } });
    const many = Array.from({ length: 20 }, (_, i) => [`X-N-${i}`, 'v']);
    await expectStatus(s.port, buildRequest('GET', '/', { headers: many }), 431);
    await expectStatus(s.port, buildRequest('GET', '/', { headers: many.slice(0, 5) }), 200);
  });

  test('maxUrlLength: a target of exactly the limit is served, one byte more is 414', T, async (t) => {
    const s = await serve(t, routes, { appOptions: { maxUrlLength: 100 } });
    await expectStatus(s.port, buildRequest('GET', '/p/' + 'x'.repeat(200)), 414);
    await expectStatus(s.port, buildRequest('GET', '/p/' + 'x'.repeat(97)), 200);
    await expectStatus(s.port, buildRequest('GET', '/p/' + 'x'.repeat(98)), 414);
  });

  test('headersTimeout: an unfinished request head gets 408 and the connection closes', T, async (t) => {
    const s = await serve(t, routes, { appOptions: { headersTimeout: 200 } });
    const c = await RawClient.connect(s.port);
    try {
      await c.write('GET / HTTP/1.1\r\nHost: x\r\n');
      const res = await c.readResponse({ timeout: 8000 });
      assert.equal(res.status, 408);
      await c.waitForClose(8000);
    } finally {
      c.destroy();
    }
    await assertStillServing(s.port);
  });

  test('keepAliveTimeout: an idle keep-alive connection is closed by the server', T, async (t) => {
    const s = await serve(t, routes, { listenOptions: { keepAliveTimeout: 200 } });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/'));
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      await c.waitForClose(4000);
    } finally {
      c.destroy();
    }
  });

  test('a connection that never sends a byte is eventually closed', T, async (t) => {
    const s = await serve(t, routes, { appOptions: { headersTimeout: 200, keepAliveTimeout: 200 } });
    const c = await RawClient.connect(s.port);
    try {
      await c.waitForClose(8000);
    } finally {
      c.destroy();
    }
  });

  test('keepAliveTimeout does not cut a request whose handler is still running', T, async (t) => {
    const s = await serve(
      t,
      (app) => {
        app.get('/slow', async (req, res) => {
          await sleep(700);
          res.send('finished');
        });
      },
      { listenOptions: { keepAliveTimeout: 200 } },
    );
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/slow'));
      const res = await c.readResponse({ timeout: 8000 });
      assert.equal(res.status, 200);
      assert.equal(res.text, 'finished');
    } finally {
      c.destroy();
    }
  });
});
