'use strict';
// Request framing details: chunk extensions checked against RFC 9112 §7.1.1 and bounded, empty
// lines before a request line ignored (a bounded number, §2.2), and error answers to HEAD
// requests without a body, as every HEAD answer.
const { test, describe } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const net = require('node:net');
const { once } = require('node:events');
const { serve, buildRequest, RawClient, exchange, withTimeout } = require('./helpers');

const T = { timeout: 20000 };

function echoApp(app) {
  app.post('/echo', (req, res) => res.send(req.body === undefined ? '' : req.body.toString()));
  app.get('/x', (req, res) => res.send('x'));
}

function chunkedPost(chunkLines) {
  return Buffer.from(`POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${chunkLines}`, 'latin1');
}

describe('chunk extensions', () => {
  test('well-formed extensions are accepted and ignored', T, async (t) => {
    const s = await serve(t, echoApp);
    for (const line of ['5;a', '5;a=b', '5 ; a = b ;c', '5;a="x y;z\\"q"', '5;a="";b=1']) {
      const res = await exchange(s.port, chunkedPost(`${line}\r\nhello\r\n0\r\n\r\n`));
      assert.equal(res.status, 200, line);
      assert.equal(res.text, 'hello', line);
    }
  });

  test('malformed extensions get 400 and the connection closes', T, async (t) => {
    const s = await serve(t, echoApp);
    for (const line of ['5;', '5;a=', '5;a="open', '5;a b', '5;a=b ', '5;=b', '5;a="x"y', '5;a=\x01']) {
      const { res, client } = await exchange(s.port, chunkedPost(`${line}\r\nhello\r\n0\r\n\r\n`), { keep: true });
      try {
        assert.equal(res.status, 400, JSON.stringify(line));
        await client.waitForClose();
      } finally {
        client.destroy();
      }
    }
  });

  test('an endless extension is refused with 400 once past the bound, without waiting for its end', T, async (t) => {
    const s = await serve(t, echoApp);
    const sock = net.connect({ port: s.port, host: '127.0.0.1' });
    t.after(() => sock.destroy());
    sock.on('error', () => {});
    await once(sock, 'connect');
    let answer = '';
    const answered = new Promise((resolve) => sock.on('data', (d) => {
      answer += d;
      if (answer.includes('\r\n\r\n')) resolve();
    }));
    sock.write(chunkedPost('5;a='));
    // 256 KiB of one extension, 16 times its bound (16 KiB), and never its end: the answer must
    // come without it. No more than that: past the 1 MiB the server reads after an error answer
    // (its lingering close), unread bytes make the kernel reset the connection, and on a loaded
    // machine, where the server thread can fall behind a writing client, the reset could destroy
    // the answer before it is read.
    sock.write(Buffer.alloc(256 * 1024, 0x61));
    await withTimeout(answered, 5000, 'the answer to an endless extension');
    assert.match(answer, /^HTTP\/1\.1 400 /);
  });

  test('extensions across many chunks add up to the same bound', T, async (t) => {
    const s = await serve(t, echoApp);
    const ext = `;${'e'.repeat(1000)}`;
    const few = Array.from({ length: 10 }, () => `1${ext}\r\nx\r\n`).join('');
    const ok = await exchange(s.port, chunkedPost(`${few}0\r\n\r\n`));
    assert.equal(ok.status, 200);
    assert.equal(ok.text, 'x'.repeat(10));
    const many = Array.from({ length: 40 }, () => `1${ext}\r\nx\r\n`).join('');
    const refused = await exchange(s.port, chunkedPost(`${many}0\r\n\r\n`));
    assert.equal(refused.status, 400);
  });
});

describe('empty lines before a request line', () => {
  test('a few are ignored, on a fresh connection and between keep-alive requests', T, async (t) => {
    const s = await serve(t, echoApp);
    for (const n of [1, 2, 5, 8]) {
      const res = await exchange(s.port, Buffer.concat([Buffer.from('\r\n'.repeat(n)), buildRequest('GET', '/x')]));
      assert.equal(res.status, 200, `${n} empty lines`);
    }
    const c = await RawClient.connect(s.port);
    try {
      // A POST followed by a stray CRLF (old browsers sent one), then the next request.
      await c.write(Buffer.concat([buildRequest('POST', '/echo', { body: 'hi', headers: { 'content-type': 'text/plain' } }), Buffer.from('\r\n\r\n')]));
      assert.equal((await c.readResponse()).text, 'hi');
      await c.write(buildRequest('GET', '/x'));
      assert.equal((await c.readResponse()).text, 'x');
    } finally {
      c.destroy();
    }
  });

  test('empty lines split over several reads count once each', T, async (t) => {
    const s = await serve(t, echoApp);
    const c = await RawClient.connect(s.port);
    try {
      await c.writeInPieces(Buffer.concat([Buffer.from('\r\n\r\n\r\n'), buildRequest('GET', '/x')]), 1, 1);
      assert.equal((await c.readResponse()).text, 'x');
    } finally {
      c.destroy();
    }
  });

  test('past the bound: 400 and the connection closes', T, async (t) => {
    const s = await serve(t, echoApp);
    const { res, client } = await exchange(s.port, Buffer.concat([Buffer.from('\r\n'.repeat(9)), buildRequest('GET', '/x')]), { keep: true });
    try {
      assert.equal(res.status, 400);
      await client.waitForClose();
    } finally {
      client.destroy();
    }
  });
});

describe('error answers to HEAD requests carry no body', () => {
  const cases = [
    ['bad framing (400)', 'HEAD /x HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n', 400],
    ['too large (413)', 'HEAD /x HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999\r\n\r\n', 413],
    ['URI too long (414)', `HEAD /${'a'.repeat(9000)} HTTP/1.1\r\nHost: h\r\n\r\n`, 414],
    ['version (505)', 'HEAD /x HTTP/3.0\r\nHost: h\r\n\r\n', 505],
    ['after empty lines (400)', '\r\nHEAD /x HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n', 400],
  ];
  for (const [name, raw, status] of cases) {
    test(name, T, async (t) => {
      const s = await serve(t, echoApp);
      const { res, client } = await exchange(s.port, Buffer.from(raw, 'latin1'), { head: true, keep: true });
      try {
        assert.equal(res.status, status);
        assert.ok(Number(res.headers['content-length']) > 0, 'the length a GET would have had');
        await client.waitForClose();
        assert.equal(client.leftover.length, 0, `no body after the head: ${JSON.stringify(client.leftover.toString('latin1'))}`);
      } finally {
        client.destroy();
      }
    });
  }

  test('a HEAD request whose head never completes gets a bodiless 408', T, async (t) => {
    const s = await serve(t, echoApp, { listenOptions: { headersTimeout: 300 } });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(Buffer.from('HEAD /x HTTP/1.1\r\nHost: h\r\n'));
      const res = await c.readResponse({ head: true, timeout: 5000 });
      assert.equal(res.status, 408);
      await c.waitForClose();
      assert.equal(c.leftover.length, 0);
    } finally {
      c.destroy();
    }
  });
});
