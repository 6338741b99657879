'use strict';
// HTTP/1.1 semantics the app relies on, as they map onto HTTP/2 (RFC 9113 §8), on h2c and over
// TLS: :authority is the Host, cookie crumbs are joined with "; ", the app sees no header the client
// did not send; what ends a connection on HTTP/1.1 ends only a stream on HTTP/2 (a handler's
// Connection: close, an error after the head went out, res.destroy(), a body over bodyLimit); a
// stream the client resets aborts req.signal; an app.ws route answers an HTTP/2 request with an error; server.close() sends GOAWAY to an idle
// session and lets an in-flight stream finish.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const { skip } = require('./support/tls-certs');
const { serveTls, h2Connect, h2Request } = require('./support/tls-client');
const f = require('./support/tls-h2frames');
const { deferred, waitUntil, withTimeout } = require('./helpers');

const T = { timeout: 60000, skip };
const MODES = [
  ['h2c', { tls: false, http2: true }],
  ['h2 over TLS', {}],
];
// Bounds only a failure: a session the server never tells to go away.
const GOAWAY_WAIT_MS = 15000;
const BODY_LIMIT = 1000;

function routes(app, hold) {
  app.get('/', (req, res) => res.send('ok'));
  app.get('/headers', (req, res) => res.json(req.headers));
  app.get('/close', (req, res) => {
    res.set('Connection', 'close');
    res.send('closing');
  });
  app.get('/throw-mid', async (req, res) => {
    res.write('part');
    await new Promise((resolve) => setImmediate(resolve));
    throw new Error('after the head');
  });
  app.get('/destroy-mid', async (req, res) => {
    res.write('part');
    await new Promise((resolve) => setImmediate(resolve));
    res.destroy();
  });
  app.get('/held', async (req, res) => {
    hold.entered.resolve();
    await hold.release.promise;
    res.send('held answer');
  });
  app.get('/until-gone', (req, res) => {
    hold.entered.resolve();
    req.signal.addEventListener('abort', () => hold.gone.resolve(req.signal.reason && req.signal.reason.code));
  });
  app.post('/small', { bodyLimit: BODY_LIMIT }, (req, res) => res.json({ length: req.body.length }));
  app.ws('/ws', { message: (ws, data) => ws.send(data) });
}

const newHold = () => ({ entered: deferred(), release: deferred(), gone: deferred() });

for (const [mode, options] of MODES) {
  test(`${mode}: :authority is the Host, cookie crumbs are joined, no header the client did not send`, T, async (t) => {
    const s = await serveTls(t, (app) => routes(app, newHold()), options);
    const session = await h2Connect(t, s.origin);
    const seen = (await h2Request(session, { ':path': '/headers', cookie: 'a=1', 'x-custom': 'yes' })).json();
    assert.deepEqual(seen, { host: `127.0.0.1:${s.port}`, cookie: 'a=1', 'x-custom': 'yes' });
    if (options.tls === false) {
      // Cookie crumbs as separate fields (RFC 9113 §8.2.3), sent by hand: one header for the app.
      const conn = await f.H2Conn.open(s.port);
      const block = Buffer.concat([f.requestBlock({ path: '/headers', authority: 'example.test' }), f.literal('cookie', 'a=1'), f.literal('cookie', 'b=2')]);
      await conn.write(f.headers(1, block));
      const res = await conn.response(1);
      assert.deepEqual(JSON.parse(res.body), { host: 'example.test', cookie: 'a=1; b=2' });
      conn.destroy();
    }
  });

  test(`${mode}: Connection: close, an error after the head, res.destroy() and bodyLimit end only their stream`, T, async (t) => {
    const hold = newHold();
    const s = await serveTls(t, (app) => routes(app, hold), options);
    const session = await h2Connect(t, s.origin);
    // A stream in flight the whole time: none of the below may take it down.
    const held = h2Request(session, { ':path': '/held' });
    await hold.entered.promise;

    const closing = await h2Request(session, { ':path': '/close' });
    assert.equal(closing.text, 'closing');
    assert.equal(closing.headers.connection, undefined);
    await assert.rejects(h2Request(session, { ':path': '/throw-mid' }), /reset|closed|error/i, 'an error after the head resets the stream');
    await assert.rejects(h2Request(session, { ':path': '/destroy-mid' }), /reset|closed|error/i, 'res.destroy() resets the stream');
    const tooBig = await h2Request(session, { ':method': 'POST', ':path': '/small', 'content-type': 'text/plain' }, { body: 'x'.repeat(BODY_LIMIT * 5) });
    assert.equal(tooBig.status, 413);
    const fits = await h2Request(session, { ':method': 'POST', ':path': '/small', 'content-type': 'text/plain' }, { body: 'x'.repeat(BODY_LIMIT) });
    assert.deepEqual(fits.json(), { length: BODY_LIMIT });

    assert.equal(session.closed || session.destroyed, false, 'the session is still open');
    hold.release.resolve();
    assert.equal((await held).text, 'held answer', 'the stream in flight was answered');
    assert.equal((await h2Request(session, { ':path': '/' })).text, 'ok');
    assert.equal(s.server.stats().h2.connections, 1, 'all of it on one connection');
  });

  test(`${mode}: a stream the client resets aborts req.signal; the session goes on`, T, async (t) => {
    const hold = newHold();
    const s = await serveTls(t, (app) => routes(app, hold), options);
    const session = await h2Connect(t, s.origin);
    const stream = session.request({ ':path': '/until-gone' });
    stream.on('error', () => {});
    await hold.entered.promise;
    stream.close(0x8); // CANCEL, as a browser does for an abandoned fetch
    assert.equal(await withTimeout(hold.gone.promise, GOAWAY_WAIT_MS, 'req.signal to abort'), 'HN_ERR_CLIENT_GONE');
    assert.equal((await h2Request(session, { ':path': '/' })).text, 'ok');
  });

  test(`${mode}: an app.ws route asked over HTTP/2 gets an error answer (no RFC 8441), the session goes on`, T, async (t) => {
    const s = await serveTls(t, (app) => routes(app, newHold()), options);
    const session = await h2Connect(t, s.origin);
    const res = await h2Request(session, { ':path': '/ws', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' });
    assert.ok(res.status >= 400 && res.status < 500, `answered ${res.status}`);
    assert.equal((await h2Request(session, { ':path': '/' })).text, 'ok');
  });

  test(`${mode}: server.close() sends GOAWAY to an idle session and lets an in-flight stream finish`, T, async (t) => {
    const hold = newHold();
    const s = await serveTls(t, (app) => routes(app, hold), options);
    const idle = await h2Connect(t, s.origin);
    assert.equal((await h2Request(idle, { ':path': '/' })).text, 'ok');
    const busy = await h2Connect(t, s.origin);
    const held = h2Request(busy, { ':path': '/held' });
    await hold.entered.promise;

    const goaways = [];
    for (const session of [idle, busy]) session.on('goaway', (code) => goaways.push(code));
    const closed = s.server.close({ timeout: 30000 });
    await waitUntil(() => idle.closed || idle.destroyed || goaways.length > 0, { timeout: GOAWAY_WAIT_MS, what: 'the idle session to be told to go away' });
    hold.release.resolve();
    assert.equal((await held).text, 'held answer', 'the in-flight stream was answered');
    await withTimeout(closed, GOAWAY_WAIT_MS, 'server.close() once the in-flight stream is done');
    assert.ok(goaways.every((code) => code === 0), `GOAWAY codes: ${goaways.join(', ')} (NO_ERROR expected)`);
  });
}
