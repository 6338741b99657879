'use strict';
// rateLimit(): fixed windows per key with the RateLimit headers, refused requests answered by
// Rust without reaching JS when the limiter is keyed by the peer's IP and nothing runs before it,
// the same answer from JS otherwise (a key function, a store, middleware before it), and one
// count shared by every server of the app.
const { test, describe } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const { createApp, cors, rateLimit } = require('..');
const { serve, exchange, buildRequest, closeServer, sleep } = require('./helpers');

const T = { timeout: 20000 };

function get(port, path = '/r', headers = {}) {
  return exchange(port, buildRequest('GET', path, { headers }));
}

// The whole head but the Date, as sent, with the seconds left in the window taken out (they
// depend on when each request came).
function head(res) {
  const headers = res.rawHeaders
    .filter(([name]) => name.toLowerCase() !== 'date')
    .map(([name, value]) => [name, name === 'Retry-After' ? 'S' : value.replace(/reset=\d+/, 'reset=S')]);
  return { status: res.status, headers, body: res.text };
}

// An app whose handler counts its runs.
function limited(options, { before } = {}) {
  const runs = { handler: 0 };
  const setup = (a) => {
    if (before) a.use(before);
    a.use(rateLimit(options));
    a.get('/r', (req, res) => {
      runs.handler++;
      res.json(req.rateLimit);
    });
  };
  return { runs, setup };
}

describe('rateLimit()', () => {
  test('native: the limit is allowed with its headers, then Rust answers 429 without JS', T, async (t) => {
    const { runs, setup } = limited({ limit: 3, windowMs: 60_000 });
    const s = await serve(t, setup);
    for (let i = 1; i <= 3; i++) {
      const res = await get(s.port);
      assert.equal(res.status, 200);
      assert.equal(res.headers['ratelimit-policy'], '3;w=60');
      const reset = new RegExp(`^limit=3, remaining=${3 - i}, reset=(\\d+)$`).exec(res.headers.ratelimit);
      assert.ok(reset && reset[1] >= 1 && reset[1] <= 60, res.headers.ratelimit);
      assert.equal(res.json().used, i);
      assert.equal(res.json().remaining, 3 - i);
    }
    const js = s.server.stats().requests.js;
    for (let i = 0; i < 5; i++) {
      const res = await get(s.port);
      assert.equal(res.status, 429);
      assert.deepEqual(res.json(), { error: 'Too Many Requests' });
      assert.match(res.headers['content-type'], /^application\/json/);
      assert.match(res.headers.ratelimit, /^limit=3, remaining=0, reset=\d+$/);
      assert.equal(res.headers['retry-after'], /reset=(\d+)/.exec(res.headers.ratelimit)[1]);
    }
    assert.equal(runs.handler, 3);
    assert.equal(s.server.stats().requests.js - js, 0, 'refused requests reached JS');
  });

  test('the same answer from JS: middleware before it, a key function, or a store', T, async (t) => {
    const native = await serve(t, limited({ limit: 1, message: 'slow down', statusCode: 503 }).setup);
    const counts = new Map();
    const store = {
      async increment(key) {
        const count = (counts.get(key) ?? 0) + 1;
        counts.set(key, count);
        return { count, resetMs: 60_000 };
      },
    };
    const variants = [
      { before: (req, res, next) => next() },
      { options: { key: (req) => req.ip } },
      { options: { store } },
    ];
    const first = await get(native.port);
    const refused = await get(native.port);
    assert.equal(refused.status, 503);
    assert.equal(refused.text, 'slow down');
    assert.match(refused.headers['content-type'], /^text\/plain/);
    for (const v of variants) {
      const { runs, setup } = limited({ limit: 1, message: 'slow down', statusCode: 503, ...v.options }, v);
      const s = await serve(t, setup);
      const a = await get(s.port);
      const jsBefore = s.server.stats().requests.js;
      const b = await get(s.port);
      assert.equal(s.server.stats().requests.js - jsBefore, 1, 'the JS side really ran');
      assert.equal(runs.handler, 1);
      assert.deepEqual(head(a).headers.map(([n]) => n), head(first).headers.map(([n]) => n));
      assert.deepEqual(head(b), head(refused), JSON.stringify(Object.keys(v)));
    }
  });

  test('keys: by the peer IP natively, by the key function in JS', T, async (t) => {
    const { runs, setup } = limited({ limit: 1, key: (req) => req.headers['x-user'] ?? 'anon' });
    const s = await serve(t, setup);
    assert.equal((await get(s.port, '/r', { 'x-user': 'a' })).status, 200);
    assert.equal((await get(s.port, '/r', { 'x-user': 'b' })).status, 200);
    assert.equal((await get(s.port, '/r', { 'x-user': 'a' })).status, 429);
    assert.equal(runs.handler, 2);
  });

  test('one count for every server of the app', T, async (t) => {
    const app = createApp();
    app.use(rateLimit({ limit: 2 }));
    app.get('/r', (req, res) => res.send('ok'));
    const one = await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => closeServer(one));
    const two = await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => closeServer(two));
    assert.equal((await get(one.port)).status, 200);
    assert.equal((await get(two.port)).status, 200);
    assert.equal((await get(one.port)).status, 429);
    assert.equal((await get(two.port)).status, 429);
  });

  test('a new window starts once the last one is over', T, async (t) => {
    const s = await serve(t, limited({ limit: 1, windowMs: 1000 }).setup);
    assert.equal((await get(s.port)).status, 200);
    assert.equal((await get(s.port)).status, 429);
    await sleep(1100);
    assert.equal((await get(s.port)).status, 200);
  });

  test('skip, headers: false, and requests no route matches under a prefix', T, async (t) => {
    const s = await serve(t, (a) => {
      a.use('/skip', rateLimit({ limit: 0, skip: (req) => req.headers['x-skip'] === '1' }));
      a.use('/api', rateLimit({ limit: 1, headers: false }));
      a.get('/skip', (req, res) => res.send('ok'));
      a.notFound((req, res) => res.status(404).send('none'));
    });
    assert.equal((await get(s.port, '/skip', { 'x-skip': '1' })).status, 200);
    assert.equal((await get(s.port, '/skip')).status, 429);
    const first = await get(s.port, '/api/missing');
    assert.equal(first.status, 404);
    assert.equal(first.headers.ratelimit, undefined);
    const js = s.server.stats().requests.js;
    const refused = await get(s.port, '/api/other');
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.ratelimit, undefined);
    assert.equal(refused.headers['retry-after'], undefined);
    assert.equal(s.server.stats().requests.js - js, 0, 'refused natively');
  });

  test('after cors(): a native 429 carries the CORS headers a browser needs to read it', T, async (t) => {
    const s = await serve(t, (a) => {
      a.use(cors({ origin: 'https://app.example', credentials: true }));
      a.use(rateLimit({ limit: 1 }));
      a.get('/r', (req, res) => res.send('ok'));
    });
    const headers = { origin: 'https://app.example' };
    assert.equal((await get(s.port, '/r', headers)).status, 200);
    const js = s.server.stats().requests.js;
    const res = await get(s.port, '/r', headers);
    assert.equal(res.status, 429);
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers.vary, 'Origin');
    assert.equal(s.server.stats().requests.js - js, 0);
  });

  test('a store that answers badly costs a 500, not the process', T, async (t) => {
    const s = await serve(t, limited({ store: { increment: async () => ({}) } }).setup);
    assert.equal((await get(s.port)).status, 500);
    const failing = await serve(t, limited({ store: { increment: async () => { throw new Error('down'); } } }).setup);
    assert.equal((await get(failing.port)).status, 500);
  });

  test('options are checked', () => {
    for (const bad of [{ limit: -1 }, { windowMs: 0 }, { statusCode: 200 }, { key: 'ip' }, { store: {} }, { nope: 1 }, { headers: 'yes' }]) {
      assert.throws(() => rateLimit(bad), { code: 'HN_ERR_BAD_OPTION' }, JSON.stringify(bad));
    }
  });
});
