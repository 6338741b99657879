'use strict';
// serve(module, { workers }): the app in several worker threads on one port, sharing the native
// response cache, rate-limit counters and memory sessions; crashed workers restarted; close()
// drains all. Which worker gets a fresh connection is the kernel's hash of its addresses and
// ports: with CONNECTIONS of them, all on one worker has probability 2 * 2^-64.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { get, waitUntil, withTimeout, RawClient, buildRequest } = require('./helpers');
const { openSockets } = require('./support/ws-sockets');
const { serve } = require('..');

const CONNECTIONS = 64;
const LINUX = process.platform === 'linux';
const APP = path.join(__dirname, 'fixtures', 'serve', 'app.js');
const T = { timeout: 60000 };

async function cluster(t, module = APP, options = {}) {
  const c = await withTimeout(serve(module, { workers: 2, port: 0, host: '127.0.0.1', ...options }), 30000, 'serve()');
  t.after(() => withTimeout(c.close(), 30000, 'cluster.close()'));
  return c;
}

const threadsOf = async (port, n, target = '/who') => {
  const seen = new Set();
  for (let i = 0; i < n; i++) seen.add((await get(port, target)).json().thread);
  return seen;
};

test('two workers serve one port; stats sum them and list each', T, async (t) => {
  const c = await cluster(t);
  assert.equal(c.workers, 2);
  assert.match(c.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const seen = await threadsOf(c.port, CONNECTIONS);
  if (LINUX) assert.equal(seen.size, 2, 'both workers answered');
  const stats = await c.stats();
  assert.equal(stats.workers.length, 2);
  assert.equal(stats.requests.total, CONNECTIONS);
  assert.equal(stats.requests.total, stats.workers[0].requests.total + stats.workers[1].requests.total);
});

test('the response cache is one: a hit is a hit whichever worker filled it, and invalidate() in one worker reaches all', T, async (t) => {
  const c = await cluster(t);
  const first = (await get(c.port, '/c')).json();
  await waitUntil(async () => (await c.stats()).workers.every((w) => w.cache.entries === 1), { what: 'the entry in both workers' });
  for (let i = 0; i < CONNECTIONS; i++) assert.deepEqual((await get(c.port, '/c')).json(), first);
  const stats = await c.stats();
  assert.equal(stats.requests.js, 1, 'JS answered once, in one worker');
  if (LINUX) assert.ok(stats.workers.every((w) => w.cache.hits > 0), 'both workers answered from the cache');

  assert.equal((await get(c.port, '/invalidate', { method: 'POST' })).status, 200);
  for (let i = 0; i < CONNECTIONS; i++) assert.notDeepEqual((await get(c.port, '/c')).json(), first, 'the old answer is gone from every worker');
});

test('a rateLimit() counts once over every worker', T, async (t) => {
  const c = await cluster(t);
  const codes = [];
  for (let i = 0; i < 20; i++) {
    const res = await get(c.port, '/limited/x');
    codes.push(res.status);
  }
  assert.deepEqual(codes, [...Array(5).fill(200), ...Array(15).fill(429)]);
});

test('a MemorySessionStore session made by one worker is valid on the other', T, async (t) => {
  const c = await cluster(t);
  const login = await get(c.port, '/login');
  const cookie = login.headers['set-cookie'].split(';')[0];
  const maker = login.json().thread;
  const seen = new Set();
  for (let i = 0; i < CONNECTIONS; i++) {
    const me = (await get(c.port, '/me', { headers: [['cookie', cookie]] })).json();
    assert.equal(me.user, `made by ${maker}`);
    seen.add(me.thread);
  }
  if (LINUX) assert.equal(seen.size, 2, 'read by both workers');
});

test('a worker that crashes is restarted and the port keeps being served', T, async (t) => {
  const c = await cluster(t);
  const restarted = new Promise((resolve) => c.once('restart', resolve));
  assert.equal((await get(c.port, '/crash')).status, 200);
  const event = await withTimeout(restarted, 20000, "the 'restart' event");
  assert.equal(event.exitCode, 1);
  assert.equal(c.restarts, 1);
  await waitUntil(async () => (await c.stats()).workers.length === 2, { timeout: 20000, what: 'two workers again' });
  const seen = await threadsOf(c.port, CONNECTIONS);
  if (LINUX) assert.equal(seen.size, 2, 'the new worker serves');
});

test('close() drains: a request in flight is answered, then the port is closed', T, async (t) => {
  const c = await withTimeout(serve(APP, { workers: 2, port: 0, host: '127.0.0.1' }), 30000, 'serve()');
  const client = await RawClient.connect(c.port);
  t.after(() => client.destroy());
  await client.write(buildRequest('GET', '/slow?ms=300'));
  // The request is in a handler (JS counted it) before close() is called.
  await waitUntil(async () => (await c.stats()).requests.js === 1, { what: 'the request in JS' });
  const closed = c.close({ timeout: 10000 });
  const res = await client.readResponse();
  assert.equal(res.status, 200);
  assert.equal(res.json().slow, true);
  await withTimeout(closed, 20000, 'close()');
  await assert.rejects(get(c.port, '/who'), /ECONNREFUSED/);
});

test('an ES module (export default app) given as a file: URL', T, async (t) => {
  const c = await cluster(t, pathToFileURL(path.join(__dirname, 'fixtures', 'serve', 'app.mjs')));
  assert.equal((await get(c.port, '/who')).json().esm, true);
});

test('a module without an app, or one that throws, rejects serve() with HN_ERR_SERVE', T, async () => {
  await assert.rejects(serve(path.join(__dirname, 'fixtures', 'serve', 'no-app.js'), { workers: 2 }), { code: 'HN_ERR_SERVE', message: /exports no app/ });
  await assert.rejects(serve(path.join(__dirname, 'fixtures', 'serve', 'throws.js'), { workers: 1 }), { code: 'HN_ERR_SERVE', message: /does not load/ });
  await assert.rejects(serve(APP, { workers: 0 }), { code: 'HN_ERR_BAD_OPTION' });
  await assert.rejects(serve(42), { code: 'HN_ERR_BAD_OPTION' });
});

test("workers with several I/O threads each, balance: 'acceptor' within each worker", T, async (t) => {
  const c = await cluster(t, APP, { ioThreads: 2, balance: 'acceptor' });
  const seen = await threadsOf(c.port, CONNECTIONS);
  if (LINUX) assert.equal(seen.size, 2, 'both workers answered');
  const stats = await c.stats();
  assert.deepEqual(
    stats.workers.map((w) => w.threads.length),
    [2, 2],
  );
  // Each worker's acceptor hands to its own two threads only: both of every worker's threads
  // served, and the totals add up.
  if (LINUX) assert.ok(stats.workers.every((w) => w.threads.every((th) => th.connections.total > 0)), JSON.stringify(stats.workers.map((w) => w.threads.map((th) => th.connections.total))));
  assert.equal(stats.connections.total, CONNECTIONS);

  // A restarted worker makes an acceptor of its own, never joins what is left of its
  // predecessor's (which would leave the port with no thread accepting): crash each worker once.
  for (let round = 0; round < 2; round++) {
    const restarted = new Promise((resolve) => c.once('restart', resolve));
    assert.equal((await get(c.port, '/crash')).status, 200);
    await withTimeout(restarted, 20000, "the 'restart' event");
    await waitUntil(async () => (await c.stats()).workers.length === 2, { timeout: 20000, what: 'two workers again' });
    for (let i = 0; i < CONNECTIONS; i++) assert.equal((await get(c.port, '/who')).status, 200);
  }
});

test("a second app in the module keeps its own cache: the workers' n-th listen()s share one", T, async (t) => {
  const c = await cluster(t, path.join(__dirname, 'fixtures', 'serve', 'two-apps.js'));
  for (let i = 0; i < 8; i++) assert.deepEqual((await get(c.port, '/page')).json(), { from: 'main app' });
  for (let i = 0; i < 8; i++) assert.deepEqual((await get(c.port, '/admin-page')).json(), { from: 'admin app' });
});

test('WebSocket publishes reach the subscribers of every worker', T, async (t) => {
  const SOCKETS = 32;
  const c = await cluster(t);
  const sockets = await openSockets(`ws://127.0.0.1:${c.port}/chat`, SOCKETS);
  t.after(() => sockets.forEach((ws) => ws.terminate()));
  const stats = await c.stats();
  if (LINUX) assert.ok(stats.workers.every((w) => w.ws.open > 0), `sockets in both workers: ${stats.workers.map((w) => w.ws.open)}`);
  // Subscribed in open(): a publish after every open reaches all.
  await waitUntil(async () => (await c.stats()).ws.open === SOCKETS, { what: 'every socket open' });
  sockets[0].send('hello');
  await waitUntil(() => sockets.slice(1).every((ws) => ws.got.some((m) => m.endsWith(': hello'))), { what: 'every other socket to get the publish' });
  assert.deepEqual(sockets[0].got, [], 'not to the publisher');
  assert.equal((await get(c.port, '/announce', { method: 'POST' })).json().published, true);
  await waitUntil(() => sockets.every((ws) => ws.got.includes('announcement')), { what: 'every socket to get app.publish' });
  // Each once: no worker publishes what it got from another onward (a later message arrives
  // after any such echo of the first on the same channel).
  sockets[1].send('later');
  await waitUntil(() => sockets.every((ws, i) => i === 1 || ws.got.some((m) => m.endsWith(': later'))), { what: 'the later message everywhere' });
  assert.ok(sockets.every((ws) => ws.got.filter((m) => m === 'announcement').length === 1));
});
