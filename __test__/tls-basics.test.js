'use strict';
// HTTPS over HTTP/1.1 with real clients: the same app answers the same over TLS as over plain TCP
// (JSON, a JSON body, a streamed body and response, res.ncache, app.static bodies and mounts,
// sendFile, gzip, 404, 500), what req says about the transport, server.url, keep-alive and
// pipelining, curl and Python (requests, httpx) verifying the server against the test CA, a
// WebSocket over TLS (wss://), and server.close() with TLS connections idle and busy.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const { certs, skip } = require('./support/tls-certs');
const { decode, serveTls, h1Request, tlsConnect, run, missing, pythonWith, destroyAll } = require('./support/tls-client');
const { routes, files, PAGE, BIG, ROBOTS, STREAM_LINES } = require('./support/tls-app');
const { RawClient, buildRequest, deferred, withTimeout } = require('./helpers');

const T = { timeout: 60000, skip };
const APP = { appOptions: { compression: true } };
// Bounds only a failure: a connection or a close() that never ends.
const CLOSE_WAIT_MS = 15000;

// [what, path, request options, check of the (decoded) answer]: asked of a plain and a TLS server.
const CASES = [
  ['GET JSON', '/json', {}, (res, body) => assert.deepEqual(JSON.parse(body), { hello: 'world', n: 42 })],
  ['params and query', '/users/7?x=1&x=2&y=%C3%A9', {}, (res, body) => assert.deepEqual(JSON.parse(body), { id: '7', query: { x: ['1', '2'], y: 'é' } })],
  [
    'POST JSON',
    '/echo',
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: [1, 2, 3], s: 'héllo' }) },
    (res, body) => assert.deepEqual(JSON.parse(body), { got: { a: [1, 2, 3], s: 'héllo' }, type: 'application/json' }),
  ],
  [
    'a streamed request body',
    '/upload',
    { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(300 * 1024, 7) },
    (res, body) => assert.equal(JSON.parse(body).bytes, 300 * 1024),
  ],
  ['a streamed response', '/stream', {}, (res, body) => assert.equal(body.toString(), Array.from({ length: STREAM_LINES }, (_, i) => `line ${i}\n`).join(''))],
  ['res.ncache, first', '/cached', {}, (res, body) => assert.deepEqual(JSON.parse(body), { cached: true, runs: 1 })],
  ['res.ncache, from the cache', '/cached', {}, (res, body) => assert.deepEqual(JSON.parse(body), { cached: true, runs: 1 })],
  ['an app.static body', '/robots.txt', {}, (res, body) => assert.equal(body.toString(), ROBOTS)],
  ['a file under a mount', '/files/page.html', {}, (res, body) => assert.equal(body.toString(), PAGE)],
  ['a mounted directory index', '/files/docs/', {}, (res, body) => assert.equal(body.toString(), '<p>docs index</p>\n')],
  ['a large file under a mount', '/files/data.bin', {}, (res, body) => assert.equal(body.length, 200 * 1024)],
  ['res.sendFile', '/file', {}, (res, body) => assert.equal(body.toString(), PAGE)],
  [
    'gzip from JS',
    '/big',
    { headers: { 'accept-encoding': 'gzip' } },
    (res, body) => {
      assert.equal(res.headers['content-encoding'], 'gzip');
      assert.deepEqual(JSON.parse(body), BIG);
    },
  ],
  [
    'gzip of a mounted file',
    '/files/page.html',
    { headers: { 'accept-encoding': 'gzip' } },
    (res, body) => {
      assert.equal(res.headers['content-encoding'], 'gzip');
      assert.equal(body.toString(), PAGE);
    },
  ],
  ['404', '/nope', {}, (res, body) => assert.deepEqual(JSON.parse(body), { error: 'Not Found' })],
  ['a throwing handler', '/throw', {}, (res, body) => assert.deepEqual(JSON.parse(body), { error: 'Internal Server Error' })],
  ['an async throwing handler', '/throw-async', {}, (res, body) => assert.deepEqual(JSON.parse(body), { error: 'Internal Server Error' })],
];

test('HTTPS/1.1 answers every route as plain HTTP/1.1 does', T, async (t) => {
  const plain = await serveTls(t, (app) => routes(app), { ...APP, tls: false });
  const secure = await serveTls(t, (app) => routes(app), APP);
  for (const [what, path, options, check] of CASES) {
    const a = await h1Request(plain.origin, path, options);
    const b = await h1Request(secure.origin, path, options);
    assert.equal(b.status, a.status, `${what}: status over TLS`);
    assert.ok(b.socket.encrypted, `${what}: the TLS answer came over TLS`);
    for (const name of ['content-type', 'content-encoding', 'etag', 'vary', 'cache-control', 'transfer-encoding']) {
      assert.equal(b.headers[name], a.headers[name], `${what}: ${name} over TLS`);
    }
    const body = decode(b);
    assert.deepEqual(body, decode(a), `${what}: the same body over TLS`);
    check(b, body);
  }
  assert.ok(secure.server.stats().cache.hits >= 1, 'the second /cached over TLS was answered from the cache');
});

test('req.protocol, req.secure and req.httpVersion say how the request came; server.url is https', T, async (t) => {
  const plain = await serveTls(t, (app) => routes(app), { tls: false });
  const secure = await serveTls(t, (app) => routes(app));
  assert.match(secure.server.url, /^https:\/\//);
  assert.equal(new URL(secure.server.url).port, String(secure.port));
  assert.match(plain.server.url, /^http:\/\//);
  const overTls = (await h1Request(secure.server.url, '/info')).json();
  assert.deepEqual(overTls, { protocol: 'https', secure: true, httpVersion: '1.1', hasClientCertificate: false, clientSubject: null, isX509: null });
  const overTcp = (await h1Request(plain.server.url, '/info')).json();
  assert.deepEqual(overTcp, { protocol: 'http', secure: false, httpVersion: '1.1', hasClientCertificate: false, clientSubject: null, isX509: null });
});

test('keep-alive and pipelining over one TLS connection', T, async (t) => {
  const s = await serveTls(t, (app) => routes(app));
  const socket = await tlsConnect(s.port, { servername: 'localhost' });
  assert.equal(socket.alpnProtocol, false, 'no ALPN offered, none chosen');
  const c = new RawClient(socket);
  for (let round = 0; round < 3; round++) {
    await c.write(Buffer.concat([buildRequest('GET', `/id/${round}`), buildRequest('GET', '/json'), buildRequest('HEAD', '/files/page.html')]));
    const [a, b, h] = await c.readResponses(3, { heads: [false, false, true] });
    assert.deepEqual(a.json(), { n: round });
    assert.deepEqual(b.json(), { hello: 'world', n: 42 });
    assert.equal(h.status, 200);
    assert.equal(Number(h.headers['content-length']), Buffer.byteLength(PAGE));
  }
  assert.equal(c.leftover.length, 0, 'nothing after the HEAD answer');
  c.destroy();
});

test('curl --cacert speaks HTTPS/1.1 and verifies the server', { ...T, skip: skip || missing.curl }, async (t) => {
  const s = await serveTls(t, (app) => routes(app), APP);
  const { caFile } = certs();
  const out = await run('curl', ['-sS', '--http1.1', '--cacert', caFile, '-w', '\n%{http_code} %{http_version} %{ssl_verify_result}', `${s.origin}/json`]);
  assert.equal(out, '{"hello":"world","n":42}\n200 1.1 0');
  const gz = await run('curl', ['-sS', '--http1.1', '--compressed', '--cacert', caFile, '-D', '-', `${s.origin}/files/page.html`]);
  assert.match(gz, /\r\ncontent-encoding: (br|gzip|zstd)\r\n/i);
  assert.ok(gz.endsWith(PAGE), 'curl decoded the compressed file');
  const posted = await run('curl', ['-sS', '--http1.1', '--cacert', caFile, '-H', 'content-type: application/json', '--data-binary', '{"x":1}', `${s.origin}/echo`]);
  assert.deepEqual(JSON.parse(posted), { got: { x: 1 }, type: 'application/json' });
  // Without the CA, curl refuses the server: the test certificate is not trusted by accident.
  await assert.rejects(run('curl', ['-sS', '--http1.1', `${s.origin}/json`]), /certificate/i);
});

const REQUESTS_CLIENT = `
import json, sys, hashlib, requests
base, ca = sys.argv[1], sys.argv[2]
out = {}
r = requests.get(base + '/json', verify=ca)
out['json'] = [r.status_code, r.json()]
r = requests.post(base + '/echo', json={'k': [1, 'two']}, verify=ca)
out['post'] = r.json()
r = requests.get(base + '/info', verify=ca)
out['info'] = r.json()
r = requests.get(base + '/big', verify=ca)
out['big'] = [r.headers.get('content-encoding'), len(r.json()['items'])]
h = hashlib.sha256()
with requests.get(base + '/files/data.bin', verify=ca, stream=True) as r:
    for chunk in r.iter_content(65536):
        h.update(chunk)
out['stream'] = h.hexdigest()
try:
    requests.get(base + '/json')
    out['unverified'] = 'accepted'
except requests.exceptions.SSLError:
    out['unverified'] = 'refused'
print(json.dumps(out))
`;

const requests = pythonWith('requests');
test('Python requests verifies the server against the CA', { ...T, skip: skip || requests.skip }, async (t) => {
  const s = await serveTls(t, (app) => routes(app), APP);
  const out = JSON.parse(await run(requests.exe, ['-c', REQUESTS_CLIENT, s.origin, certs().caFile]));
  assert.deepEqual(out.json, [200, { hello: 'world', n: 42 }]);
  assert.deepEqual(out.post, { got: { k: [1, 'two'] }, type: 'application/json' });
  assert.equal(out.info.protocol, 'https');
  assert.equal(out.info.httpVersion, '1.1');
  assert.ok(['gzip', 'br', 'zstd'].includes(out.big[0]), `requests got a coding it offered: ${out.big[0]}`);
  assert.equal(out.big[1], BIG.items.length);
  assert.equal(out.stream, files().dataSha256);
  assert.equal(out.unverified, 'refused', 'without the CA Python refuses the server');
});

const HTTPX_CLIENT = `
import json, sys, httpx
base, ca = sys.argv[1], sys.argv[2]
out = {}
with httpx.Client(verify=ca) as c:
    r = c.get(base + '/big', headers={'accept-encoding': 'gzip'})
    out['big'] = [r.status_code, r.http_version, r.headers.get('content-encoding'), len(r.json()['items'])]
    r = c.post(base + '/echo', json={'k': 'v'})
    out['post'] = r.json()
    out['info'] = c.get(base + '/info').json()
try:
    httpx.get(base + '/json')
    out['unverified'] = 'accepted'
except httpx.ConnectError:
    out['unverified'] = 'refused'
print(json.dumps(out))
`;

const httpx = pythonWith('httpx');
test('Python httpx (HTTP/1.1) verifies the server against the CA', { ...T, skip: skip || httpx.skip }, async (t) => {
  const s = await serveTls(t, (app) => routes(app), APP);
  const out = JSON.parse(await run(httpx.exe, ['-c', HTTPX_CLIENT, s.origin, certs().caFile]));
  assert.deepEqual(out.big, [200, 'HTTP/1.1', 'gzip', BIG.items.length]);
  assert.deepEqual(out.post, { got: { k: 'v' }, type: 'application/json' });
  assert.equal(out.info.protocol, 'https');
  assert.equal(out.unverified, 'refused', 'without the CA httpx refuses the server');
});

test('a WebSocket over TLS (wss://) with the ws client on an app.ws route', T, async (t) => {
  const WebSocket = require('ws');
  const s = await serveTls(t, (app) => {
    routes(app);
    app.ws('/echo', {
      message(ws, data, isBinary) {
        ws.send(data, isBinary);
      },
    });
  });
  const ws = new WebSocket(`wss://127.0.0.1:${s.port}/echo`, { ca: certs().ca });
  t.after(() => ws.terminate());
  const got = [];
  const done = new Promise((resolve, reject) => {
    ws.on('message', (data, isBinary) => {
      got.push([isBinary, Buffer.from(data)]);
      if (got.length === 2) resolve();
    });
    ws.on('error', reject);
    ws.on('close', (code) => reject(new Error(`closed with ${code} before both echoes`)));
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  assert.ok(ws._socket.encrypted, 'the WebSocket runs over TLS');
  ws.send('héllo over tls');
  ws.send(Buffer.alloc(100 * 1024, 9));
  await done;
  assert.deepEqual(got[0], [false, Buffer.from('héllo over tls')]);
  assert.deepEqual(got[1], [true, Buffer.alloc(100 * 1024, 9)]);
  ws.close(1000);
  await new Promise((resolve) => ws.once('close', resolve));
  destroyAll();
});

test('server.close() over TLS: an idle keep-alive connection is closed, an in-flight request answered', T, async (t) => {
  const entered = deferred();
  const release = deferred();
  const s = await serveTls(t, (app) => {
    routes(app);
    app.get('/held', async (req, res) => {
      entered.resolve();
      await release.promise;
      res.send('held answer');
    });
  });
  const idle = new RawClient(await tlsConnect(s.port, { servername: 'localhost' }));
  await idle.write(buildRequest('GET', '/'));
  assert.equal((await idle.readResponse()).text, 'ok');
  const busy = new RawClient(await tlsConnect(s.port, { servername: 'localhost' }));
  await busy.write(buildRequest('GET', '/held'));
  await entered.promise;

  const closed = s.server.close({ timeout: 30000 });
  await idle.waitForClose(CLOSE_WAIT_MS);
  release.resolve();
  const res = await busy.readResponse();
  assert.equal(res.text, 'held answer');
  assert.equal(res.headers.connection, 'close');
  await busy.waitForClose(CLOSE_WAIT_MS);
  await withTimeout(closed, CLOSE_WAIT_MS, 'server.close() once the in-flight request is done');
});
