'use strict';
// RFC 6455 on the wire, with hand-built frames over a raw socket: fragmentation and continuation
// (control frames between fragments, frames split across reads), automatic pongs, every protocol
// error and the close code it earns (1002, 1007, 1009), the close handshake from either side, and
// handshakes the server must refuse. After each, the server still answers HTTP: bad input costs
// one connection, never the process.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { buildRequest, RawClient, withRoot, assertStillServes, waitUntil } = require('./helpers');
const { serveWs } = require('./support/ws-serve');
const frames = require('./support/ws-frames');
const { RawWs } = require('./support/ws-raw');

const { OP } = frames;
const T = { timeout: 20000 };
// A small maxPayload for the oversize tests, so they need only small frames.
const SMALL_MAX = 1024;

// A server with /ws: echoes messages, except the text commands '!end' (ws.end(4000, 'bye')),
// '!end-default' (ws.end()) and '!terminate' (ws.close()). Every close handler call is in `closes`.
async function protocolServer(t, options) {
  const closes = [];
  let upgrades = 0;
  const s = await serveWs(t, (app) => {
    withRoot(app);
    app.ws(
      '/ws',
      {
        upgrade() {
          upgrades++;
        },
        message(ws, data, isBinary) {
          const cmd = isBinary ? '' : data.toString('utf8');
          if (cmd === '!end') ws.end(4000, 'bye');
          else if (cmd === '!end-default') ws.end();
          else if (cmd === '!terminate') ws.close();
          else if (cmd === '!end-long') ws.end(4002, 'é'.repeat(100));
          else if (cmd === '!end-bad-code') {
            // An invalid code is the app's mistake: a coded error, and the socket stays open.
            let code = 'none';
            try {
              ws.end(1005);
            } catch (err) {
              code = err.code;
            }
            ws.send(String(code));
          }
          else ws.send(data, isBinary);
        },
        close(ws, code, reason) {
          assert.equal(typeof reason, 'string', 'the close reason is a string');
          closes.push({ code, reason });
        },
      },
      options,
    );
    app.get('/http-only', (req, res) => res.send('plain'));
  });
  // The close handler's call for the `n`th socket to close (0-based).
  s.closed = (n = 0) => waitUntil(() => closes[n], { timeout: 10000, what: `close handler call #${n + 1}` });
  s.closes = closes;
  // Upgrade hook calls so far: a handshake Rust refuses never reaches JS.
  Object.defineProperty(s, 'upgrades', { get: () => upgrades });
  return s;
}

// A raw client of s's /ws; with `t`, destroyed when the test ends.
async function open(s, t) {
  const raw = await RawWs.open(s.port, '/ws');
  if (t) t.after(() => raw.destroy());
  return raw;
}

// Expects the server to close with `code`: its close frame, then (after the client's answer) the
// end of the connection, the close handler with that code, and a server that still serves.
async function expectClose(s, raw, code, what) {
  const got = await raw.readClose();
  assert.equal(got.code, code, `${what}: close code (reason ${JSON.stringify(got.reason)})`);
  await raw.send(frames.close(code));
  await raw.waitForEnd();
  const closed = await s.closed();
  assert.equal(closed.code, code, `${what}: the close handler's code`);
  await assertStillServes(s.port);
  return got;
}

// The next `n` frames, whatever they are.
async function nextFrames(raw, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await raw.nextFrame());
  return out;
}

// ---------------------------------------------------------------------------------------------
// Fragmentation, continuation, ping/pong

test('a fragmented text message with a ping between its fragments: one pong, then the message', T, async (t) => {
  const s = await protocolServer(t);
  const raw = await open(s, t);
  await raw.send(
    Buffer.concat([
      frames.frame(OP.TEXT, 'Hel', { fin: false }),
      frames.ping('p1'),
      frames.frame(OP.CONT, '', { fin: false }),
      frames.frame(OP.CONT, 'lo, ', { fin: false }),
      frames.pong('unsolicited'),
      frames.frame(OP.CONT, 'wörld', { fin: true }),
    ]),
  );
  const got = await nextFrames(raw, 2);
  const pongs = got.filter((f) => f.opcode === OP.PONG);
  const data = got.filter((f) => f.opcode !== OP.PONG);
  assert.equal(pongs.length, 1, 'one pong for the ping (none for the unsolicited pong)');
  assert.equal(pongs[0].payload.toString(), 'p1', 'the pong carries the ping payload');
  assert.equal(data[0].opcode, OP.TEXT);
  assert.equal(data[0].fin, true);
  assert.equal(data[0].payload.toString('utf8'), 'Hello, wörld');

  // Binary too, and the socket goes on afterwards.
  const bin = crypto.randomBytes(3000);
  await raw.send(
    Buffer.concat([
      frames.frame(OP.BINARY, bin.subarray(0, 1000), { fin: false }),
      frames.frame(OP.CONT, bin.subarray(1000, 2000), { fin: false }),
      frames.frame(OP.CONT, bin.subarray(2000), { fin: true }),
    ]),
  );
  const m = await raw.nextMessage();
  assert.equal(m.binary, true);
  assert.ok(m.data.equals(bin));
});

test('frames split across many reads, and many frames in one read', T, async (t) => {
  const s = await protocolServer(t);
  const raw = await open(s, t);
  // Byte by byte: the head, the 16-bit length and the mask each arrive in pieces.
  const big = 'x'.repeat(300) + '€';
  await raw.client.writeInPieces(
    Buffer.concat([frames.frame(OP.TEXT, big.slice(0, 150), { fin: false }), frames.frame(OP.CONT, big.slice(150))]),
    1,
    0,
  );
  assert.equal((await raw.nextMessage()).text, big);

  const burst = [];
  for (let i = 0; i < 200; i++) burst.push(frames.text(`m${i}`));
  await raw.send(Buffer.concat(burst));
  for (let i = 0; i < 200; i++) assert.equal((await raw.nextMessage()).text, `m${i}`);
});

test('a ping is answered with a pong carrying the same payload (empty, and 125 bytes)', T, async (t) => {
  const s = await protocolServer(t);
  const raw = await open(s, t);
  for (const payload of [Buffer.alloc(0), crypto.randomBytes(125), Buffer.from('hello')]) {
    await raw.send(frames.ping(payload));
    const f = await raw.nextFrame();
    assert.equal(f.opcode, OP.PONG);
    assert.equal(f.fin, true);
    assert.ok(f.payload.equals(payload), `pong payload of ${payload.length} bytes`);
  }
});

// ---------------------------------------------------------------------------------------------
// Protocol errors: 1002

const PROTOCOL_ERRORS = [
  ['an unmasked frame', () => frames.text('not masked', { mask: false })],
  ['reserved opcode 0x3', () => frames.frame(0x3, 'x')],
  ['reserved control opcode 0xB', () => frames.frame(0xb, 'x')],
  ['RSV1 without negotiated compression', () => frames.text('x', { rsv: 4 })],
  ['RSV2', () => frames.text('x', { rsv: 2 })],
  ['RSV3', () => frames.text('x', { rsv: 1 })],
  ['a continuation frame with no message started', () => frames.frame(OP.CONT, 'orphan')],
  ['a new text frame while a fragmented message is open', () => Buffer.concat([frames.frame(OP.TEXT, 'a', { fin: false }), frames.text('b')])],
  ['a fragmented ping (FIN=0 on a control frame)', () => frames.frame(OP.PING, 'x', { fin: false })],
  ['a ping with a 126-byte payload', () => frames.ping(Buffer.alloc(126))],
  ['a close frame with a 1-byte payload', () => frames.frame(OP.CLOSE, Buffer.from([0x03]))],
  ['close code 1005 (reserved: never on the wire)', () => frames.close(1005)],
  ['close code 1006 (reserved)', () => frames.close(1006)],
  ['close code 999', () => frames.close(999)],
  ['close code 1004 (reserved)', () => frames.close(1004)],
  ['close code 1015 (reserved: TLS)', () => frames.close(1015)],
  ['close code 2999', () => frames.close(2999)],
  ['close code 5000', () => frames.close(5000)],
  // Binary, masked, 127 = a 64-bit length follows: 0x8000000000000001, then a mask key.
  ['a 64-bit length with the top bit set', () => Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4])],
];

for (const [what, build] of PROTOCOL_ERRORS) {
  test(`${what} → close 1002`, T, async (t) => {
    const s = await protocolServer(t);
    const raw = await open(s, t);
    // A message first, so the error is seen on a socket that worked.
    await raw.sendText('before');
    assert.equal((await raw.nextMessage()).text, 'before');
    await raw.send(build());
    await expectClose(s, raw, 1002, what);
  });
}

// ---------------------------------------------------------------------------------------------
// UTF-8: 1007

const INVALID_TEXT = [
  ['an invalid continuation byte', [Buffer.from([0x61, 0xc3, 0x28])]],
  ['an overlong encoding of "/"', [Buffer.from([0xc0, 0xaf])]],
  ['a UTF-16 surrogate (U+D800)', [Buffer.from([0xed, 0xa0, 0x80])]],
  ['a code point past U+10FFFF', [Buffer.from([0xf4, 0x90, 0x80, 0x80])]],
  ['a lone 0xFF', [Buffer.from([0xff])]],
  ['a message ending mid-character', [Buffer.from([0x61, 0xe2, 0x82])]],
  ['a character split across fragments, completed wrongly', [Buffer.from([0x61, 0xe2, 0x82]), Buffer.from([0x28, 0x62])]],
  ['invalid bytes in a later fragment', [Buffer.from('fine so far '), Buffer.from('still fine '), Buffer.from([0xc3])]],
];

// Sends `pieces` as one text message, fragmented when there are several.
function textMessage(pieces) {
  return Buffer.concat(pieces.map((p, i) => frames.frame(i === 0 ? OP.TEXT : OP.CONT, p, { fin: i === pieces.length - 1 })));
}

for (const [what, pieces] of INVALID_TEXT) {
  test(`text with ${what} → close 1007`, T, async (t) => {
    const s = await protocolServer(t);
    const raw = await open(s, t);
    await raw.send(textMessage(pieces));
    await expectClose(s, raw, 1007, what);
  });
}

test('a close reason that is not UTF-8 → close 1007', T, async (t) => {
  const s = await protocolServer(t);
  const raw = await open(s, t);
  await raw.send(frames.frame(OP.CLOSE, Buffer.concat([frames.closePayload(1000), Buffer.from([0xc3, 0x28])])));
  await expectClose(s, raw, 1007, 'invalid reason');
});

test('valid UTF-8 split between fragments anywhere (mid-character) is one valid message', T, async (t) => {
  const s = await protocolServer(t);
  const raw = await open(s, t);
  const msg = Buffer.from('a€b😀c', 'utf8');
  // Every split point, including inside the 3- and 4-byte characters.
  for (let cut = 1; cut < msg.length; cut++) {
    await raw.send(textMessage([msg.subarray(0, cut), msg.subarray(cut)]));
    const m = await raw.nextMessage();
    assert.equal(m.binary, false);
    assert.ok(m.data.equals(msg), `split at byte ${cut}`);
  }
  // Binary messages are never checked.
  await raw.sendBinary(Buffer.from([0xff, 0xfe, 0xc0]));
  assert.deepEqual([...(await raw.nextMessage()).data], [0xff, 0xfe, 0xc0]);
});

// ---------------------------------------------------------------------------------------------
// maxPayload: 1009

test('maxPayload: a message of exactly maxPayload bytes passes, one byte more is close 1009', T, async (t) => {
  const s = await protocolServer(t, { maxPayload: SMALL_MAX });
  const raw = await open(s, t);
  await raw.sendBinary(Buffer.alloc(SMALL_MAX, 7));
  assert.equal((await raw.nextMessage()).data.length, SMALL_MAX);
  await raw.sendBinary(Buffer.alloc(SMALL_MAX + 1, 7));
  await expectClose(s, raw, 1009, 'one frame over maxPayload');
});

test('maxPayload counts the whole fragmented message → close 1009', T, async (t) => {
  const s = await protocolServer(t, { maxPayload: SMALL_MAX });
  const raw = await open(s, t);
  await raw.send(
    Buffer.concat([
      frames.frame(OP.TEXT, 'a'.repeat(600), { fin: false }),
      frames.frame(OP.CONT, 'b'.repeat(425), { fin: true }),
    ]),
  );
  await expectClose(s, raw, 1009, 'fragments adding up past maxPayload');
});

test('a frame head announcing a huge payload is refused at once with 1009 (no waiting for the bytes)', T, async (t) => {
  const s = await protocolServer(t, { maxPayload: SMALL_MAX });
  const raw = await open(s, t);
  // 2^40 bytes announced, nothing of it sent.
  const head = Buffer.alloc(14);
  head[0] = 0x82;
  head[1] = 0xff;
  head.writeBigUInt64BE(1n << 40n, 2);
  head.writeUInt32BE(0x01020304, 10);
  await raw.send(head);
  await expectClose(s, raw, 1009, 'a 2^40-byte frame head');
});

// ---------------------------------------------------------------------------------------------
// The close handshake

test('client-initiated close: the server echoes the code, ends the connection, close handler gets code and reason', T, async (t) => {
  const s = await protocolServer(t);
  const cases = [
    [1000, 'done'],
    [1001, ''],
    [1003, 'unsupported'],
    [3000, 'registered'],
    [4999, 'x'.repeat(123)],
  ];
  for (const [i, [code, reason]] of cases.entries()) {
    const raw = await open(s, t);
    await raw.send(frames.close(code, reason));
    const answer = await raw.readClose();
    assert.equal(answer.code, code, `the server echoes close code ${code}`);
    await raw.waitForEnd();
    const closed = await s.closed(i);
    assert.deepEqual(closed, { code, reason });
  }
});

test('a close frame without a code: the server answers with a close and JS sees 1005', T, async (t) => {
  const s = await protocolServer(t);
  const raw = await open(s, t);
  await raw.send(frames.frame(OP.CLOSE, Buffer.alloc(0)));
  const answer = await raw.readClose();
  assert.ok(answer.code === undefined || answer.code === 1000, `the answer's code: ${answer.code}`);
  await raw.waitForEnd();
  assert.deepEqual(await s.closed(), { code: 1005, reason: '' });
});

test('a close frame between fragments of a message is answered (control frames may interleave)', T, async (t) => {
  const s = await protocolServer(t);
  const raw = await open(s, t);
  await raw.send(Buffer.concat([frames.frame(OP.TEXT, 'half', { fin: false }), frames.close(1000, 'mid')]));
  const answer = await raw.readClose();
  assert.equal(answer.code, 1000);
  assert.deepEqual(answer.before, [], 'the unfinished message is not delivered');
  await raw.waitForEnd();
  assert.deepEqual(await s.closed(), { code: 1000, reason: 'mid' });
});

test("ws.end(4000, 'bye') sends that close frame; the client's answer completes the handshake", T, async (t) => {
  const s = await protocolServer(t);
  const raw = await open(s, t);
  await raw.sendText('!end');
  const got = await raw.readClose();
  assert.equal(got.code, 4000);
  assert.equal(got.reason, 'bye');
  await raw.send(frames.close(4000, 'bye'));
  await raw.waitForEnd();
  assert.deepEqual(await s.closed(), { code: 4000, reason: 'bye' });

  const second = await open(s);
  t.after(() => second.destroy());
  await second.sendText('!end-default');
  const dflt = await second.readClose();
  assert.equal(dflt.code, 1000, 'ws.end() closes with 1000');
  assert.equal(dflt.reason, '');
  await second.send(frames.close(1000));
  await second.waitForEnd();
  assert.equal((await s.closed(1)).code, 1000);
});

test('ws.end() cuts a long reason to 123 bytes at a character boundary; an invalid code throws a coded error', T, async (t) => {
  const s = await protocolServer(t);
  const raw = await open(s);
  await raw.sendText('!end-bad-code');
  assert.match((await raw.nextMessage()).text, /^HN_ERR_/);
  await raw.sendText('!end-long');
  const got = await raw.readClose();
  assert.equal(got.code, 4002);
  // 2 bytes per 'é': 61 of them (122 bytes) fit, half of the 62nd would not be UTF-8.
  assert.equal(got.reason, 'é'.repeat(61));
  assert.ok(got.length <= 125, 'a close payload is at most 125 bytes');
  await raw.send(frames.close(4002));
  await raw.waitForEnd();
  assert.equal((await s.closed()).code, 4002);
});

test('after ws.end() the server sends no more data frames, and ignores data the client still sends', T, async (t) => {
  const s = await protocolServer(t);
  const raw = await open(s, t);
  await raw.sendText('!end');
  const got = await raw.readClose();
  assert.equal(got.code, 4000);
  // Data after the server's close frame, before the client's answer: not echoed (RFC 6455 §5.5.1).
  await raw.sendText('late');
  await raw.send(frames.close(4000));
  await raw.waitForEnd();
  assert.equal(raw.client.buf.length, 0, 'nothing after the close frame');
  assert.equal((await s.closed()).code, 4000);
});

test('ws.close() drops the connection without a close frame; JS sees 1006', T, async (t) => {
  const s = await protocolServer(t);
  const raw = await open(s, t);
  await raw.sendText('!terminate');
  await raw.waitForEnd();
  assert.equal(raw.client.buf.length, 0, 'no close frame (nor anything else) before the end');
  assert.equal((await s.closed()).code, 1006);
  await assertStillServes(s.port);
});

test('a client that ends or resets the TCP connection without a close frame: JS sees 1006', T, async (t) => {
  const s = await protocolServer(t);
  const ended = await open(s);
  await ended.sendText('hi');
  assert.equal((await ended.nextMessage()).text, 'hi');
  ended.socket.end();
  assert.equal((await s.closed(0)).code, 1006);
  ended.destroy();

  const reset = await open(s);
  await reset.sendText('hi');
  assert.equal((await reset.nextMessage()).text, 'hi');
  reset.socket.resetAndDestroy();
  assert.equal((await s.closed(1)).code, 1006);

  // Half a frame, then the end.
  const partial = await open(s);
  await partial.send(frames.text('never finished').subarray(0, 5));
  partial.socket.end();
  assert.equal((await s.closed(2)).code, 1006);
  partial.destroy();
  assert.equal(s.closes.length, 3, 'one close handler call per socket');
  await assertStillServes(s.port);
});

test('garbage after the handshake never crashes the server: each connection is closed', { timeout: 30000 }, async (t) => {
  const s = await protocolServer(t, { maxPayload: SMALL_MAX });
  const ROUNDS = 40;
  for (let i = 0; i < ROUNDS; i++) {
    const raw = await open(s, t);
    await raw.send(crypto.randomBytes(64 + i * 7));
    // The client ends its side: whatever the bytes made (an error, a frame still waiting for its
    // payload), the server must then close the connection.
    raw.socket.end();
    await raw.waitForEnd();
  }
  // Exactly one close handler call per socket, whatever code the bytes earned.
  await waitUntil(() => s.closes.length === ROUNDS, { timeout: 10000, what: `${ROUNDS} close handler calls` });
  for (const { code } of s.closes) assert.ok(Number.isInteger(code) && code >= 1000 && code < 5000, `close code ${code}`);
  await assertStillServes(s.port);
});

// ---------------------------------------------------------------------------------------------
// Handshakes the server refuses (Rust answers; JS never sees them)

// Sends an upgrade request built from `options` to `path` and returns the answer.
async function handshake(s, path, options = {}, { method = 'GET', version = '1.1', body } = {}) {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(buildRequest(method, path, { headers: frames.upgradeHeaders(options), version, body }));
    return await c.readResponse();
  } finally {
    c.destroy();
  }
}

test('Sec-WebSocket-Version other than 13 (or missing) → 426 with Sec-WebSocket-Version: 13', T, async (t) => {
  const s = await protocolServer(t);
  for (const options of [{ version: '8' }, { version: '14' }, { omit: ['sec-websocket-version'] }]) {
    const res = await handshake(s, '/ws', options);
    assert.equal(res.status, 426, JSON.stringify(options));
    assert.equal(res.headers['sec-websocket-version'], '13', JSON.stringify(options));
  }
  assert.equal(s.upgrades, 0, 'JS never saw the refused handshakes');
  await assertStillServes(s.port);
});

test('a missing, short, non-base64 or repeated Sec-WebSocket-Key → 400', T, async (t) => {
  const s = await protocolServer(t);
  const cases = [
    ['missing', { omit: ['sec-websocket-key'] }],
    ['8 bytes', { key: crypto.randomBytes(8).toString('base64') }],
    ['17 bytes', { key: crypto.randomBytes(17).toString('base64') }],
    ['not base64', { key: '!!!!!!!!!!!!!!!!!!!!!!==' }],
    ['empty', { key: '' }],
    ['twice', { append: [['Sec-WebSocket-Key', frames.newKey()]] }],
  ];
  for (const [what, options] of cases) {
    const res = await handshake(s, '/ws', options);
    assert.equal(res.status, 400, `key ${what}`);
    assert.equal(res.headers['sec-websocket-accept'], undefined);
  }
  assert.equal(s.upgrades, 0, 'JS never saw the refused handshakes');
  await assertStillServes(s.port);
});

test('Connection without "upgrade" → 400; "keep-alive, Upgrade" is accepted', T, async (t) => {
  const s = await protocolServer(t);
  for (const connection of ['keep-alive', 'close']) {
    const res = await handshake(s, '/ws', { headers: { Connection: connection } });
    assert.equal(res.status, 400, `Connection: ${connection}`);
  }
  const res = await handshake(s, '/ws', { omit: ['connection'] });
  assert.equal(res.status, 400, 'no Connection header');
  assert.equal(s.upgrades, 0, 'JS never saw the refused handshakes');

  const raw = await RawWs.open(s.port, '/ws', { headers: { Connection: 'keep-alive, Upgrade' } });
  t.after(() => raw.destroy());
  await raw.sendText('works');
  assert.equal((await raw.nextMessage()).text, 'works');
});

test('an upgrade over HTTP/1.0, or with a body, → 400', T, async (t) => {
  const s = await protocolServer(t);
  assert.equal((await handshake(s, '/ws', {}, { version: '1.0' })).status, 400, 'HTTP/1.0');
  assert.equal((await handshake(s, '/ws', {}, { body: 'hello' })).status, 400, 'a body');
  await assertStillServes(s.port);
});

test('POST with upgrade headers to a ws path is refused (no 101)', T, async (t) => {
  const s = await protocolServer(t);
  for (const body of [undefined, 'data']) {
    const res = await handshake(s, '/ws', {}, { method: 'POST', body });
    assert.notEqual(res.status, 101);
    assert.ok(res.status >= 400 && res.status < 500, `POST upgrade answered ${res.status}`);
    assert.equal(res.headers['sec-websocket-accept'], undefined);
  }
  await assertStillServes(s.port);
});

test('a plain GET on a ws-only path → 426; an upgrade on an HTTP-only or unknown path is no 101', T, async (t) => {
  const s = await protocolServer(t);
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  await c.write(buildRequest('GET', '/ws'));
  assert.equal((await c.readResponse()).status, 426);

  const httpOnly = await handshake(s, '/http-only');
  assert.notEqual(httpOnly.status, 101, 'no upgrade on a route without app.ws');
  const unknown = await handshake(s, '/nowhere');
  assert.equal(unknown.status, 404);
  await assertStillServes(s.port);
});
