'use strict';
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { start, request, buildRequest, RawClient, exchange, assertDateHeader } = require('./helpers');

const T = { timeout: 10000 };

describe('routing (no middleware: unmatched requests are answered by Rust)', () => {
  let s;
  before(async () => {
    s = await start((app) => {
      app.get('/', (req, res) => res.send('Hello, World!'));
      app.get('/users/me', (req, res) => res.json({ route: 'me' }));
      app.get('/users/:id', (req, res) => res.json({ route: 'user', id: req.params.id }));
      app.get('/users/:uid/posts/:pid', (req, res) => res.json({ uid: req.params.uid, pid: req.params.pid }));
      app.get('/files/*path', (req, res) => res.json({ path: req.params.path }));
      app.get('/static/*', (req, res) => res.send('static'));
      app.post('/items', (req, res) => res.status(201).json({ method: 'POST' }));
      app.put('/items/:id', (req, res) => res.json({ method: 'PUT', id: req.params.id }));
      app.patch('/items/:id', (req, res) => res.json({ method: 'PATCH', id: req.params.id }));
      app.delete('/items/:id', (req, res) => res.json({ method: 'DELETE', id: req.params.id }));
      app.options('/items', (req, res) => res.set('allow', 'GET, POST').json({ method: 'OPTIONS' }));
      app.all('/any', (req, res) => res.json({ method: req.method }));
      app.get('/page', (req, res) => res.set('x-page', 'yes').type('text/plain').send('page body'));
      app.head('/explicit-head', (req, res) => res.set('x-from', 'head-route').end());
      app.get('/explicit-head', (req, res) => res.set('x-from', 'get-route').send('get body'));
      app.get(
        '/multi',
        (req, res, next) => {
          req.seen = ['first'];
          next();
        },
        (req, res) => res.json({ seen: [...req.seen, 'second'] }),
      );
      app.get('/async', async (req, res) => {
        await new Promise((r) => setTimeout(r, 20));
        res.json({ async: true });
      });
    });
  });
  after(() => s.close());

  test('GET / answers with the handler body', T, async () => {
    const res = await request(s.base, '/');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'Hello, World!');
    assert.match(res.headers.get('content-type'), /^text\/html/);
  });

  test('param route gives req.params', T, async () => {
    const res = await request(s.base, '/users/42');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { route: 'user', id: '42' });
  });

  test('an exact route wins over a param route at the same position', T, async () => {
    assert.deepEqual(await (await request(s.base, '/users/me')).json(), { route: 'me' });
    assert.deepEqual(await (await request(s.base, '/users/mee')).json(), { route: 'user', id: 'mee' });
  });

  test('several params in one path', T, async () => {
    const res = await request(s.base, '/users/7/posts/abc');
    assert.deepEqual(await res.json(), { uid: '7', pid: 'abc' });
  });

  test('a param does not match across a slash', T, async () => {
    const res = await request(s.base, '/users/1/2');
    assert.equal(res.status, 404);
    await res.arrayBuffer();
  });

  test('named wildcard captures the rest of the path', T, async () => {
    const res = await request(s.base, '/files/a/b/c.txt');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { path: 'a/b/c.txt' });
  });

  test('unnamed wildcard matches deep paths', T, async () => {
    for (const p of ['/static/x', '/static/css/site.css']) {
      const res = await request(s.base, p);
      assert.equal(res.status, 200, p);
      assert.equal(await res.text(), 'static');
    }
  });

  test('query string does not affect route matching', T, async () => {
    const res = await request(s.base, '/users/5?x=1&y=2');
    assert.deepEqual(await res.json(), { route: 'user', id: '5' });
  });

  test('an absolute-form request target is routed by its path', T, async () => {
    const res = await exchange(s.port, buildRequest('GET', `http://localhost:${s.port}/users/8?x=1`));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { route: 'user', id: '8' });
  });

  test('unknown path is 404 with Date and Content-Length', T, async () => {
    const res = await exchange(s.port, buildRequest('GET', '/no/such/path'));
    assert.equal(res.status, 404);
    assertDateHeader(assert, res);
    assert.equal(Number(res.headers['content-length']), res.body.length);
  });

  test('each method helper routes its own method', T, async () => {
    let res = await request(s.base, '/items', { method: 'POST' });
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { method: 'POST' });
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      res = await request(s.base, '/items/9', { method });
      assert.equal(res.status, 200, method);
      assert.deepEqual(await res.json(), { method, id: '9' });
    }
    res = await request(s.base, '/items', { method: 'OPTIONS' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('allow'), 'GET, POST');
    assert.deepEqual(await res.json(), { method: 'OPTIONS' });
  });

  test('a route registered for one method does not answer another', T, async () => {
    const res = await request(s.base, '/users/1', { method: 'POST' });
    assert.ok([404, 405].includes(res.status), `status ${res.status}`);
    await res.arrayBuffer();
    const res2 = await request(s.base, '/items', { method: 'GET' });
    assert.ok([404, 405].includes(res2.status), `status ${res2.status}`);
    await res2.arrayBuffer();
  });

  test('app.all answers every method, including unusual ones', T, async () => {
    for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const res = await request(s.base, '/any', { method });
      assert.equal(res.status, 200, method);
      assert.deepEqual(await res.json(), { method });
    }
    const res = await exchange(s.port, buildRequest('PROPFIND', '/any'));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { method: 'PROPFIND' });
  });

  test('a route with several handlers runs them in order via next()', T, async () => {
    const res = await request(s.base, '/multi');
    assert.deepEqual(await res.json(), { seen: ['first', 'second'] });
  });

  test('async handler answers', T, async () => {
    const res = await request(s.base, '/async');
    assert.deepEqual(await res.json(), { async: true });
  });

  test('HEAD on a GET route: same status and headers, content-length of the GET body, no body', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/page'));
      const get = await c.readResponse();
      await c.write(buildRequest('HEAD', '/page'));
      const head = await c.readResponse({ head: true });
      // A GET after the HEAD on the same connection must parse cleanly: no body bytes leaked.
      await c.write(buildRequest('GET', '/users/3'));
      const next = await c.readResponse();

      assert.equal(get.status, 200);
      assert.equal(get.text, 'page body');
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], String(Buffer.byteLength('page body')));
      assert.equal(head.headers['content-type'], get.headers['content-type']);
      assert.equal(head.headers['x-page'], 'yes');
      assertDateHeader(assert, head);
      assert.equal(next.status, 200);
      assert.deepEqual(next.json(), { route: 'user', id: '3' });
      assert.equal(c.leftover.length, 0);
    } finally {
      c.destroy();
    }
  });

  test('HEAD on a param GET route and on a JSON route', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(Buffer.concat([buildRequest('HEAD', '/users/12345'), buildRequest('GET', '/users/12345')]));
      const [head, get] = await c.readResponses(2, { heads: [true, false] });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      assert.equal(head.headers['content-length'], String(get.body.length));
      assert.equal(head.headers['content-type'], get.headers['content-type']);
      assert.deepEqual(get.json(), { route: 'user', id: '12345' });
    } finally {
      c.destroy();
    }
  });

  test('an explicit HEAD route is used instead of the GET route', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('HEAD', '/explicit-head'));
      const head = await c.readResponse({ head: true });
      assert.equal(head.status, 200);
      assert.equal(head.headers['x-from'], 'head-route');
      await c.write(buildRequest('GET', '/explicit-head'));
      const get = await c.readResponse();
      assert.equal(get.headers['x-from'], 'get-route');
      assert.equal(get.text, 'get body');
    } finally {
      c.destroy();
    }
  });

  test('HEAD on an unknown path is 404 without a body', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(Buffer.concat([buildRequest('HEAD', '/nope'), buildRequest('GET', '/')]));
      const [head, get] = await c.readResponses(2, { heads: [true, false] });
      assert.equal(head.status, 404);
      assert.equal(get.status, 200);
      assert.equal(get.text, 'Hello, World!');
    } finally {
      c.destroy();
    }
  });
});
