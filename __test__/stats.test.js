'use strict';
// server.stats(): counters since the server started. No timing assertions: values that move
// asynchronously (connections) are polled.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const { serve, get, buildRequest, RawClient, waitUntil } = require('./helpers');

const T = { timeout: 20000 };

const FIELDS = {
  connections: ['open', 'total'],
  requests: ['total', 'native', 'js'],
  cache: ['hits', 'misses', 'entries', 'bytes', 'evictions', 'notModified'],
  bridge: ['calls', 'requests', 'direct', 'polled', 'waited', 'requestsPerCall'],
  bodies: ['bytes', 'waiting'],
  responses: ['1xx', '2xx', '3xx', '4xx', '5xx'],
  ws: ['open', 'total', 'messagesIn', 'messagesOut', 'bytesIn', 'bytesOut', 'published', 'dropped'],
  tls: ['handshakes', 'failures'],
  h2: ['connections', 'streams'],
};

function assertShape(stats) {
  assert.deepEqual(Object.keys(stats).sort(), Object.keys(FIELDS).sort());
  for (const [group, names] of Object.entries(FIELDS)) {
    assert.deepEqual(Object.keys(stats[group]).sort(), [...names].sort(), `fields of stats.${group}`);
    for (const name of names) {
      const v = stats[group][name];
      assert.equal(typeof v, 'number', `stats.${group}.${name} is a number`);
      assert.ok(Number.isFinite(v) && v >= 0, `stats.${group}.${name} = ${v}`);
      if (name !== 'requestsPerCall') assert.ok(Number.isInteger(v), `stats.${group}.${name} is an integer`);
    }
  }
}

test('every field is present and numeric, and zero on a fresh server', T, async (t) => {
  const s = await serve(t, (app) => app.get('/', (req, res) => res.send('x')));
  const stats = s.server.stats();
  assertShape(stats);
  for (const group of Object.keys(FIELDS)) {
    for (const [name, v] of Object.entries(stats[group])) assert.equal(v, 0, `stats.${group}.${name}`);
  }
  // Each call returns a fresh object.
  assert.notEqual(s.server.stats(), stats);
});

test('connections: open and total follow keep-alive sockets', T, async (t) => {
  const s = await serve(t, (app) => app.get('/', (req, res) => res.send('x')));
  const clients = [];
  t.after(() => clients.forEach((c) => c.destroy()));
  for (let i = 0; i < 3; i++) {
    const c = await RawClient.connect(s.port);
    clients.push(c);
    await c.write(buildRequest('GET', '/'));
    assert.equal((await c.readResponse()).status, 200);
  }
  let stats = s.server.stats();
  assert.equal(stats.connections.open, 3);
  assert.equal(stats.connections.total, 3);

  clients[0].destroy();
  clients[1].destroy();
  stats = await waitUntil(() => {
    const now = s.server.stats();
    return now.connections.open === 1 ? now : undefined;
  }, { what: 'connections.open to drop to 1' });
  assert.equal(stats.connections.total, 3, 'total does not drop');

  const c = await RawClient.connect(s.port);
  clients.push(c);
  await c.write(buildRequest('GET', '/'));
  await c.readResponse();
  stats = s.server.stats();
  assert.equal(stats.connections.open, 2);
  assert.equal(stats.connections.total, 4);
});

test('requests and responses by status class, whoever answered', T, async (t) => {
  const s = await serve(t, (app) => {
    app.get('/ok', (req, res) => res.send('ok'));
    app.get('/moved', (req, res) => res.redirect('/ok'));
    app.get('/fail', () => {
      throw Object.assign(new Error('boom'), { status: 503 });
    });
    app.get('/cached', (req, res) => res.ncache('c', 60));
    app.static('/static', 's');
  });
  assert.equal((await get(s.port, '/ok')).status, 200);
  assert.equal((await get(s.port, '/moved')).status, 302);
  assert.equal((await get(s.port, '/fail')).status, 503);
  assert.equal((await get(s.port, '/nowhere')).status, 404); // Rust: no middleware, no route
  assert.equal((await get(s.port, '/cached')).status, 200); // JS, stored
  assert.equal((await get(s.port, '/cached')).status, 200); // cache hit
  assert.equal((await get(s.port, '/cached?other')).status, 200); // a miss on a route known to cache
  assert.equal((await get(s.port, '/static')).status, 200);
  const bad = await get(s.port, '/x', { headers: { 'Content-Length': 'abc' } });
  assert.equal(bad.status, 400); // framing error, answered by Rust

  const stats = s.server.stats();
  assertShape(stats);
  assert.deepEqual(stats.responses, { '1xx': 0, '2xx': 5, '3xx': 1, '4xx': 2, '5xx': 1 });
  assert.equal(stats.requests.js, 5, '/ok, /moved, /fail, the first /cached and /cached?other ran in JS');
  assert.equal(stats.requests.native, 4, 'the 404, the cache hit, the static and the 400');
  assert.equal(stats.requests.total, 9);
  assert.equal(stats.cache.hits, 1);
  // The first /cached was not a miss yet: Rust learns that a route caches from its first ncache().
  assert.equal(stats.cache.misses, 1);
  assert.equal(stats.cache.entries, 2);
  assert.ok(stats.cache.bytes > 2, `cache.bytes ${stats.cache.bytes}`);
  assert.equal(stats.connections.total, 9);
});

test('stats() still answers after close()', T, async () => {
  const { start, closeServer } = require('./helpers');
  const s = await start((app) => app.get('/', (req, res) => res.send('x')));
  await get(s.port, '/');
  await closeServer(s.server);
  const stats = s.server.stats();
  assertShape(stats);
  assert.equal(stats.requests.js, 1);
  assert.equal(stats.connections.open, 0);
  assert.equal(stats.connections.total, 1);
});

test('bridge: calls and the requests they carried', T, async (t) => {
  const s = await serve(t, (app) => app.get('/n/:i', (req, res) => res.send(req.params.i)));
  assert.deepEqual(s.server.stats().bridge, { calls: 0, requests: 0, direct: 0, polled: 0, waited: 0, requestsPerCall: 0 });

  for (let i = 0; i < 3; i++) await get(s.port, `/n/${i}`);
  // Each was the only request in flight: answered from the JS thread (docs/bridge.md).
  assert.equal(s.server.stats().bridge.direct, 3);
  // Pipelined: several requests may share a call.
  const c = await RawClient.connect(s.port);
  try {
    await c.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => buildRequest('GET', `/n/p${i}`))));
    const responses = await c.readResponses(10);
    assert.deepEqual(responses.map((r) => r.text), Array.from({ length: 10 }, (_, i) => `p${i}`));
  } finally {
    c.destroy();
  }

  const { bridge, requests } = s.server.stats();
  assert.ok(bridge.calls >= 1 && bridge.calls <= 13, `bridge.calls ${bridge.calls}`);
  assert.equal(bridge.requests, 13);
  assert.equal(requests.js, 13);
  assert.ok(bridge.requests >= bridge.calls);
  assert.equal(bridge.requestsPerCall, Math.round((bridge.requests / bridge.calls) * 100) / 100);
});
