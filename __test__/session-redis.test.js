'use strict';
// The Redis stores against a real redis-server (support/redis.js): sessions shared by two app
// instances, stored in connect-redis's format (so express-session + connect-redis on Express
// read ours and we read theirs), and rate-limit counters shared by two instances, counted
// atomically.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { createClient } = require('redis');
const { serve, request } = require('./helpers');
const { redisMissing, startRedis } = require('./support/redis');
const httpNative = require('..');

const { session, RedisSessionStore, RedisRateLimitStore } = httpNative;
const T = { timeout: 20000 };
const skip = redisMissing();

function sessionCookie(res, name = 'sid') {
  for (const line of res.headers.getSetCookie()) if (line.startsWith(`${name}=`)) return line.split(';')[0];
  return null;
}

// A connected node-redis client, closed by `t.after` (a test context's).
async function connect(url, t) {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  t.after(() => (typeof client.close === 'function' ? client.close() : client.quit()));
  return client;
}

// A redis-server for a suite: started before its tests, stopped after them.
function suiteRedis() {
  const cleanups = [];
  const shared = { redis: undefined };
  before(async () => {
    shared.redis = await startRedis((stop) => cleanups.push(stop));
  });
  after(async () => {
    for (const stop of cleanups.reverse()) await stop();
  });
  return shared;
}

function counterRoutes(app) {
  app.get('/count', (req, res) => {
    req.session.count = (req.session.count || 0) + 1;
    res.json({ count: req.session.count, id: req.sessionID });
  });
  app.get('/peek', (req, res) => res.json({ count: req.session.count ?? null, id: req.sessionID }));
}

describe('RedisSessionStore', { skip }, () => {
  const shared = suiteRedis();
  let redis;
  let admin;
  before(async () => {
    redis = shared.redis;
    admin = createClient({ url: redis.url });
    admin.on('error', () => {});
    await admin.connect();
  });
  after(() => admin.destroy());

  test('a session made by one instance is read and changed by another (each with its own client)', T, async (t) => {
    const maxAge = 10 * 60 * 1000;
    const instance = (client) =>
      serve(t, (app) => {
        app.use(session({ secret: 's', store: new RedisSessionStore({ client }), cookie: { maxAge } }));
        counterRoutes(app);
      });
    const one = await instance(await connect(redis.url, t));
    const two = await instance(await connect(redis.url, t));
    assert.notEqual(one.port, two.port);
    const first = await request(one.base, '/count');
    const cookie = sessionCookie(first);
    const { id } = await first.json();
    assert.deepEqual(await (await request(two.base, '/count', { headers: { cookie } })).json(), { count: 2, id });
    assert.deepEqual(await (await request(one.base, '/peek', { headers: { cookie } })).json(), { count: 2, id });

    // connect-redis's format: `sess:<id>`, JSON with the cookie, expiring with the cookie.
    const stored = JSON.parse(await admin.get(`sess:${id}`));
    assert.equal(stored.count, 2);
    assert.equal(stored.cookie.originalMaxAge, maxAge);
    assert.equal(stored.cookie.path, '/');
    assert.equal(stored.cookie.httpOnly, true);
    const pttl = await admin.pTTL(`sess:${id}`);
    assert.ok(pttl > 0 && pttl <= maxAge, `PTTL ${pttl}`);
  });

  test('express-session + connect-redis on Express and session() share sessions both ways', T, async (t) => {
    const express = require('express');
    const expressSession = require('express-session');
    const { RedisStore } = require('connect-redis');
    const client = await connect(redis.url, t);
    const app = express();
    app.use(expressSession({ secret: 'shared', name: 'sid', store: new RedisStore({ client }), resave: false, saveUninitialized: false }));
    counterRoutes(app);
    const server = http.createServer(app);
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const expressBase = `http://127.0.0.1:${server.address().port}`;
    const ourClient = await connect(redis.url, t);
    const ours = await serve(t, (a) => {
      a.use(session({ secret: 'shared', store: new RedisSessionStore({ client: ourClient }) }));
      counterRoutes(a);
    });

    const fromExpress = await request(expressBase, '/count');
    const expressCookie = sessionCookie(fromExpress);
    const { id } = await fromExpress.json();
    assert.deepEqual(await (await request(ours.base, '/count', { headers: { cookie: expressCookie } })).json(), { count: 2, id });
    assert.deepEqual(await (await request(expressBase, '/peek', { headers: { cookie: expressCookie } })).json(), { count: 2, id });

    const fromUs = await request(ours.base, '/count');
    const ourCookie = sessionCookie(fromUs);
    const mine = await fromUs.json();
    assert.deepEqual(await (await request(expressBase, '/count', { headers: { cookie: ourCookie } })).json(), { count: 2, id: mine.id });
    assert.deepEqual(await (await request(ours.base, '/peek', { headers: { cookie: ourCookie } })).json(), { count: 2, id: mine.id });
  });

  test('destroy() and regenerate() remove the key; an unchanged session only has its TTL extended', T, async (t) => {
    const client = await connect(redis.url, t);
    const s = await serve(t, (app) => {
      app.use(session({ secret: 's', store: new RedisSessionStore({ client, prefix: 'app:' }), cookie: { maxAge: 60000 } }));
      counterRoutes(app);
      app.post('/logout', async (req, res) => {
        await req.session.destroy();
        res.send('bye');
      });
      app.post('/rotate', async (req, res) => {
        const old = req.sessionID;
        await req.session.regenerate();
        req.session.count = 100;
        res.json({ old, id: req.sessionID });
      });
    });
    const first = await request(s.base, '/count');
    const cookie = sessionCookie(first);
    const { id } = await first.json();
    assert.ok(await admin.exists(`app:${id}`));
    await admin.pExpire(`app:${id}`, 5000);
    await request(s.base, '/peek', { headers: { cookie } });
    assert.ok((await admin.pTTL(`app:${id}`)) > 5000, 'touched: the TTL is the cookie\'s again');

    const rotate = await request(s.base, '/rotate', { method: 'POST', headers: { cookie } });
    const rotated = await rotate.json();
    assert.equal(await admin.exists(`app:${rotated.old}`), 0);
    assert.equal(JSON.parse(await admin.get(`app:${rotated.id}`)).count, 100);
    await request(s.base, '/logout', { method: 'POST', headers: { cookie: sessionCookie(rotate) } });
    assert.equal(await admin.exists(`app:${rotated.id}`), 0);
  });

  test('a client that is not one is refused', () => {
    assert.throws(() => new RedisSessionStore({ client: {} }), { code: 'HN_ERR_BAD_OPTION' });
    assert.throws(() => new RedisSessionStore({}), { code: 'HN_ERR_BAD_OPTION' });
    assert.throws(() => new RedisSessionStore({ client: admin, ttl: 5 }), { code: 'HN_ERR_BAD_OPTION' });
  });

  test('a Redis that went away costs 500s, not the process', T, async (t) => {
    const gone = await startRedis(t);
    const client = createClient({ url: gone.url, socket: { reconnectStrategy: false } });
    client.on('error', () => {});
    await client.connect();
    const s = await serve(t, (app) => {
      app.use(session({ secret: 's', store: new RedisSessionStore({ client }) }));
      counterRoutes(app);
      app.get('/ping', (req, res) => res.send('pong'));
    });
    assert.equal((await request(s.base, '/count')).status, 200);
    await client.sendCommand(['SHUTDOWN', 'NOSAVE']).catch(() => {});
    const res = await request(s.base, '/count');
    assert.equal(res.status, 500);
    assert.equal(sessionCookie(res), null);
    assert.equal(await (await request(s.base, '/ping')).text(), 'pong');
  });
});

describe('RedisRateLimitStore', { skip }, () => {
  const shared = suiteRedis();
  let redis;
  before(() => {
    redis = shared.redis;
  });

  test('two stores on two clients count one window per key, atomically', T, async (t) => {
    const a = new RedisRateLimitStore({ client: await connect(redis.url, t) });
    const b = new RedisRateLimitStore({ client: await connect(redis.url, t) });
    const windowMs = 60000;
    const hits = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).increment('1.2.3.4', windowMs)));
    const counts = hits.map((h) => h.count).sort((x, y) => x - y);
    assert.deepEqual(counts, Array.from({ length: 60 }, (_, i) => i + 1), 'every hit got its own count');
    for (const { resetMs } of hits) assert.ok(resetMs > 0 && resetMs <= windowMs, `resetMs ${resetMs}`);
    assert.deepEqual((await a.increment('5.6.7.8', windowMs)).count, 1, 'keys count apart');

    await b.decrement('1.2.3.4');
    assert.equal((await a.increment('1.2.3.4', windowMs)).count, 60);
    await a.resetKey('1.2.3.4');
    assert.equal((await b.increment('1.2.3.4', windowMs)).count, 1);
    await a.decrement('never-seen');
    assert.equal((await a.increment('never-seen', windowMs)).count, 1, 'decrement never goes below zero');
  });

  test('a window ends: the count starts again', T, async (t) => {
    const client = await connect(redis.url, t);
    const store = new RedisRateLimitStore({ client, prefix: 'w:' });
    assert.equal((await store.increment('k', 60000)).count, 1);
    assert.equal((await store.increment('k', 60000)).count, 2);
    // The window's end, without waiting for it: an expiry in the past, as the TTL reaching zero.
    assert.equal(await client.sendCommand(['PEXPIREAT', 'w:k', '1']), 1);
    const { count, resetMs } = await store.increment('k', 60000);
    assert.equal(count, 1);
    assert.ok(resetMs > 1000, 'a fresh window');
  });

  const { rateLimit } = httpNative;
  test(
    'rateLimit() with RedisRateLimitStore: two app instances share one limit',
    { ...T, skip: typeof rateLimit === 'function' ? false : 'rateLimit() is not on this branch yet (js/rate-limit.js comes with branch b15-native)' },
    async (t) => {
      const limit = 3;
      const instance = (client) =>
        serve(t, (app) => {
          app.use(rateLimit({ windowMs: 60000, limit, store: new RedisRateLimitStore({ client }) }));
          app.get('/', (req, res) => res.send('ok'));
        });
      const one = await instance(await connect(redis.url, t));
      const two = await instance(await connect(redis.url, t));
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await request(i % 2 ? two.base : one.base, '/')).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    },
  );
});
