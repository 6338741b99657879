'use strict';
// js/host/counters.js, the JavaScript RateLimitCounter and SessionStore of the node backend,
// against the addon's classes: every check runs on both, through a node:http server that counts
// and keeps sessions with the class under test (real sockets, real clients), and the transcripts
// of the same calls on both must be equal. Fixed windows, decrement/reset, maxKeys and byte
// bounds, TTL expiry and touch, shared names, and the errors bad arguments get.
const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { waitUntil, RawClient, buildRequest } = require('./helpers');
const js = require('../js/host/counters');

let addon;
let addonMissing = false;
try {
  // The addon itself, whichever backend this pass runs the app on (HTTP_NATIVE_BACKEND=node).
  addon = require('../js/backend').loadBackend('native');
} catch (err) {
  addonMissing = `the addon does not load here (${err.code || err.message}): only the JavaScript classes are checked`;
}

const T = { timeout: 20000 };
const IMPLS = [
  ['JavaScript', js, false],
  ['addon', addon, addonMissing],
];

// A node:http server that limits GET /hit by the peer's IP (limit 3) and keeps a session per
// `sid` cookie: PUT /session stores the body, GET /session reads it, DELETE /session drops it.
async function server(t, impl, { windowMs = 60_000, limit = 3 } = {}) {
  const counter = new impl.RateLimitCounter(windowMs);
  const store = new impl.SessionStore();
  const srv = http.createServer((req, res) => {
    const sid = /sid=([^;]+)/.exec(req.headers.cookie || '')?.[1];
    if (req.url === '/hit') {
      const [count, resetMs] = counter.hit(req.socket.remoteAddress);
      const reset = Math.ceil(resetMs / 1000);
      res.setHeader('ratelimit', `limit=${limit}, remaining=${Math.max(0, limit - count)}, reset=${reset}`);
      res.statusCode = count > limit ? 429 : 200;
      res.end(String(count));
      return;
    }
    if (req.url === '/session' && req.method === 'PUT') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d) => (body += d));
      req.on('end', () => res.end(String(store.set(sid, body, 60_000))));
      return;
    }
    if (req.url === '/session' && req.method === 'GET') {
      const json = store.get(sid);
      res.statusCode = json === null ? 404 : 200;
      res.end(json ?? '');
      return;
    }
    if (req.url === '/session' && req.method === 'DELETE') {
      res.end(String(store.destroy(sid)));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => srv.close(resolve)));
  return { port: srv.address().port, counter, store };
}

function fetchIt(port, path, init = {}) {
  return fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000), ...init });
}

// The same calls on both classes give the same answers (the window's remaining ms aside, which
// depends on when each call ran: only its range is checked).
function transcript(impl, steps) {
  const out = [];
  for (const step of steps) {
    try {
      out.push(step(impl));
    } catch (err) {
      out.push({ threw: err.constructor.name, code: err.code, message: err.message });
    }
  }
  return out;
}

function bothEqual(steps) {
  const mine = transcript(js, steps);
  if (!addonMissing) assert.deepEqual(mine, transcript(addon, steps));
  return mine;
}

describe('RateLimitCounter', () => {
  for (const [name, impl, skip] of IMPLS) {
    test(`${name}: a real server counts each client in a fixed window, 429 past the limit`, { ...T, skip }, async (t) => {
      const s = await server(t, impl);
      const answers = [];
      for (let i = 0; i < 5; i++) {
        const res = await fetchIt(s.port, '/hit');
        answers.push([res.status, await res.text(), res.headers.get('ratelimit').replace(/reset=\d+/, 'reset=S')]);
      }
      assert.deepEqual(answers, [
        [200, '1', 'limit=3, remaining=2, reset=S'],
        [200, '2', 'limit=3, remaining=1, reset=S'],
        [200, '3', 'limit=3, remaining=0, reset=S'],
        [429, '4', 'limit=3, remaining=0, reset=S'],
        [429, '5', 'limit=3, remaining=0, reset=S'],
      ]);
      // Its key reset, the client (now over a raw socket) starts a new count.
      s.counter.resetKey('127.0.0.1');
      const raw = await RawClient.connect(s.port);
      t.after(() => raw.destroy());
      await raw.write(buildRequest('GET', '/hit'));
      const res = await raw.readResponse();
      assert.equal(res.status, 200);
      assert.equal(res.text, '1');
    });

    test(`${name}: a new window starts once the last one is over`, { ...T, skip }, async () => {
      const counter = new impl.RateLimitCounter(50);
      assert.deepEqual(counter.hit('k').map((n, i) => (i === 0 ? n : n <= 50)), [1, true]);
      assert.equal(counter.hit('k')[0], 2);
      // Each poll counts too; the first hit after the window ended opens a new one.
      await waitUntil(() => counter.hit('k')[0] === 1, { what: 'a new window for k' });
    });
  }

  test('the same answers from both: hits, decrement, resetKey, resetAll, windows and ms left', T, () => {
    const steps = [
      (m) => (globalThis.__c = new m.RateLimitCounter(60_000.9)) && 'made',
      () => globalThis.__c.hit('a')[0],
      () => globalThis.__c.hit('a')[0],
      () => globalThis.__c.hit('b')[0],
      () => globalThis.__c.decrement('a'),
      () => globalThis.__c.hit('a')[0],
      () => globalThis.__c.decrement('nobody'),
      () => globalThis.__c.hit('nobody')[0],
      () => {
        const c = globalThis.__c;
        c.decrement('b');
        c.decrement('b');
        return c.hit('b')[0];
      },
      () => globalThis.__c.resetKey('a'),
      () => globalThis.__c.hit('a')[0],
      () => globalThis.__c.resetAll(),
      () => [globalThis.__c.hit('a')[0], globalThis.__c.hit('b')[0]],
      () => {
        const [, reset] = globalThis.__c.hit('ms');
        return reset > 59_000 && reset <= 60_000;
      },
      () => typeof globalThis.__c.handle(),
    ];
    const answers = bothEqual(steps);
    assert.deepEqual(answers.slice(1, 14), [1, 2, 1, undefined, 2, undefined, 1, 1, undefined, 1, undefined, [1, 1], true]);
    delete globalThis.__c;
  });

  test('bounded in keys: the windows ending soonest go first, the newest stays', T, () => {
    for (const [, impl, skip] of IMPLS) {
      if (skip) continue;
      const counter = new impl.RateLimitCounter(60_000, 16);
      for (let i = 0; i < 1000; i++) counter.hit(`k${i}`);
      // The newest key kept its count; the oldest was dropped (its next hit opens a window).
      assert.equal(counter.hit('k999')[0], 2);
      assert.equal(counter.hit('k0')[0], 1);
    }
  });

  test('bounded in bytes: a key over the share of one entry counts as its window\'s first, never kept', T, () => {
    const long = 'x'.repeat(200);
    const answers = bothEqual([
      // 16 × 300 bytes: one entry may weigh 300 (192 of bookkeeping plus the key).
      (m) => (globalThis.__c = new m.RateLimitCounter(1000, undefined, 16 * 300)) && 'made',
      () => globalThis.__c.hit(long),
      () => globalThis.__c.hit(long),
      () => globalThis.__c.hit('short')[0],
      () => globalThis.__c.hit('short')[0],
    ]);
    assert.deepEqual(answers.slice(1), [[1, 1000], [1, 1000], 1, 2]);
    delete globalThis.__c;
  });

  test('a shared name is one count for every counter made with it (the first one\'s bounds)', T, () => {
    const answers = bothEqual([
      (m) => {
        const a = new m.RateLimitCounter(60_000, undefined, undefined, 'host-counters-shared');
        const b = new m.RateLimitCounter(1000, undefined, undefined, 'host-counters-shared');
        const c = new m.RateLimitCounter(60_000);
        a.hit('ip');
        return [b.hit('ip')[0], b.hit('ip')[1] > 1000, c.hit('ip')[0]];
      },
    ]);
    assert.deepEqual(answers, [[2, true, 1]]);
  });

  test('bad arguments: the same errors as the addon', T, () => {
    const answers = bothEqual([
      (m) => new m.RateLimitCounter(0),
      (m) => new m.RateLimitCounter(2 ** 32),
      (m) => new m.RateLimitCounter(1000, 0),
      (m) => new m.RateLimitCounter(1000, undefined, 0.5),
      (m) => new m.RateLimitCounter('1000'),
      (m) => new m.RateLimitCounter(1000).hit(5),
      (m) => new m.RateLimitCounter(1000).hit(),
      (m) => new m.RateLimitCounter(1000).resetKey(null),
      (m) => {
        // The window's remaining ms depends on when the call ran: only its range is compared.
        const [count, ms] = new m.RateLimitCounter(1000, -1).hit('wraps to 2^32 - 1 keys');
        return [count, ms > 0 && ms <= 1000];
      },
    ]);
    assert.equal(answers[0].code, 'InvalidArg');
    assert.equal(answers[0].message, 'RateLimitCounter: bad windowMs, maxKeys or maxBytes');
    assert.equal(answers[4].code, 'NumberExpected');
    assert.equal(answers[5].code, 'StringExpected');
    assert.deepEqual(answers[8], [1, true]);
  });
});

describe('SessionStore', () => {
  for (const [name, impl, skip] of IMPLS) {
    test(`${name}: a real server keeps, reads and drops sessions by cookie`, { ...T, skip }, async (t) => {
      const s = await server(t, impl);
      const as = (sid) => ({ headers: { cookie: `sid=${sid}` } });
      assert.equal(await (await fetchIt(s.port, '/session', { method: 'PUT', body: '{"user":"ann"}', ...as('a') })).text(), 'true');
      assert.equal(await (await fetchIt(s.port, '/session', { method: 'PUT', body: '{"user":"bob"}', ...as('b') })).text(), 'true');
      const a = await fetchIt(s.port, '/session', as('a'));
      assert.equal(a.status, 200);
      assert.equal(await a.text(), '{"user":"ann"}');
      assert.equal(s.store.length, 2);
      assert.equal(await (await fetchIt(s.port, '/session', { method: 'DELETE', ...as('a') })).text(), 'true');
      assert.equal(await (await fetchIt(s.port, '/session', { method: 'DELETE', ...as('a') })).text(), 'false');
      assert.equal((await fetchIt(s.port, '/session', as('a'))).status, 404);
      assert.equal(await (await fetchIt(s.port, '/session', as('b'))).text(), '{"user":"bob"}');
      assert.equal(s.store.length, 1);
    });

    test(`${name}: sessions expire after their TTL; touch gives a live one more`, { ...T, skip }, async () => {
      const store = new impl.SessionStore();
      assert.equal(store.set('short', '{}', 30), true);
      assert.equal(store.set('kept', '{"n":1}', 30), true);
      // Touched at once, before its 30 ms could pass: now it has a minute.
      assert.equal(store.touch('kept', 60_000), true);
      await waitUntil(() => store.get('short') === null, { what: 'the short session to expire' });
      assert.equal(store.touch('short', 60_000), false, 'an expired session is not revived');
      assert.equal(store.destroy('short'), false);
      assert.equal(store.get('kept'), '{"n":1}');
      assert.equal(store.length, 1);
      assert.equal(store.touch('nobody', 1000), false);
    });
  }

  test('the same answers from both: set, replace, get, touch, destroy, length, clear', T, () => {
    const answers = bothEqual([
      (m) => (globalThis.__s = new m.SessionStore()) && 'made',
      () => globalThis.__s.set('a', '{"x":1}', 60_000),
      () => globalThis.__s.set('a', '{"x":2}', 60_000),
      () => globalThis.__s.get('a'),
      () => globalThis.__s.get('none'),
      () => globalThis.__s.set('é', 'ünïcode', 60_000.7),
      () => globalThis.__s.get('é'),
      () => globalThis.__s.length,
      () => globalThis.__s.touch('a', 1000),
      () => globalThis.__s.destroy('a'),
      () => globalThis.__s.destroy('a'),
      () => globalThis.__s.clear(),
      () => [globalThis.__s.length, globalThis.__s.get('é')],
    ]);
    assert.deepEqual(answers.slice(1), [true, true, '{"x":2}', null, true, 'ünïcode', 2, true, true, false, undefined, [0, null]]);
    delete globalThis.__s;
  });

  test('bounded in sessions and bytes; a session alone over a shard\'s share is refused and the old one goes', T, () => {
    for (const [, impl, skip] of IMPLS) {
      if (skip) continue;
      const store = new impl.SessionStore({ maxSessions: 32 });
      for (let i = 0; i < 1000; i++) store.set(`s${i}`, '{}', 60_000 + i);
      assert.ok(store.length <= 32, `${store.length} sessions kept`);
      assert.equal(store.get('s999'), '{}', 'the session that expires last stays');
      assert.equal(store.get('s0'), null, 'the one that expires first went');
      const bytes = new impl.SessionStore({ maxBytes: 16 * 1024 });
      for (let i = 0; i < 200; i++) bytes.set(`b${i}`, 'y'.repeat(500), 60_000 + i);
      assert.ok(bytes.length * (192 + 500) <= 16 * 1024, `${bytes.length} sessions of ~700 bytes kept under 16 KiB`);
    }
    const answers = bothEqual([
      // One entry may weigh 16 × 300 / 16 = 300 bytes: 192 of bookkeeping, the id and the JSON.
      (m) => (globalThis.__s = new m.SessionStore({ maxBytes: 16 * 300 })) && 'made',
      () => globalThis.__s.set('a', 'x'.repeat(100), 1000),
      () => globalThis.__s.set('a', 'x'.repeat(200), 1000),
      () => [globalThis.__s.get('a'), globalThis.__s.length],
      // Multi-byte characters weigh their UTF-8 bytes: 53 × 2 + 192 + 1 = 299 fits, 54 does not.
      () => globalThis.__s.set('b', 'é'.repeat(53), 1000),
      () => globalThis.__s.set('c', 'é'.repeat(54), 1000),
    ]);
    assert.deepEqual(answers.slice(1), [true, false, [null, 0], true, false]);
    delete globalThis.__s;
  });

  test('bad arguments: the same errors as the addon', T, () => {
    const answers = bothEqual([
      (m) => new m.SessionStore({ maxSessions: 0 }),
      (m) => new m.SessionStore({ maxBytes: 0 }),
      (m) => new m.SessionStore({ maxBytes: Infinity }),
      (m) => new m.SessionStore().set('a', 'b', 0),
      (m) => new m.SessionStore().set('a', 'b', NaN),
      (m) => new m.SessionStore().set('a', 'b', -Infinity),
      (m) => new m.SessionStore().touch('a', 'soon'),
      (m) => new m.SessionStore().set('a', {}, 10),
      (m) => new m.SessionStore().get(1),
      (m) => new m.SessionStore().destroy(undefined),
      (m) => new m.SessionStore().set('a', 'b', 1e12) && 'capped at 400 days, kept',
    ]);
    assert.equal(answers[0].message, 'SessionStore: maxSessions and maxBytes must be positive');
    assert.equal(answers[3].message, 'SessionStore: ttlMs must be a positive number of milliseconds, got 0');
    assert.equal(answers[5].message, 'SessionStore: ttlMs must be a positive number of milliseconds, got -inf');
    assert.equal(answers[7].code, 'StringExpected');
    assert.equal(answers[10], 'capped at 400 days, kept');
  });
});
