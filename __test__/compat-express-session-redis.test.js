'use strict';
// express-session with connect-redis, unmodified, on http-native, against a real redis-server
// (support/redis.js): its documented behaviour — a session saved to Redis only once it holds
// something (saveUninitialized: false), its signed connect.sid cookie, the data found again by
// the next request and by a second instance, regenerate() and destroy() reaching Redis.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const expressSession = require('express-session');
const { RedisStore } = require('connect-redis');
const { createClient } = require('redis');
const signature = require('cookie-signature');
const { serve, request } = require('./helpers');
const { redisMissing, startRedis } = require('./support/redis');

const T = { timeout: 20000 };

function sessionCookie(res) {
  for (const line of res.headers.getSetCookie()) if (line.startsWith('connect.sid=')) return line;
  return null;
}

describe('express-session + connect-redis', { skip: redisMissing() }, () => {
  let redis;
  let stopRedis;
  const clients = [];
  before(async () => {
    redis = await startRedis((stop) => {
      stopRedis = stop;
    });
  });
  after(async () => {
    for (const client of clients) client.destroy();
    if (stopRedis) await stopRedis();
  });

  async function client() {
    const c = createClient({ url: redis.url });
    c.on('error', () => {});
    await c.connect();
    clients.push(c);
    return c;
  }

  function instance(t, redisClient) {
    return serve(t, (app) => {
      app.use(expressSession({ secret: 'keyboard cat', store: new RedisStore({ client: redisClient }), resave: false, saveUninitialized: false }));
      app.get('/count', (req, res) => {
        req.session.count = (req.session.count || 0) + 1;
        res.json({ count: req.session.count, id: req.sessionID });
      });
      app.get('/peek', (req, res) => res.json({ count: req.session.count ?? null, id: req.sessionID }));
      app.post('/login', (req, res, next) => {
        const old = req.sessionID;
        req.session.regenerate((err) => {
          if (err) return next(err);
          req.session.user = 'ada';
          res.json({ old, id: req.sessionID });
        });
      });
      app.post('/logout', (req, res, next) => {
        const id = req.sessionID;
        req.session.destroy((err) => {
          if (err) return next(err);
          res.json({ id });
        });
      });
    });
  }

  test('a session is saved to Redis, read back, and shared by a second instance', T, async (t) => {
    const admin = await client();
    const one = await instance(t, await client());
    const two = await instance(t, await client());

    const empty = await request(one.base, '/peek');
    assert.equal(sessionCookie(empty), null, 'saveUninitialized: false: no cookie for an empty session');
    assert.equal((await empty.json()).count, null);
    assert.deepEqual(await admin.keys('sess:*'), []);

    const first = await request(one.base, '/count');
    const line = sessionCookie(first);
    const { id } = await first.json();
    assert.match(line, /^connect\.sid=s%3A[^;]+; Path=\/; HttpOnly$/);
    const value = decodeURIComponent(line.split(';')[0].slice('connect.sid='.length));
    assert.equal(signature.unsign(value.slice(2), 'keyboard cat'), id);
    assert.equal(JSON.parse(await admin.get(`sess:${id}`)).count, 1, 'saved in connect-redis format');
    assert.ok((await admin.ttl(`sess:${id}`)) > 0, 'with connect-redis\'s TTL');

    const cookie = line.split(';')[0];
    assert.deepEqual(await (await request(one.base, '/count', { headers: { cookie } })).json(), { count: 2, id });
    assert.deepEqual(await (await request(two.base, '/count', { headers: { cookie } })).json(), { count: 3, id });
    assert.deepEqual(await (await request(one.base, '/peek', { headers: { cookie } })).json(), { count: 3, id });
  });

  test('regenerate() and destroy() reach Redis', T, async (t) => {
    const admin = await client();
    const s = await instance(t, await client());
    const cookie = sessionCookie(await request(s.base, '/count')).split(';')[0];
    const login = await request(s.base, '/login', { method: 'POST', headers: { cookie } });
    const { old, id } = await login.json();
    assert.notEqual(old, id);
    assert.equal(await admin.exists(`sess:${old}`), 0);
    assert.equal(JSON.parse(await admin.get(`sess:${id}`)).user, 'ada');
    const fresh = sessionCookie(login).split(';')[0];
    const logout = await request(s.base, '/logout', { method: 'POST', headers: { cookie: fresh } });
    assert.deepEqual(await logout.json(), { id });
    assert.equal(await admin.exists(`sess:${id}`), 0);
  });
});
