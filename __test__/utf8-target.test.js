'use strict';
// Raw UTF-8 in the request target (sent unencoded, as curl and many clients do): one rule, UTF-8
// throughout, as node:http and WHATWG URL decode it. Rust lets non-ASCII bytes through only in a
// valid UTF-8 target, so the decoded text encodes back to exactly the bytes received.
const { test, describe, before, after } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const { start, serve, get } = require('./helpers');

const T = { timeout: 10000 };

// The helpers write request heads as latin1: this gives them the target's UTF-8 bytes.
const utf8 = (target) => Buffer.from(target, 'utf8').toString('latin1');

describe('a raw UTF-8 request target', () => {
  let s;
  let cachedRuns = 0;
  before(async () => {
    s = await start((app) => {
      app.use('/café', (req, res, next) => {
        res.set('x-cafe-middleware', '1');
        next();
      });
      const describeReq = (req, res) => res.json({ params: req.params, path: req.path, url: req.url, query: req.query });
      app.get('/p/:id', describeReq);
      app.get('/café/:id', describeReq);
      app.get('/:lang/café', describeReq);
      app.get('/c/:id', (req, res) => {
        cachedRuns++;
        res.ncache({ id: req.params.id, run: cachedRuns }, 60);
      });
    });
  });
  after(() => s.close());

  test('req.path, req.url and req.query decode it as UTF-8, like req.params', T, async () => {
    const res = await get(s.port, utf8('/p/é?q=ü&r=%C3%A9'));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { params: { id: 'é' }, path: '/p/é', url: '/p/é?q=ü&r=%C3%A9', query: { q: 'ü', r: 'é' } });
  });

  test('a param route with a non-ASCII literal matches', T, async () => {
    let res = await get(s.port, utf8('/café/1'));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { params: { id: '1' }, path: '/café/1', url: '/café/1', query: {} });
    res = await get(s.port, utf8('/fr/café'));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json().params, { lang: 'fr' });
  });

  test('middleware mounted at a non-ASCII prefix runs for it', T, async () => {
    // '/:lang/café' may or may not be under '/café': decided at runtime from req.path.
    let res = await get(s.port, utf8('/café/café'));
    assert.equal(res.headers['x-cafe-middleware'], '1');
    assert.deepEqual(res.json().params, { id: 'café' });
    res = await get(s.port, utf8('/fr/café'));
    assert.equal(res.headers['x-cafe-middleware'], undefined);
    // An unmatched request checks every prefix against req.path.
    res = await get(s.port, utf8('/café/x/y'));
    assert.equal(res.status, 404);
    assert.equal(res.headers['x-cafe-middleware'], '1');
  });

  test('res.ncache() on a UTF-8 target is served from the cache, and invalidated by its path', T, async () => {
    const target = utf8('/c/é?q=ü');
    const hits = s.server.stats().cache.hits;
    const first = await get(s.port, target);
    assert.equal(first.status, 200);
    const runs = cachedRuns;
    const second = await get(s.port, target);
    assert.equal(second.status, 200);
    assert.deepEqual(second.json(), first.json());
    assert.equal(cachedRuns, runs, 'the handler did not run again');
    assert.equal(s.server.stats().cache.hits, hits + 1);

    s.app.cache.invalidate('/c/é');
    await get(s.port, target);
    assert.equal(cachedRuns, runs + 1, 'after invalidate() the handler runs again');
  });
});

describe('a UTF-8 target too long for a cache key', () => {
  test('is measured in bytes: sent uncached, not failed', T, async (t) => {
    let runs = 0;
    // 33,000 × 'é' is 66,000 bytes: over the record's u16 key length, under it in UTF-16 units.
    const long = `/k/${'é'.repeat(33000)}`;
    const s = await serve(
      t,
      (app) => {
        app.get('/k/:id', (req, res) => {
          runs++;
          res.ncache({ length: req.params.id.length }, 60);
        });
      },
      { listenOptions: { maxUrlLength: 100000, maxHeaderSize: 200000 } },
    );
    for (let i = 1; i <= 2; i++) {
      const res = await get(s.port, utf8(long));
      assert.equal(res.status, 200);
      assert.deepEqual(res.json(), { length: 33000 });
      assert.equal(runs, i);
    }
    assert.equal(s.server.stats().cache.entries, 0);
  });
});
