'use strict';
// Certificates for the TLS and HTTP/2 tests, made fresh by the `openssl` CLI into a temp dir once
// per test process (nothing secret is committed, and nothing expires in the repository): a CA, a
// server certificate for localhost and 127.0.0.1 signed by it, a renewed one (for
// setSecureContext), one for an SNI name and one for a wildcard SNI name, a client certificate
// signed by the CA and one signed by a CA the server does not know, and the server key encrypted
// with a passphrase. Without openssl, `certs.skip` is the reason (node:test's `skip`).
const { execFileSync, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// Long enough for any test run, short enough that a leaked file is useless.
const VALID_DAYS = 2;
const PASSPHRASE = 'correct horse battery staple';
// Names the SNI tests ask for: one exact, one under a wildcard; neither resolves, the client only
// sends them in its ClientHello.
const SNI_NAME = 'other.test';
const WILDCARD_SNI = '*.wild.test';

const skip = (() => {
  const r = spawnSync('openssl', ['version'], { stdio: 'ignore' });
  if (r.error || r.status !== 0) {
    return 'the openssl CLI is not installed (Debian package `openssl`, installed by .ci/run): it generates the test certificates';
  }
  return false;
})();
if (skip) console.log(`# TLS tests skipped: ${skip}`);

let made;
let dir;

function openssl(args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

// A P-256 key (fast to make; every client here speaks ECDSA) in PKCS#8 PEM.
function key(name) {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`]);
}

// A certificate for `name`'s key signed by `ca`, with the X.509v3 extensions webpki (rustls) and
// browsers require of an end-entity certificate: a SAN, not a CA, the right extended key usage.
function issue(name, { cn, san, usage, ca }) {
  key(name);
  openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`]);
  const ext = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', `extendedKeyUsage=${usage}`];
  if (san) ext.push(`subjectAltName=${san}`);
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext.join('\n') + '\n');
  openssl([
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-set_serial',
    String(crypto.randomInt(1, 2 ** 47)), '-days', String(VALID_DAYS), '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`,
  ]);
}

function authority(name, cn) {
  key(name);
  openssl([
    'req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-days', String(VALID_DAYS), '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', `${name}.crt`,
  ]);
}

const read = (name) => fs.readFileSync(path.join(dir, name), 'utf8');
const pair = (name) => ({ key: read(`${name}.key`), cert: read(`${name}.crt`) });

// The base64 SHA-256 of a certificate's SubjectPublicKeyInfo: what Chromium's
// --ignore-certificate-errors-spki-list takes.
function spkiHash(certPem) {
  const spki = new crypto.X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(spki).digest('base64');
}

// Everything, made on first use: { dir, caFile, ca, server, renewed, sni, wildcard, client,
// strangerClient, encryptedKey, passphrase }; each pair is { key, cert } PEM strings.
function certs() {
  if (skip) throw new Error(skip);
  if (made) return made;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-tls-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  authority('ca', 'http-native test CA');
  authority('stranger-ca', 'a CA the server does not trust');
  const local = 'DNS:localhost,IP:127.0.0.1';
  issue('server', { cn: 'localhost', san: local, usage: 'serverAuth', ca: 'ca' });
  issue('renewed', { cn: 'localhost renewed', san: local, usage: 'serverAuth', ca: 'ca' });
  issue('sni', { cn: SNI_NAME, san: `DNS:${SNI_NAME}`, usage: 'serverAuth', ca: 'ca' });
  issue('wildcard', { cn: WILDCARD_SNI, san: `DNS:${WILDCARD_SNI}`, usage: 'serverAuth', ca: 'ca' });
  issue('client', { cn: 'test-client', usage: 'clientAuth', ca: 'ca' });
  issue('stranger', { cn: 'stranger-client', usage: 'clientAuth', ca: 'stranger-ca' });
  openssl(['pkcs8', '-topk8', '-in', 'server.key', '-v2', 'aes-256-cbc', '-passout', `pass:${PASSPHRASE}`, '-out', 'server.enc.key']);
  made = {
    dir,
    caFile: path.join(dir, 'ca.crt'),
    ca: read('ca.crt'),
    server: pair('server'),
    renewed: pair('renewed'),
    sni: pair('sni'),
    wildcard: pair('wildcard'),
    client: pair('client'),
    strangerClient: pair('stranger'),
    encryptedKey: read('server.enc.key'),
    passphrase: PASSPHRASE,
  };
  return made;
}

module.exports = { certs, skip, spkiHash, SNI_NAME, WILDCARD_SNI };
