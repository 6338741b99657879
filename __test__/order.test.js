'use strict';
// Middleware order as in Express: one stack in registration order, error middleware (four
// parameters) reached only by errors, next('route'), and what unmatched requests walk.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { start, serve, request, get, sleep } = require('./helpers');

const T = { timeout: 10000 };

// Records the order functions ran in, in a response header so every test can read it.
function mark(name) {
  return (req, res, next) => {
    (req.trail ??= []).push(name);
    next();
  };
}

describe('the two common Express idioms', () => {
  let s;
  let errorsSeen;
  before(async () => {
    errorsSeen = [];
    s = await start((app) => {
      app.use((req, res, next) => {
        res.set('access-control-allow-origin', '*');
        next();
      });
      app.get('/ok', (req, res) => res.json({ ok: true }));
      app.get('/throws', () => {
        throw Object.assign(new Error('sync boom'), { status: 418 });
      });
      app.get('/rejects', async () => {
        await sleep(1);
        throw new Error('async boom');
      });
      app.get('/next-err', (req, res, next) => next(new Error('next boom')));
      app.get('/falls-through', (req, res, next) => next());
      // A catch-all 404 and an error middleware registered last, as every Express tutorial does.
      app.use((req, res) => res.status(404).json({ catchAll: req.path }));
      app.use((err, req, res, next) => {
        errorsSeen.push(err.message);
        res.status(err.status || 500).json({ handled: err.message });
      });
    });
  });
  after(() => s.close());

  test('a catch-all 404 registered last answers only what no route answered', T, async () => {
    let res = await request(s.base, '/ok');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
    res = await request(s.base, '/nope/deeper');
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.deepEqual(await res.json(), { catchAll: '/nope/deeper' });
    // A route whose handlers all call next() reaches it too, as in Express.
    res = await request(s.base, '/falls-through');
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { catchAll: '/falls-through' });
  });

  test('an error middleware registered last handles errors and leaves good routes alone', T, async () => {
    errorsSeen.length = 0;
    let res = await request(s.base, '/ok');
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.deepEqual(errorsSeen, [], 'the error middleware did not run for a route that answered');

    res = await request(s.base, '/throws');
    assert.equal(res.status, 418);
    assert.deepEqual(await res.json(), { handled: 'sync boom' });
    res = await request(s.base, '/rejects');
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { handled: 'async boom' });
    res = await request(s.base, '/next-err');
    assert.equal(res.status, 500);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.deepEqual(await res.json(), { handled: 'next boom' });
    assert.deepEqual(errorsSeen, ['sync boom', 'async boom', 'next boom']);
  });
});

describe('registration order decides', () => {
  let s;
  before(async () => {
    s = await start((app) => {
      const trail = (req, res) => res.json(req.trail ?? []);
      app.get('/first', mark('first-route'), trail);
      app.use(mark('mw1'));
      app.get('/second', mark('second-route'), (req, res, next) => next());
      app.use(mark('mw2'));
      app.use('/second', trail);
      // One route registered twice: its handlers run at each registration's place.
      app.get('/twice', mark('twice-a'), (req, res, next) => next());
      app.use(mark('between'));
      app.get('/twice', mark('twice-b'), trail);
      app.group('/g', (g) => {
        g.get('/before', mark('g-before'), trail);
        g.use(mark('g-mw'));
        g.get('/after', mark('g-after'), trail);
      });
      app.use(trail);
    });
  });
  after(() => s.close());

  test('middleware registered after a route runs only if the route calls next()', T, async () => {
    assert.deepEqual(await (await request(s.base, '/first')).json(), ['first-route']);
    assert.deepEqual(await (await request(s.base, '/second')).json(), ['mw1', 'second-route', 'mw2']);
  });

  test('a route registered twice runs its handlers at both places', T, async () => {
    assert.deepEqual(await (await request(s.base, '/twice')).json(), ['mw1', 'mw2', 'twice-a', 'between', 'twice-b']);
  });

  test('group middleware follows the same rule inside its scope', T, async () => {
    assert.deepEqual(await (await request(s.base, '/g/before')).json(), ['mw1', 'mw2', 'between', 'g-before']);
    assert.deepEqual(await (await request(s.base, '/g/after')).json(), ['mw1', 'mw2', 'between', 'g-mw', 'g-after']);
  });

  test('an unmatched request walks every middleware in order', T, async () => {
    const res = await request(s.base, '/unknown');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), ['mw1', 'mw2', 'between']);
  });
});

describe('the error walk', () => {
  test('ordinary middleware is skipped while an error is handled, error middleware otherwise', T, async (t) => {
    const s = await serve(t, (app) => {
      app.use((err, req, res, next) => res.status(599).json({ wrong: 'error middleware ran without an error' }));
      app.use(mark('a'));
      app.get('/x', mark('route'), (req, res, next) => next(new Error('e1')));
      app.use((req, res) => res.status(598).json({ wrong: 'ordinary middleware ran during an error' }));
      app.use((err, req, res, next) => {
        req.trail.push(`handled ${err.message}`);
        next(err);
      });
      app.use(mark('skipped'));
      app.use((err, req, res, next) => res.status(500).json({ trail: req.trail, message: err.message }));
    });
    const res = await request(s.base, '/x');
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { trail: ['a', 'route', 'handled e1'], message: 'e1' });
  });

  test('an error middleware calling next() resumes normal flow', T, async (t) => {
    const s = await serve(t, (app) => {
      app.use((req, res, next) => next(new Error('recoverable')));
      app.use((err, req, res, next) => {
        req.recovered = err.message;
        next();
      });
      app.get('/x', (req, res) => res.json({ recovered: req.recovered }));
    });
    const res = await request(s.base, '/x');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { recovered: 'recoverable' });
  });

  test('an error middleware that throws or rejects passes the new error on', T, async (t) => {
    const s = await serve(t, (app) => {
      app.get('/sync', () => {
        throw new Error('first');
      });
      app.get('/async', () => Promise.reject(new Error('first')));
      app.use((err, req, res, next) => {
        throw new Error(`${err.message} then second`);
      });
      app.use(async (err, req, res, next) => {
        await sleep(1);
        throw new Error(`${err.message} then third`);
      });
      app.use((err, req, res, next) => res.status(500).json({ message: err.message }));
    });
    for (const path of ['/sync', '/async']) {
      const res = await request(s.base, path);
      assert.equal(res.status, 500);
      assert.deepEqual(await res.json(), { message: 'first then second then third' });
    }
  });

  test('when no error middleware is left, app.error answers, else the default answer', T, async (t) => {
    const s = await serve(t, (app) => {
      app.use((err, req, res, next) => next(err));
      app.get('/x', (req, res, next) => next(Object.assign(new Error('teapot'), { status: 418 })));
    });
    let res = await request(s.base, '/x');
    assert.equal(res.status, 418);
    assert.deepEqual(await res.json(), { error: "I'm a Teapot" });

    const s2 = await serve(t, (app) => {
      app.get('/x', (req, res, next) => next(new Error('to app.error')));
      app.use((err, req, res, next) => next(err));
      app.error((err, req, res) => res.status(503).json({ appError: err.message }));
    });
    res = await request(s2.base, '/x');
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { appError: 'to app.error' });
  });

  test("a route's own error handler sees errors raised in that route, not before it", T, async (t) => {
    const s = await serve(t, (app) => {
      app.use('/early', (req, res, next) => next(new Error('from middleware')));
      const own = (err, req, res, next) => res.status(500).json({ by: 'route', message: err.message });
      app.get('/early', (req, res) => res.send('no'), own);
      app.get('/inside', (req, res, next) => next(new Error('from the route')), own);
      app.use((err, req, res, next) => res.status(500).json({ by: 'app', message: err.message }));
    });
    let res = await request(s.base, '/inside');
    assert.deepEqual(await res.json(), { by: 'route', message: 'from the route' });
    res = await request(s.base, '/early');
    assert.deepEqual(await res.json(), { by: 'app', message: 'from middleware' });
  });
});

describe("next('route')", () => {
  test("skips the rest of the route's handlers; from middleware it is next()", T, async (t) => {
    const s = await serve(t, (app) => {
      app.use((req, res, next) => next('route'));
      app.get(
        '/x',
        (req, res, next) => (req.query.skip ? next('route') : next()),
        (req, res) => res.json({ by: 'first registration' }),
      );
      app.get('/x', (req, res) => res.json({ by: 'second registration' }));
    });
    assert.deepEqual(await (await request(s.base, '/x')).json(), { by: 'first registration' });
    assert.deepEqual(await (await request(s.base, '/x?skip=1')).json(), { by: 'second registration' });
  });
});

describe('unmatched requests', () => {
  test('run the middleware, then app.notFound', T, async (t) => {
    const s = await serve(t, (app) => {
      app.use(mark('mw'));
      app.get('/exists', (req, res) => res.send('yes'));
      app.notFound((req, res) => res.status(404).json({ trail: req.trail }));
    });
    const res = await request(s.base, '/missing');
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { trail: ['mw'] });
  });

  test('with only error middleware, Rust answers them without waking JS', T, async (t) => {
    let ran = false;
    const s = await serve(t, (app) => {
      app.get('/exists', (req, res) => res.send('yes'));
      app.use((err, req, res, next) => {
        ran = true;
        next(err);
      });
    });
    const before = s.server.stats();
    const res = await get(s.port, '/missing');
    assert.equal(res.status, 404);
    assert.deepEqual(res.json(), { error: 'Not Found' });
    const after = s.server.stats();
    assert.equal(after.requests.js, before.requests.js);
    assert.equal(after.requests.native, before.requests.native + 1);
    assert.equal(ran, false);
  });
});
