'use strict';
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { start, request, buildRequest, chunked, exchange, RawClient } = require('./helpers');

const T = { timeout: 15000 };

// Describes req.body so the test sees its JS type, not just its JSON form.
function describeBody(body) {
  if (body === undefined) return { kind: 'undefined' };
  if (Buffer.isBuffer(body)) return { kind: 'buffer', hex: body.toString('hex'), length: body.length };
  if (typeof body === 'string') return { kind: 'string', value: body };
  return { kind: typeof body, isArray: Array.isArray(body), value: body };
}

describe('request bodies', () => {
  let s;
  let handlerCalls = 0;
  before(async () => {
    s = await start((app) => {
      app.post('/echo', (req, res) => res.json(req.body));
      app.post('/describe', (req, res) => res.json(describeBody(req.body)));
      app.put('/describe', (req, res) => res.json(describeBody(req.body)));
      app.get('/describe', (req, res) => res.json(describeBody(req.body)));
      app.post('/counted', (req, res) => {
        handlerCalls++;
        res.json({ called: true });
      });
      app.post('/raw', (req, res) => {
        const b = Buffer.isBuffer(req.body) ? req.body : Buffer.from(String(req.body ?? ''));
        res.json({ length: b.length, sum: b.reduce((a, x) => (a + x) % 1000003, 0) });
      });
    });
  });
  after(() => s.close());

  test('JSON body is parsed (object)', T, async () => {
    const payload = { name: 'Zoë', n: 3, nested: { list: [1, 2, { x: null }] }, t: true };
    const res = await request(s.base, '/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), payload);
  });

  test('JSON body with a charset parameter and a top-level array', T, async () => {
    const res = await request(s.base, '/describe', {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: '[1,"two",3]',
    });
    assert.deepEqual(await res.json(), { kind: 'object', isArray: true, value: [1, 'two', 3] });
  });

  test('invalid JSON is 400 and the handler does not run', T, async () => {
    const before = handlerCalls;
    const res = await request(s.base, '/counted', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a": ',
    });
    assert.equal(res.status, 400);
    await res.arrayBuffer();
    assert.equal(handlerCalls, before);
    // The same route still works with a valid body.
    const ok = await request(s.base, '/counted', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.deepEqual(await ok.json(), { called: true });
    assert.equal(handlerCalls, before + 1);
  });

  test('text/* body is a string', T, async () => {
    const res = await request(s.base, '/describe', {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: 'héllo\nworld',
    });
    assert.deepEqual(await res.json(), { kind: 'string', value: 'héllo\nworld' });
    const csv = await request(s.base, '/describe', {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: 'a,b\n1,2',
    });
    assert.deepEqual(await csv.json(), { kind: 'string', value: 'a,b\n1,2' });
  });

  test('urlencoded body is an object', T, async () => {
    const res = await request(s.base, '/describe', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1&b=x+y&c=caf%C3%A9',
    });
    assert.deepEqual(await res.json(), { kind: 'object', isArray: false, value: { a: '1', b: 'x y', c: 'café' } });
  });

  test('any other content type gives a Buffer with the exact bytes', T, async () => {
    const bytes = Buffer.from([0, 255, 13, 10, 128, 65]);
    const res = await request(s.base, '/describe', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    assert.deepEqual(await res.json(), { kind: 'buffer', hex: bytes.toString('hex'), length: 6 });
  });

  test('a body without a content type is a Buffer', T, async () => {
    const res = await exchange(s.port, buildRequest('POST', '/describe', { body: 'abc' }));
    assert.deepEqual(res.json(), { kind: 'buffer', hex: Buffer.from('abc').toString('hex'), length: 3 });
  });

  test('no body gives undefined', T, async () => {
    let res = await request(s.base, '/describe');
    assert.deepEqual(await res.json(), { kind: 'undefined' });
    res = await exchange(s.port, buildRequest('POST', '/describe'));
    assert.deepEqual(res.json(), { kind: 'undefined' });
  });

  test('all 256 byte values survive a round trip', T, async () => {
    const bytes = Buffer.alloc(256 * 4);
    for (let i = 0; i < bytes.length; i++) bytes[i] = i % 256;
    const res = await request(s.base, '/describe', {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    const j = await res.json();
    assert.equal(j.kind, 'buffer');
    assert.equal(j.hex, bytes.toString('hex'));
  });

  test('a 512 KiB body arrives intact', T, async () => {
    const bytes = Buffer.alloc(512 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff;
    const expectedSum = bytes.reduce((a, x) => (a + x) % 1000003, 0);
    const res = await request(s.base, '/raw', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    assert.deepEqual(await res.json(), { length: bytes.length, sum: expectedSum });
  });

  test('chunked request body reaches req.body intact', T, async () => {
    const payload = { chunked: true, items: ['a', 'b', 'c'], text: 'ünïcödé' };
    const json = Buffer.from(JSON.stringify(payload));
    const body = chunked([json.subarray(0, 5), json.subarray(5, 17), json.subarray(17)]);
    const res = await exchange(
      s.port,
      buildRequest('POST', '/echo', {
        headers: [['Content-Type', 'application/json'], ['Transfer-Encoding', 'chunked']],
        body,
      }),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), payload);
  });

  test('chunked body with chunk extensions and a trailer section', T, async () => {
    const raw =
      'POST /describe HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n';
    const res = await exchange(s.port, Buffer.from(raw));
    assert.deepEqual(res.json(), { kind: 'string', value: 'hello world' });
  });

  test('the chunked coding name is case-insensitive', T, async () => {
    const res = await exchange(
      s.port,
      Buffer.from('POST /describe HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'),
    );
    assert.deepEqual(res.json(), { kind: 'string', value: 'abc' });
  });

  test('chunked body split across many writes (inside size lines, data and CRLFs)', T, async () => {
    const data = Buffer.alloc(3000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff;
    const body = chunked([data.subarray(0, 1000), data.subarray(1000, 1001), data.subarray(1001)]);
    const req = buildRequest('POST', '/describe', {
      headers: [['Content-Type', 'application/octet-stream'], ['Transfer-Encoding', 'chunked']],
      body,
    });
    const c = await RawClient.connect(s.port);
    try {
      // Pieces of 7 bytes cut every line and chunk boundary at odd places.
      await c.writeInPieces(req, 7, 1);
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      const j = res.json();
      assert.equal(j.kind, 'buffer');
      assert.equal(j.hex, data.toString('hex'));
    } finally {
      c.destroy();
    }
  });

  test('Content-Length body split across writes', T, async () => {
    const req = buildRequest('POST', '/echo', {
      headers: [['Content-Type', 'application/json']],
      body: JSON.stringify({ split: 'yes', n: 12345 }),
    });
    const c = await RawClient.connect(s.port);
    try {
      const cut = req.indexOf('\r\n\r\n') + 6; // head plus two body bytes, then the rest
      await c.write(req.subarray(0, cut));
      await new Promise((r) => setTimeout(r, 50));
      await c.write(req.subarray(cut));
      const res = await c.readResponse();
      assert.deepEqual(res.json(), { split: 'yes', n: 12345 });
    } finally {
      c.destroy();
    }
  });

  test('a JSON body of null or a number is parsed', T, async () => {
    for (const [text, value] of [['null', null], ['42', 42], ['"s"', 's']]) {
      const res = await request(s.base, '/describe', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: text,
      });
      const j = await res.json();
      assert.deepEqual(j.value, value, text);
    }
  });
});
