'use strict';
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { start, request, buildRequest, exchange, RawClient } = require('./helpers');

const T = { timeout: 10000 };

// Repeated headers may be exposed joined (Node style, 'a, b') or as an array; both keep every value.
function values(v) {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return v.split(/,\s*/);
  return v;
}

describe('req fields', () => {
  let s;
  before(async () => {
    s = await start((app) => {
      const info = (req, res) =>
        res.json({
          method: req.method,
          url: req.url,
          path: req.path,
          query: req.query,
          params: req.params,
          ip: req.ip,
          httpVersion: req.httpVersion,
        });
      app.get('/info', info);
      app.all('/info/:a/:b', info);
      app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
      app.get('/headers', (req, res) => res.json({ headers: req.headers }));
      app.get('/get', (req, res) =>
        res.json({
          lower: req.get('x-custom-header'),
          upper: req.get('X-CUSTOM-HEADER'),
          mixed: req.get('X-Custom-Header'),
          missing: req.get('x-not-sent') === undefined,
        }),
      );
      app.get('/count', (req, res) => {
        const names = Object.keys(req.headers).filter((n) => n.startsWith('x-h-'));
        const ok = names.every((n) => req.headers[n] === `value-${n.slice(4)}`);
        res.json({ count: names.length, ok });
      });
      app.get('/long', (req, res) => {
        const v = req.headers['x-long'];
        res.json({ length: v.length, ok: v === 'a'.repeat(8000) + 'z' });
      });
    });
  });
  after(() => s.close());

  test('method, url, path, query, ip and httpVersion', T, async () => {
    const res = await request(s.base, '/info?a=1&b=two');
    const j = await res.json();
    assert.equal(j.method, 'GET');
    assert.equal(j.url, '/info?a=1&b=two');
    assert.equal(j.path, '/info');
    assert.deepEqual(j.query, { a: '1', b: 'two' });
    assert.deepEqual(j.params, {});
    assert.equal(j.ip, '127.0.0.1');
    assert.equal(j.httpVersion, '1.1');
  });

  test('httpVersion is 1.0 for an HTTP/1.0 request', T, async () => {
    const res = await exchange(s.port, buildRequest('GET', '/info', { version: '1.0' }));
    assert.equal(res.status, 200);
    assert.equal(res.json().httpVersion, '1.0');
  });

  test('query: percent-decoding, + as space, empty values', T, async () => {
    const res = await request(s.base, '/info?msg=hello%20world&plus=a+b&empty=&utf=caf%C3%A9&amp=%26');
    const j = await res.json();
    assert.deepEqual(j.query, { msg: 'hello world', plus: 'a b', empty: '', utf: 'café', amp: '&' });
  });

  test('query is an empty object without a query string', T, async () => {
    const j = await (await request(s.base, '/info')).json();
    assert.deepEqual(j.query, {});
    assert.equal(j.url, '/info');
  });

  test('query: a repeated key gives an array of every value', T, async () => {
    const j = await (await request(s.base, '/info?t=1&t=2')).json();
    assert.deepEqual(j.query.t, ['1', '2']);
  });

  test('params on a route that matches any method', T, async () => {
    const res = await request(s.base, '/info/x/y', { method: 'POST' });
    const j = await res.json();
    assert.equal(j.method, 'POST');
    assert.deepEqual(j.params, { a: 'x', b: 'y' });
  });

  test('params are percent-decoded: /users/caf%C3%A9 is café', T, async () => {
    const res = await request(s.base, '/users/caf%C3%A9');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: 'café' });
  });

  test('params are decoded exactly once: %2541 is %41', T, async () => {
    const res = await request(s.base, '/users/%2541');
    assert.deepEqual(await res.json(), { id: '%41' });
  });

  test('a + in a path param stays a +', T, async () => {
    const res = await request(s.base, '/users/a+b%20c');
    assert.deepEqual(await res.json(), { id: 'a+b c' });
  });

  test('an encoded slash stays inside one param', T, async () => {
    const res = await request(s.base, '/users/a%2Fb');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: 'a/b' });
  });

  test('an invalid UTF-8 escape in a param is 400 and the server keeps serving', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/users/%FF'));
      const bad = await c.readResponse();
      assert.equal(bad.status, 400);
    } finally {
      c.destroy();
    }
    const res = await request(s.base, '/users/ok');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: 'ok' });
  });

  test('a malformed percent escape in a param is 400', T, async () => {
    const bad = await exchange(s.port, buildRequest('GET', '/users/%ZZ'));
    assert.equal(bad.status, 400);
    const res = await request(s.base, '/users/ok2');
    assert.deepEqual(await res.json(), { id: 'ok2' });
  });

  test('header names reach JS lower-cased with values intact', T, async () => {
    const res = await exchange(
      s.port,
      buildRequest('GET', '/headers', { headers: [['X-Custom-Header', 'Some Value'], ['ACCEPT', 'text/x-test']] }),
    );
    const { headers } = res.json();
    assert.equal(headers['x-custom-header'], 'Some Value');
    assert.equal(headers.accept, 'text/x-test');
    assert.equal(headers.host, 'localhost');
    assert.ok(!('X-Custom-Header' in headers));
  });

  test('req.get() is case-insensitive', T, async () => {
    const res = await request(s.base, '/get', { headers: { 'X-Custom-Header': 'abc' } });
    assert.deepEqual(await res.json(), { lower: 'abc', upper: 'abc', mixed: 'abc', missing: true });
  });

  test('repeated headers are kept', T, async () => {
    const res = await exchange(
      s.port,
      buildRequest('GET', '/headers', { headers: [['X-Dup', 'first'], ['X-Other', 'o'], ['X-Dup', 'second']] }),
    );
    const { headers } = res.json();
    assert.deepEqual(values(headers['x-dup']), ['first', 'second']);
    assert.equal(headers['x-other'], 'o');
  });

  test('100 request headers all reach JS', T, async () => {
    const headers = [];
    for (let i = 0; i < 100; i++) headers.push([`X-H-${i}`, `value-${i}`]);
    const res = await exchange(s.port, buildRequest('GET', '/count', { headers }));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { count: 100, ok: true });
  });

  test('an 8 KB header value reaches JS intact', T, async () => {
    const res = await exchange(s.port, buildRequest('GET', '/long', { headers: [['X-Long', 'a'.repeat(8000) + 'z']] }));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { length: 8001, ok: true });
  });
});
