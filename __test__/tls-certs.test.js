'use strict';
// TLS certificates and options: a passphrase-protected key; a wrong passphrase, a key that does
// not match its certificate, garbage PEM and an older minVersion refused by listen(); minVersion
// TLSv1.3 refusing a TLS 1.2 client (and the default taking both); SNI picking a certificate by
// exact and wildcard name; setSecureContext() replacing the certificate for new handshakes while
// open connections go on; client certificates (mTLS), required and optional.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const { X509Certificate } = require('node:crypto');
const https = require('node:https');
const { certs, skip, SNI_NAME } = require('./support/tls-certs');
const { serveTls, h1Request, tlsConnect } = require('./support/tls-client');
const { routes } = require('./support/tls-app');
const { RawClient, buildRequest, start, withRoot } = require('./helpers');

const T = { timeout: 60000, skip };

const cnOf = (socket) => socket.getPeerCertificate().subject.CN;

// listen() with these tls options must reject with `code`, its message matching `message`.
async function assertListenRejects(tls, code, message) {
  await assert.rejects(
    start(withRoot, { listenOptions: { tls } }).then(async (s) => {
      await s.close();
      throw new Error('listen() accepted it');
    }),
    (err) => {
      assert.equal(err.code, code, `${err.code}: ${err.message}`);
      if (message) assert.match(err.message, message);
      return true;
    },
  );
}

test('a passphrase-protected key works', T, async (t) => {
  const c = certs();
  const s = await serveTls(t, (app) => routes(app), { tls: { key: c.encryptedKey, passphrase: c.passphrase, cert: c.server.cert } });
  const res = await h1Request(s.origin, '/json');
  assert.deepEqual(res.json(), { hello: 'world', n: 42 });
  assert.equal(cnOf(res.socket), 'localhost');
  // Buffers are PEM too.
  const b = await serveTls(t, (app) => routes(app), { tls: { key: Buffer.from(c.server.key), cert: Buffer.from(c.server.cert) } });
  assert.equal((await h1Request(b.origin, '/')).text, 'ok');
});

test('listen() rejects a wrong passphrase, a key not matching its certificate and garbage PEM (HN_ERR_TLS), and bad options (HN_ERR_BAD_OPTION)', T, async () => {
  const c = certs();
  await assertListenRejects({ key: c.encryptedKey, passphrase: 'wrong', cert: c.server.cert }, 'HN_ERR_TLS');
  await assertListenRejects({ key: c.encryptedKey, cert: c.server.cert }, 'HN_ERR_TLS');
  await assertListenRejects({ key: c.sni.key, cert: c.server.cert }, 'HN_ERR_TLS');
  await assertListenRejects({ key: 'not a pem', cert: c.server.cert }, 'HN_ERR_TLS');
  await assertListenRejects({ key: c.server.key, cert: '-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n' }, 'HN_ERR_TLS');
  await assertListenRejects({ key: c.server.key, cert: c.server.cert, sni: { [SNI_NAME]: { key: c.server.key, cert: c.sni.cert } } }, 'HN_ERR_TLS');
  await assertListenRejects({ key: c.server.key, cert: c.server.cert, minVersion: 'TLSv1.1' }, 'HN_ERR_BAD_OPTION');
  await assertListenRejects({ key: c.server.key }, 'HN_ERR_BAD_OPTION');
  await assertListenRejects({ key: c.server.key, cert: c.server.cert, requestCert: true }, 'HN_ERR_BAD_OPTION');
  await assertListenRejects({ key: c.server.key, cert: c.server.cert, ciphers: 'ALL' }, 'HN_ERR_BAD_OPTION');
});

test('minVersion TLSv1.3 refuses a TLS 1.2-only client; the default serves TLS 1.2 and 1.3', T, async (t) => {
  const strict = await serveTls(t, withRoot, { tls: { minVersion: 'TLSv1.3' } });
  await assert.rejects(tlsConnect(strict.port, { maxVersion: 'TLSv1.2', servername: 'localhost' }));
  const v13 = await tlsConnect(strict.port, { servername: 'localhost' });
  assert.equal(v13.getProtocol(), 'TLSv1.3');
  const open = await serveTls(t, withRoot);
  for (const [version, options] of [
    ['TLSv1.2', { maxVersion: 'TLSv1.2' }],
    ['TLSv1.3', { minVersion: 'TLSv1.3' }],
  ]) {
    const socket = await tlsConnect(open.port, { servername: 'localhost', ...options });
    assert.equal(socket.getProtocol(), version);
    const c = new RawClient(socket);
    await c.write(buildRequest('GET', '/'));
    assert.equal((await c.readResponse()).text, 'ok', `served over ${version}`);
    c.destroy();
  }
  // The refused client cost the server nothing else.
  assert.equal((await h1Request(strict.origin, '/')).text, 'ok');
});

test('SNI picks the certificate by exact and wildcard name; other names get the default', T, async (t) => {
  const c = certs();
  const s = await serveTls(t, withRoot, { tls: { sni: { [SNI_NAME]: c.sni, '*.wild.test': c.wildcard } } });
  const cases = [
    [SNI_NAME, SNI_NAME],
    ['a.wild.test', '*.wild.test'],
    ['localhost', 'localhost'],
    ['unknown.test', 'localhost'],
  ];
  for (const [servername, cn] of cases) {
    // The default certificate is not valid for an unknown name: check the chain, not the name.
    const socket = await tlsConnect(s.port, { servername, checkServerIdentity: () => undefined });
    assert.equal(cnOf(socket), cn, `servername ${servername}`);
    assert.ok(socket.authorized, `${servername}: the certificate verifies against the CA`);
    const client = new RawClient(socket);
    await client.write(buildRequest('GET', '/', { host: servername }));
    assert.equal((await client.readResponse()).text, 'ok');
    client.destroy();
  }
  // node's https client with the name verified the normal way.
  const res = await h1Request(s.origin, '/', { tls: { servername: SNI_NAME } });
  assert.equal(res.text, 'ok');
  assert.equal(cnOf(res.socket), SNI_NAME);
});

test('setSecureContext(): new connections get the new certificate, an open keep-alive one goes on', T, async (t) => {
  const c = certs();
  const s = await serveTls(t, (app) => routes(app));
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const first = await h1Request(s.origin, '/id/1', { agent });
  assert.equal(cnOf(first.socket), 'localhost');
  const kept = first.socket;

  s.server.setSecureContext({ key: c.renewed.key, cert: c.renewed.cert });
  const fresh = await h1Request(s.origin, '/id/2');
  assert.equal(cnOf(fresh.socket), 'localhost renewed', 'a new connection sees the new certificate');
  assert.deepEqual(fresh.json(), { n: 2 });

  const again = await h1Request(s.origin, '/id/3', { agent });
  assert.equal(again.socket, kept, 'the keep-alive connection was reused');
  assert.deepEqual(again.json(), { n: 3 });
  assert.equal(cnOf(again.socket), 'localhost', 'it keeps the certificate it was opened with');

  // A bad context is refused and the one in use stays.
  assert.throws(() => s.server.setSecureContext({ key: c.sni.key, cert: c.renewed.cert }), { code: 'HN_ERR_TLS' });
  assert.equal(cnOf((await h1Request(s.origin, '/')).socket), 'localhost renewed');
});

test('mTLS required: no client certificate or an unknown CA is refused; a verified one reaches req', T, async (t) => {
  const c = certs();
  const s = await serveTls(t, (app) => routes(app), { tls: { requestCert: true, ca: c.ca } });
  const res = await h1Request(s.origin, '/info', { tls: { key: c.client.key, cert: c.client.cert } });
  assert.equal(res.status, 200);
  const info = res.json();
  assert.equal(info.hasClientCertificate, true);
  assert.equal(info.isX509, true, 'req.clientCertificate is a node:crypto X509Certificate');
  assert.match(info.clientSubject, /CN=test-client/);
  // In TLS 1.3 the client finishes its side before the server checks the certificate, so a refusal
  // arrives as an alert on the first read: either way, no answer.
  await assert.rejects(h1Request(s.origin, '/info'), 'no certificate: refused');
  await assert.rejects(h1Request(s.origin, '/info', { tls: { key: c.strangerClient.key, cert: c.strangerClient.cert } }), 'an unknown CA: refused');
  await assert.rejects(h1Request(s.origin, '/info', { tls: { maxVersion: 'TLSv1.2' } }), 'no certificate over TLS 1.2: refused');
  // Refusals cost nobody else.
  const after = await h1Request(s.origin, '/info', { tls: { key: c.client.key, cert: c.client.cert, maxVersion: 'TLSv1.2' } });
  assert.match(after.json().clientSubject, /CN=test-client/);
  assert.equal(new X509Certificate(c.client.cert).subject, after.json().clientSubject);
});

test('mTLS optional (rejectUnauthorized: false): served without a certificate, a sent one must verify', T, async (t) => {
  const c = certs();
  const s = await serveTls(t, (app) => routes(app), { tls: { requestCert: true, rejectUnauthorized: false, ca: c.ca } });
  const anonymous = await h1Request(s.origin, '/info');
  assert.equal(anonymous.status, 200);
  assert.equal(anonymous.json().hasClientCertificate, false, 'req.clientCertificate is undefined');
  const known = await h1Request(s.origin, '/info', { tls: { key: c.client.key, cert: c.client.cert } });
  assert.match(known.json().clientSubject, /CN=test-client/);
  await assert.rejects(h1Request(s.origin, '/info', { tls: { key: c.strangerClient.key, cert: c.strangerClient.cert } }), 'a certificate from an unknown CA is refused');
  // Without requestCert no certificate is asked for, even from a client that has one.
  const plain = await serveTls(t, (app) => routes(app));
  const unasked = await h1Request(plain.origin, '/info', { tls: { key: c.client.key, cert: c.client.cert } });
  assert.equal(unasked.json().hasClientCertificate, false);
});
