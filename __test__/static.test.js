'use strict';
// app.static(): responses known at startup, answered by Rust for GET and HEAD without any JS.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { createApp } = require('..');
const { start, serve, get, buildRequest, RawClient, assertDateHeader } = require('./helpers');

const T = { timeout: 20000 };
const STRONG_ETAG = /^"[\x21\x23-\x7e\x80-\xff]*"$/;
const BYTES = Buffer.from([0, 1, 2, 0xfe, 0xff]);

describe('app.static()', () => {
  let s;
  let middlewareRuns = 0;
  before(async () => {
    s = await start((app) => {
      // Counts every request that reaches JS at all.
      app.use((req, res, next) => {
        middlewareRuns++;
        next();
      });
      app.static('/html', '<h1>hi</h1>');
      app.static('/bytes', BYTES);
      app.static('/json', { ok: true, list: [1, 2] });
      app.static('/css', 'body{}', { type: 'css' });
      app.static('/mime', '<a/>', { type: 'application/xml' });
      app.static('/typed-header', 'plain', { headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
      app.static('/custom', 'custom', {
        status: 203,
        headers: { 'Cache-Control': 'public, max-age=60', 'X-Multi': ['one', 'two'], 'X-Num': 7 },
      });
      app.static('/empty', null);
      app.static('/own-etag', 'e', { headers: { ETag: '"v1"' } });
      app.static('/cc-304', 'cc', { headers: { ETag: '"cc"', 'Cache-Control': 'public, max-age=60' } });
      app.static('/utf8', 'héllo ✓');
      app.static('/both', 'static GET');
      app.post('/both', (req, res) => res.send('JS POST'));
      app.get('/js', (req, res) => res.send('from JS'));
      app.group('/g', (g) => {
        g.static('/', 'group root');
        g.static('/file', 'group file');
        g.group('/inner', (inner) => inner.static('/deep', 'deep'));
      });
    });
  });
  after(() => s.close());

  test('served without running JS: no middleware, requests.js unchanged', T, async () => {
    const before = s.server.stats();
    const runs = middlewareRuns;
    for (const target of ['/html', '/bytes', '/json', '/custom', '/g/file']) {
      for (let i = 0; i < 3; i++) assert.equal((await get(s.port, target)).status, target === '/custom' ? 203 : 200);
    }
    await get(s.port, '/html', { method: 'HEAD' });
    assert.equal(middlewareRuns, runs, 'middleware never ran for a static path');
    const stats = s.server.stats();
    assert.equal(stats.requests.js, before.requests.js, 'requests.js unchanged');
    assert.ok(stats.requests.native >= before.requests.native + 16, 'answered natively');

    // The same middleware does see JS routes.
    assert.equal((await get(s.port, '/js')).text, 'from JS');
    assert.equal(middlewareRuns, runs + 1);
  });

  test('content type from the body, from type, or from headers', T, async () => {
    const cases = [
      ['/html', /^text\/html; charset=utf-8$/, Buffer.from('<h1>hi</h1>')],
      ['/bytes', /^application\/octet-stream$/, BYTES],
      ['/json', /^application\/json; charset=utf-8$/, Buffer.from('{"ok":true,"list":[1,2]}')],
      ['/css', /^text\/css/, Buffer.from('body{}')],
      ['/mime', /^application\/xml$/, Buffer.from('<a/>')],
      ['/typed-header', /^text\/plain; charset=utf-8$/, Buffer.from('plain')],
      ['/utf8', /^text\/html/, Buffer.from('héllo ✓')],
    ];
    for (const [target, type, body] of cases) {
      const res = await get(s.port, target);
      assert.equal(res.status, 200, target);
      assert.match(res.headers['content-type'], type, target);
      assert.deepEqual(res.body, body, target);
      assert.equal(res.headers['content-length'], String(body.length), target);
      assert.equal(res.rawHeaders.filter(([n]) => n.toLowerCase() === 'content-type').length, 1, `${target}: one content-type`);
      assertDateHeader(assert, res);
    }
    const empty = await get(s.port, '/empty');
    assert.equal(empty.status, 200);
    assert.equal(empty.headers['content-length'], '0');
    assert.equal(empty.body.length, 0);
  });

  test('status and custom headers', T, async () => {
    const res = await get(s.port, '/custom');
    assert.equal(res.status, 203);
    assert.equal(res.text, 'custom');
    assert.equal(res.headers['cache-control'], 'public, max-age=60');
    assert.deepEqual(
      res.rawHeaders.filter(([n]) => n.toLowerCase() === 'x-multi').map(([, v]) => v),
      ['one', 'two'],
    );
    assert.equal(res.headers['x-num'], '7');
  });

  test('a strong ETag; If-None-Match gets 304', T, async () => {
    const res = await get(s.port, '/html');
    const etag = res.headers.etag;
    assert.match(etag || '', STRONG_ETAG, `strong ETag, got ${etag}`);
    assert.equal((await get(s.port, '/html')).headers.etag, etag, 'the same on every request');
    assert.notEqual((await get(s.port, '/json')).headers.etag, etag, 'another body, another ETag');

    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/html', { headers: { 'If-None-Match': etag } }));
      const nm = await c.readResponse();
      assert.equal(nm.status, 304);
      assert.equal(nm.body.length, 0);
      assert.equal(nm.headers.etag, etag);
      await c.write(buildRequest('GET', '/html', { headers: { 'If-None-Match': '"other"' } }));
      const full = await c.readResponse();
      assert.equal(full.status, 200);
      assert.equal(full.text, '<h1>hi</h1>');
      assert.equal(c.leftover.length, 0);
    } finally {
      c.destroy();
    }

    const own = await get(s.port, '/own-etag');
    assert.equal(own.headers.etag, '"v1"');
    assert.equal(own.rawHeaders.filter(([n]) => n.toLowerCase() === 'etag').length, 1);
    assert.equal((await get(s.port, '/own-etag', { headers: { 'If-None-Match': '"v1"' } })).status, 304);
  });

  // Regression: a 304 carried only ETag, Date and Age, while RFC 9110 §15.4.5 requires the
  // Cache-Control, Expires, Vary and Content-Location the 200 would have carried.
  test('a 304 carries the Cache-Control of the full response', T, async () => {
    assert.equal((await get(s.port, '/cc-304')).headers['cache-control'], 'public, max-age=60');
    const nm = await get(s.port, '/cc-304', { headers: { 'If-None-Match': '"cc"' } });
    assert.equal(nm.status, 304);
    assert.equal(nm.headers['cache-control'], 'public, max-age=60');
  });

  test('HEAD: headers with the content-length of the body, no body', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('HEAD', '/json'));
      const head = await c.readResponse({ head: true });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], String(Buffer.byteLength('{"ok":true,"list":[1,2]}')));
      assert.match(head.headers['content-type'], /^application\/json/);
      assert.match(head.headers.etag || '', STRONG_ETAG);
      // A body after the HEAD response would be parsed as this response.
      await c.write(buildRequest('GET', '/html'));
      const next = await c.readResponse();
      assert.equal(next.text, '<h1>hi</h1>');
      assert.equal(c.leftover.length, 0);
    } finally {
      c.destroy();
    }
  });

  test('other methods on a static path go to the routes: a POST route runs, others are 404', T, async () => {
    assert.equal((await get(s.port, '/both')).text, 'static GET');
    const post = await get(s.port, '/both', { method: 'POST' });
    assert.equal(post.status, 200);
    assert.equal(post.text, 'JS POST');
    const put = await get(s.port, '/html', { method: 'PUT' });
    assert.equal(put.status, 404);
  });

  test('inside group(): the prefix applies, groups nest', T, async () => {
    assert.equal((await get(s.port, '/g')).text, 'group root');
    assert.equal((await get(s.port, '/g/file')).text, 'group file');
    assert.equal((await get(s.port, '/g/inner/deep')).text, 'deep');
    assert.equal((await get(s.port, '/file')).status, 404);
  });

  test('app.cache.clear() does not touch static responses', T, async () => {
    const js = s.server.stats().requests.js;
    s.app.cache.clear();
    s.app.cache.invalidate('/*');
    assert.equal((await get(s.port, '/html')).text, '<h1>hi</h1>');
    assert.equal(s.server.stats().requests.js, js);
  });
});

test('POST to a static path without any JS route or middleware: 404 from Rust', T, async (t) => {
  const s = await serve(t, (app) => app.static('/only', 'only'));
  assert.equal((await get(s.port, '/only')).text, 'only');
  const post = await get(s.port, '/only', { method: 'POST' });
  assert.equal(post.status, 404);
  assert.equal(s.server.stats().requests.js, 0);
});

describe('app.static() registration errors', () => {
  const routeError = { code: 'HN_ERR_ROUTE' };

  test('a static path that is also a GET, HEAD or ALL route is refused, in either order', () => {
    assert.throws(() => createApp().static('/a', 'x').get('/a', () => {}), /conflicts with static\('\/a'\)/);
    assert.throws(() => createApp().get('/a', () => {}).static('/a', 'x'), /conflicts with static\('\/a'\)/);
    assert.throws(() => createApp().static('/a', 'x').head('/a', () => {}), routeError);
    assert.throws(() => createApp().all('/a', () => {}).static('/a', 'x'), routeError);
    assert.throws(() => createApp().group('/g', (g) => g.get('/a', () => {})).static('/g/a', 'x'), routeError);
    assert.throws(() => createApp().static('/a', 'x').static('/a', 'y'), routeError);
    // Not conflicts: another method, a parameter route that also matches, a trailing slash.
    createApp().static('/a', 'x').post('/a', () => {}).get('/:p', () => {}).get('/a/', () => {});
  });

  test('paths must be static and valid', () => {
    assert.throws(() => createApp().static('/users/:id', 'x'), routeError);
    assert.throws(() => createApp().static('/files/*', 'x'), routeError);
    assert.throws(() => createApp().static('no-slash', 'x'), routeError);
    assert.throws(() => createApp().group('/g', (g) => g.static('/:id', 'x')), routeError);
  });

  test('options are checked', () => {
    assert.throws(() => createApp().static('/a', 'x', { typ: 'json' }), routeError);
    assert.throws(() => createApp().static('/a', 'x', { status: 99 }), routeError);
    assert.throws(() => createApp().static('/a', 'x', { status: 200.5 }), routeError);
    assert.throws(() => createApp().static('/a', 'x', { headers: { 'bad name': '1' } }), routeError);
    assert.throws(() => createApp().static('/a', 'x', { headers: { 'x-a': 'a\r\nb: c' } }), routeError);
    assert.throws(() => createApp().static('/a', 'x', { headers: { 'Content-Length': '5' } }), routeError);
    assert.throws(() => createApp().static('/a', 'x', { type: 5 }), routeError);
    assert.throws(() => createApp().static('/a', 'x', 'text'), routeError);
  });

  test('static() chains', () => {
    const app = createApp();
    assert.equal(app.static('/a', 'a'), app);
    app.group('/g', (g) => assert.equal(g.static('/b', 'b'), g));
  });

  test('a static body is copied at registration', T, async (t) => {
    const buf = Buffer.from('before');
    const s = await serve(t, (app) => {
      app.static('/buf', buf);
      buf.write('AFTER!');
    });
    assert.equal((await get(s.port, '/buf')).text, 'before');
  });
});
