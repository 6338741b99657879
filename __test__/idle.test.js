'use strict';
// Idle keep-alive connections hold no buffers: between requests a connection waits for
// readiness, then borrows a read and an output buffer from a pool shared by the whole server
// (src/buffers.rs). These tests make many connections go idle and come back at once, with
// requests split across reads, pipelined, and bodies larger than a pooled buffer, so a buffer
// lent to the wrong connection, or returned with bytes in it, would show up as a wrong answer.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { start, buildRequest, RawClient, sleep } = require('./helpers');

const T = { timeout: 30000 };
// Longer than a few server ticks (100 ms), shorter than the keep-alive timeout.
const IDLE_MS = 350;

describe('idle keep-alive connections and lent buffers', () => {
  let s;
  before(async () => {
    s = await start((app) => {
      app.get('/id/:id', (req, res) => res.json({ id: req.params.id, q: req.query.q ?? null }));
      app.post('/len/:id', (req, res) => res.json({ id: req.params.id, len: req.body.length }));
      app.static('/static', 'static body');
    });
  });
  after(() => s.close());

  async function connectMany(n) {
    return Promise.all(Array.from({ length: n }, () => RawClient.connect(s.port)));
  }

  test('connections that went idle together each get their own answers back', T, async () => {
    const clients = await connectMany(100);
    try {
      await Promise.all(
        clients.map(async (c, i) => {
          await c.write(buildRequest('GET', `/id/${i}?q=first`));
          assert.deepEqual((await c.readResponse()).json(), { id: String(i), q: 'first' });
        }),
      );
      await sleep(IDLE_MS);
      // Every connection wakes at once, each with its head split over two reads, so half of them
      // are mid-head while the others borrow and return buffers.
      await Promise.all(
        clients.map(async (c, i) => {
          const req = buildRequest('GET', `/id/${i}?q=second`);
          const cut = 5 + (i % 20);
          await c.write(req.subarray(0, cut));
          await sleep(20);
          await c.write(req.subarray(cut));
          assert.deepEqual((await c.readResponse()).json(), { id: String(i), q: 'second' });
        }),
      );
      await sleep(IDLE_MS);
      // A pipelined burst mixing JS, static and Rust 404 answers after the idle spell.
      await Promise.all(
        clients.map(async (c, i) => {
          await c.write(
            Buffer.concat([
              buildRequest('GET', `/id/${i}?q=a`),
              buildRequest('GET', '/static'),
              buildRequest('GET', '/nope'),
              buildRequest('GET', `/id/${i}?q=b`),
            ]),
          );
          const [a, st, missing, b] = await c.readResponses(4);
          assert.deepEqual(a.json(), { id: String(i), q: 'a' });
          assert.equal(st.body.toString(), 'static body');
          assert.equal(missing.status, 404);
          assert.deepEqual(b.json(), { id: String(i), q: 'b' });
        }),
      );
      for (const c of clients) assert.equal(c.isClosedByPeer, false);
    } finally {
      for (const c of clients) c.destroy();
    }
  });

  test('a body larger than a pooled buffer, then small requests on the same connection', T, async () => {
    const clients = await connectMany(8);
    try {
      await Promise.all(
        clients.map(async (c, i) => {
          const big = 'x'.repeat(40 * 1024 + i);
          const body = Buffer.from(JSON.stringify(big));
          await c.write(
            buildRequest('POST', `/len/${i}`, { headers: [['content-type', 'application/json']], body }),
          );
          assert.deepEqual((await c.readResponse()).json(), { id: String(i), len: big.length });
          await sleep(IDLE_MS);
          await c.write(buildRequest('GET', `/id/${i}?q=after`));
          assert.deepEqual((await c.readResponse()).json(), { id: String(i), q: 'after' });
        }),
      );
    } finally {
      for (const c of clients) c.destroy();
    }
  });

  test('an idle connection the client closes is released, and the server keeps serving', T, async () => {
    const clients = await connectMany(50);
    for (const c of clients) c.destroy();
    await sleep(IDLE_MS);
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/id/last'));
      assert.deepEqual((await c.readResponse()).json(), { id: 'last', q: null });
    } finally {
      c.destroy();
    }
  });
});
