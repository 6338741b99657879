'use strict';
// listen({ ioThreads }): several native I/O threads on one port (SO_REUSEPORT), one JS thread.
// Which thread a fresh connection lands on is the kernel's hash of its addresses and ports, so
// tests that need both threads open CONNECTIONS connections: every one on the same thread has
// probability 2 * 2^-64.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const { openSockets } = require('./support/ws-sockets');
const { serve, get, waitUntil, withTimeout, RawClient, buildRequest } = require('./helpers');
const { createApp } = require('..');

const CONNECTIONS = 64;
const LINUX = process.platform === 'linux';
// Both ways connections reach the threads: each accepting on its SO_REUSEPORT socket, or one
// accepting for all.
const BALANCES = ['reuseport', 'acceptor'];

// Per-thread figures, read from server.stats().threads.
const perThread = (server, pick) => server.stats().threads.map(pick);

for (const balance of BALANCES) test(`ioThreads: 2 serves one port from two threads, with stats summed and per thread (${balance})`, async (t) => {
  const { server, port } = await serve(t, (app) => app.get('/', (req, res) => res.json({ ok: true })), { listenOptions: { ioThreads: 2, balance } });
  assert.equal(server.ioThreads, 2);
  for (let i = 0; i < CONNECTIONS; i++) assert.equal((await get(port, '/')).status, 200);
  const stats = server.stats();
  assert.equal(stats.threads.length, 2);
  assert.equal(stats.requests.total, CONNECTIONS);
  assert.equal(stats.threads[0].requests.total + stats.threads[1].requests.total, CONNECTIONS);
  assert.equal(stats.connections.total, stats.threads[0].connections.total + stats.threads[1].connections.total);
  if (LINUX) assert.ok(stats.threads.every((s) => s.connections.total > 0), `both threads accepted: ${perThread(server, (s) => s.connections.total)}`);
});

for (const balance of BALANCES) test(`a response cached by one thread is a hit on the other, without JS (${balance})`, async (t) => {
  let calls = 0;
  const { server, port } = await serve(t, (app) => app.get('/c', (req, res) => res.ncache({ n: ++calls }, 60)), { listenOptions: { ioThreads: 2, balance } });
  assert.equal((await get(port, '/c')).json().n, 1);
  // The copy reaches the other thread through its mailbox: wait for it (not for a time).
  await waitUntil(() => perThread(server, (s) => s.cache.entries).every((n) => n === 1), { what: 'the entry on both threads' });
  const js = perThread(server, (s) => s.requests.js);
  const other = js.indexOf(0);
  assert.deepEqual([...js].sort(), [0, 1], 'one thread asked JS once');
  for (let i = 0; i < CONNECTIONS; i++) assert.equal((await get(port, '/c')).json().n, 1);
  assert.equal(calls, 1, 'JS answered once');
  if (LINUX) assert.ok(server.stats().threads[other].cache.hits > 0, 'the thread that never asked JS answered from the copy');
  assert.equal(server.stats().threads[other].requests.js, 0);
});

for (const balance of BALANCES) test(`app.cache.invalidate() reaches every thread before it returns (${balance})`, async (t) => {
  let calls = 0;
  const { app, server, port } = await serve(t, (a) => a.get('/c', (req, res) => res.ncache({ n: ++calls }, 60)), { listenOptions: { ioThreads: 2, balance } });
  await get(port, '/c');
  await waitUntil(() => perThread(server, (s) => s.cache.entries).every((n) => n === 1), { what: 'the entry on both threads' });
  app.cache.invalidate('/c');
  for (let i = 0; i < CONNECTIONS; i++) assert.notEqual((await get(port, '/c')).json().n, 1, 'the old answer is gone everywhere');
  // Each thread asks JS at most once (single-flight per thread; sequential requests).
  assert.ok(calls >= 2 && calls <= 3, `JS answered ${calls} times`);
  const before = calls;
  app.cache.clear();
  for (let i = 0; i < CONNECTIONS; i++) assert.ok((await get(port, '/c')).json().n > before, 'cleared everywhere');
});

for (const balance of BALANCES) test(`a native rate limit counts over every thread (${balance})`, async (t) => {
  const { rateLimit } = require('..');
  const { server, port } = await serve(
    t,
    (app) => {
      app.use(rateLimit({ windowMs: 60000, limit: 5 }));
      app.get('/', (req, res) => res.send('ok'));
    },
    { listenOptions: { ioThreads: 2, balance } },
  );
  const codes = [];
  for (let i = 0; i < 20; i++) codes.push((await get(port, '/')).status);
  assert.deepEqual(codes, [...Array(5).fill(200), ...Array(15).fill(429)]);
  // Refused in Rust on whichever thread: JS saw only the five it let through.
  assert.equal(server.stats().requests.js, 5);
  assert.equal(server.stats().responses['4xx'], 15);
});

for (const balance of BALANCES) test(`ws.publish() and app.publish() reach subscribers on every thread (${balance})`, async (t) => {
  const SOCKETS = 32;
  const { app, server, port } = await serve(
    t,
    (a) =>
      a.ws('/chat', {
        open: (ws) => ws.subscribe('room'),
        message: (ws, data) => ws.publish('room', Buffer.from(data).toString()),
      }),
    { listenOptions: { ioThreads: 2, balance } },
  );
  const sockets = await openSockets(`ws://127.0.0.1:${port}/chat`, SOCKETS);
  t.after(() => sockets.forEach((ws) => ws.terminate()));
  await waitUntil(() => app.numSubscribers('room') === SOCKETS, { what: 'every socket subscribed' });
  if (LINUX) assert.ok(perThread(server, (s) => s.ws.open).every((n) => n > 0), `sockets on both threads: ${perThread(server, (s) => s.ws.open)}`);
  sockets[0].send('hello');
  await waitUntil(() => sockets.slice(1).every((ws) => ws.got.includes('hello')), { what: 'every other socket to get the publish' });
  assert.deepEqual(sockets[0].got, [], 'not to the publisher');
  assert.equal(app.publish('room', 'from app'), true);
  await waitUntil(() => sockets.every((ws) => ws.got.includes('from app')), { what: 'every socket to get app.publish' });
});

for (const balance of BALANCES) test(`close() stops every thread; the port is free again (${balance})`, async () => {
  const app = createApp();
  app.get('/', (req, res) => res.send('ok'));
  const server = await app.listen({ port: 0, host: '127.0.0.1', ioThreads: 3, balance });
  assert.equal(server.stats().threads.length, 3);
  const { port } = server;
  await withTimeout(server.close(), 15000, 'close');
  assert.equal(server.address(), null);
  await assert.rejects(get(port, '/'), /ECONNREFUSED/);
  // Nothing of the three sockets is left: a server without SO_REUSEPORT can bind the port.
  const again = await createApp().listen({ port, host: '127.0.0.1' });
  await again.close();
});

test("ioThreads: 'auto' is one per core; bad values are refused", async () => {
  const app = createApp();
  const server = await app.listen({ port: 0, host: '127.0.0.1', ioThreads: 'auto' });
  assert.equal(server.ioThreads, require('node:os').availableParallelism());
  await server.close();
  for (const bad of [0, -1, 1.5, '2', 257, null]) {
    await assert.rejects(app.listen({ port: 0, ioThreads: bad }), { code: 'HN_ERR_BAD_OPTION' }, String(bad));
  }
});

test('a port taken without SO_REUSEPORT fails listen() with EADDRINUSE and starts no thread', async () => {
  const holder = await createApp().listen({ port: 0, host: '127.0.0.1' });
  try {
    await assert.rejects(createApp().listen({ port: holder.port, host: '127.0.0.1', ioThreads: 2 }), { code: 'EADDRINUSE' });
    assert.equal((await get(holder.port, '/nothing')).status, 404, 'the holder still serves');
  } finally {
    await holder.close();
  }
});

test("balance: 'acceptor' hands each connection to the thread with the fewest open", async (t) => {
  const { server, port } = await serve(t, (app) => app.get('/', (req, res) => res.send('ok')), { listenOptions: { ioThreads: 3, balance: 'acceptor' } });
  const clients = [];
  t.after(() => clients.forEach((c) => c.destroy()));
  // Each connection is open (its request answered) before the next is made: its thread counts it.
  for (let i = 0; i < 9; i++) {
    const c = await RawClient.connect(port);
    clients.push(c);
    await c.write(buildRequest('GET', '/'));
    assert.equal((await c.readResponse()).status, 200);
  }
  assert.deepEqual(perThread(server, (s) => s.connections.open), [3, 3, 3]);
  for (const c of clients.splice(0, 3)) c.destroy();
  await waitUntil(() => server.stats().connections.open === 6, { what: 'three connections closed' });
  // Whichever threads lost them, the next three go where there are fewest.
  for (let i = 0; i < 3; i++) {
    const c = await RawClient.connect(port);
    clients.push(c);
    await c.write(buildRequest('GET', '/'));
    assert.equal((await c.readResponse()).status, 200);
  }
  assert.deepEqual(perThread(server, (s) => s.connections.open), [3, 3, 3]);
});

test('balance is checked', async () => {
  await assert.rejects(createApp().listen({ port: 0, ioThreads: 2, balance: 'random' }), { code: 'HN_ERR_BAD_OPTION' });
});
