'use strict';
// HTTP/2 attacks written frame by frame on an h2c connection: rapid reset (CVE-2023-44487), a
// CONTINUATION flood (CVE-2024-27316 class), an HPACK bomb (one large header repeated by index),
// a header list over maxHeaderListSize, and garbage after the preface. Each must end in a GOAWAY,
// a closed connection or a refused stream, never in the server running the attack's requests or
// holding its bytes, and a fresh connection is served right after.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const { serveTls, h2Connect, h2Request, h1Request } = require('./support/tls-client');
const f = require('./support/tls-h2frames');

const T = { timeout: 60000 };
const H2C = { tls: false, http2: true };
// Reset streams sent back to back: a hundred times h2's limit of streams reset before the server
// took them (max_pending_accept_reset_streams, 20).
const RAPID_RESETS = 2000;
// CONTINUATION frames of junk headers offered, each a full 16 KiB frame: 128 MiB in all if the
// server kept reading; h2 stops after a handful (its max_continuation_frames).
const CONTINUATIONS = 8192;
const CONTINUATIONS_PER_WRITE = 64;
// An HPACK bomb: a header just under the dynamic table's 4096 bytes, then referenced by its 1-byte
// index this many times: about 20 MB of decoded headers from a 9 KB frame.
const BOMB_VALUE_BYTES = 4000;
const BOMB_REFERENCES = 5000;
// How much the process (server and test together) may grow during a flood: far less than the
// flood, far more than the test's own buffers.
const MEMORY_GROWTH_BOUND = 64 * 1024 * 1024;
// Bounds only a failure: a connection the server never ends.
const END_WAIT_MS = 15000;

function app(seen) {
  return (a) => {
    a.get('/', (req, res) => res.send('ok'));
    a.get('/count', (req, res) => {
      seen.count = (seen.count || 0) + 1;
      res.send('counted');
    });
  };
}

// A hand-written request on a new connection is answered: the encoder is right, so a refusal
// below is the server's defence, not a malformed frame.
async function openChecked(port) {
  const conn = await f.H2Conn.open(port);
  await conn.write(f.headers(1, f.requestBlock({ path: '/' })));
  const res = await conn.response(1);
  assert.deepEqual({ status: res.status, body: res.body.toString() }, { status: 200, body: 'ok' });
  return conn;
}

// The server still answers: a real client on a new connection, h2 and HTTP/1.1.
async function assertServes(t, s, what) {
  const session = await h2Connect(t, s.origin);
  const res = await h2Request(session, { ':path': '/' });
  assert.equal(res.text, 'ok', `h2 still served after ${what}`);
  session.destroy();
  assert.equal((await h1Request(s.origin, '/')).text, 'ok', `HTTP/1.1 still served after ${what}`);
}

// Writes `batches` (Buffers) one after the other until all are flushed or the server sends GOAWAY
// or closes; returns how many went out.
async function writeUntilEnded(conn, batches) {
  let sent = 0;
  for (const batch of batches()) {
    const outcome = await Promise.race([conn.write(batch), conn.ended.then(() => 'ended')]);
    if (outcome !== true) break;
    sent++;
  }
  return sent;
}

const describeEnd = (g) => (g === null ? 'closed without GOAWAY' : `GOAWAY code ${g.code} (${g.debug}), last stream ${g.lastStreamId}`);

test('a request written frame by frame is answered (the hand-made HPACK and frames are valid)', T, async (t) => {
  const seen = {};
  const s = await serveTls(t, app(seen), H2C);
  const conn = await openChecked(s.port);
  await conn.write(f.headers(3, f.requestBlock({ path: '/count' })));
  const res = await conn.response(3);
  assert.deepEqual({ status: res.status, body: res.body.toString() }, { status: 200, body: 'counted' });
  assert.equal(seen.count, 1);
  conn.destroy();
});

test(`rapid reset: ${RAPID_RESETS} HEADERS each followed by RST_STREAM get a GOAWAY, not ${RAPID_RESETS} handler runs`, T, async (t) => {
  const seen = {};
  const s = await serveTls(t, app(seen), H2C);
  const conn = await openChecked(s.port);
  const before = process.memoryUsage().rss;
  const pairs = [];
  for (let i = 0; i < RAPID_RESETS; i++) {
    const id = 3 + 2 * i;
    pairs.push(f.headers(id, f.requestBlock({ path: '/count' })), f.rstStream(id));
  }
  await writeUntilEnded(conn, function* () {
    yield Buffer.concat(pairs);
  });
  // Ending the connection is the defence; waiting for it fails the test if it never comes.
  const end = await conn.goawayOrClose(END_WAIT_MS);
  assert.ok((seen.count || 0) < RAPID_RESETS, `handlers ran ${seen.count} times for ${RAPID_RESETS} reset streams (${describeEnd(end)})`);
  conn.destroy();
  assert.ok(process.memoryUsage().rss - before < MEMORY_GROWTH_BOUND, 'memory stayed bounded');
  await assertServes(t, s, 'a rapid reset');
});

test(`CONTINUATION flood: endless CONTINUATION frames of junk headers end the connection, unread`, T, async (t) => {
  const seen = {};
  const s = await serveTls(t, app(seen), H2C);
  const conn = await openChecked(s.port);
  const before = process.memoryUsage().rss;
  await conn.write(f.headers(3, f.requestBlock({ path: '/count' }), { endHeaders: false }));
  // One frame's worth of junk literal headers, reused for every CONTINUATION.
  const junk = [];
  let size = 0;
  for (let i = 0; size < f.MIN_MAX_FRAME_SIZE - 200; i++) {
    junk.push(f.literal(`x-junk-${i}`, 'j'.repeat(100)));
    size += junk[junk.length - 1].length;
  }
  const frame = f.continuation(3, Buffer.concat(junk));
  const batch = Buffer.concat(Array.from({ length: CONTINUATIONS_PER_WRITE }, () => frame));
  const sent = await writeUntilEnded(conn, function* () {
    for (let i = 0; i < CONTINUATIONS / CONTINUATIONS_PER_WRITE; i++) yield batch;
  });
  const end = await conn.goawayOrClose(END_WAIT_MS);
  assert.ok(sent < CONTINUATIONS / CONTINUATIONS_PER_WRITE, `all ${CONTINUATIONS} CONTINUATION frames were taken (${describeEnd(end)})`);
  assert.equal(seen.count, undefined, 'the flooded request never reached a handler');
  conn.destroy();
  assert.ok(process.memoryUsage().rss - before < MEMORY_GROWTH_BOUND, 'memory stayed bounded');
  await assertServes(t, s, 'a CONTINUATION flood');
});

test('HPACK bomb: a large header repeated by index thousands of times is refused', T, async (t) => {
  const seen = {};
  const s = await serveTls(t, app(seen), H2C);
  const conn = await openChecked(s.port);
  const before = process.memoryUsage().rss;
  const references = Buffer.concat(Array.from({ length: BOMB_REFERENCES }, () => f.indexed(62)));
  const block = Buffer.concat([f.requestBlock({ path: '/count' }), f.literal('x-bomb', 'b'.repeat(BOMB_VALUE_BYTES), { index: true }), references]);
  assert.ok(block.length <= f.MIN_MAX_FRAME_SIZE, 'the bomb fits one frame');
  await conn.write(f.headers(3, block));
  // Refused: the stream reset or answered 431, or the connection sent away.
  const outcome = await conn.waitFor(
    () => {
      const mine = conn.frames.filter((x) => x.streamId === 3);
      const rst = mine.find((x) => x.type === f.TYPE.RST_STREAM);
      if (rst) return `RST_STREAM ${rst.payload.readUInt32BE(0)}`;
      const head = mine.find((x) => x.type === f.TYPE.HEADERS);
      if (head) return `status ${f.statusOf(head.payload)}`;
      if (conn.frames.some((x) => x.type === f.TYPE.GOAWAY)) return 'GOAWAY';
      return conn.closed ? 'closed' : undefined;
    },
    'the bomb to be refused',
    END_WAIT_MS,
  );
  assert.ok(!/^status (2|200)/.test(outcome), `the bomb was answered: ${outcome}`);
  assert.equal(seen.count, undefined, `the bomb reached a handler (${outcome})`);
  conn.destroy();
  assert.ok(process.memoryUsage().rss - before < MEMORY_GROWTH_BOUND, 'memory stayed bounded');
  await assertServes(t, s, 'an HPACK bomb');
});

test('a header list over maxHeaderListSize: the stream is refused (431 or reset), the connection goes on', T, async (t) => {
  const seen = {};
  const s = await serveTls(t, app(seen), { ...H2C, http2: { maxHeaderListSize: 4096 } });
  const conn = await openChecked(s.port);
  const big = Buffer.concat(Array.from({ length: 3 }, (_, i) => f.literal(`x-big-${i}`, 'v'.repeat(2000))));
  await conn.write(f.headers(3, Buffer.concat([f.requestBlock({ path: '/count' }), big])));
  const outcome = await conn.waitFor(
    () => {
      const mine = conn.frames.filter((x) => x.streamId === 3);
      const head = mine.find((x) => x.type === f.TYPE.HEADERS);
      if (head) return { status: f.statusOf(head.payload) };
      const rst = mine.find((x) => x.type === f.TYPE.RST_STREAM);
      if (rst) return { reset: rst.payload.readUInt32BE(0) };
      if (conn.frames.some((x) => x.type === f.TYPE.GOAWAY) || conn.closed) return { ended: true };
      return undefined;
    },
    'the oversized request to be refused',
    END_WAIT_MS,
  );
  assert.ok(outcome.status === undefined || outcome.status === 431, `answered ${JSON.stringify(outcome)}`);
  assert.equal(seen.count, undefined, 'the oversized request never reached a handler');
  if (!outcome.ended) {
    // A stream error only: the same connection serves the next request.
    await conn.write(f.headers(5, f.requestBlock({ path: '/count' })));
    const next = await conn.response(5);
    assert.equal(next.status, 200);
    assert.equal(seen.count, 1);
  }
  conn.destroy();
  await assertServes(t, s, 'an oversized header list');
});

test('garbage after the preface: GOAWAY or closed, and the server goes on', T, async (t) => {
  const s = await serveTls(t, app({}), H2C);
  const garbage = Buffer.from('GARBAGE! '.repeat(40));
  for (const [what, bytes] of [
    ['instead of SETTINGS', Buffer.concat([f.PREFACE, garbage])],
    ['after SETTINGS', Buffer.concat([f.PREFACE, f.settings(), garbage])],
    ['a HEADERS frame on stream 0', Buffer.concat([f.PREFACE, f.settings(), f.headers(0, f.requestBlock())])],
    ['HPACK that does not decode', Buffer.concat([f.PREFACE, f.settings(), f.headers(1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))])],
  ]) {
    const conn = await f.H2Conn.open(s.port, { preface: false });
    await conn.write(bytes);
    const end = await conn.goawayOrClose(END_WAIT_MS);
    assert.ok(end === null || end.code !== f.ERROR.NO_ERROR, `${what}: ${describeEnd(end)}`);
    conn.destroy();
  }
  await assertServes(t, s, 'garbage');
});
