'use strict';
// Backpressure on a socket whose client stops reading (a raw socket paused, so the kernel's
// buffers fill and the server's writes stall): ws.send() reports SENT (1), then BACKPRESSURE (0),
// then DROPPED (2) past maxBackpressure; what was accepted arrives in order and what was dropped
// never does; drain fires once the client reads again; closeOnBackpressureLimit closes with 1008;
// and a publish drops for the slow subscriber only, while the others get every message.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const httpNative = require('..');
const { waitUntil } = require('./helpers');
const { serveWs } = require('./support/ws-serve');
const frames = require('./support/ws-frames');
const { RawWs } = require('./support/ws-raw');

const T = { timeout: 30000 };
const KiB = 1024;
const MiB = 1024 * KiB;
// Small enough that the kernel's socket buffers, not this limit, are what a paused client fills
// first: the limit is then reached only because the client stopped reading.
const MAX_BACKPRESSURE = 256 * KiB;
const MESSAGE = 64 * KiB;
// Far more than the kernel buffers of a loopback connection hold (tcp_wmem's and tcp_rmem's
// maxima are a few MiB): a send loop that gets this far without DROPPED has found a defect.
const MAX_SENT_BYTES = 96 * MiB;
// The same for publishes, smaller: each one waits for two fast subscribers to read it.
const PUBLISH_BUDGET = 40 * MiB;

const { WS_SENT, WS_BACKPRESSURE, WS_DROPPED } = httpNative;

// A binary message of `size` bytes starting with its sequence number.
function numbered(seq, size = MESSAGE) {
  const b = Buffer.alloc(size, seq & 0xff);
  b.writeUInt32BE(seq, 0);
  return b;
}

// A server whose sockets are in `sockets` (in opening order); drain and close calls are recorded.
async function slowServer(t, options) {
  const sockets = [];
  const drains = [];
  const closes = [];
  const s = await serveWs(t, (app) => {
    app.ws(
      '/slow',
      {
        open(ws) {
          sockets.push(ws);
        },
        drain(ws) {
          drains.push(ws.getBufferedAmount());
        },
        close(ws, code, reason) {
          closes.push({ code, reason });
        },
      },
      options,
    );
  });
  Object.assign(s, { sockets, drains, closes });
  return s;
}

// Sends numbered messages on `ws` until send() returns DROPPED, yielding to the event loop after
// each, so the server writes (and credits) whatever the client's kernel buffers still take.
// Returns every send's result.
async function sendUntilDropped(ws) {
  const results = [];
  for (let seq = 0; ; seq++) {
    const r = ws.send(numbered(seq), true);
    assert.ok([WS_SENT, WS_BACKPRESSURE, WS_DROPPED].includes(r), `send() returned ${r}`);
    results.push(r);
    if (r === WS_DROPPED) return results;
    if (results.length * MESSAGE > MAX_SENT_BYTES) {
      assert.fail(`${results.length} sends to a paused client and none dropped (last: ${results.slice(-5)}, buffered ${ws.getBufferedAmount()})`);
    }
    await new Promise((r) => setImmediate(r));
  }
}

test('exported constants: WS_SENT 1, WS_BACKPRESSURE 0, WS_DROPPED 2', () => {
  assert.equal(WS_SENT, 1);
  assert.equal(WS_BACKPRESSURE, 0);
  assert.equal(WS_DROPPED, 2);
});

// The one socket of s's /slow and its raw client, which reads nothing until resumed; destroyed
// when the test ends.
async function pausedReader(t, s) {
  const raw = await RawWs.open(s.port, '/slow');
  t.after(() => raw.destroy());
  await waitUntil(() => s.sockets.length === 1, { what: 'the socket to open' });
  const ws = s.sockets[0];
  raw.pause();
  return { raw, ws };
}

test('a paused reader: send() gives 1, then 0, then 2; drain fires when it reads; only accepted messages arrive', T, async (t) => {
  const s = await slowServer(t, { maxBackpressure: MAX_BACKPRESSURE });
  const { raw, ws } = await pausedReader(t, s);

  const results = await sendUntilDropped(ws);
  assert.equal(results[0], WS_SENT, 'the first message is simply sent');
  const firstBackpressure = results.indexOf(WS_BACKPRESSURE);
  assert.ok(firstBackpressure > 0, `BACKPRESSURE before DROPPED: ${results.slice(-10)}`);
  assert.ok(firstBackpressure < results.length - 1, 'BACKPRESSURE comes before the drop');
  assert.ok(ws.getBufferedAmount() > 0, 'the buffered amount counts what the client has not taken');
  // Still over: a second attempt is dropped too.
  assert.equal(ws.send(numbered(999999), true), WS_DROPPED);
  const accepted = results.length - 1;

  raw.resume();
  await waitUntil(() => s.drains.length > 0, { timeout: 20000, what: 'drain after the client reads again' });
  // The drain mark is min(64 KiB, maxBackpressure / 2).
  assert.ok(s.drains[0] <= Math.min(64 * KiB, MAX_BACKPRESSURE / 2), `buffered at drain: ${s.drains[0]}`);

  // Exactly the accepted messages, in order; neither dropped one.
  for (let seq = 0; seq < accepted; seq++) {
    const m = await raw.nextMessage();
    assert.equal(m.binary, true);
    assert.equal(m.data.length, MESSAGE);
    assert.equal(m.data.readUInt32BE(0), seq, 'messages arrive in order, none missing');
  }
  await waitUntil(() => ws.getBufferedAmount() === 0, { what: 'every byte credited' });
  assert.equal(ws.send('after', false), WS_SENT, 'sending works again once drained');
  const after = await raw.nextMessage();
  assert.equal(after.text, 'after', 'the dropped messages never came');
  assert.equal(s.closes.length, 0, 'the default policy drops, it does not close');
});

test('closeOnBackpressureLimit: the send past maxBackpressure is dropped and the socket closes with 1008', T, async (t) => {
  const s = await slowServer(t, { maxBackpressure: MAX_BACKPRESSURE, closeOnBackpressureLimit: true });
  const { raw, ws } = await pausedReader(t, s);

  const results = await sendUntilDropped(ws);
  const accepted = results.length - 1;
  assert.equal(ws.send('more', false), WS_DROPPED, 'a closing socket drops every send');

  raw.resume();
  const closing = await raw.readClose({ timeout: 20000 });
  assert.equal(closing.code, 1008, `close code (reason ${JSON.stringify(closing.reason)})`);
  assert.equal(closing.before.length, accepted, 'the accepted messages came before the close frame');
  for (const [seq, f] of closing.before.entries()) assert.equal(f.payload.readUInt32BE(0), seq);
  await raw.send(frames.close(1008));
  await raw.waitForEnd();
  await waitUntil(() => s.closes.length === 1, { what: 'the close handler' });
  assert.equal(s.closes[0].code, 1008);
});

test('send() on a closed socket returns DROPPED and does not throw', T, async (t) => {
  const s = await slowServer(t);
  const raw = await RawWs.open(s.port, '/slow');
  await waitUntil(() => s.sockets.length === 1, { what: 'the socket to open' });
  const ws = s.sockets[0];
  await raw.send(frames.close(1000));
  await raw.readClose();
  await raw.waitForEnd();
  raw.destroy();
  await waitUntil(() => s.closes.length === 1, { what: 'the close handler' });
  assert.equal(ws.closed, true);
  assert.equal(ws.send('too late'), WS_DROPPED);
  assert.equal(ws.send(Buffer.from('too late')), WS_DROPPED);
});

test('a publish drops for a subscriber that stopped reading; the others get every message', { timeout: 60000 }, async (t) => {
  let app;
  const s = await serveWs(t, (a) => {
    app = a;
    a.ws('/sub', { open: (ws) => ws.subscribe('feed') }, { maxBackpressure: MAX_BACKPRESSURE });
  });
  const slow = await RawWs.open(s.port, '/sub');
  const fast = [await RawWs.open(s.port, '/sub'), await RawWs.open(s.port, '/sub')];
  t.after(() => [slow, ...fast].forEach((c) => c.destroy()));
  await waitUntil(() => app.numSubscribers('feed') === 3, { what: 'three subscribers' });
  slow.pause();

  // One message at a time, each read by the fast subscribers before the next, so only the slow
  // one ever falls behind; until stats show drops (and a few more after), or, should they never
  // show any, until far more than its kernel buffers can hold was published.
  let published = 0;
  let after = -1;
  while (after < 3 && published * MESSAGE < PUBLISH_BUDGET) {
    app.publish('feed', numbered(published), true);
    for (const c of fast) assert.equal((await c.nextMessage()).data.readUInt32BE(0), published, 'a fast subscriber gets every message');
    published++;
    if (after >= 0 || s.server.stats().ws.dropped > 0) after++;
  }

  // Everything queued for the slow subscriber arrives before the pong to a ping sent now (the
  // server writes a socket's frames in order), and a publish after that reaches it again.
  slow.resume();
  await slow.send(frames.ping('sync'));
  const got = [];
  for (;;) {
    const f = await slow.nextFrame();
    if (f.opcode === frames.OP.PONG) break;
    assert.equal(f.fin, true);
    got.push(f.payload.readUInt32BE(0));
  }
  app.publish('feed', numbered(published), true);
  const last = await slow.nextMessage();
  assert.equal(last.data.readUInt32BE(0), published, 'the slow subscriber is still subscribed');

  assert.ok(got.length < published, `the slow subscriber got ${got.length} of ${published}: some were dropped`);
  for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1], 'what it got is in order, without repeats');
  assert.equal(got[0], 0, 'the first publish reached it (nothing was buffered yet)');
  assert.ok(s.server.stats().ws.dropped > 0, 'stats.ws.dropped counts the drops');
});
