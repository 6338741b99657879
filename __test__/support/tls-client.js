'use strict';
// Servers and clients for the TLS and HTTP/2 tests: a server started with the test certificates
// (closed after the test, once the test's clients are gone: close() would wait on an open h2
// session or keep-alive socket), node's https, tls and http2 clients reduced to a promise of the
// whole answer, and the external clients (curl, h2load, python httpx, openssl s_client) with the
// reason each test skips when one is missing.
const assert = require('node:assert/strict');
const { execFile, spawnSync } = require('node:child_process');
const http = require('node:http');
const http2 = require('node:http2');
const https = require('node:https');
const net = require('node:net');
const { Duplex } = require('node:stream');
const tls = require('node:tls');
const zlib = require('node:zlib');
const { start, withTimeout, waitUntil, DEFAULT_TIMEOUT } = require('../helpers');
const { certs } = require('./tls-certs');

// Sockets and sessions the current tests opened; destroyed before their server closes.
const opened = new Set();
function track(x) {
  opened.add(x);
  x.once('close', () => opened.delete(x));
  return x;
}
function destroyAll() {
  for (const x of opened) x.destroy();
  opened.clear();
}

// Starts `setup`'s app with `tls` (the server certificate unless the test gives its own key and
// cert; `tls: false` for plain TCP) and `http2` when given. Returns helpers.start()'s object with
// `base` the https:// origin (or http://) and `origin` the same.
async function serveTls(t, setup, { tls: tlsOptions = {}, http2: h2, appOptions, listenOptions = {} } = {}) {
  const listen = { ...listenOptions };
  if (tlsOptions !== false) listen.tls = { key: certs().server.key, cert: certs().server.cert, ...tlsOptions };
  if (h2 !== undefined) listen.http2 = h2;
  const s = await start(setup, { appOptions, listenOptions: listen });
  t.after(async () => {
    destroyAll();
    await s.close();
  });
  const scheme = tlsOptions === false ? 'http' : 'https';
  return { ...s, base: `${scheme}://127.0.0.1:${s.port}`, origin: `${scheme}://127.0.0.1:${s.port}` };
}

// A TLS connection to 127.0.0.1:port that trusts the test CA; resolves once the handshake is done
// (rejects with the handshake's error). `options` go to tls.connect (servername, cert, key,
// minVersion, maxVersion, ALPNProtocols...).
function tlsConnect(port, options = {}) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const socket = track(tls.connect({ host: '127.0.0.1', port, ca: certs().ca, ...options }));
      socket.once('secureConnect', () => {
        socket.removeListener('error', reject);
        resolve(socket);
      });
      socket.once('error', reject);
    }),
    DEFAULT_TIMEOUT,
    `TLS handshake with 127.0.0.1:${port}`,
  );
}

// A TLS client whose encrypted bytes pass through the test's hands: `raw` is the TCP socket and
// `secure` the TLSSocket running over it. While holding (from the start with `{ hold: true }`, or
// after hold()), what TLS writes is kept instead of sent; take() returns it, so a test can send a
// ClientHello and stop, or send half a record.
function tlsByHand(port, { hold = false, ...options } = {}) {
  const raw = track(net.connect({ host: '127.0.0.1', port }));
  raw.on('error', () => {});
  let held = hold ? [] : null;
  const shim = new Duplex({
    write(chunk, encoding, callback) {
      if (held) held.push(chunk);
      else if (!raw.destroyed) raw.write(chunk);
      callback();
    },
    read() {},
  });
  raw.on('data', (d) => shim.push(d));
  raw.on('end', () => shim.push(null));
  const secure = track(tls.connect({ socket: shim, ca: certs().ca, servername: 'localhost', ...options }));
  secure.on('error', () => {});
  const closed = new Promise((resolve) => raw.once('close', resolve));
  return {
    raw,
    secure,
    // Resolves when the server has closed the TCP connection (rejects after `timeout`).
    closed: (timeout = DEFAULT_TIMEOUT) => withTimeout(closed, timeout, 'the server to close the connection'),
    hold() {
      held = [];
    },
    // What TLS wrote while held (waiting for it to write at least one byte).
    async take() {
      await waitUntil(() => held.length > 0, { what: 'the TLS client to write' });
      const bytes = Buffer.concat(held);
      held = [];
      return bytes;
    },
  };
}

function answer(status, headers, body) {
  return {
    status,
    headers,
    body,
    get text() {
      return body.toString('utf8');
    },
    json() {
      return JSON.parse(body.toString('utf8'));
    },
  };
}

// One HTTP/1.1 request with node's https client (no ALPN is offered: HTTP/1.1), or its http client
// for an http:// origin, so one test compares both. `agent` defaults to a fresh connection; `tls`
// adds tls.connect options (cert, key, servername...). Resolves with { status, headers, body,
// text, json(), socket, httpVersion } (socket: the TLSSocket, for its peer certificate).
function h1Request(origin, path, { method = 'GET', headers = {}, body, agent = false, tls: extra = {} } = {}) {
  const secure = origin.startsWith('https:');
  const client = secure ? https : http;
  const options = secure ? { method, headers, agent, ca: certs().ca, ...extra } : { method, headers, agent };
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = client.request(origin + path, options, (res) => {
        // Taken now: a keep-alive agent detaches the socket from the response once it ends.
        const socket = res.socket;
        const parts = [];
        res.on('data', (d) => parts.push(d));
        res.on('error', reject);
        res.on('end', () => resolve(Object.assign(answer(res.statusCode, res.headers, Buffer.concat(parts)), { socket, httpVersion: res.httpVersion })));
      });
      req.on('socket', (socket) => track(socket));
      req.on('error', reject);
      req.end(body);
    }),
    DEFAULT_TIMEOUT,
    `${method} ${origin}${path}`,
  );
}

// An HTTP/2 session to `origin` (https:// trusts the test CA; http:// is h2c with prior knowledge),
// connected, and closed after the test.
async function h2Connect(t, origin, options = {}) {
  const session = track(http2.connect(origin, { ca: certs().ca, ...options }));
  session.on('error', () => {});
  t.after(() => session.destroy());
  await withTimeout(
    new Promise((resolve, reject) => {
      session.once('connect', resolve);
      session.once('error', reject);
    }),
    DEFAULT_TIMEOUT,
    `HTTP/2 connection to ${origin}`,
  );
  return session;
}

// One request on an HTTP/2 session: `headers` as http2 takes them (':path' at least); `body` a
// string, Buffer, or array of pieces written one by one. Resolves with { status, headers, body,
// text, json() }; rejects if the stream is reset.
function h2Request(session, headers, { body } = {}) {
  const what = `${headers[':method'] || 'GET'} ${headers[':path']} over HTTP/2`;
  return withTimeout(
    new Promise((resolve, reject) => {
      const stream = session.request(headers, { endStream: body === undefined });
      let head;
      const parts = [];
      stream.on('response', (h) => (head = h));
      stream.on('data', (d) => parts.push(d));
      stream.on('error', reject);
      stream.on('end', () => {
        if (head === undefined) return reject(new Error(`${what}: the stream ended without a response`));
        resolve(answer(head[':status'], head, Buffer.concat(parts)));
      });
      // A stream the server reset ends with 'close' and no 'end'.
      stream.on('close', () => {
        if (stream.rstCode) reject(new Error(`${what}: stream reset with code ${stream.rstCode}`));
      });
      if (body !== undefined) {
        (async () => {
          for (const piece of Array.isArray(body) ? body : [body]) {
            if (!stream.write(piece)) await new Promise((r) => stream.once('drain', r));
            await new Promise((r) => setImmediate(r));
          }
          stream.end();
        })();
      }
      stream.resume();
    }),
    DEFAULT_TIMEOUT,
    what,
  );
}

// Asserts an HTTP/2 response carries none of the connection-specific headers RFC 9113 §8.2.2
// forbids.
function assertNoConnectionHeaders(res, what) {
  for (const name of ['connection', 'transfer-encoding', 'keep-alive', 'proxy-connection', 'upgrade']) {
    assert.equal(res.headers[name], undefined, `${what}: HTTP/2 response carries ${name}: ${res.headers[name]}`);
  }
}

// Runs an external client; resolves with its stdout (rejects with its stderr on failure).
function run(cmd, args, { timeout = 60000, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\nstderr: ${stderr}\nstdout: ${stdout.slice(0, 2000)}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

function works(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.error === undefined && r.status === 0 ? r.stdout : null;
}

// Why the tests of each external client skip: false when it is there, else the reason (also
// printed, so a skipped run says why).
function reason(what, why) {
  if (why) console.log(`# ${what} tests skipped: ${why}`);
  return why;
}
const curlVersion = works('curl', ['--version']);
const missing = {
  curl: reason('curl', curlVersion === null ? 'curl is not installed (Debian package `curl`, installed by .ci/run)' : false),
  curlHttp2: reason(
    'curl HTTP/2',
    curlVersion === null || !/\bHTTP2\b/.test(curlVersion) ? 'no curl with HTTP/2 (HTTP2 in `curl --version` features; Debian package `curl`)' : false,
  ),
  h2load: reason('h2load', works('h2load', ['--version']) === null ? 'h2load is not installed (Debian package `nghttp2-client`, installed by .ci/run)' : false),
};

// A python3 that imports `modules` (Debian's python3-<module>, installed by .ci/run): { exe } or
// { skip: why not }. Machines differ in which python3 has which (a pyenv one first on the PATH, the
// system's beside it), so each is tried.
function pythonWith(...modules) {
  for (const exe of ['python3', '/usr/bin/python3']) {
    if (works(exe, ['-c', `import ${modules.join(', ')}`]) !== null) return { exe, skip: false };
  }
  const packages = modules.map((m) => `python3-${m}`).join(', ');
  return { skip: reason(`Python ${modules.join(' + ')}`, `no python3 that imports ${modules.join(', ')} (Debian packages ${packages}, installed by .ci/run)`) };
}

// An answer's body with its content-coding undone (gzip, br), the same bytes whatever the transport.
function decode(res) {
  const coding = res.headers['content-encoding'];
  if (coding === 'gzip') return zlib.gunzipSync(res.body);
  if (coding === 'br') return zlib.brotliDecompressSync(res.body);
  assert.equal(coding, undefined, `unexpected content-encoding ${coding}`);
  return res.body;
}

module.exports = {
  decode,
  serveTls,
  tlsConnect,
  tlsByHand,
  h1Request,
  h2Connect,
  h2Request,
  assertNoConnectionHeaders,
  destroyAll,
  track,
  run,
  missing,
  pythonWith,
};
