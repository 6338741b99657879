'use strict';
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { start, buildRequest, RawClient, sleep } = require('./helpers');

const T = { timeout: 15000 };

describe('keep-alive, pipelining and split reads', () => {
  let s;
  before(async () => {
    // No middleware and no notFound handler: unmatched paths are answered by Rust.
    s = await start((app) => {
      app.get('/', (req, res) => res.send('root'));
      app.get('/n/:n', (req, res) => res.json({ n: req.params.n }));
      app.get('/delay/:ms/:tag', async (req, res) => {
        await sleep(Number(req.params.ms));
        res.json({ tag: req.params.tag });
      });
      app.post('/echo', (req, res) => res.json(req.body));
      app.post('/text', (req, res) => res.text(String(req.body)));
      app.get('/throw', () => {
        throw new Error('boom');
      });
      app.get('/reject', async () => {
        await sleep(5);
        throw new Error('async boom');
      });
    });
  });
  after(() => s.close());

  test('HTTP/1.1 keeps the connection open by default', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      for (let i = 0; i < 3; i++) {
        await c.write(buildRequest('GET', `/n/${i}`));
        const res = await c.readResponse();
        assert.equal(res.status, 200);
        assert.deepEqual(res.json(), { n: String(i) });
        assert.notEqual((res.headers.connection || '').toLowerCase(), 'close');
      }
      assert.equal(c.isClosedByPeer, false);
    } finally {
      c.destroy();
    }
  });

  test('HTTP/1.0 without keep-alive: the server closes after the response', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/n/1', { version: '1.0' }));
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      assert.deepEqual(res.json(), { n: '1' });
      assert.notEqual((res.headers.connection || '').toLowerCase(), 'keep-alive');
      await c.waitForClose();
    } finally {
      c.destroy();
    }
  });

  test('HTTP/1.0 with Connection: keep-alive stays open and says so', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      for (let i = 0; i < 2; i++) {
        await c.write(buildRequest('GET', `/n/${i}`, { version: '1.0', headers: [['Connection', 'keep-alive']] }));
        const res = await c.readResponse();
        assert.equal(res.status, 200);
        assert.deepEqual(res.json(), { n: String(i) });
        assert.equal((res.headers.connection || '').toLowerCase(), 'keep-alive');
      }
    } finally {
      c.destroy();
    }
  });

  test('Connection: close is honoured: header in the response, then the socket closes', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/n/7', { headers: [['Connection', 'close']] }));
      const res = await c.readResponse();
      assert.deepEqual(res.json(), { n: '7' });
      assert.equal((res.headers.connection || '').toLowerCase(), 'close');
      await c.waitForClose();
    } finally {
      c.destroy();
    }
  });

  test('Connection: close on a Rust-answered 404 also closes', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/missing', { headers: [['Connection', 'close']] }));
      const res = await c.readResponse();
      assert.equal(res.status, 404);
      assert.equal((res.headers.connection || '').toLowerCase(), 'close');
      await c.waitForClose();
    } finally {
      c.destroy();
    }
  });

  test('pipelined requests in one write are all answered in order', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      const n = 20;
      const reqs = [];
      for (let i = 0; i < n; i++) reqs.push(buildRequest('GET', `/n/${i}`));
      await c.write(Buffer.concat(reqs));
      const responses = await c.readResponses(n);
      responses.forEach((res, i) => assert.deepEqual(res.json(), { n: String(i) }));
    } finally {
      c.destroy();
    }
  });

  test('pipelined responses keep request order when handlers finish out of order', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      const plan = [
        ['300', 'a'],
        ['10', 'b'],
        ['150', 'c'],
        ['0', 'd'],
        ['80', 'e'],
      ];
      await c.write(Buffer.concat(plan.map(([ms, tag]) => buildRequest('GET', `/delay/${ms}/${tag}`))));
      const responses = await c.readResponses(plan.length);
      assert.deepEqual(
        responses.map((r) => r.json().tag),
        plan.map(([, tag]) => tag),
      );
    } finally {
      c.destroy();
    }
  });

  test('a Rust-answered 404 waits behind a slower JS response in a pipeline', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(
        Buffer.concat([
          buildRequest('GET', '/delay/200/slow'),
          buildRequest('GET', '/not-a-route'),
          buildRequest('GET', '/n/3'),
        ]),
      );
      const [a, b, d] = await c.readResponses(3);
      assert.equal(a.status, 200);
      assert.deepEqual(a.json(), { tag: 'slow' });
      assert.equal(b.status, 404);
      assert.deepEqual(d.json(), { n: '3' });
    } finally {
      c.destroy();
    }
  });

  test('pipelined POSTs with bodies, mixed with GETs and a HEAD', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(
        Buffer.concat([
          buildRequest('POST', '/echo', { headers: [['Content-Type', 'application/json']], body: '{"i":1}' }),
          buildRequest('HEAD', '/n/2'),
          buildRequest('POST', '/text', { headers: [['Content-Type', 'text/plain']], body: 'GET /n/9 HTTP/1.1\r\n\r\n' }),
          buildRequest('GET', '/n/4'),
        ]),
      );
      const [r1, r2, r3, r4] = await c.readResponses(4, { heads: [false, true, false, false] });
      assert.deepEqual(r1.json(), { i: 1 });
      assert.equal(r2.status, 200);
      assert.equal(r2.body.length, 0);
      assert.equal(r3.text, 'GET /n/9 HTTP/1.1\r\n\r\n');
      assert.deepEqual(r4.json(), { n: '4' });
    } finally {
      c.destroy();
    }
  });

  test('pipelined large bodies and large responses come back intact and in order', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      const bodies = [0, 1, 2, 3].map((k) => 'x'.repeat(200 * 1024 + k) + k);
      const reqs = [];
      for (const b of bodies) {
        reqs.push(buildRequest('POST', '/text', { headers: [['Content-Type', 'text/plain']], body: b }));
        reqs.push(buildRequest('GET', `/n/${b.length}`));
      }
      await c.write(Buffer.concat(reqs));
      const responses = await c.readResponses(reqs.length, { timeout: 10000 });
      bodies.forEach((b, k) => {
        assert.equal(responses[2 * k].text, b, `body ${k}`);
        assert.deepEqual(responses[2 * k + 1].json(), { n: String(b.length) });
      });
    } finally {
      c.destroy();
    }
  });

  test('a request written one byte at a time, including its body', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      const req = buildRequest('POST', '/echo', {
        headers: [['Content-Type', 'application/json'], ['X-Padding', 'p'.repeat(20)]],
        body: JSON.stringify({ slow: 'bytes', list: [1, 2, 3] }),
      });
      await c.writeInPieces(req, 1, 1);
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      assert.deepEqual(res.json(), { slow: 'bytes', list: [1, 2, 3] });
    } finally {
      c.destroy();
    }
  });

  test('a chunked request written one byte at a time', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      const req =
        'POST /text HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n';
      await c.writeInPieces(req, 1, 1);
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      assert.equal(res.text, 'Wikipedia in\r\n\r\nchunks.');
    } finally {
      c.destroy();
    }
  });

  test('a pipeline split at odd places across many writes', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      const reqs = [];
      for (let i = 0; i < 10; i++) {
        reqs.push(
          i % 2
            ? buildRequest('GET', `/n/${i}`)
            : buildRequest('POST', '/echo', { headers: [['Content-Type', 'application/json']], body: JSON.stringify({ i }) }),
        );
      }
      await c.writeInPieces(Buffer.concat(reqs), 13, 0);
      const responses = await c.readResponses(10);
      responses.forEach((res, i) => {
        assert.deepEqual(res.json(), i % 2 ? { n: String(i) } : { i });
      });
    } finally {
      c.destroy();
    }
  });

  test('a second request arriving while the first is in flight is answered after it', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/delay/200/first'));
      await sleep(50);
      await c.write(buildRequest('GET', '/delay/0/second'));
      const [a, b] = await c.readResponses(2);
      assert.deepEqual(a.json(), { tag: 'first' });
      assert.deepEqual(b.json(), { tag: 'second' });
    } finally {
      c.destroy();
    }
  });

  test('a throwing handler then a good request on the same connection', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/throw'));
      const bad = await c.readResponse();
      assert.equal(bad.status, 500);
      assert.deepEqual(bad.json(), { error: 'Internal Server Error' });
      await c.write(buildRequest('GET', '/n/5'));
      const good = await c.readResponse();
      assert.equal(good.status, 200);
      assert.deepEqual(good.json(), { n: '5' });
      await c.write(Buffer.concat([buildRequest('GET', '/reject'), buildRequest('GET', '/n/6')]));
      const [bad2, good2] = await c.readResponses(2);
      assert.equal(bad2.status, 500);
      assert.deepEqual(good2.json(), { n: '6' });
    } finally {
      c.destroy();
    }
  });

  test('requests after Connection: close in the same pipeline are not answered', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(
        Buffer.concat([
          buildRequest('GET', '/n/1'),
          buildRequest('GET', '/n/2', { headers: [['Connection', 'close']] }),
          buildRequest('GET', '/n/3'),
        ]),
      );
      const [a, b] = await c.readResponses(2);
      assert.deepEqual(a.json(), { n: '1' });
      assert.deepEqual(b.json(), { n: '2' });
      await c.waitForClose();
      assert.equal(c.leftover.length, 0, `unexpected bytes after close: ${c.leftover.toString('latin1')}`);
    } finally {
      c.destroy();
    }
  });

  test('a client that leaves before its answer, or mid-body, does not disturb the server', T, async () => {
    const gone = await RawClient.connect(s.port);
    await gone.write(buildRequest('GET', '/delay/100/gone'));
    gone.destroy();
    const half = await RawClient.connect(s.port);
    await half.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":');
    half.destroy();
    await sleep(200);
    const c = await RawClient.connect(s.port);
    try {
      await c.write(Buffer.concat([buildRequest('GET', '/delay/0/after'), buildRequest('GET', '/n/1')]));
      const [a, b] = await c.readResponses(2);
      assert.deepEqual(a.json(), { tag: 'after' });
      assert.deepEqual(b.json(), { n: '1' });
    } finally {
      c.destroy();
    }
  });

  test('many connections pipelining concurrently each get their own answers', T, async () => {
    const conns = 10;
    const per = 20;
    await Promise.all(
      Array.from({ length: conns }, async (_, k) => {
        const c = await RawClient.connect(s.port);
        try {
          const reqs = [];
          for (let i = 0; i < per; i++) {
            reqs.push(i % 3 === 0 ? buildRequest('GET', `/delay/${(i * 7) % 20}/${k}-${i}`) : buildRequest('GET', `/n/${k}-${i}`));
          }
          await c.write(Buffer.concat(reqs));
          const responses = await c.readResponses(per, { timeout: 10000 });
          responses.forEach((res, i) => {
            const j = res.json();
            assert.equal(i % 3 === 0 ? j.tag : j.n, `${k}-${i}`);
          });
        } finally {
          c.destroy();
        }
      }),
    );
  });
});
