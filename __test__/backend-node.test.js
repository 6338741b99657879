'use strict';
// The node backend (js/host/) chosen explicitly, whatever HTTP_NATIVE_BACKEND the run has: what it
// says it is, what it refuses by name, and one app answered the same by both backends over real
// sockets (routes with params, a JSON body, a streamed answer, the response cache, a static, a
// 404, limits).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { createApp } = require('..');
const { serve, request, exchange, buildRequest, RawClient } = require('./helpers');

const BACKENDS = ['native', 'node'];

function sameApp(app) {
  app.static('/hello.txt', 'hello');
  app.get('/users/:id', (req, res) => res.json({ id: req.params.id, q: req.query.q ?? null }));
  app.post('/echo', (req, res) => res.json({ got: req.body }));
  app.get('/stream', async (req, res) => {
    res.type('text');
    for (const piece of ['a', 'b', 'c']) {
      res.write(piece);
      await new Promise(setImmediate);
    }
    res.end();
  });
  let runs = 0;
  app.get('/cached', (req, res) => res.ncache(`run ${++runs}`, 60));
}

// The same requests, their answers reduced to what both backends must agree on.
async function transcript(base) {
  const out = [];
  const keep = async (res) => {
    const etag = res.headers.get('etag');
    out.push([res.status, res.headers.get('content-type'), etag === null ? null : 'etag', await res.text()]);
  };
  await keep(await request(base, '/users/%41b?q=1'));
  await keep(await request(base, '/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":[1,2]}' }));
  await keep(await request(base, '/stream'));
  await keep(await request(base, '/cached'));
  await keep(await request(base, '/cached'));
  await keep(await request(base, '/hello.txt'));
  await keep(await request(base, '/nope'));
  const head = await request(base, '/users/1', { method: 'HEAD' });
  out.push([head.status, head.headers.get('content-length'), await head.text()]);
  return out;
}

test('one app, both backends: the same answers', async (t) => {
  const transcripts = [];
  for (const backend of BACKENDS) {
    const s = await serve(t, sameApp, { listenOptions: { backend } });
    assert.equal(s.server.backend, backend);
    transcripts.push(await transcript(s.base));
  }
  assert.deepEqual(transcripts[1], transcripts[0]);
  assert.deepEqual(transcripts[0][4], [200, 'text/html; charset=utf-8', 'etag', 'run 1'], 'the second /cached came from the cache');
});

test("listen({ backend: 'node' }): driver 'node', and stats() has the native shape", async (t) => {
  const node = await serve(t, (app) => app.get('/', (req, res) => res.send('ok')), { listenOptions: { backend: 'node' } });
  const native = await serve(t, (app) => app.get('/', (req, res) => res.send('ok')), { listenOptions: { backend: 'native' } });
  assert.equal(node.server.driver, 'node');
  await request(node.base, '/');
  const shape = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'object' ? shape(v) : typeof v]));
  assert.deepEqual(shape(node.server.stats()), shape(native.server.stats()));
  assert.equal(node.server.stats().requests.js, 1);
});

test('what the node backend does not do is refused at listen() with a coded error naming it', async () => {
  const cases = [
    ['WebSocket', (app) => app.ws('/ws', { message() {} }), {}],
    ['HTTP/2', () => {}, { http2: true }],
  ];
  for (const [what, setup, options] of cases) {
    const app = createApp();
    setup(app);
    await assert.rejects(app.listen({ port: 0, host: '127.0.0.1', backend: 'node', ...options }), (err) => {
      assert.equal(err.code, 'HN_ERR_BACKEND_UNSUPPORTED');
      assert.match(err.message, new RegExp(`${what}.*node backend`));
      return true;
    });
  }
});

test('a bad backend name is refused, from listen() and from HTTP_NATIVE_BACKEND', async () => {
  await assert.rejects(createApp().listen({ port: 0, backend: 'rust' }), { code: 'HN_ERR_BAD_OPTION' });
  const saved = process.env.HTTP_NATIVE_BACKEND;
  process.env.HTTP_NATIVE_BACKEND = 'bun';
  try {
    await assert.rejects(createApp().listen({ port: 0 }), (err) => err.code === 'HN_ERR_BAD_OPTION' && /HTTP_NATIVE_BACKEND/.test(err.message));
  } finally {
    if (saved === undefined) delete process.env.HTTP_NATIVE_BACKEND;
    else process.env.HTTP_NATIVE_BACKEND = saved;
  }
});

// Found by the suite on the node backend: node:http parses a request pipelined after one answered
// with `connection: close` and would serve it; Rust never reads past such an answer.
test('node backend: nothing pipelined after a 413 that closes is served', async (t) => {
  let secret = 0;
  const s = await serve(
    t,
    (app) => {
      app.post('/small', { bodyLimit: 10 }, (req, res) => res.send('ok'));
      app.get('/secret', (req, res) => res.send(`secret ${++secret}`));
    },
    { listenOptions: { backend: 'node' } },
  );
  const smuggled = buildRequest('GET', '/secret');
  const c = await RawClient.connect(s.port);
  try {
    await c.write(Buffer.concat([buildRequest('POST', '/small', { body: 'x'.repeat(11) }), smuggled]));
    const res = await c.readResponse();
    assert.equal(res.status, 413);
    assert.equal(res.headers.connection, 'close');
    await c.waitForClose();
  } finally {
    c.destroy();
  }
  assert.equal(secret, 0);
  const after = await exchange(s.port, smuggled);
  assert.equal(after.text, 'secret 1');
});

// Found the same way: node answers a parse error on a connection before the answer still owed to
// the request before it; Rust answers in order.
test('node backend: a framing error after a good request is answered after it', async (t) => {
  const s = await serve(t, (app) => app.get('/', async (req, res) => res.send('ok')), { listenOptions: { backend: 'node' } });
  const c = await RawClient.connect(s.port);
  try {
    await c.write(buildRequest('GET', '/').toString() + 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    assert.equal((await c.readResponse()).status, 200);
    assert.equal((await c.readResponse()).status, 400);
    await c.waitForClose();
  } finally {
    c.destroy();
  }
});
