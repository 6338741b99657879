'use strict';
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { start, serve, request, buildRequest, exchange, RawClient, sleep } = require('./helpers');

const T = { timeout: 10000 };
const DEFAULT_500 = { error: 'Internal Server Error' };

describe('middleware, groups, error and notFound', () => {
  let s;
  before(async () => {
    s = await start((app) => {
      // A route registered before the middleware: as in Express, the middleware does not run for it.
      app.get('/early', (req, res) => res.json({ order: req.order ?? null }));

      app.use((req, res, next) => {
        res.set('x-powered-by', 'http-native');
        req.order = ['global'];
        next();
      });
      app.use(async (req, res, next) => {
        await sleep(5);
        req.order.push('async');
        next();
      });
      app.use('/api', (req, res, next) => {
        req.order.push('api');
        res.set('x-api', '1');
        next();
      });
      app.use('/admin', (req, res, next) => {
        if (req.get('x-token') !== 'secret') return res.status(401).json({ error: 'unauthorized' });
        next();
      });

      app.get('/order', (req, res) => res.json({ order: req.order }));
      app.get('/api/thing', (req, res) => res.json({ order: req.order }));
      app.get('/api', (req, res) => res.json({ order: req.order }));
      app.get('/apix', (req, res) => res.json({ order: req.order }));
      app.get('/admin/panel', (req, res) => res.json({ admin: true }));

      app.group('/api/v1', (api) => {
        api.get('/health', (req, res) => res.json({ ok: true }));
        api.get('/users/:id', (req, res) => res.json({ id: req.params.id, order: req.order }));
        api.group('/nested', (n) => {
          n.post('/deep', (req, res) => res.json({ deep: true }));
        });
      });
    });
  });
  after(() => s.close());

  test('global middleware runs for route responses', T, async () => {
    const res = await request(s.base, '/order');
    assert.equal(res.headers.get('x-powered-by'), 'http-native');
    assert.deepEqual(await res.json(), { order: ['global', 'async'] });
  });

  test('middleware registered after a route does not run before it', T, async () => {
    const res = await request(s.base, '/early');
    assert.equal(res.headers.get('x-powered-by'), null);
    assert.deepEqual(await res.json(), { order: null });
  });

  test('path-scoped middleware runs for the prefix and below, by whole segments', T, async () => {
    let res = await request(s.base, '/api/thing');
    assert.equal(res.headers.get('x-api'), '1');
    assert.deepEqual(await res.json(), { order: ['global', 'async', 'api'] });

    res = await request(s.base, '/api');
    assert.deepEqual(await res.json(), { order: ['global', 'async', 'api'] });

    res = await request(s.base, '/apix');
    assert.equal(res.headers.get('x-api'), null);
    assert.deepEqual(await res.json(), { order: ['global', 'async'] });

    res = await request(s.base, '/order');
    assert.equal(res.headers.get('x-api'), null);
    await res.arrayBuffer();
  });

  test('middleware that answers stops the chain', T, async () => {
    let res = await request(s.base, '/admin/panel');
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { error: 'unauthorized' });
    res = await request(s.base, '/admin/panel', { headers: { 'x-token': 'secret' } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { admin: true });
  });

  test('group routes live under the prefix and get middleware', T, async () => {
    let res = await request(s.base, '/api/v1/health');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
    res = await request(s.base, '/api/v1/users/9');
    assert.deepEqual(await res.json(), { id: '9', order: ['global', 'async', 'api'] });
    res = await request(s.base, '/health');
    assert.equal(res.status, 404);
    await res.arrayBuffer();
  });

  test('nested groups concatenate prefixes', T, async () => {
    const res = await request(s.base, '/api/v1/nested/deep', { method: 'POST' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { deep: true });
  });

  test('HEAD through the JS path: GET route headers without a body, 404 without a body', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(
        Buffer.concat([buildRequest('HEAD', '/order'), buildRequest('HEAD', '/nothing-here'), buildRequest('GET', '/order')]),
      );
      const [head, head404, get] = await c.readResponses(3, { heads: [true, true, false] });
      assert.equal(head.status, 200);
      assert.equal(head.headers['x-powered-by'], 'http-native');
      assert.equal(head.headers['content-length'], String(get.body.length));
      assert.equal(head404.status, 404);
      assert.deepEqual(get.json(), { order: ['global', 'async'] });
      assert.equal(c.leftover.length, 0);
    } finally {
      c.destroy();
    }
  });

  test('with middleware, an unknown path is a JSON 404 from JS after middleware ran', T, async () => {
    const res = await request(s.base, '/definitely/not/here');
    assert.equal(res.status, 404);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(await res.json(), { error: 'Not Found' });
    assert.equal(res.headers.get('x-powered-by'), 'http-native');
  });
});

describe('errors', () => {
  test('a throwing handler gives the default 500 JSON without leaking the message or stack', T, async (t) => {
    const s = await serve(t, (app) => {
      app.get('/throw', () => {
        throw new Error('secret-detail-xyz');
      });
    });
    const res = await exchange(s.port, buildRequest('GET', '/throw'));
    assert.equal(res.status, 500);
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.deepEqual(res.json(), DEFAULT_500);
    assert.ok(!res.text.includes('secret-detail-xyz'));
    assert.ok(!/\bat .*\.js:\d+/.test(res.text), 'no stack trace in the body');
  });

  test('a rejected async handler gives the default 500', T, async (t) => {
    const s = await serve(t, (app) => {
      app.get('/reject', async () => {
        await sleep(5);
        throw new Error('secret-async');
      });
      app.get('/reject-value', () => Promise.reject('plain string reason'));
    });
    let res = await request(s.base, '/reject');
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), DEFAULT_500);
    res = await request(s.base, '/reject-value');
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), DEFAULT_500);
  });

  test('next(err) from middleware skips the route and reaches the error handler', T, async (t) => {
    let routeRan = false;
    let got;
    const s = await serve(t, (app) => {
      app.use((req, res, next) => next(new Error('from middleware')));
      app.get('/x', (req, res) => {
        routeRan = true;
        res.send('route');
      });
      app.error((err, req, res) => {
        got = { message: err.message, path: req.path };
        res.status(503).json({ custom: true });
      });
    });
    const res = await request(s.base, '/x');
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { custom: true });
    assert.equal(routeRan, false);
    assert.deepEqual(got, { message: 'from middleware', path: '/x' });
  });

  test('next(err) from a route handler reaches the custom error handler', T, async (t) => {
    const s = await serve(t, (app) => {
      app.get('/x', (req, res, next) => next(new Error('route-next')));
      app.error((err, req, res) => res.status(500).json({ error: 'Internal Server Error', seen: err.message }));
    });
    const res = await request(s.base, '/x');
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error: 'Internal Server Error', seen: 'route-next' });
  });

  test('throwing and rejecting middleware reach the error handler', T, async (t) => {
    const s = await serve(t, (app) => {
      app.use('/sync', () => {
        throw new Error('sync-mw');
      });
      app.use('/async', async () => {
        await sleep(5);
        throw new Error('async-mw');
      });
      app.get('/sync', (req, res) => res.send('no'));
      app.get('/async', (req, res) => res.send('no'));
      app.error((err, req, res) => res.status(422).json({ msg: err.message }));
    });
    let res = await request(s.base, '/sync');
    assert.equal(res.status, 422);
    assert.deepEqual(await res.json(), { msg: 'sync-mw' });
    res = await request(s.base, '/async');
    assert.equal(res.status, 422);
    assert.deepEqual(await res.json(), { msg: 'async-mw' });
  });

  test('an error handler that throws still produces a 500 and the server keeps serving', T, async (t) => {
    const s = await serve(t, (app) => {
      app.get('/x', () => {
        throw new Error('first');
      });
      app.get('/ok', (req, res) => res.send('ok'));
      app.error(() => {
        throw new Error('second');
      });
    });
    const res = await request(s.base, '/x');
    assert.equal(res.status, 500);
    assert.ok(!(await res.text()).includes('second'));
    const ok = await request(s.base, '/ok');
    assert.equal(await ok.text(), 'ok');
  });

  test('an error after the response was sent does not change it', T, async (t) => {
    const s = await serve(t, (app) => {
      app.get('/x', (req, res) => {
        res.status(200).send('sent');
        throw new Error('late');
      });
    });
    const res = await request(s.base, '/x');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'sent');
  });
});

describe('notFound', () => {
  test('app.notFound handles unknown paths', T, async (t) => {
    const s = await serve(t, (app) => {
      app.get('/exists', (req, res) => res.send('yes'));
      app.notFound((req, res) => res.status(404).json({ missing: req.path, method: req.method }));
    });
    let res = await request(s.base, '/nope/deeper?q=1');
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { missing: '/nope/deeper', method: 'GET' });
    res = await request(s.base, '/exists');
    assert.equal(await res.text(), 'yes');
  });

  test('without middleware or notFound an unknown path is 404 and no handler runs', T, async (t) => {
    let jsSaw = false;
    const s = await serve(t, (app) => {
      app.get('/exists', (req, res) => {
        jsSaw = true;
        res.send('yes');
      });
    });
    const res = await exchange(s.port, buildRequest('GET', '/nope'));
    assert.equal(res.status, 404);
    assert.equal(jsSaw, false);
  });
});
