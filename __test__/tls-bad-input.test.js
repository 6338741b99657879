'use strict';
// Bad input on a TLS port: a plain-HTTP request (answered 400 "This port speaks HTTPS", then
// closed), bytes that are not TLS, a ClientHello cut short and a client that stops after its
// ClientHello (closed after handshakeTimeout), a record cut off mid-request, a TLS 1.2
// renegotiation attempt from openssl s_client, and a crowd of handshakes at once. Every case ends
// with the server still answering others.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { certs, skip } = require('./support/tls-certs');
const { serveTls, h1Request, tlsConnect, tlsByHand } = require('./support/tls-client');
const { routes } = require('./support/tls-app');
const { RawClient, buildRequest, waitUntil, withTimeout } = require('./helpers');

const T = { timeout: 60000, skip };
// Low, so a test waits little; what is asserted is that the connection closes, not when.
const HANDSHAKE_TIMEOUT_MS = 300;
// Bounds only a failure: a connection the server never closes.
const CLOSE_WAIT_MS = 15000;
// Handshakes started together: enough to queue work on the server thread, few enough for a
// shared 2-core machine.
const CROWD = 48;

async function assertServes(s, what) {
  const res = await h1Request(s.origin, '/json');
  assert.deepEqual(res.json(), { hello: 'world', n: 42 }, `still served after ${what}`);
}

// A start of a ClientHello: a handshake record header announcing 512 bytes, then only its first few.
const PARTIAL_CLIENT_HELLO = Buffer.from('160301020001' + '0001fc0303' + '00'.repeat(16), 'hex');

test('a plain-HTTP request to the TLS port gets 400 "This port speaks HTTPS", then the connection closes', T, async (t) => {
  const s = await serveTls(t, (app) => routes(app));
  const c = await RawClient.connect(s.port);
  await c.write(buildRequest('GET', '/json'));
  const res = await c.readResponse();
  assert.equal(res.status, 400);
  assert.match(res.text, /This port speaks HTTPS/);
  await c.waitForClose(CLOSE_WAIT_MS);
  c.destroy();
  // A POST with a body, too: answered the same and closed (its body is never taken as a request).
  const post = await RawClient.connect(s.port);
  await post.write(buildRequest('POST', '/echo', { headers: { 'content-type': 'application/json' }, body: '{"a":1}' }));
  assert.equal((await post.readResponse()).status, 400);
  await post.waitForClose(CLOSE_WAIT_MS);
  post.destroy();
  await assertServes(s, 'plain HTTP on the TLS port');
});

test('bytes that are not TLS: the connection is closed and the server goes on', T, async (t) => {
  const s = await serveTls(t, (app) => routes(app));
  const garbage = [
    Buffer.from([0x00, 0xff, 0x13, 0x37, ...Array.from({ length: 500 }, (_, i) => (i * 97 + 13) & 255)]),
    // A handshake record header followed by bytes that are no ClientHello.
    Buffer.concat([Buffer.from('1603010040', 'hex'), Buffer.alloc(64, 0xee)]),
    // A record type that does not exist.
    Buffer.concat([Buffer.from('7f03030010', 'hex'), Buffer.alloc(16, 1)]),
    // An HTTP/2 connection preface: no TLS, no HTTP/1.1.
    Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  ];
  for (const bytes of garbage) {
    const c = await RawClient.connect(s.port);
    await c.write(bytes);
    await c.waitForClose(CLOSE_WAIT_MS);
    assert.ok(!/^HTTP\/1\.1 200/.test(c.leftover.toString('latin1')), 'no successful answer to garbage');
    c.destroy();
  }
  await assertServes(s, 'garbage');
});

test('a ClientHello cut short, or a client that stops after its ClientHello, is closed after handshakeTimeout', T, async (t) => {
  const s = await serveTls(t, (app) => routes(app), { tls: { handshakeTimeout: HANDSHAKE_TIMEOUT_MS } });
  const partial = await RawClient.connect(s.port);
  await partial.write(PARTIAL_CLIENT_HELLO);
  // The stalled client holds no one up while it waits.
  await assertServes(s, 'a stalled ClientHello (while it is open)');
  await partial.waitForClose(CLOSE_WAIT_MS);
  partial.destroy();

  // A whole ClientHello, then silence: the server has sent its flight and waits for the client's.
  const quiet = tlsByHand(s.port, { hold: true });
  quiet.raw.write(await quiet.take());
  await quiet.closed(CLOSE_WAIT_MS);
  await assertServes(s, 'a client that stopped mid-handshake');
  assert.ok(s.server.stats().tls.failures >= 2, `the timed-out handshakes are counted as failures: ${JSON.stringify(s.server.stats().tls)}`);
});

test('a record cut off mid-request: the connection closes, the request never runs, others are served', T, async (t) => {
  let runs = 0;
  const s = await serveTls(t, (app) => {
    routes(app);
    app.post('/count', (req, res) => {
      runs++;
      res.json({ runs });
    });
  });
  const c = tlsByHand(s.port);
  await withTimeout(new Promise((resolve) => c.secure.once('secureConnect', resolve)), 5000, 'the handshake');
  c.hold();
  c.secure.write(buildRequest('POST', '/count', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(2000) }) }));
  const record = await c.take();
  assert.ok(record.length > 100, `the request is one record of ${record.length} bytes`);
  c.raw.write(record.subarray(0, Math.floor(record.length / 2)));
  c.raw.end();
  await c.closed(CLOSE_WAIT_MS);
  await assertServes(s, 'a truncated record');
  // The same request sent whole does run: the route was reachable.
  const whole = await h1Request(s.origin, '/count', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.deepEqual(whole.json(), { runs: 1 }, 'the cut-off request never ran');
});

// openssl s_client over TLS 1.2; resolves { out, err, code } when it exits. Its "R" command asks
// for a renegotiation; the line after it is an HTTP request on the renegotiated session.
function renegotiate(port) {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-CAfile', certs().caFile, '-servername', 'localhost', '-crlf'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  child.stdin.on('error', () => {});
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    out: () => out,
    err: () => err,
    exited,
    async run() {
      await waitUntil(() => /Verify return code: 0/.test(out), { timeout: 10000, what: `the s_client handshake; stderr: ${err}` });
      child.stdin.write('R\n');
      await waitUntil(() => /RENEGOTIATING/.test(err + out), { timeout: 10000, what: 's_client to start renegotiating' });
      child.stdin.write('GET /json HTTP/1.1\nHost: localhost\nConnection: close\n\n');
    },
  };
}

test('TLS 1.2 renegotiation (openssl s_client "R") is refused; the server goes on serving', T, async (t) => {
  const s = await serveTls(t, (app) => routes(app));
  const client = renegotiate(s.port);
  t.after(() => client.child.kill('SIGKILL'));
  await client.run();
  const ended = await withTimeout(client.exited, CLOSE_WAIT_MS, 's_client to exit').catch(() => null);
  const transcript = `stdout:\n${client.out()}\nstderr:\n${client.err()}`;
  assert.notEqual(ended, null, `the connection did not end after a refused renegotiation:\n${transcript}`);
  const afterR = client.out().split('RENEGOTIATING').pop();
  assert.ok(!/HTTP\/1\.1 200/.test(afterR), `a request was served on a renegotiated session:\n${transcript}`);
  await assertServes(s, 'a renegotiation attempt');
});

test('many handshakes at once: every client is answered, an open connection is not held up', T, async (t) => {
  const s = await serveTls(t, (app) => routes(app));
  const open = new RawClient(await tlsConnect(s.port, { servername: 'localhost' }));
  const crowd = Array.from({ length: CROWD }, (_, i) => h1Request(s.origin, `/id/${i}`));
  await open.write(buildRequest('GET', '/id/-1'));
  assert.deepEqual((await open.readResponse()).json(), { n: -1 });
  const answers = await Promise.all(crowd);
  answers.forEach((res, i) => assert.deepEqual(res.json(), { n: i }));
  await open.write(buildRequest('GET', '/id/-2'));
  assert.deepEqual((await open.readResponse()).json(), { n: -2 });
  open.destroy();
  assert.ok(s.server.stats().tls.handshakes >= CROWD + 1, `handshakes counted: ${JSON.stringify(s.server.stats().tls)}`);
});
