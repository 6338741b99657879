'use strict';
// A socket's life around the app: server.close() closing every socket with 1001 (and running each
// close handler), stats().ws counting sockets, messages and bytes, idleTimeout with automatic pings
// (a client that never answers is closed, one that answers stays), and a throwing handler costing
// its socket (1011) and nothing else. No durations are asserted: small idleTimeouts, then events.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const { isDeepStrictEqual } = require('node:util');
const { start, withRoot, assertStillServes, waitUntil, withTimeout, RawClient } = require('./helpers');
const { serveWs } = require('./support/ws-serve');
const frames = require('./support/ws-frames');
const { RawWs } = require('./support/ws-raw');
const { connect, connectAll } = require('./support/ws-client');

const T = { timeout: 30000 };
const WS_STATS = ['open', 'total', 'messagesIn', 'messagesOut', 'bytesIn', 'bytesOut', 'published', 'dropped'];
// The smallest idleTimeout there is (seconds): the tests wait for what it causes, never time it.
const IDLE_S = 1;

// /echo with every close handler call recorded in `closes` ({ code, reason, closed }).
function echoRoutes(app, closes, options) {
  withRoot(app);
  app.ws(
    '/echo',
    {
      message(ws, data, isBinary) {
        ws.send(data, isBinary);
      },
      close(ws, code, reason) {
        closes.push({ code, reason });
      },
    },
    options,
  );
}

test('server.close() sends 1001 to every open socket, awaits the handshakes, and runs every close handler', T, async () => {
  const closes = [];
  const s = await start((app) => echoRoutes(app, closes));
  let closing;
  try {
    const peers = await connectAll(`ws://127.0.0.1:${s.port}/echo`, 3);
    const raw = await RawWs.open(s.port, '/echo');
    await raw.sendText('hi');
    assert.equal((await raw.nextMessage()).text, 'hi');

    closing = s.server.close();
    const got = await raw.readClose();
    assert.equal(got.code, 1001);
    assert.equal(got.reason, 'server shutting down');
    await raw.send(frames.close(1001));
    await raw.waitForEnd();
    for (const p of peers) {
      const info = await withTimeout(p.closed, 10000, 'the ws client to see the close');
      assert.equal(info.code, 1001);
      assert.equal(info.reason, 'server shutting down');
    }
    await withTimeout(closing, 15000, 'server.close()');
    assert.equal(closes.length, 4, 'one close handler call per socket');
    for (const c of closes) assert.equal(c.code, 1001);
    // Closed: nothing listens any more.
    await assert.rejects(RawClient.connect(s.port, { timeout: 5000 }), /ECONNREFUSED|timed out/);
  } finally {
    await (closing ?? s.close());
  }
});

test('server.close({ timeout }) closes a socket whose client never answers the close: its handler gets 1006', T, async () => {
  const closes = [];
  const s = await start((app) => echoRoutes(app, closes));
  let closing;
  try {
    const silent = await RawWs.open(s.port, '/echo');
    const polite = await connect(`ws://127.0.0.1:${s.port}/echo`);
    closing = s.server.close({ timeout: 300 });
    const got = await silent.readClose();
    assert.equal(got.code, 1001);
    // No answer from `silent`: the server gives up after the timeout and drops the connection.
    await silent.waitForEnd(15000);
    await withTimeout(closing, 15000, 'server.close()');
    assert.equal((await polite.closed).code, 1001);
    assert.deepEqual(closes.map((c) => c.code).sort(), [1001, 1006]);
  } finally {
    await (closing ?? s.close());
  }
});

test('stats().ws counts sockets, messages and bytes', T, async (t) => {
  const closes = [];
  let app;
  const s = await serveWs(t, (a) => {
    app = a;
    echoRoutes(a, closes);
    a.ws('/sub', { open: (ws) => ws.subscribe('t') });
  });
  const fresh = s.server.stats().ws;
  assert.deepEqual(Object.keys(fresh).sort(), [...WS_STATS].sort());
  for (const name of WS_STATS) assert.equal(fresh[name], 0, `stats.ws.${name} on a fresh server`);

  const peers = await connectAll(`ws://127.0.0.1:${s.port}/echo`, 2);
  t.after(() => peers.forEach((p) => p.terminate()));
  const MESSAGE = 'ten bytes!';
  for (const p of peers) {
    for (let i = 0; i < 3; i++) await p.send(MESSAGE);
    for (let i = 0; i < 3; i++) assert.equal((await p.next()).text, MESSAGE);
  }
  // Bytes on the wire after the handshake, frame heads included (README): a client frame of 10
  // bytes has a 2-byte head and a 4-byte mask, a server frame a 2-byte head. The counters move
  // after the bytes do: polled until they match (or the poll gives up), then compared.
  const expected = {
    open: 2,
    total: 2,
    messagesIn: 6,
    messagesOut: 6,
    bytesIn: 6 * (MESSAGE.length + 2 + 4),
    bytesOut: 6 * (MESSAGE.length + 2),
    published: 0,
    dropped: 0,
  };
  await waitUntil(() => isDeepStrictEqual(s.server.stats().ws, expected), { what: 'the counters to match' }).catch(() => {});
  assert.deepEqual(s.server.stats().ws, expected);

  await peers[0].close(1000);
  let ws = await waitUntil(
    () => {
      const now = s.server.stats().ws;
      return now.open === 1 ? now : undefined;
    },
    { what: 'stats.ws.open to drop to 1' },
  );
  assert.equal(ws.total, 2, 'total does not drop');

  // One publish to a topic with one subscriber counts once, however `published` is counted.
  const sub = await connect(`ws://127.0.0.1:${s.port}/sub`);
  t.after(() => sub.terminate());
  await waitUntil(() => app.numSubscribers('t') === 1, { what: 'the subscriber' });
  app.publish('t', 'news');
  assert.equal((await sub.next()).text, 'news');
  ws = await waitUntil(
    () => {
      const now = s.server.stats().ws;
      return now.published === 1 ? now : undefined;
    },
    { what: 'stats.ws.published to count the publish' },
  );
  assert.equal(ws.open, 2);
  assert.equal(ws.total, 3);
});

test('idleTimeout: a client that never answers pings gets pinged, then closed (1006 to JS)', T, async (t) => {
  const closes = [];
  const s = await serveWs(t, (app) => echoRoutes(app, closes, { idleTimeout: IDLE_S }));
  const raw = await RawWs.open(s.port, '/echo');
  t.after(() => raw.destroy());
  const ping = await raw.nextFrame({ timeout: 15000 });
  assert.equal(ping.opcode, frames.OP.PING, 'the server pings an idle socket');
  // Never answered: the connection ends.
  await raw.waitForEnd(15000);
  await waitUntil(() => closes.length === 1, { what: 'the close handler' });
  assert.equal(closes[0].code, 1006);
  await assertStillServes(s.port);
});

test('idleTimeout: a client that answers pings stays open through several of them', T, async (t) => {
  const closes = [];
  const s = await serveWs(t, (app) => echoRoutes(app, closes, { idleTimeout: IDLE_S }));
  const peer = await connect(`ws://127.0.0.1:${s.port}/echo`);
  t.after(() => peer.terminate());
  // The `ws` client answers every ping with a pong; three pings span more than one idleTimeout.
  await peer.waitFor(() => (peer.pings >= 3 ? true : undefined), 'three pings', 20000);
  assert.equal(peer.closeInfo, undefined, 'still open');
  assert.equal(closes.length, 0);
  await peer.send('still here');
  assert.equal((await peer.next()).text, 'still here');
});

test('idleTimeout without sendPingsAutomatically: an idle client is closed without a ping', T, async (t) => {
  const closes = [];
  const s = await serveWs(t, (app) => echoRoutes(app, closes, { idleTimeout: IDLE_S, sendPingsAutomatically: false }));
  const raw = await RawWs.open(s.port, '/echo');
  t.after(() => raw.destroy());
  await raw.waitForEnd(15000);
  const rest = frames.parseFrame(raw.client.buf);
  assert.ok(rest === null || rest.opcode !== frames.OP.PING, 'no ping was sent');
  await waitUntil(() => closes.length === 1, { what: 'the close handler' });
  assert.equal(closes[0].code, 1006);
});

test('idleTimeout 0: no pings and no idle close', T, async (t) => {
  const closes = [];
  const s = await serveWs(t, (app) => {
    echoRoutes(app, closes, { idleTimeout: 0 });
    // A second route that does time out: once it has, the first has been idle longer than that.
    app.ws('/short', { close: (ws, code) => closes.push({ code, short: true }) }, { idleTimeout: IDLE_S });
  });
  const raw = await RawWs.open(s.port, '/echo');
  t.after(() => raw.destroy());
  const short = await RawWs.open(s.port, '/short');
  t.after(() => short.destroy());
  await short.waitForEnd(15000);
  await raw.sendText('alive');
  const m = await raw.nextMessage();
  assert.equal(m.text, 'alive');
  assert.equal(raw.controls.length, 0, 'no ping on the socket without idleTimeout');
  assert.equal(raw.ended, false);
});

test('a throwing message handler (sync or async) closes that socket with 1011; others go on', T, async (t) => {
  const closes = [];
  const errors = [];
  const s = await serveWs(t, (app) => {
    withRoot(app);
    app.ws('/fragile', {
      message(ws, data) {
        const cmd = data.toString();
        if (cmd === 'throw') throw new Error('handler failed');
        if (cmd === 'reject') return Promise.reject(new Error('async handler failed'));
        ws.send(`ok ${cmd}`);
      },
      close(ws, code) {
        closes.push(code);
      },
    });
    app.ws('/open-throws', {
      open() {
        throw new Error('open failed');
      },
      close(ws, code) {
        closes.push(code);
      },
    });
  });
  s.server.on('error', (err) => errors.push(err));
  const [bystander, sync, async_] = await connectAll(`ws://127.0.0.1:${s.port}/fragile`, 3);
  t.after(() => [bystander, sync, async_].forEach((p) => p.terminate()));

  await sync.send('throw');
  assert.equal((await sync.closed).code, 1011);
  await async_.send('reject');
  assert.equal((await async_.closed).code, 1011);

  const openThrows = await connect(`ws://127.0.0.1:${s.port}/open-throws`);
  t.after(() => openThrows.terminate());
  assert.equal((await openThrows.closed).code, 1011);

  await bystander.send('still');
  assert.equal((await bystander.next()).text, 'ok still');
  await waitUntil(() => closes.length === 3, { what: 'three close handler calls' });
  assert.deepEqual(closes, [1011, 1011, 1011]);
  await assertStillServes(s.port);
  const fresh = await connect(`ws://127.0.0.1:${s.port}/fragile`);
  t.after(() => fresh.terminate());
  await fresh.send('new');
  assert.equal((await fresh.next()).text, 'ok new');
});

test('the close handler runs exactly once per socket, however it closed', T, async (t) => {
  const closes = [];
  const s = await serveWs(t, (app) => echoRoutes(app, closes));
  const a = await connect(`ws://127.0.0.1:${s.port}/echo`);
  await a.close(4001, 'client');
  const b = await connect(`ws://127.0.0.1:${s.port}/echo`);
  b.terminate();
  const c = await RawWs.open(s.port, '/echo');
  await c.send(frames.text('x', { mask: false }));
  await c.readClose();
  c.destroy();
  await waitUntil(() => closes.length >= 3, { what: 'three close handler calls' });
  // Another round trip on a new socket: any duplicate call would have come by now.
  const d = await connect(`ws://127.0.0.1:${s.port}/echo`);
  t.after(() => d.terminate());
  await d.send('sync');
  await d.next();
  // Sorted: sockets on different server threads may report their closes in any order.
  assert.deepEqual(closes.map((x) => x.code).sort(), [1002, 1006, 4001]);
  assert.equal(closes.find((x) => x.code === 4001).reason, 'client');
});

test('ws.end() to a client that never answers the close: after the close wait the handler gets 1006, not the code sent', T, async (t) => {
  const closes = [];
  const s = await serveWs(t, (app) => {
    withRoot(app);
    app.ws('/bye', {
      message(ws) {
        ws.end(4001, 'bye');
      },
      close(ws, code, reason) {
        closes.push({ code, reason });
      },
    });
  });
  const silent = await RawWs.open(s.port, '/bye');
  await silent.sendText('end me');
  const got = await silent.readClose();
  assert.equal(got.code, 4001);
  assert.equal(got.reason, 'bye');
  // No answer: the server stops waiting for one (its close wait) and drops the connection.
  await silent.waitForEnd(20000);
  await waitUntil(() => closes.length === 1, { timeout: 20000 });
  assert.deepEqual(closes, [{ code: 1006, reason: '' }]);
});
