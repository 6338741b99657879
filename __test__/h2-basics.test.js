'use strict';
// HTTP/2 with node's http2 client, over TLS (ALPN h2) and over h2c with prior knowledge: every
// route of the shared app answers as it does over HTTP/1.1 on the same server (bodies JSON and
// streamed both ways, SSE, res.ncache, app.static bodies and mounts, sendFile, gzip and br, 404,
// 500), HEAD, 304, 200 concurrent streams on one connection, what req says, no connection-specific
// headers, the settings the server announces, and ALPN choosing h2 or http/1.1.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { skip } = require('./support/tls-certs');
const { decode, serveTls, h1Request, h2Connect, h2Request, assertNoConnectionHeaders, tlsConnect } = require('./support/tls-client');
const { routes, files, PAGE, BIG, ROBOTS, STREAM_LINES } = require('./support/tls-app');
const { waitUntil } = require('./helpers');

const T = { timeout: 60000, skip };
const APP = { appOptions: { compression: true } };
// More than the default maxConcurrentStreams (100): the client queues the rest, as browsers do.
const STREAMS = 200;
// Over the server's default initialWindowSize (1 MiB): the upload needs WINDOW_UPDATEs.
const UPLOAD_BYTES = 2 * 1024 * 1024 + 123;
const SSE_EVENTS = 3;

// The two ways to reach HTTP/2: TLS with ALPN (http2 on by default) and h2c (http2: true without tls).
const MODES = [
  ['h2 over TLS', { ...APP }],
  ['h2c', { ...APP, tls: false, http2: true }],
];

const jsonBody = (value) => JSON.stringify(value);
const CASES = [
  ['GET JSON', { ':path': '/json' }, undefined, (b) => assert.deepEqual(JSON.parse(b), { hello: 'world', n: 42 })],
  ['params and query', { ':path': '/users/7?x=1&x=2&y=%C3%A9' }, undefined, (b) => assert.deepEqual(JSON.parse(b), { id: '7', query: { x: ['1', '2'], y: 'é' } })],
  [
    'POST JSON',
    { ':method': 'POST', ':path': '/echo', 'content-type': 'application/json' },
    jsonBody({ a: [1, 2], s: 'héllo' }),
    (b) => assert.deepEqual(JSON.parse(b), { got: { a: [1, 2], s: 'héllo' }, type: 'application/json' }),
  ],
  ['a streamed response', { ':path': '/stream' }, undefined, (b) => assert.equal(b.toString(), Array.from({ length: STREAM_LINES }, (_, i) => `line ${i}\n`).join(''))],
  ['res.ncache, first', { ':path': '/cached' }, undefined, (b) => assert.deepEqual(JSON.parse(b), { cached: true, runs: 1 })],
  ['res.ncache, cached', { ':path': '/cached' }, undefined, (b) => assert.deepEqual(JSON.parse(b), { cached: true, runs: 1 })],
  ['an app.static body', { ':path': '/robots.txt' }, undefined, (b) => assert.equal(b.toString(), ROBOTS)],
  ['a mounted file', { ':path': '/files/page.html' }, undefined, (b) => assert.equal(b.toString(), PAGE)],
  ['a mounted directory index', { ':path': '/files/docs/' }, undefined, (b) => assert.equal(b.toString(), '<p>docs index</p>\n')],
  [
    'a file over the flow-control window',
    { ':path': '/files/data.bin' },
    undefined,
    (b) => assert.equal(crypto.createHash('sha256').update(b).digest('hex'), files().dataSha256),
  ],
  ['res.sendFile', { ':path': '/file' }, undefined, (b) => assert.equal(b.toString(), PAGE)],
  ['gzip from JS', { ':path': '/big', 'accept-encoding': 'gzip' }, undefined, (b, res) => {
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.deepEqual(JSON.parse(b), BIG);
  }],
  ['br from JS', { ':path': '/big', 'accept-encoding': 'br' }, undefined, (b, res) => {
    assert.equal(res.headers['content-encoding'], 'br');
    assert.deepEqual(JSON.parse(b), BIG);
  }],
  ['br of a mounted file', { ':path': '/files/page.html', 'accept-encoding': 'br, gzip' }, undefined, (b, res) => {
    assert.equal(res.headers['content-encoding'], 'br');
    assert.equal(b.toString(), PAGE);
  }],
  ['404', { ':path': '/nope' }, undefined, (b, res) => {
    assert.equal(res.status, 404);
    assert.deepEqual(JSON.parse(b), { error: 'Not Found' });
  }],
  ['a throwing handler', { ':path': '/throw' }, undefined, (b, res) => {
    assert.equal(res.status, 500);
    assert.deepEqual(JSON.parse(b), { error: 'Internal Server Error' });
  }],
  ['an async throwing handler', { ':path': '/throw-async' }, undefined, (b, res) => assert.equal(res.status, 500)],
];

// What an HTTP/1.1 request for the same case sends.
function h1Options(headers, body) {
  const rest = Object.fromEntries(Object.entries(headers).filter(([name]) => !name.startsWith(':')));
  return { method: headers[':method'] || 'GET', headers: rest, body };
}

for (const [mode, options] of MODES) {
  test(`${mode}: every route answers as HTTP/1.1 does on the same server, with no connection headers`, T, async (t) => {
    const s = await serveTls(t, (app) => routes(app), options);
    const session = await h2Connect(t, s.origin);
    for (const [what, headers, body, check] of CASES) {
      const h2 = await h2Request(session, headers, { body });
      const h1 = await h1Request(s.origin, headers[':path'], h1Options(headers, body));
      assert.equal(h2.status, h1.status, `${what}: status`);
      for (const name of ['content-type', 'content-encoding', 'etag', 'vary', 'cache-control']) {
        assert.equal(h2.headers[name], h1.headers[name], `${what}: ${name}`);
      }
      assertNoConnectionHeaders(h2, what);
      const decoded = decode(h2);
      assert.deepEqual(decoded, decode(h1), `${what}: the same body as over HTTP/1.1`);
      check(decoded, h2);
    }
    assert.ok(s.server.stats().cache.hits >= 1, 'answers came from the cache');
    // The throwing handlers cost only their streams: the session still works.
    assert.equal((await h2Request(session, { ':path': '/' })).text, 'ok');
  });

  test(`${mode}: req.httpVersion is 2.0, req.protocol says the transport`, T, async (t) => {
    const s = await serveTls(t, (app) => routes(app), options);
    const session = await h2Connect(t, s.origin);
    const info = (await h2Request(session, { ':path': '/info' })).json();
    const secure = options.tls !== false;
    assert.deepEqual(
      { protocol: info.protocol, secure: info.secure, httpVersion: info.httpVersion },
      { protocol: secure ? 'https' : 'http', secure, httpVersion: '2.0' },
    );
    // HTTP/1.1 on the same port says 1.1.
    assert.equal((await h1Request(s.origin, '/info')).json().httpVersion, '1.1');
  });

  test(`${mode}: a streamed request body past the flow-control window arrives whole`, T, async (t) => {
    const s = await serveTls(t, (app) => routes(app), options);
    const session = await h2Connect(t, s.origin);
    const data = crypto.randomBytes(UPLOAD_BYTES);
    const pieces = [];
    for (let i = 0; i < data.length; i += 64 * 1024) pieces.push(data.subarray(i, i + 64 * 1024));
    const res = await h2Request(session, { ':method': 'POST', ':path': '/upload', 'content-type': 'application/octet-stream' }, { body: pieces });
    const got = res.json();
    assert.equal(got.bytes, UPLOAD_BYTES);
    assert.equal(got.sha256, crypto.createHash('sha256').update(data).digest('hex'));
  });

  test(`${mode}: HEAD and 304`, T, async (t) => {
    const s = await serveTls(t, (app) => routes(app), options);
    const session = await h2Connect(t, s.origin);
    for (const path of ['/files/page.html', '/file', '/json', '/robots.txt']) {
      const get = await h2Request(session, { ':path': path });
      const head = await h2Request(session, { ':method': 'HEAD', ':path': path });
      assert.equal(head.status, 200, `HEAD ${path}`);
      assert.equal(head.body.length, 0, `HEAD ${path}: no body`);
      assert.equal(Number(head.headers['content-length']), get.body.length, `HEAD ${path}: GET's content-length`);
      assert.equal(head.headers['content-type'], get.headers['content-type']);
    }
    for (const path of ['/files/page.html', '/robots.txt', '/cached', '/cached']) {
      const first = await h2Request(session, { ':path': path });
      assert.ok(first.headers.etag, `${path} has an ETag`);
      const again = await h2Request(session, { ':path': path, 'if-none-match': first.headers.etag });
      assert.equal(again.status, 304, `If-None-Match on ${path}`);
      assert.equal(again.body.length, 0);
      assert.equal(again.headers.etag, first.headers.etag);
    }
  });

  test(`${mode}: SSE events arrive one by one; closing the stream ends the handler's stream`, T, async (t) => {
    const seen = {};
    const s = await serveTls(t, (app) => routes(app, seen), options);
    const session = await h2Connect(t, s.origin);
    const stream = session.request({ ':path': '/sse' });
    const head = await new Promise((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    });
    assert.equal(head[':status'], 200);
    assert.equal(head['content-type'], 'text/event-stream; charset=utf-8');
    assertNoConnectionHeaders({ headers: head }, 'SSE');
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (d) => (text += d));
    await waitUntil(() => text.split('\n\n').length > SSE_EVENTS, { what: `${SSE_EVENTS} events; got ${JSON.stringify(text)}` });
    const events = text.split('\n\n').slice(0, SSE_EVENTS);
    assert.deepEqual(events, Array.from({ length: SSE_EVENTS }, (_, i) => `id: ${i + 1}\nevent: tick\ndata: {"id":${i + 1}}`));
    stream.close();
    await waitUntil(() => seen.sseClosed === 1, { what: 'the handler to see the stream close' });
    assert.equal((await h2Request(session, { ':path': '/' })).text, 'ok', 'the session goes on');
  });

  test(`${mode}: ${STREAMS} concurrent streams on one connection are each answered their own`, T, async (t) => {
    const s = await serveTls(t, (app) => routes(app), options);
    const session = await h2Connect(t, s.origin);
    assert.equal(session.remoteSettings.maxConcurrentStreams, 100, 'the default maxConcurrentStreams');
    const answers = await Promise.all(Array.from({ length: STREAMS }, (_, i) => h2Request(session, { ':path': `/id/${i}` })));
    answers.forEach((res, i) => assert.deepEqual(res.json(), { n: i }));
    const stats = s.server.stats();
    assert.equal(stats.h2.connections, 1, `one HTTP/2 connection: ${JSON.stringify(stats.h2)}`);
    assert.ok(stats.h2.streams >= STREAMS, `streams counted: ${JSON.stringify(stats.h2)}`);
  });
}

test('http2 options are announced in SETTINGS', T, async (t) => {
  const http2 = { maxConcurrentStreams: 7, initialWindowSize: 256 * 1024, maxFrameSize: 32 * 1024, maxHeaderListSize: 8 * 1024 };
  for (const options of [{ http2 }, { http2, tls: false }]) {
    const s = await serveTls(t, (app) => routes(app), options);
    const session = await h2Connect(t, s.origin);
    await h2Request(session, { ':path': '/' });
    const got = session.remoteSettings;
    assert.deepEqual(
      { maxConcurrentStreams: got.maxConcurrentStreams, initialWindowSize: got.initialWindowSize, maxFrameSize: got.maxFrameSize, maxHeaderListSize: got.maxHeaderListSize },
      http2,
    );
    // Streams past the limit wait their turn; all are answered.
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => h2Request(session, { ':path': `/id/${i}` })));
    answers.forEach((res, i) => assert.deepEqual(res.json(), { n: i }));
  }
});

test('ALPN: h2 when offered (unless http2: false), http/1.1 otherwise', T, async (t) => {
  const on = await serveTls(t, (app) => routes(app));
  const off = await serveTls(t, (app) => routes(app), { http2: false });
  const cases = [
    [on, ['h2', 'http/1.1'], 'h2'],
    [on, ['http/1.1', 'h2'], 'h2'],
    [on, ['http/1.1'], 'http/1.1'],
    [off, ['h2', 'http/1.1'], 'http/1.1'],
  ];
  for (const [s, offered, chosen] of cases) {
    const socket = await tlsConnect(s.port, { servername: 'localhost', ALPNProtocols: offered });
    assert.equal(socket.alpnProtocol, chosen, `offered ${offered.join(', ')}`);
    socket.destroy();
  }
  // A client that speaks h2 only cannot talk to a server with http2: false.
  await assert.rejects(h2Connect(t, off.origin));
  assert.equal((await h1Request(off.origin, '/')).text, 'ok');
});
