'use strict';
// permessage-deflate (RFC 7692): negotiated in shared mode (server_no_context_takeover always) and
// dedicated mode, or not at all; the `ws` client with and without it; raw checks of the answered
// Sec-WebSocket-Extensions and of RSV1 on the frames either way; large compressible and random
// messages; a publish reaching compressing and plain subscribers alike; and compressed input that
// would inflate past maxPayload (1009) or is not deflate at all (1007).
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { withRoot, assertStillServes, waitUntil } = require('./helpers');
const { serveWs } = require('./support/ws-serve');
const frames = require('./support/ws-frames');
const { RawWs } = require('./support/ws-raw');
const { connect } = require('./support/ws-client');

const { OP } = frames;
const T = { timeout: 20000 };
const KiB = 1024;
const MiB = 1024 * KiB;
// What Chromium and the `ws` client offer.
const OFFER = 'permessage-deflate; client_max_window_bits';

// Text that deflates well: repeated JSON records.
const COMPRESSIBLE = JSON.stringify(
  Array.from({ length: 3000 }, (_, i) => ({ id: i, name: `user ${i % 50}`, active: i % 3 === 0, tags: ['a', 'b'] })),
);
// Text that deflates to about half (hex digits) and fits a 32 KiB window twice over: a repeat of it
// compresses to almost nothing when the context is kept, and to the same again when it is not.
const WINDOW_SIZED = crypto.randomBytes(6 * KiB).toString('hex');

// /echo echoes; the text '!big' answers COMPRESSIBLE, '!big-plain' the same with compress=false.
// Messages the handler got are in `received` (as the server saw them: decompressed).
async function deflateServer(t, compression, options = {}) {
  const received = [];
  const closes = [];
  const s = await serveWs(t, (app) => {
    withRoot(app);
    app.ws(
      '/echo',
      {
        message(ws, data, isBinary) {
          received.push({ data: Buffer.from(data), isBinary });
          const cmd = isBinary ? '' : data.toString();
          if (cmd === '!big') ws.send(COMPRESSIBLE, false);
          else if (cmd === '!big-plain') ws.send(COMPRESSIBLE, false, false);
          else if (cmd === '!window') ws.send(WINDOW_SIZED, false);
          else if (cmd === '!extensions') ws.send(ws.extensions);
          else ws.send(data, isBinary);
        },
        close(ws, code) {
          closes.push(code);
        },
      },
      { compression, ...options },
    );
  });
  s.received = received;
  s.closes = closes;
  return s;
}

const url = (s) => `ws://127.0.0.1:${s.port}/echo`;

// Echoes a small text, a large compressible text, a large random binary and an empty message.
async function echoRound(peer) {
  const random = crypto.randomBytes(256 * KiB);
  const cases = ['small', COMPRESSIBLE, random, '', Buffer.alloc(0), COMPRESSIBLE];
  for (const c of cases) await peer.send(c);
  for (const c of cases) {
    const m = await peer.next();
    assert.equal(m.isBinary, Buffer.isBuffer(c));
    assert.ok(m.data.equals(Buffer.from(c)), `echo of a ${Buffer.byteLength(c)}-byte message`);
  }
}

// ---------------------------------------------------------------------------------------------
// With the `ws` client

for (const [mode, compression] of [
  ['shared (true)', true],
  ['shared', 'shared'],
]) {
  test(`compression ${mode}: negotiated with the ws client; messages of every kind echo intact`, T, async (t) => {
    const s = await deflateServer(t, compression);
    const peer = await connect(url(s), { perMessageDeflate: true });
    t.after(() => peer.terminate());
    // The `ws` client names the extension only; the raw tests below read its parameters.
    assert.equal(peer.ws.extensions, 'permessage-deflate');
    await echoRound(peer);
    await peer.send('!extensions');
    assert.match((await peer.next()).text, /^permessage-deflate\b/, 'ws.extensions on the server');
  });
}

test("compression 'dedicated': negotiated with the ws client; repeated messages echo intact", T, async (t) => {
  const s = await deflateServer(t, 'dedicated');
  const peer = await connect(url(s), { perMessageDeflate: true });
  t.after(() => peer.terminate());
  assert.equal(peer.ws.extensions, 'permessage-deflate');
  await echoRound(peer);
  // The same message many times: each one compressed against the previous ones.
  for (let i = 0; i < 20; i++) await peer.send(`${i} ${COMPRESSIBLE}`);
  for (let i = 0; i < 20; i++) assert.equal((await peer.next()).text, `${i} ${COMPRESSIBLE}`);
});

test('compression off: a client offering permessage-deflate gets none, and echo works', T, async (t) => {
  const s = await deflateServer(t, false);
  const peer = await connect(url(s), { perMessageDeflate: true });
  t.after(() => peer.terminate());
  assert.equal(peer.ws.extensions, '');
  await echoRound(peer);
  await peer.send('!extensions');
  assert.equal((await peer.next()).text, '');
});

test('compression on, a client that does not offer it: plain frames, echo works', T, async (t) => {
  const s = await deflateServer(t, 'shared');
  const peer = await connect(url(s), { perMessageDeflate: false });
  t.after(() => peer.terminate());
  assert.equal(peer.ws.extensions, '');
  await echoRound(peer);
});

// ---------------------------------------------------------------------------------------------
// Raw: the negotiated header and RSV1

test('raw shared: the answer names server_no_context_takeover; large messages go out with RSV1 and inflate alone', T, async (t) => {
  const s = await deflateServer(t, 'shared');
  const raw = await RawWs.open(s.port, '/echo', { headers: { 'Sec-WebSocket-Extensions': OFFER } });
  t.after(() => raw.destroy());
  const ext = raw.response.headers['sec-websocket-extensions'];
  assert.match(ext, /^permessage-deflate\b/);
  assert.match(ext, /\bserver_no_context_takeover\b/);

  // Each compressed message inflates on its own (no context carried over), several times over,
  // and the same message is the same bytes every time.
  let previous;
  for (let i = 0; i < 3; i++) {
    await raw.sendText('!big');
    const f = await raw.nextMessage();
    assert.equal(f.rsv1, true, 'a large compressible message is sent compressed');
    assert.ok(f.data.length < COMPRESSIBLE.length / 4, `compressed to ${f.data.length} of ${COMPRESSIBLE.length} bytes`);
    assert.equal(frames.inflateMessage(f.data).toString(), COMPRESSIBLE);
    if (previous !== undefined) assert.ok(f.data.equals(previous), 'compressed alike each time');
    previous = f.data;
  }
  // A message that fits the window, twice: without context takeover the repeat costs as much.
  const windowed = [];
  for (let i = 0; i < 2; i++) {
    await raw.sendText('!window');
    const f = await raw.nextMessage();
    assert.equal(f.rsv1, true);
    assert.equal(frames.inflateMessage(f.data).toString(), WINDOW_SIZED);
    windowed.push(f.data);
  }
  assert.ok(windowed[1].equals(windowed[0]), 'the repeat is compressed alone, as the first was');

  // send(…, compress = false): plain even on a compressing socket.
  await raw.sendText('!big-plain');
  const plain = await raw.nextMessage();
  assert.equal(plain.rsv1, false);
  assert.equal(plain.text, COMPRESSIBLE);

  // The client's compressed messages (RSV1 on the first frame only), whole and fragmented, and an
  // uncompressed one on the same socket.
  const compressed = frames.deflateMessage(COMPRESSIBLE);
  await raw.send(frames.text(COMPRESSIBLE.slice(0, 100)));
  await raw.send(frames.frame(OP.TEXT, compressed, { rsv: 4 }));
  const third = Math.floor(compressed.length / 3);
  await raw.send(
    Buffer.concat([
      frames.frame(OP.TEXT, compressed.subarray(0, third), { rsv: 4, fin: false }),
      frames.ping('between'),
      frames.frame(OP.CONT, compressed.subarray(third, 2 * third), { fin: false }),
      frames.frame(OP.CONT, compressed.subarray(2 * third), { fin: true }),
    ]),
  );
  assert.equal((await raw.nextMessage({ inflate: true })).text, COMPRESSIBLE.slice(0, 100));
  assert.equal((await raw.nextMessage({ inflate: true })).text, COMPRESSIBLE);
  assert.equal((await raw.nextMessage({ inflate: true })).text, COMPRESSIBLE);
  const seen = s.received.filter((m) => !m.data.toString().startsWith('!')).map((m) => m.data.toString());
  assert.deepEqual(seen, [COMPRESSIBLE.slice(0, 100), COMPRESSIBLE, COMPRESSIBLE], 'the handler got them decompressed');
});

test('raw: random (incompressible) data round-trips whether or not the server compresses it', T, async (t) => {
  const s = await deflateServer(t, 'shared');
  const raw = await RawWs.open(s.port, '/echo', { headers: { 'Sec-WebSocket-Extensions': OFFER } });
  t.after(() => raw.destroy());
  const random = crypto.randomBytes(300 * KiB);
  await raw.send(frames.frame(OP.BINARY, frames.deflateMessage(random), { rsv: 4 }));
  const m = await raw.nextMessage({ inflate: true });
  assert.equal(m.binary, true);
  assert.ok(m.data.equals(random));
});

test('raw dedicated: no server_no_context_takeover unless asked; asked, every message inflates alone', T, async (t) => {
  const s = await deflateServer(t, 'dedicated');
  const first = await RawWs.open(s.port, '/echo', { headers: { 'Sec-WebSocket-Extensions': OFFER } });
  t.after(() => first.destroy());
  const ext = first.response.headers['sec-websocket-extensions'];
  assert.match(ext, /^permessage-deflate\b/);
  assert.doesNotMatch(ext, /\bserver_no_context_takeover\b/);
  // The first message has no context before it: it inflates alone.
  await first.sendText('!big');
  const m = await first.nextMessage();
  assert.equal(m.rsv1, true);
  assert.equal(frames.inflateMessage(m.data).toString(), COMPRESSIBLE);
  // A message that fits the window, twice: the repeat is compressed against the first (context
  // takeover), to far less.
  await first.sendText('!window');
  const once = await first.nextMessage();
  assert.equal(once.rsv1, true);
  await first.sendText('!window');
  const again = await first.nextMessage();
  assert.equal(again.rsv1, true);
  assert.ok(again.data.length < once.data.length / 4, `the repeat took ${again.data.length} bytes, the first ${once.data.length}`);

  const asked = await RawWs.open(s.port, '/echo', {
    headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; server_no_context_takeover; client_max_window_bits' },
  });
  t.after(() => asked.destroy());
  assert.match(asked.response.headers['sec-websocket-extensions'], /\bserver_no_context_takeover\b/);
  for (let i = 0; i < 3; i++) {
    await asked.sendText('!big');
    const f = await asked.nextMessage();
    assert.equal(f.rsv1, true);
    assert.equal(frames.inflateMessage(f.data).toString(), COMPRESSIBLE, `message ${i}`);
  }
});

test('raw: compression off answers no extension and sends plain frames', T, async (t) => {
  const s = await deflateServer(t, false);
  const raw = await RawWs.open(s.port, '/echo', { headers: { 'Sec-WebSocket-Extensions': OFFER } });
  t.after(() => raw.destroy());
  assert.equal(raw.response.headers['sec-websocket-extensions'], undefined);
  await raw.sendText('!big');
  const m = await raw.nextMessage();
  assert.equal(m.rsv1, false);
  assert.equal(m.text, COMPRESSIBLE);
});

test('an unacceptable offer is declined (the socket opens uncompressed); a later acceptable one is taken', T, async (t) => {
  const s = await deflateServer(t, 'shared');
  const bad = await RawWs.open(s.port, '/echo', {
    headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=99' },
  });
  t.after(() => bad.destroy());
  assert.equal(bad.response.headers['sec-websocket-extensions'], undefined);
  await bad.sendText('!big');
  assert.equal((await bad.nextMessage()).rsv1, false);
  await bad.sendText('!extensions');
  assert.equal((await bad.nextMessage()).text, '', 'ws.extensions on the server: nothing was negotiated');

  const second = await RawWs.open(s.port, '/echo', {
    headers: { 'Sec-WebSocket-Extensions': 'x-unknown-ext, permessage-deflate; server_max_window_bits=99, permessage-deflate' },
  });
  t.after(() => second.destroy());
  assert.match(second.response.headers['sec-websocket-extensions'] || '', /^permessage-deflate\b/);
  assert.doesNotMatch(second.response.headers['sec-websocket-extensions'], /x-unknown-ext/);
});

test('a publish on a compressing route reaches a compressing subscriber and a plain one, each as it negotiated', T, async (t) => {
  let app;
  const s = await serveWs(t, (a) => {
    app = a;
    a.ws('/sub', { open: (ws) => ws.subscribe('news') }, { compression: 'shared' });
  });
  const deflating = await RawWs.open(s.port, '/sub', { headers: { 'Sec-WebSocket-Extensions': OFFER } });
  const plain = await RawWs.open(s.port, '/sub');
  const wsClient = await connect(`ws://127.0.0.1:${s.port}/sub`, { perMessageDeflate: true });
  t.after(() => {
    deflating.destroy();
    plain.destroy();
    wsClient.terminate();
  });
  await waitUntil(() => app.numSubscribers('news') === 3, { what: 'three subscribers' });
  app.publish('news', COMPRESSIBLE);
  const d = await deflating.nextMessage();
  assert.equal(d.rsv1, true, 'compressed for the socket that negotiated it');
  assert.equal(frames.inflateMessage(d.data).toString(), COMPRESSIBLE);
  const p = await plain.nextMessage();
  assert.equal(p.rsv1, false, 'never RSV1 for a socket that did not negotiate compression');
  assert.equal(p.text, COMPRESSIBLE);
  assert.equal((await wsClient.next()).text, COMPRESSIBLE);
});

// ---------------------------------------------------------------------------------------------
// Bad compressed input

// Opens a compressing socket, sends `bytes`, and expects the server's close `code`.
async function expectCloseAfter(t, s, bytes, code, what) {
  const raw = await RawWs.open(s.port, '/echo', { headers: { 'Sec-WebSocket-Extensions': OFFER } });
  t.after(() => raw.destroy());
  await raw.send(bytes);
  const got = await raw.readClose();
  assert.equal(got.code, code, `${what}: close code (reason ${JSON.stringify(got.reason)})`);
  await raw.send(frames.close(code));
  await raw.waitForEnd();
  await assertStillServes(s.port);
}

test('a decompression bomb (16 MiB of zeros in a few KiB) → close 1009, whole or fragmented', T, async (t) => {
  const s = await deflateServer(t, 'shared', { maxPayload: MiB });
  const bomb = frames.deflateMessage(Buffer.alloc(16 * MiB));
  assert.ok(bomb.length < 64 * KiB, `the bomb is ${bomb.length} bytes on the wire`);
  await expectCloseAfter(t, s, frames.frame(OP.BINARY, bomb, { rsv: 4 }), 1009, 'one frame');
  const half = bomb.length >> 1;
  await expectCloseAfter(
    t,
    s,
    Buffer.concat([
      frames.frame(OP.TEXT, bomb.subarray(0, half), { rsv: 4, fin: false }),
      frames.frame(OP.CONT, bomb.subarray(half), { fin: true }),
    ]),
    1009,
    'fragments',
  );
  await waitUntil(() => s.closes.length === 2, { what: 'two close handler calls' });
  assert.deepEqual(s.closes, [1009, 1009]);
  assert.equal(s.received.length, 0, 'no part of a bomb reached the handler');
});

test('compressed input that is not deflate → close 1007; compressed text that is not UTF-8 → 1007', T, async (t) => {
  const s = await deflateServer(t, 'shared');
  // 0xff: a final block of the reserved type 3.
  await expectCloseAfter(t, s, frames.frame(OP.BINARY, Buffer.from([0xff, 0xff, 0xff]), { rsv: 4 }), 1007, 'corrupt deflate');
  await expectCloseAfter(t, s, frames.frame(OP.TEXT, frames.deflateMessage(Buffer.from([0x61, 0xc3, 0x28])), { rsv: 4 }), 1007, 'invalid UTF-8');
});

test('RSV1 on a continuation frame, or on a control frame, → close 1002 even with compression', T, async (t) => {
  const s = await deflateServer(t, 'shared');
  const part = frames.deflateMessage('hello');
  await expectCloseAfter(
    t,
    s,
    Buffer.concat([frames.frame(OP.TEXT, part, { rsv: 4, fin: false }), frames.frame(OP.CONT, Buffer.alloc(0), { rsv: 4 })]),
    1002,
    'RSV1 on a continuation',
  );
  await expectCloseAfter(t, s, frames.frame(OP.PING, 'x', { rsv: 4 }), 1002, 'RSV1 on a ping');
});
