'use strict';
// app.inject(): requests through the real Rust parser, router, cache and writer over an
// in-memory connection, with no socket: light-my-request's response shape, bodies both ways,
// middleware and errors, answers Rust gives alone (ncache hits, statics, files), a streamed answer
// read through res.stream() (SSE), many at once, no listening socket opened, a process that exits
// without close(), coded errors for options that cannot be sent.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { once } = require('node:events');
const { spawn } = require('node:child_process');
const { Readable } = require('node:stream');
const { createApp } = require('..');
const { withTimeout } = require('./helpers');

const WAIT_MS = 10000;

// An app closed after the test (its inject server with it).
function appFor(t, setup, options) {
  const app = options === undefined ? createApp() : createApp(options);
  setup(app);
  t.after(() => app.close());
  return app;
}

const inject = (app, options) => withTimeout(app.inject(options), WAIT_MS, `inject ${JSON.stringify(options)}`);

test('routes, params, query and JSON bodies come back in light-my-request\'s shape', async (t) => {
  const app = appFor(t, (app) => {
    app.get('/users/:id', (req, res) => res.set('x-id', req.params.id).json({ id: req.params.id, q: req.query, ip: req.ip, host: req.get('host') }));
    app.post('/echo', (req, res) => res.status(201).json({ body: req.body, type: req.get('content-type') }));
    app.put('/raw', (req, res) => res.type('text').send(`${req.body.length}:${req.body.toString()}`));
  });
  const res = await inject(app, { url: '/users/a%20b', query: { x: '1', y: ['2', '3'] } });
  assert.equal(res.statusCode, 200);
  assert.equal(res.statusMessage, 'OK');
  assert.equal(res.headers['x-id'], 'a b');
  assert.match(res.headers['content-type'], /^application\/json/);
  assert.equal(res.headers['content-length'], String(res.rawPayload.length));
  assert.ok(Buffer.isBuffer(res.rawPayload));
  assert.equal(res.body, res.payload);
  assert.deepEqual(res.json(), { id: 'a b', q: { x: '1', y: ['2', '3'] }, ip: '127.0.0.1', host: 'localhost:80' });

  const posted = await inject(app, { method: 'POST', url: '/echo', body: { a: [1, 'é'] } });
  assert.equal(posted.statusCode, 201);
  assert.deepEqual(posted.json(), { body: { a: [1, 'é'] }, type: 'application/json' });

  // payload is light-my-request's other name for body; a Buffer goes as its bytes.
  const raw = await inject(app, { method: 'PUT', url: '/raw', payload: Buffer.from('héllo'), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(raw.body, '6:héllo');
  // A stream body is read whole, then sent.
  const streamed = await inject(app, { method: 'PUT', url: '/raw', body: Readable.from([Buffer.from('ab'), Buffer.from('cd')]), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(streamed.body, '4:abcd');

  // remoteAddress and authority as light-my-request takes them; an absolute URL gives the host.
  const other = await inject(app, { url: 'http://example.com:8080/users/7', remoteAddress: '10.1.2.3' });
  assert.equal(other.json().ip, '10.1.2.3');
  assert.equal(other.json().host, 'example.com:8080');
  // The callback form.
  const viaCallback = await new Promise((resolve, reject) => app.inject('/users/9', (err, r) => (err ? reject(err) : resolve(r))));
  assert.equal(viaCallback.json().id, '9');
});

test('middleware runs in order, a custom 404 answers, HEAD has no body, 204 and chunked answers parse', async (t) => {
  const app = appFor(t, (app) => {
    app.use((req, res, next) => {
      res.set('x-seen', 'mw');
      next();
    });
    app.get('/hello', (req, res) => res.send('hello world'));
    app.get('/empty', (req, res) => res.status(204).end());
    app.get('/pieces', (req, res) => {
      res.write('one,');
      res.write('two,');
      res.end('three');
    });
    app.notFound((req, res) => res.status(404).send(`no ${req.path}`));
  });
  const hello = await inject(app, { url: '/hello' });
  assert.equal(hello.headers['x-seen'], 'mw');
  assert.equal(hello.body, 'hello world');
  const head = await inject(app, { method: 'HEAD', url: '/hello' });
  assert.equal(head.statusCode, 200);
  assert.equal(head.headers['content-length'], '11');
  assert.equal(head.body, '');
  const empty = await inject(app, { url: '/empty' });
  assert.equal(empty.statusCode, 204);
  assert.equal(empty.body, '');
  const pieces = await inject(app, { url: '/pieces' });
  assert.equal(pieces.headers['transfer-encoding'], 'chunked');
  assert.equal(pieces.body, 'one,two,three');
  const missing = await inject(app, { url: '/nope' });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.body, 'no /nope');
});

test('a throwing handler (sync or async) costs a 500, and the app keeps answering', async (t) => {
  const app = appFor(t, (app) => {
    app.get('/sync', () => {
      throw new Error('boom');
    });
    app.get('/async', async () => {
      await new Promise(setImmediate);
      throw new Error('later');
    });
    app.get('/ok', (req, res) => res.send('ok'));
  });
  assert.equal((await inject(app, { url: '/sync' })).statusCode, 500);
  assert.equal((await inject(app, { url: '/async' })).statusCode, 500);
  assert.equal((await inject(app, { url: '/ok' })).body, 'ok');
});

test('the Rust parser and limits answer injected requests as they answer sockets', async (t) => {
  const app = appFor(t, (app) => {
    app.post('/upload', (req, res) => res.send(`got ${req.body.length}`));
    app.get('/files/:name', (req, res) => res.send(req.params.name));
  }, { bodyLimit: 16 });
  const big = await inject(app, { method: 'POST', url: '/upload', body: 'x'.repeat(17), headers: { 'content-type': 'text/plain' } });
  assert.equal(big.statusCode, 413);
  const small = await inject(app, { method: 'POST', url: '/upload', body: 'x'.repeat(16), headers: { 'content-type': 'text/plain' } });
  assert.equal(small.body, 'got 16');
  // A bad percent-escape in a param is Rust's 400, as over a socket.
  assert.equal((await inject(app, { url: '/files/%zz' })).statusCode, 400);
  // A request with two Host headers is refused by the parser (RFC 9112 §3.2).
  assert.equal((await inject(app, { url: '/files/a', headers: { host: ['a', 'b'] } })).statusCode, 400);
});

test('res.ncache() hits are answered by Rust: the handler runs once, the stats count the hits', async (t) => {
  let runs = 0;
  const app = appFor(t, (app) => {
    app.get('/cached', (req, res) => {
      runs++;
      res.ncache({ run: runs }, 60);
    });
  });
  const first = await inject(app, { url: '/cached' });
  assert.deepEqual(first.json(), { run: 1 });
  for (let i = 0; i < 3; i++) assert.deepEqual((await inject(app, { url: '/cached' })).json(), { run: 1 });
  assert.equal(runs, 1);
  const stats = app.injectServer.stats();
  assert.equal(stats.cache.hits, 3);
  assert.equal(stats.requests.js, 1);
  assert.equal(stats.requests.native, 3);
  // app.cache reaches the inject server too.
  app.cache.invalidate('/cached');
  assert.deepEqual((await inject(app, { url: '/cached' })).json(), { run: 2 });
});

test('statics, directory mounts and res.sendFile() are served through the in-memory connection', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-inject-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const big = Buffer.alloc(300 * 1024, 'abcdefghij');
  fs.writeFileSync(path.join(root, 'hello.txt'), 'hello file');
  fs.writeFileSync(path.join(root, 'big.bin'), big);
  let runs = 0;
  const app = appFor(t, (app) => {
    app.static('/robots.txt', 'User-agent: *');
    app.static('/files', { root });
    app.get('/send', (req, res) => {
      runs++;
      res.sendFile(path.join(root, 'hello.txt'));
    });
  });
  const robots = await inject(app, { url: '/robots.txt' });
  assert.equal(robots.body, 'User-agent: *');
  const file = await inject(app, { url: '/files/hello.txt' });
  assert.equal(file.body, 'hello file');
  assert.match(file.headers['content-type'], /^text\/plain/);
  assert.ok(file.headers.etag);
  const notModified = await inject(app, { url: '/files/hello.txt', headers: { 'if-none-match': file.headers.etag } });
  assert.equal(notModified.statusCode, 304);
  const range = await inject(app, { url: '/files/hello.txt', headers: { range: 'bytes=6-' } });
  assert.equal(range.statusCode, 206);
  assert.equal(range.body, 'file');
  // Larger than the pipe and the credit window: it comes through whole.
  const whole = await inject(app, { url: '/files/big.bin' });
  assert.ok(whole.rawPayload.equals(big));
  assert.equal((await inject(app, { url: '/send' })).body, 'hello file');
  assert.equal(runs, 1);
  assert.equal(app.injectServer.stats().requests.js, 1);
});

test('payloadAsStream: an SSE route read event by event, and the handler sees its client go', async (t) => {
  let closed;
  const gone = new Promise((resolve) => (closed = resolve));
  const app = appFor(t, (app) => {
    app.get('/events', (req, res) => {
      const sse = res.sse({ heartbeat: 0 });
      let n = 0;
      const timer = setInterval(() => sse.send({ id: ++n, data: `tick ${n}` }), 5);
      req.signal.addEventListener('abort', () => {
        clearInterval(timer);
        closed();
      });
    });
  });
  const res = await inject(app, { url: '/events', payloadAsStream: true });
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'], /^text\/event-stream/);
  assert.throws(() => res.body, { code: 'HN_ERR_INJECT_OPTION' });
  let text = '';
  for await (const chunk of res.stream()) {
    text += chunk.toString();
    if (text.includes('data: tick 3\n\n')) break;
  }
  assert.match(text, /^id: 1\ndata: tick 1\n\nid: 2\ndata: tick 2\n\nid: 3\ndata: tick 3\n\n/);
  // Leaving the loop destroyed the stream: the server saw its client go.
  await withTimeout(gone, WAIT_MS, 'req.signal abort');
});

test('payloadAsStream: a large streamed answer arrives whole, in order', async (t) => {
  const piece = Buffer.alloc(64 * 1024, 'z');
  const app = appFor(t, (app) => {
    app.get('/big', async (req, res) => {
      for (let i = 0; i < 20; i++) {
        if (!res.write(piece)) await once(res, 'drain');
      }
      res.end('end');
    });
  });
  const res = await inject(app, { url: '/big', payloadAsStream: true });
  const chunks = [];
  for await (const chunk of res.stream()) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  assert.equal(body.length, 20 * piece.length + 3);
  assert.equal(body.subarray(-3).toString(), 'end');
});

test('many injects at once each get their own answer', async (t) => {
  const app = appFor(t, (app) => {
    app.get('/n/:n', async (req, res) => {
      await new Promise((resolve) => setTimeout(resolve, Number(req.params.n) % 5));
      res.json({ n: Number(req.params.n) });
    });
  });
  const answers = await Promise.all(Array.from({ length: 64 }, (_, n) => inject(app, { url: `/n/${n}` })));
  assert.deepEqual(answers.map((r) => r.json().n), Array.from({ length: 64 }, (_, n) => n));
});

// This process's listening TCP sockets: its socket descriptors matched with the kernel's table
// of listening sockets (state 0A) by inode.
function listeningSockets() {
  const inodes = new Set();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`));
      if (match) inodes.add(match[1]);
    } catch {}
  }
  const listening = [];
  for (const file of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A' && inodes.has(cols[9])) listening.push(cols[1]);
    }
  }
  return listening.sort();
}

test('no listening socket is opened (and a listen() one is seen by the same check)', { skip: process.platform !== 'linux' }, async (t) => {
  const app = appFor(t, (app) => app.get('/', (req, res) => res.send('hi')));
  const before = listeningSockets();
  assert.equal((await inject(app, { url: '/' })).body, 'hi');
  assert.deepEqual(listeningSockets(), before);
  assert.equal(app.injectServer.port, 0);
  // The check can fail: a real listen() shows up in it.
  const server = await app.listen({ port: 0, host: '127.0.0.1' });
  assert.equal(listeningSockets().length, before.length + 1);
  await server.close();
});

test('a process that injects exits on its own, without close()', async () => {
  const script = `
    const { createApp } = require(${JSON.stringify(path.join(__dirname, '..'))});
    const app = createApp();
    app.get('/', (req, res) => res.send('bye'));
    app.inject({ url: '/' }).then((res) => console.log(res.body));
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const [code] = await withTimeout(once(child, 'exit'), WAIT_MS, 'the child process to exit');
  assert.equal(code, 0);
  assert.equal(out.trim(), 'bye');
});

test('app.close() closes the inject server; the next inject starts a fresh one', async (t) => {
  const app = appFor(t, (app) => app.get('/', (req, res) => res.send('up')));
  assert.equal((await inject(app, { url: '/' })).body, 'up');
  const first = app.injectServer;
  await app.close();
  assert.equal(first.address(), null);
  assert.equal((await inject(app, { url: '/' })).body, 'up');
  assert.notEqual(app.injectServer, first);
});

test('options that cannot be sent are coded errors, and nothing is sent', async (t) => {
  let runs = 0;
  const app = appFor(t, (app) => app.all('/x', (req, res) => res.send(String(++runs))));
  await assert.rejects(app.inject({ url: '/x', headers: { 'x-a': 'one\r\nx-b: two' } }), { code: 'HN_ERR_INVALID_HEADER' });
  await assert.rejects(app.inject({ url: '/x', headers: { 'bad name': 'v' } }), { code: 'HN_ERR_INJECT_OPTION' });
  await assert.rejects(app.inject({ url: '/x y' }), { code: 'HN_ERR_INJECT_OPTION' });
  await assert.rejects(app.inject({ url: 'x' }), { code: 'HN_ERR_INJECT_OPTION' });
  await assert.rejects(app.inject({ method: 'GE T', url: '/x' }), { code: 'HN_ERR_INJECT_OPTION' });
  await assert.rejects(app.inject({ url: '/x', bodyy: 1 }), { code: 'HN_ERR_INJECT_OPTION' });
  await assert.rejects(app.inject({ url: '/x', remoteAddress: 'nope' }), { code: 'HN_ERR_INJECT_OPTION' });
  await assert.rejects(app.inject({ url: '/x', body: 12 }), { code: 'HN_ERR_INJECT_OPTION' });
  assert.equal(runs, 0);
  // A Content-Length given with the options is replaced by the body's own.
  const res = await inject(app, { method: 'POST', url: '/x', body: 'abc', headers: { 'content-length': '99', 'content-type': 'text/plain' } });
  assert.equal(res.body, '1');
});
