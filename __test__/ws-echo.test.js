'use strict';
// app.ws() as the `ws` npm client sees it: text and binary echo (empty, 1 MiB, many in order), and
// the upgrade hook: params, query, headers and per-socket data, the subprotocol it chooses, the
// Origin it sees, a rejection with any status, a throwing hook (500), and app middleware running
// before it as it does before a GET route.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { request, withRoot, assertStillServes } = require('./helpers');
const { serveWs } = require('./support/ws-serve');
const { connect } = require('./support/ws-client');
const { RawWs } = require('./support/ws-raw');

const T = { timeout: 20000 };
const MiB = 1 << 20;
// Enough messages that a batch of them crosses the bridge in more than one call either way.
const MANY = 2000;

// A server whose /echo route sends every message back as it came (text as text, binary as binary).
function echoServer(t, options) {
  return serveWs(t, (app) => {
    withRoot(app);
    app.ws(
      '/echo',
      {
        message(ws, data, isBinary) {
          assert.ok(Buffer.isBuffer(data), 'the message handler gets a Buffer');
          ws.send(data, isBinary);
        },
      },
      options,
    );
  });
}

const url = (s, path) => `ws://127.0.0.1:${s.port}${path}`;

test('text and binary messages come back as they were sent, empty ones too', T, async (t) => {
  const s = await echoServer(t);
  const peer = await connect(url(s, '/echo'));
  t.after(() => peer.terminate());

  await peer.send('hello, wörld ✓');
  let m = await peer.next();
  assert.equal(m.isBinary, false);
  assert.equal(m.text, 'hello, wörld ✓');

  const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80]);
  await peer.send(bytes);
  m = await peer.next();
  assert.equal(m.isBinary, true);
  assert.deepEqual(m.data, bytes);

  await peer.send('');
  m = await peer.next();
  assert.equal(m.isBinary, false);
  assert.equal(m.data.length, 0);

  await peer.send(Buffer.alloc(0));
  m = await peer.next();
  assert.equal(m.isBinary, true);
  assert.equal(m.data.length, 0);

  await assertStillServes(s.port);
});

test('a 1 MiB message (the default maxPayload) both ways, binary and text', T, async (t) => {
  const s = await echoServer(t);
  const peer = await connect(url(s, '/echo'), { maxPayload: 2 * MiB });
  t.after(() => peer.terminate());

  const big = crypto.randomBytes(MiB);
  await peer.send(big);
  let m = await peer.next();
  assert.equal(m.isBinary, true);
  assert.equal(m.data.length, MiB);
  assert.ok(m.data.equals(big), 'the 1 MiB binary message is byte-identical');

  // Multi-byte characters throughout (8 bytes per 3 characters), so any cut of the text in
  // transit lands mid-character; exactly 1 MiB of UTF-8.
  const textMsg = 'ж✓€'.repeat(MiB / 8);
  assert.equal(Buffer.byteLength(textMsg), MiB);
  await peer.send(textMsg);
  m = await peer.next();
  assert.equal(m.isBinary, false);
  assert.equal(m.text, textMsg);
});

test(`${MANY} messages sent at once come back all, in order`, T, async (t) => {
  const s = await echoServer(t);
  const peer = await connect(url(s, '/echo'));
  t.after(() => peer.terminate());

  for (let i = 0; i < MANY; i++) peer.ws.send(i % 2 === 0 ? `message ${i}` : Buffer.from(`binary ${i}`));
  for (let i = 0; i < MANY; i++) {
    const m = await peer.next();
    assert.equal(m.isBinary, i % 2 === 1, `message ${i} kept its type`);
    assert.equal(m.data.toString(), i % 2 === 0 ? `message ${i}` : `binary ${i}`);
  }
});

test('several sockets at once each get their own echoes', T, async (t) => {
  const s = await echoServer(t);
  const peers = await Promise.all(Array.from({ length: 8 }, () => connect(url(s, '/echo'))));
  t.after(() => peers.forEach((p) => p.terminate()));
  await Promise.all(
    peers.map(async (p, n) => {
      for (let i = 0; i < 50; i++) p.ws.send(`${n}:${i}`);
      for (let i = 0; i < 50; i++) assert.equal((await p.next()).text, `${n}:${i}`);
    }),
  );
});

test('params, query, headers, remoteAddress and the data the upgrade hook returned are on ws', T, async (t) => {
  const seen = [];
  const s = await serveWs(t, (app) => {
    app.ws('/rooms/:room/users/:user', {
      upgrade(req, res) {
        seen.push({ params: { ...req.params }, query: { ...req.query }, token: req.get('x-token') });
        return { user: req.params.user, token: req.get('x-token') };
      },
      open(ws) {
        ws.send(
          JSON.stringify({
            params: ws.params,
            query: ws.query,
            token: ws.headers['x-token'],
            data: ws.data,
            userData: ws.getUserData(),
            sameObject: ws.getUserData() === ws.data,
            remoteAddress: ws.remoteAddress,
            closed: ws.closed,
          }),
        );
      },
      message(ws, data) {
        // Still there on every later event.
        ws.send(`${ws.data.user} in ${ws.params.room}: ${data}`);
      },
    });
  });
  const peer = await connect(url(s, '/rooms/r%201/users/ann?x=1&tag=a&tag=b'), { headers: { 'X-Token': 'secret' } });
  t.after(() => peer.terminate());
  const info = JSON.parse((await peer.next()).text);
  assert.deepEqual(info.params, { room: 'r 1', user: 'ann' });
  assert.equal(info.query.x, '1');
  assert.deepEqual(info.query.tag, ['a', 'b']);
  assert.equal(info.token, 'secret');
  assert.deepEqual(info.data, { user: 'ann', token: 'secret' });
  assert.deepEqual(info.userData, info.data);
  assert.equal(info.sameObject, true);
  assert.match(info.remoteAddress, /127\.0\.0\.1/);
  assert.equal(info.closed, false);
  assert.deepEqual(seen, [{ params: { room: 'r 1', user: 'ann' }, query: info.query, token: 'secret' }]);

  await peer.send('hi');
  assert.equal((await peer.next()).text, 'ann in r 1: hi');
});

test('an async upgrade hook: its resolved value is ws.data', T, async (t) => {
  const s = await serveWs(t, (app) => {
    app.ws('/a', {
      async upgrade(req) {
        await new Promise((r) => setImmediate(r));
        return { n: Number(req.query.n) * 2 };
      },
      open(ws) {
        ws.send(String(ws.data.n));
      },
    });
  });
  const peer = await connect(url(s, '/a?n=21'));
  t.after(() => peer.terminate());
  assert.equal((await peer.next()).text, '42');
});

test('the hook chooses the subprotocol with Sec-WebSocket-Protocol; none chosen is none', T, async (t) => {
  const s = await serveWs(t, (app) => {
    app.ws('/proto', {
      upgrade(req, res) {
        const offered = (req.get('sec-websocket-protocol') || '').split(',').map((p) => p.trim());
        if (offered.includes('chat.v2')) res.setHeader('Sec-WebSocket-Protocol', 'chat.v2');
      },
      open(ws) {
        ws.send(`protocol=${ws.protocol}`);
      },
    });
  });
  const chosen = await connect(url(s, '/proto'), { protocols: ['chat.v1', 'chat.v2'] });
  t.after(() => chosen.terminate());
  assert.equal(chosen.ws.protocol, 'chat.v2', 'the client sees the chosen subprotocol');
  assert.equal((await chosen.next()).text, 'protocol=chat.v2');

  // Declined (RFC 6455 §4.2.2 lets the server choose none): a raw client, since the `ws` client
  // refuses a server that chose none of the protocols it offered.
  const declined = await RawWs.open(s.port, '/proto', { headers: { 'Sec-WebSocket-Protocol': 'other, another' } });
  t.after(() => declined.destroy());
  assert.equal(declined.response.headers['sec-websocket-protocol'], undefined, 'no subprotocol when the hook chose none');
  assert.equal((await declined.nextMessage()).text, 'protocol=');

  const none = await connect(url(s, '/proto'));
  t.after(() => none.terminate());
  assert.equal(none.ws.protocol, '');
  assert.equal((await none.next()).text, 'protocol=');
});

test('Origin is visible to the hook, which can refuse an origin with 403', T, async (t) => {
  const origins = [];
  const s = await serveWs(t, (app) => {
    app.ws('/o', {
      upgrade(req, res) {
        origins.push(req.get('origin'));
        if (req.get('origin') !== 'https://good.example') return res.status(403).send('origin not allowed');
        return { origin: req.headers.origin };
      },
      open(ws) {
        ws.send(ws.data.origin);
      },
    });
  });
  const good = await connect(url(s, '/o'), { origin: 'https://good.example' });
  t.after(() => good.terminate());
  assert.equal((await good.next()).text, 'https://good.example');

  const err = await connect(url(s, '/o'), { origin: 'https://evil.example' }).then(
    () => assert.fail('the upgrade from a refused origin opened'),
    (e) => e,
  );
  assert.equal(err.status, 403, err.message);
  assert.equal(err.body, 'origin not allowed');
  assert.deepEqual(origins, ['https://good.example', 'https://evil.example']);
});

test('a hook answering 401 rejects the upgrade: the client sees 401 and no socket opens', T, async (t) => {
  let opened = 0;
  const s = await serveWs(t, (app) => {
    withRoot(app);
    app.ws('/private', {
      upgrade(req, res) {
        if (req.get('authorization') !== 'Bearer ok') return res.status(401).set('WWW-Authenticate', 'Bearer').end();
        return {};
      },
      open(ws) {
        opened++;
        ws.send('welcome');
      },
    });
  });
  const err = await connect(url(s, '/private')).then(
    () => assert.fail('opened without credentials'),
    (e) => e,
  );
  assert.equal(err.status, 401, err.message);
  assert.equal(err.headers['www-authenticate'], 'Bearer');
  assert.equal(opened, 0, 'open did not run for a rejected upgrade');

  const ok = await connect(url(s, '/private'), { headers: { Authorization: 'Bearer ok' } });
  t.after(() => ok.terminate());
  assert.equal((await ok.next()).text, 'welcome');
  assert.equal(opened, 1);
  await assertStillServes(s.port);
});

test('a throwing upgrade hook, sync or async, answers 500 and the server goes on', T, async (t) => {
  const s = await serveWs(t, (app) => {
    withRoot(app);
    app.ws('/sync', {
      upgrade() {
        throw new Error('hook failed');
      },
      open: () => assert.fail('open after a failed hook'),
    });
    app.ws('/async', {
      async upgrade() {
        await new Promise((r) => setImmediate(r));
        throw new Error('async hook failed');
      },
      open: () => assert.fail('open after a failed hook'),
    });
    app.ws('/fine', { open: (ws) => ws.send('fine') });
  });
  for (const path of ['/sync', '/async']) {
    const err = await connect(url(s, path)).then(
      () => assert.fail(`${path} opened`),
      (e) => e,
    );
    assert.equal(err.status, 500, `${path}: ${err.message}`);
    assert.ok(!err.body.includes('failed'), 'the error message is not shown to the client');
  }
  const fine = await connect(url(s, '/fine'));
  t.after(() => fine.terminate());
  assert.equal((await fine.next()).text, 'fine');
  await assertStillServes(s.port);
});

test('app.use middleware runs before the upgrade, and can answer in its place', T, async (t) => {
  const order = [];
  const s = await serveWs(t, (app) => {
    app.use((req, res, next) => {
      order.push(`mw ${req.path}`);
      if (req.get('x-block') === '1') return res.status(429).send('slow down');
      req.user = 'from-middleware';
      next();
    });
    app.ws('/mw', {
      upgrade(req) {
        order.push('upgrade');
        return { user: req.user };
      },
      open(ws) {
        order.push('open');
        ws.send(ws.data.user);
      },
    });
  });
  const peer = await connect(url(s, '/mw'));
  t.after(() => peer.terminate());
  assert.equal((await peer.next()).text, 'from-middleware');
  assert.deepEqual(order, ['mw /mw', 'upgrade', 'open']);

  order.length = 0;
  const err = await connect(url(s, '/mw'), { headers: { 'X-Block': '1' } }).then(
    () => assert.fail('opened although the middleware answered'),
    (e) => e,
  );
  assert.equal(err.status, 429);
  assert.equal(err.body, 'slow down');
  assert.deepEqual(order, ['mw /mw'], 'neither the hook nor open ran');
});

test('a ws route and HTTP routes live side by side; an HTTP GET to another path still works', T, async (t) => {
  const s = await serveWs(t, (app) => {
    app.get('/http', (req, res) => res.json({ ok: true }));
    app.ws('/ws', { open: (ws) => ws.send('ws') });
  });
  const peer = await connect(url(s, '/ws'));
  t.after(() => peer.terminate());
  assert.equal((await peer.next()).text, 'ws');
  const res = await request(s.base, '/http');
  assert.deepEqual(await res.json(), { ok: true });
});

test('app.ws checks its handlers and options at registration, with coded errors', () => {
  const { createApp } = require('..');
  const app = createApp();
  const bad = [
    [{ message: 'not a function' }, undefined],
    [{ mesage() {} }, undefined],
    [{}, { maxPayload: 0 }],
    [{}, { maxPayload: 2 ** 31 }],
    [{}, { idleTimeout: -1 }],
    [{}, { idleTimeout: 1.5 }],
    [{}, { compression: 'yes' }],
    [{}, { maxBackpressure: -1 }],
    [{}, { closeOnBackpressureLimit: 'no' }],
    [{}, { unknownOption: 1 }],
  ];
  for (const [handlers, options] of bad) {
    assert.throws(
      () => app.ws('/x', handlers, options),
      (err) => typeof err.code === 'string' && err.code.startsWith('HN_ERR_'),
      `app.ws('/x', ${JSON.stringify(Object.keys(handlers))}, ${JSON.stringify(options)})`,
    );
  }
  // Every documented value is taken.
  app.ws('/ok', {}, { maxPayload: 1, idleTimeout: 0, compression: 'dedicated', maxBackpressure: 0, closeOnBackpressureLimit: true, sendPingsAutomatically: false });
});
