'use strict';
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { start, request, buildRequest, exchange, RawClient, assertDateHeader } = require('./helpers');

const T = { timeout: 10000 };
const BIG = Buffer.alloc(4 * 1024 * 1024);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 31 + (i >> 12)) & 0xff;

describe('res API', () => {
  let s;
  const seen = {};
  before(async () => {
    s = await start((app) => {
      app.get('/json', (req, res) => res.status(201).json({ a: 1, list: [1, 'two', null], s: 'é' }));
      app.get('/send-string', (req, res) => res.send('<p>hi</p>'));
      app.get('/send-buffer', (req, res) => res.send(Buffer.from([0, 1, 2, 0xfe, 0xff])));
      app.get('/send-object', (req, res) => res.send({ ok: true }));
      app.get('/text', (req, res) => res.text('plain text'));
      app.get('/html', (req, res) => res.html('<b>x</b>'));
      app.get('/type', (req, res) => res.type('application/xml').send('<a/>'));
      app.get('/set', (req, res) => {
        res.set('X-One', '1').header('X-Two', '2');
        res.json({ one: res.get('x-one'), two: res.get('X-Two') });
      });
      app.get('/chain', (req, res) => res.status(202).set('x-chain', 'yes').type('text/plain').send('chained'));
      app.get('/redirect', (req, res) => res.redirect('/target'));
      app.get('/redirect-301', (req, res) => res.redirect(301, 'https://example.com/x'));
      app.get('/status/:code', (req, res) => res.sendStatus(Number(req.params.code)));
      app.get('/end', (req, res) => res.status(200).end());
      app.get('/headers-sent', (req, res) => {
        seen.before = res.headersSent;
        res.send('x');
        seen.after = res.headersSent;
      });
      app.get('/twice', (req, res) => {
        res.send('first');
        try {
          res.send('second');
          res.json({ third: true });
          seen.twiceThrew = false;
        } catch {
          seen.twiceThrew = true;
        }
      });
      app.get('/crlf', (req, res) => {
        let threw = false;
        try {
          res.set('x-bad', 'a\r\nx-injected: 1');
        } catch {
          threw = true;
        }
        res.json({ threw });
      });
      app.get('/fake-length', (req, res) => res.set('content-length', '999').send('abc'));
      app.get('/utf8', (req, res) => res.send('héllo wörld ✓'));
      app.get('/empty-string', (req, res) => res.send(''));
      app.get('/big', (req, res) => res.send(BIG));
      app.get('/not-modified', (req, res) => res.status(304).send('must not be sent'));
      app.get('/many-headers', (req, res) => {
        for (let i = 0; i < 50; i++) res.set(`x-r-${i}`, `v${i}`);
        res.send('many');
      });
    });
  });
  after(() => s.close());

  test('status().json() sets status, JSON content type and body', T, async () => {
    const res = await request(s.base, '/json');
    assert.equal(res.status, 201);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(await res.json(), { a: 1, list: [1, 'two', null], s: 'é' });
  });

  test('send(string) is text/html', T, async () => {
    const res = await request(s.base, '/send-string');
    assert.match(res.headers.get('content-type'), /^text\/html/);
    assert.equal(await res.text(), '<p>hi</p>');
  });

  test('send(Buffer) is application/octet-stream with the exact bytes', T, async () => {
    const res = await request(s.base, '/send-buffer');
    assert.match(res.headers.get('content-type'), /^application\/octet-stream/);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), Buffer.from([0, 1, 2, 0xfe, 0xff]));
  });

  test('send(object) is JSON', T, async () => {
    const res = await request(s.base, '/send-object');
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(await res.json(), { ok: true });
  });

  test('text() is text/plain and html() is text/html', T, async () => {
    let res = await request(s.base, '/text');
    assert.match(res.headers.get('content-type'), /^text\/plain/);
    assert.equal(await res.text(), 'plain text');
    res = await request(s.base, '/html');
    assert.match(res.headers.get('content-type'), /^text\/html/);
    assert.equal(await res.text(), '<b>x</b>');
  });

  test('type() sets the content type that send() keeps', T, async () => {
    const res = await request(s.base, '/type');
    assert.match(res.headers.get('content-type'), /^application\/xml/);
    assert.equal(await res.text(), '<a/>');
  });

  test('set()/header() set headers and get() reads them back case-insensitively', T, async () => {
    const res = await request(s.base, '/set');
    assert.equal(res.headers.get('x-one'), '1');
    assert.equal(res.headers.get('x-two'), '2');
    assert.deepEqual(await res.json(), { one: '1', two: '2' });
  });

  test('status/set/type/send chain', T, async () => {
    const res = await request(s.base, '/chain');
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('x-chain'), 'yes');
    assert.match(res.headers.get('content-type'), /^text\/plain/);
    assert.equal(await res.text(), 'chained');
  });

  test('redirect(url) is 302 with Location', T, async () => {
    const res = await request(s.base, '/redirect', { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/target');
    await res.arrayBuffer();
  });

  test('redirect(status, url) uses the status', T, async () => {
    const res = await request(s.base, '/redirect-301', { redirect: 'manual' });
    assert.equal(res.status, 301);
    assert.equal(res.headers.get('location'), 'https://example.com/x');
    await res.arrayBuffer();
  });

  test('sendStatus() sets the status', T, async () => {
    for (const code of [403, 404, 418, 503]) {
      const res = await request(s.base, `/status/${code}`);
      assert.equal(res.status, code);
      await res.arrayBuffer();
    }
  });

  test('sendStatus(204) sends no body and the connection stays usable', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(Buffer.concat([buildRequest('GET', '/status/204'), buildRequest('GET', '/text')]));
      const [r204, next] = await c.readResponses(2);
      assert.equal(r204.status, 204);
      assert.equal(next.status, 200);
      assert.equal(next.text, 'plain text');
    } finally {
      c.destroy();
    }
  });

  test('end() sends an empty body with content-length 0', T, async () => {
    const res = await exchange(s.port, buildRequest('GET', '/end'));
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], '0');
    assert.equal(res.body.length, 0);
  });

  test('headersSent is false before sending and true after', T, async () => {
    const res = await request(s.base, '/headers-sent');
    assert.equal(await res.text(), 'x');
    assert.equal(seen.before, false);
    assert.equal(seen.after, true);
  });

  test('a second send is ignored and does not throw', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(Buffer.concat([buildRequest('GET', '/twice'), buildRequest('GET', '/text')]));
      const [first, next] = await c.readResponses(2);
      assert.equal(first.status, 200);
      assert.equal(first.text, 'first');
      assert.equal(next.text, 'plain text');
      assert.equal(seen.twiceThrew, false);
    } finally {
      c.destroy();
    }
  });

  test('a header value with CR/LF is rejected when set and never reaches the wire', T, async () => {
    const res = await exchange(s.port, buildRequest('GET', '/crlf'));
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-injected'], undefined);
    assert.deepEqual(res.json(), { threw: true });
  });

  test('content-length is computed by the server, not taken from the app', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(Buffer.concat([buildRequest('GET', '/fake-length'), buildRequest('GET', '/text')]));
      const [r, next] = await c.readResponses(2);
      assert.equal(r.headers['content-length'], '3');
      assert.equal(r.text, 'abc');
      assert.equal(next.text, 'plain text');
    } finally {
      c.destroy();
    }
  });

  test('content-length counts bytes of UTF-8 text, not characters', T, async () => {
    const res = await exchange(s.port, buildRequest('GET', '/utf8'));
    assert.equal(Number(res.headers['content-length']), Buffer.byteLength('héllo wörld ✓'));
    assert.equal(res.text, 'héllo wörld ✓');
  });

  test('every response carries Date and a correct Content-Length', T, async () => {
    for (const p of ['/json', '/send-buffer', '/end', '/empty-string', '/status/404', '/redirect', '/no-route']) {
      const res = await exchange(s.port, buildRequest('GET', p));
      assertDateHeader(assert, res);
      assert.ok(res.headers['content-length'] !== undefined, `${p}: content-length present`);
      assert.equal(Number(res.headers['content-length']), res.body.length, p);
      assert.equal(res.headers['transfer-encoding'], undefined, p);
    }
  });

  test('a 4 MiB response body arrives intact', T, async () => {
    const res = await request(s.base, '/big');
    assert.equal(res.headers.get('content-length'), String(BIG.length));
    const got = Buffer.from(await res.arrayBuffer());
    assert.equal(got.length, BIG.length);
    assert.ok(got.equals(BIG), 'body bytes differ');
  });

  test('a 304 response carries no body and the next pipelined response parses cleanly', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(Buffer.concat([buildRequest('GET', '/not-modified'), buildRequest('GET', '/text')]));
      const [r304, next] = await c.readResponses(2);
      assert.equal(r304.status, 304);
      assert.equal(next.status, 200);
      assert.equal(next.text, 'plain text');
    } finally {
      c.destroy();
    }
  });

  test('50 response headers set by the app all reach the client', T, async () => {
    const res = await exchange(s.port, buildRequest('GET', '/many-headers'));
    for (let i = 0; i < 50; i++) assert.equal(res.headers[`x-r-${i}`], `v${i}`);
    assert.equal(res.text, 'many');
  });
});
