'use strict';
// app.cache.fanOut() against a real redis-server (support/redis.js): two apps, each its own server
// and its own Redis client, fanned out on one channel. A change on one reaches the other (its
// next request goes to JS), a change is applied once per instance (an instance drops its own
// message and never publishes a peer's again), and the arguments are checked with coded errors.
//
// Delivery is asynchronous, so a test waits for a message by polling what it changes, a bounded
// number of times. That a message did NOT do something is read after a later message from the
// same publisher has arrived: Redis delivers one connection's publishes to a subscriber in order.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { createClient } = require('redis');
const { serve, request, waitUntil } = require('./helpers');
const { redisMissing, startRedis } = require('./support/redis');

const T = { timeout: 30000 };
const skip = redisMissing();
if (skip) console.log(`# cache-fanout.test.js skipped: ${skip}`);
// Polls for a message's arrival; each poll is one request, so this bounds the tries.
const POLL = { timeout: 10000, interval: 10 };

async function connect(url, t) {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  t.after(() => client.close());
  return client;
}

// An instance: a cached route whose body says how many times JS ran for that path.
async function instance(t, url, options) {
  const runs = new Map();
  const s = await serve(t, (app) => {
    app.get('/item/:id', (req, res) => {
      const n = (runs.get(req.path) ?? 0) + 1;
      runs.set(req.path, n);
      res.ncache(`${req.path} run ${n}`, 60);
    });
  });
  const fan = await s.app.cache.fanOut(await connect(url, t), options);
  t.after(() => fan.close());
  const get = async (path) => {
    const res = await request(s.base, path);
    assert.equal(res.status, 200);
    return res.text();
  };
  return { ...s, fan, runs, get };
}

// Every message on `channel`, as parsed JSON, seen by a client of the test's own.
async function listen(url, channel, t) {
  const sub = createClient({ url });
  sub.on('error', () => {});
  await sub.connect();
  t.after(() => sub.close());
  const seen = [];
  await sub.subscribe(channel, (text) => seen.push({ text, message: JSON.parse(text) }));
  return seen;
}

describe('app.cache.fanOut', { skip }, () => {
  let redis;
  const cleanups = [];
  before(async () => {
    redis = await startRedis((stop) => cleanups.push(stop));
  });
  after(async () => {
    for (const stop of cleanups.reverse()) await stop();
  });

  test('invalidate() on one instance: the other answers the path from JS again, other paths stay cached', T, async (t) => {
    const channel = 'fan:invalidate';
    const a = await instance(t, redis.url, { channel });
    const b = await instance(t, redis.url, { channel });
    for (const x of [a, b]) {
      assert.equal(await x.get('/item/1'), '/item/1 run 1');
      assert.equal(await x.get('/item/1'), '/item/1 run 1', 'a cache hit');
      assert.equal(await x.get('/item/2'), '/item/2 run 1');
    }
    const jsBefore = b.server.stats().requests.js;

    a.app.cache.invalidate('/item/1');
    assert.equal(await a.get('/item/1'), '/item/1 run 2', 'the local change is in force when invalidate() returns');
    await waitUntil(async () => (await b.get('/item/1')) === '/item/1 run 2', { ...POLL, what: "b's /item/1 to go to JS" });
    assert.equal(b.runs.get('/item/1'), 2);
    assert.ok(b.server.stats().requests.js > jsBefore);
    assert.equal(await b.get('/item/1'), '/item/1 run 2', 'cached again');
    assert.equal(await b.get('/item/2'), '/item/2 run 1', 'another path is not touched');
  });

  test('a wildcard pattern and clear() fan out too, both ways', T, async (t) => {
    const channel = 'fan:clear';
    const a = await instance(t, redis.url, { channel });
    const b = await instance(t, redis.url, { channel });
    for (const x of [a, b]) for (const id of [1, 2]) await x.get(`/item/${id}`);

    b.app.cache.invalidate('/item/*');
    await waitUntil(async () => (await a.get('/item/2')) === '/item/2 run 2', { ...POLL, what: "a's /item/2 to go to JS" });
    assert.equal(await a.get('/item/1'), '/item/1 run 2');
    for (const id of [1, 2]) assert.equal(await b.get(`/item/${id}`), `/item/${id} run 2`, 'b dropped its own at once');

    a.app.cache.clear();
    await waitUntil(async () => (await b.get('/item/1')) === '/item/1 run 3', { ...POLL, what: "b's /item/1 to go to JS" });
    assert.equal(await b.get('/item/2'), '/item/2 run 3');
  });

  test('one change is one message: an instance drops its own, and never publishes a peer\'s again', T, async (t) => {
    const channel = 'fan:once';
    const seen = await listen(redis.url, channel, t);
    const a = await instance(t, redis.url, { channel });
    const b = await instance(t, redis.url, { channel });
    await a.get('/item/1');
    await b.get('/item/1');

    a.app.cache.invalidate('/item/1');
    await waitUntil(async () => (await b.get('/item/1')) === '/item/1 run 2', { ...POLL, what: "b's /item/1 to go to JS" });
    assert.equal(seen.length, 1);
    assert.equal(seen[0].message.op, 'invalidate');
    assert.equal(seen[0].message.pattern, '/item/1');
    assert.equal(await a.get('/item/1'), '/item/1 run 2');
    await a.get('/item/9');
    // a's own message, delivered to a again after a cached the path anew: dropped (it carries a's id).
    await (await connect(redis.url, t)).publish(channel, seen[0].text);
    // Then a change from b: once a has applied it, a has seen everything published before it, and
    // anything b published on receiving a's message came before it.
    b.app.cache.invalidate('/item/9');
    await waitUntil(async () => (await a.get('/item/9')) === '/item/9 run 2', { ...POLL, what: "b's message at a" });
    assert.equal(await a.get('/item/1'), '/item/1 run 2', 'a did not apply its own message');
    await waitUntil(() => seen.some((s) => s.message.pattern === '/item/9'), { ...POLL, what: "b's message at the listener" });
    // a's message, its replay, b's: b published nothing for the message it applied.
    assert.deepEqual(seen.map((s) => s.message.pattern), ['/item/1', '/item/1', '/item/9']);
    assert.notEqual(seen[0].message.from, seen[2].message.from);
  });

  test('close() stops both directions; the app may fan out again', T, async (t) => {
    const channel = 'fan:close';
    const seen = await listen(redis.url, channel, t);
    const a = await instance(t, redis.url, { channel });
    const b = await instance(t, redis.url, { channel });
    await a.get('/item/1');
    await a.fan.close();
    b.app.cache.invalidate('/item/1');
    a.app.cache.invalidate('/item/5'); // not published: a is no longer fanned out
    b.app.cache.invalidate('/item/7');
    await waitUntil(() => seen.length >= 2, { ...POLL, what: "b's messages" });
    // A publish is not awaited by invalidate(): a late one from a would come after b's last.
    const extra = await connect(redis.url, t);
    await extra.publish(channel, JSON.stringify({ v: 1, from: 'sentinel', op: 'invalidate', pattern: '/none' }));
    await waitUntil(() => seen.length >= 3, { ...POLL, what: 'the sentinel' });
    assert.deepEqual(seen.map((s) => s.message.pattern), ['/item/1', '/item/7', '/none']);
    assert.equal(await a.get('/item/1'), '/item/1 run 1', 'a no longer applies changes from b');

    const again = await a.app.cache.fanOut(await connect(redis.url, t), { channel });
    t.after(() => again.close());
    b.app.cache.invalidate('/item/1');
    await waitUntil(async () => (await a.get('/item/1')) === '/item/1 run 2', { ...POLL, what: "a's /item/1 to go to JS" });
  });

  test('bad arguments are coded errors; a second fanOut() on one app is refused', T, async (t) => {
    const client = await connect(redis.url, t);
    const s = await serve(t, () => {});
    const cache = s.app.cache;
    await assert.rejects(cache.fanOut(), { code: 'HN_ERR_INVALID_ARG' });
    await assert.rejects(cache.fanOut(null), { code: 'HN_ERR_INVALID_ARG' });
    await assert.rejects(cache.fanOut({ publish() {} }), { code: 'HN_ERR_INVALID_ARG' });
    await assert.rejects(cache.fanOut(client, null), { code: 'HN_ERR_BAD_OPTION' });
    await assert.rejects(cache.fanOut(client, { channel: '' }), { code: 'HN_ERR_BAD_OPTION' });
    await assert.rejects(cache.fanOut(client, { channel: 5 }), { code: 'HN_ERR_BAD_OPTION' });
    await assert.rejects(cache.fanOut(client, { chanel: 'x' }), { code: 'HN_ERR_BAD_OPTION' });
    await assert.rejects(cache.fanOut(client, { onError: 'log' }), { code: 'HN_ERR_BAD_OPTION' });
    const fan = await cache.fanOut(client, { channel: 'fan:args' });
    t.after(() => fan.close());
    await assert.rejects(cache.fanOut(client, { channel: 'fan:other' }), { code: 'HN_ERR_INVALID_ARG' });
  });

  test('a message that is not a cache change is dropped and reported to onError; the fan-out keeps working', T, async (t) => {
    const channel = 'fan:garbage';
    const errors = [];
    const a = await instance(t, redis.url, { channel, onError: (err) => errors.push(err) });
    const b = await instance(t, redis.url, { channel, onError: () => {} });
    await a.get('/item/1');
    const raw = await connect(redis.url, t);
    await raw.publish(channel, 'not json');
    await raw.publish(channel, JSON.stringify({ v: 1, from: 'x', op: 'drop-table' }));
    await raw.publish(channel, JSON.stringify({ v: 1, from: 'x', op: 'invalidate', pattern: 'no-slash' }));
    await raw.publish(channel, 'null');
    b.app.cache.invalidate('/item/1');
    await waitUntil(async () => (await a.get('/item/1')) === '/item/1 run 2', { ...POLL, what: "a's /item/1 to go to JS" });
    assert.equal(errors.length, 4);
    assert.equal(errors[2].code, 'HN_ERR_INVALID_ARG');
  });
});
