'use strict';
// When the body is parsed: at the route boundary (after the middleware registered before the
// route) or at the first read of req.body, and a parse error takes the error path like any other.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { start, serve, request } = require('./helpers');

const T = { timeout: 10000 };
const BAD_JSON = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"unterminated' };

describe('a body that fails to parse', () => {
  let s;
  let routeRuns = 0;
  let beforeRuns = 0;
  before(async () => {
    s = await start((app) => {
      // What the cors package does: a header on every response, preflight or not.
      app.use((req, res, next) => {
        beforeRuns++;
        res.set('access-control-allow-origin', 'https://app.example');
        next();
      });
      app.post('/json', (req, res) => {
        routeRuns++;
        res.json({ body: req.body });
      });
    });
  });
  after(() => s.close());

  test('is answered 400 after the middleware registered before the route ran (CORS kept)', T, async () => {
    const runs = beforeRuns;
    const res = await request(s.base, '/json', BAD_JSON);
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.deepEqual(await res.json(), { error: 'Bad Request' });
    assert.equal(beforeRuns, runs + 1);
    assert.equal(routeRuns, 0, 'the route handler did not run');
  });

  test('a valid body still reaches the route parsed', T, async () => {
    const res = await request(s.base, '/json', { ...BAD_JSON, body: '{"a":[1,2]}' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { body: { a: [1, 2] } });
  });
});

describe('the error path of a parse error', () => {
  test('reaches error middleware and app.error with a coded 400 error', T, async (t) => {
    const s = await serve(t, (app) => {
      app.post('/mw', (req, res) => res.send('no'));
      app.use((err, req, res, next) => {
        res.status(err.status).json({ code: err.code, by: 'error middleware' });
      });
    });
    let res = await request(s.base, '/mw', BAD_JSON);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { code: 'HN_ERR_BAD_JSON', by: 'error middleware' });

    const s2 = await serve(t, (app) => {
      app.use((req, res, next) => {
        res.set('x-before', '1');
        next();
      });
      app.post('/app-error', (req, res) => res.send('no'));
      app.error((err, req, res) => res.status(422).json({ code: err.code, by: 'app.error' }));
    });
    res = await request(s2.base, '/app-error', BAD_JSON);
    assert.equal(res.status, 422);
    assert.equal(res.headers.get('x-before'), '1');
    assert.deepEqual(await res.json(), { code: 'HN_ERR_BAD_JSON', by: 'app.error' });
  });

  test('a middleware reading req.body gets the error inside its own call', T, async (t) => {
    const seen = [];
    const s = await serve(t, (app) => {
      app.use((req, res, next) => {
        try {
          seen.push(req.body);
        } catch (err) {
          seen.push(err.code);
          // Read again: the error is thrown once, then the body is undefined.
          seen.push(req.body);
          throw err;
        }
        next();
      });
      app.use((err, req, res, next) => res.status(400).json({ caughtBefore: 'the route', code: err.code }));
      app.post('/x', (req, res) => res.json({ body: req.body }));
    });
    const res = await request(s.base, '/x', BAD_JSON);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { caughtBefore: 'the route', code: 'HN_ERR_BAD_JSON' });
    assert.deepEqual(seen, ['HN_ERR_BAD_JSON', undefined]);
  });

  test('an error middleware calling next() lets the route run with no body', T, async (t) => {
    const s = await serve(t, (app) => {
      app.post('/x', (req, res) => res.json({ body: req.body ?? null, recovered: res.locals.recovered }));
      app.use((err, req, res, next) => {
        res.locals.recovered = err.code;
        next();
      });
      app.use((req, res) => res.status(404).json({ wrong: true }));
    });
    // The error middleware is registered after the route: the error walk from the route boundary
    // reaches it, and next() resumes normal flow after it, where the catch-all answers.
    const res = await request(s.base, '/x', BAD_JSON);
    assert.equal(res.status, 404);
    await res.arrayBuffer();

    const s2 = await serve(t, (app) => {
      app.use((req, res, next) => {
        // Reads the body before the route: the parse error is raised here.
        req.body;
        next();
      });
      app.use((err, req, res, next) => {
        res.locals.recovered = err.code;
        next();
      });
      app.post('/x', (req, res) => res.json({ body: req.body ?? null, recovered: res.locals.recovered }));
    });
    const res2 = await request(s2.base, '/x', BAD_JSON);
    assert.equal(res2.status, 200);
    assert.deepEqual(await res2.json(), { body: null, recovered: 'HN_ERR_BAD_JSON' });
  });
});

describe('assigning req.body', () => {
  test('a middleware may set req.body; the body is then not parsed', T, async (t) => {
    const s = await serve(t, (app) => {
      app.use((req, res, next) => {
        if (req.get('x-own-parser')) req.body = { parsedBy: 'middleware', bytes: Number(req.get('content-length')) };
        next();
      });
      app.post('/x', (req, res) => res.json({ body: req.body }));
    });
    const res = await request(s.base, '/x', { ...BAD_JSON, headers: { ...BAD_JSON.headers, 'x-own-parser': '1' } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { body: { parsedBy: 'middleware', bytes: BAD_JSON.body.length } });
  });
});

describe('requests no route matched', () => {
  test('are not parsed unless something reads the body', T, async (t) => {
    const s = await serve(t, (app) => {
      app.post('/exists', (req, res) => res.send('yes'));
      app.use((req, res) => res.status(404).json({ missing: req.path }));
    });
    const res = await request(s.base, '/missing', BAD_JSON);
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { missing: '/missing' });
  });
});
