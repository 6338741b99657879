'use strict';
// app.fetch(request) called directly in Node: no socket, no server between the Request and the
// app. The shared cases (support/fetch-cases.js) run here with the fetch front's own bounds; the
// rest is what only a direct caller can check (compiling on first call, the ip option, request
// body streams, the cache, a reader that goes away).
const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const { createApp } = require('..');
const { buildApp } = require('./fixtures/fetch-app');
const { cases, readUntil } = require('./support/fetch-cases');
const { deferred } = require('./helpers');

const ORIGIN = 'http://app.test';
const call = (app, path, init, info) => app.fetch(new Request(ORIGIN + path, init), info);

describe('app.fetch, the shared cases', () => {
  const app = buildApp(createApp);
  const send = (path, init) => call(app, path, init);
  for (const { name, run } of cases) test(name, () => run(send, { direct: true }));
});

describe('app.fetch', () => {
  test('is a function bound to the app, usable as a bare handler', async () => {
    const app = createApp();
    app.get('/', (req, res) => res.send(`hello from ${req.app === app ? 'the app' : 'elsewhere'}`));
    const handler = app.fetch;
    assert.equal(handler, app.fetch);
    const res = await handler(new Request(`${ORIGIN}/`));
    assert.ok(res instanceof Response);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hello from the app');
  });

  test('compiles the app on its first call: routes registered later do not reach it', async () => {
    const app = createApp();
    app.get('/before', (req, res) => res.send('before'));
    assert.equal(await (await call(app, '/before')).text(), 'before');
    app.get('/after', (req, res) => res.send('after'));
    assert.equal((await call(app, '/after')).status, 404);
    assert.equal(await (await call(app, '/before')).text(), 'before');
  });

  test('rejects what is not a Request', async () => {
    const app = createApp();
    await assert.rejects(app.fetch('/path'), { code: 'HN_ERR_INVALID_ARG', name: 'TypeError' });
    await assert.rejects(app.fetch(null), { code: 'HN_ERR_INVALID_ARG' });
  });

  test('req.ip is the `ip` the caller gives, else empty; Bun\'s server and Deno\'s info are read', async () => {
    const app = createApp();
    app.get('/ip', (req, res) => res.json({ ip: req.ip, remote: req.socket.remoteAddress ?? null }));
    assert.equal((await (await call(app, '/ip', undefined, { ip: '203.0.113.9' })).json()).ip, '203.0.113.9');
    assert.equal((await (await call(app, '/ip')).json()).ip, '');
    const bunServer = { requestIP: (request) => (request instanceof Request ? { address: '198.51.100.4', family: 'IPv4', port: 1 } : null) };
    assert.equal((await (await call(app, '/ip', undefined, bunServer)).json()).ip, '198.51.100.4');
    const denoInfo = { remoteAddr: { transport: 'tcp', hostname: '2001:db8::1', port: 2 } };
    assert.equal((await (await call(app, '/ip', undefined, denoInfo)).json()).ip, '2001:db8::1');
  });

  test('the raw target reaches the app: escapes as sent, the fragment dropped, Host from the URL', async () => {
    const app = createApp();
    app.get('/t/:name', (req, res) => res.json({ name: req.params.name, url: req.url, host: req.get('host'), protocol: req.protocol }));
    const res = await app.fetch(new Request('https://example.org:8443/t/a%2Fb%20c?q=%41#frag'));
    assert.deepEqual(await res.json(), { name: 'a/b c', url: '/t/a%2Fb%20c?q=%41', host: 'example.org:8443', protocol: 'https' });
  });

  test('a request body given as a stream is read as it comes', async () => {
    const app = createApp();
    app.post('/json', (req, res) => res.json(req.body));
    const encoder = new TextEncoder();
    const parts = ['{"a":', '[1,2', ',3]}'];
    const body = new ReadableStream({
      pull(controller) {
        if (parts.length === 0) controller.close();
        else controller.enqueue(encoder.encode(parts.shift()));
      },
    });
    const res = await call(app, '/json', { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { a: [1, 2, 3] });
  });

  test('a streamed route reads a large request body at its own pace', async () => {
    const app = createApp();
    app.post('/count', { body: 'stream' }, async (req, res) => {
      let bytes = 0;
      for await (const chunk of req) bytes += chunk.length;
      res.json({ bytes });
    });
    const chunk = new Uint8Array(16 * 1024).fill(7);
    const total = 4 * 1024 * 1024;
    let sent = 0;
    const body = new ReadableStream({
      pull(controller) {
        if (sent >= total) {
          controller.close();
          return;
        }
        controller.enqueue(chunk.slice());
        sent += chunk.length;
      },
    });
    const res = await call(app, '/count', { method: 'POST', body, duplex: 'half' });
    assert.deepEqual(await res.json(), { bytes: total });
  });

  test('a streamed body the app answers without reading is cancelled, not left waiting', async () => {
    const app = createApp();
    app.post('/ignore', { body: 'stream' }, (req, res) => {
      // Answered once the body's window is full, without reading any of it.
      setTimeout(() => res.send('ignored'), 50);
    });
    const cancelled = deferred();
    const body = new ReadableStream({
      pull(controller) {
        controller.enqueue(new Uint8Array(16 * 1024));
      },
      cancel() {
        cancelled.resolve(true);
      },
    });
    const res = await call(app, '/ignore', { method: 'POST', body, duplex: 'half' });
    assert.equal(await res.text(), 'ignored');
    assert.equal(await cancelled.promise, true);
  });

  test('a body over bodyLimit is a 413 and the handler never runs', async () => {
    const app = createApp({ bodyLimit: 16 });
    let ran = false;
    app.post('/small', (req, res) => {
      ran = true;
      res.send('ran');
    });
    const res = await call(app, '/small', { method: 'POST', body: 'x'.repeat(17) });
    assert.equal(res.status, 413);
    assert.equal(ran, false);
    const ok = await call(app, '/small', { method: 'POST', body: 'x'.repeat(16) });
    assert.equal(await ok.text(), 'ran');
  });

  test('a body sent without a length is a 413 once it passes bodyLimit', async () => {
    const app = createApp({ bodyLimit: 1024 });
    let ran = false;
    app.post('/small', (req, res) => {
      ran = true;
      res.send('ran');
    });
    let pulls = 0;
    const body = new ReadableStream({
      pull(controller) {
        pulls++;
        controller.enqueue(new Uint8Array(512));
      },
    });
    const res = await call(app, '/small', { method: 'POST', body, duplex: 'half' });
    assert.equal(res.status, 413);
    assert.deepEqual(await res.json(), { error: 'Content Too Large' });
    assert.equal(ran, false);
    // The endless body was not read to its end: reading stopped at the limit.
    assert.ok(pulls < 100, `${pulls} chunks pulled`);
  });

  test('app.static() answers with an ETag, and 304 to a matching If-None-Match', async () => {
    const app = createApp();
    app.static('/robots.txt', 'User-agent: *\n');
    const res = await call(app, '/robots.txt');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'User-agent: *\n');
    const etag = res.headers.get('etag');
    assert.match(etag, /^"/);
    const again = await call(app, '/robots.txt', { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.body, null);
  });

  test('res.ncache() answers from the cache, and app.cache.invalidate() reaches it', async () => {
    const app = createApp();
    let runs = 0;
    app.get('/cached', (req, res) => res.ncache(`run ${++runs}`, 60));
    assert.equal(await (await call(app, '/cached')).text(), 'run 1');
    assert.equal(await (await call(app, '/cached')).text(), 'run 1');
    app.cache.invalidate('/cached');
    assert.equal(await (await call(app, '/cached')).text(), 'run 2');
  });

  test('a reader that cancels a streamed answer is a client gone: res closes, req.signal aborts', async () => {
    const app = createApp();
    const closed = deferred();
    const aborted = deferred();
    app.get('/endless', (req, res) => {
      req.signal.addEventListener('abort', () => aborted.resolve(req.signal.reason.code));
      res.on('close', () => closed.resolve(res.writableFinished));
      res.write('tick;');
    });
    const res = await call(app, '/endless');
    const reader = res.body.getReader();
    await readUntil(reader, { text: '' }, (text) => text === 'tick;');
    await reader.cancel();
    assert.equal(await closed.promise, false);
    assert.equal(await aborted.promise, 'HN_ERR_CLIENT_GONE');
  });

  test('an aborted Request signal before the answer is a client gone', async () => {
    const app = createApp();
    const aborted = deferred();
    app.get('/slow', (req) => {
      req.signal.addEventListener('abort', () => aborted.resolve(req.signal.reason.code));
    });
    const controller = new AbortController();
    const pending = call(app, '/slow', { signal: controller.signal });
    // The handler has the request once its signal is watched; abort then.
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    await assert.rejects(pending, { code: 'HN_ERR_CLIENT_GONE' });
    assert.equal(await aborted.promise, 'HN_ERR_CLIENT_GONE');
  });

  test('HEAD on a streamed answer has its headers and no body', async () => {
    const app = createApp();
    app.get('/streamed', (req, res) => {
      res.type('text/plain');
      res.write('part');
      res.end();
    });
    const res = await call(app, '/streamed', { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain/);
    assert.equal(res.body, null);
  });

  test('res.destroy() after the head cuts the body off', async () => {
    const app = createApp();
    app.get('/cut', (req, res) => {
      res.write('partial');
      setImmediate(() => res.destroy());
    });
    const res = await call(app, '/cut');
    await assert.rejects(res.text(), { code: 'HN_ERR_ANSWER_ABORTED' });
  });

  // Rust closes the connection at once; so does js/host/core.js (it used to wait for the head and
  // leave the call to handlerTimeout's 503).
  test('res.destroy() before anything was sent rejects the call', async () => {
    const app = createApp({ handlerTimeout: 1000 });
    app.get('/nothing', (req, res) => res.destroy());
    await assert.rejects(call(app, '/nothing'), { code: 'HN_ERR_ANSWER_ABORTED' });
  });

  // The envelope's method length is a u8: Rust answers 501 past it (src/bridge/records.rs), and so
  // does js/host/core.js (it wrote the length's low byte, and the app read a wrong method and path).
  test('a method longer than 255 bytes is a 501, as Rust answers it', async () => {
    const app = createApp();
    app.use((req, res) => res.json({ method: req.method, url: req.url }));
    const res = await call(app, '/x', { method: 'M'.repeat(300) });
    assert.equal(res.status, 501);
  });

  test('serves no files: res.sendFile() is a 500, a directory mount falls through to the app', async () => {
    const app = createApp();
    app.static('/assets', { root: __dirname });
    app.get('/file', (req, res) => res.sendFile(__filename));
    app.use((req, res) => res.status(404).send(`app: ${req.path}`));
    const file = await call(app, '/file');
    assert.equal(file.status, 500);
    assert.deepEqual(await file.json(), { error: 'Internal Server Error' });
    const mounted = await call(app, '/assets/fetch.test.js');
    assert.equal(mounted.status, 404);
    assert.equal(await mounted.text(), 'app: /assets/fetch.test.js');
  });

  test('a status no Response can carry is a 500', async () => {
    const app = createApp();
    app.get('/odd', (req, res) => res.status(700).send('odd'));
    const res = await call(app, '/odd');
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error: 'Internal Server Error' });
  });

  test('many calls at once are each answered with their own body', async () => {
    const app = createApp();
    app.get('/n/:n', async (req, res) => {
      await new Promise((resolve) => setImmediate(resolve));
      res.json({ n: Number(req.params.n) });
    });
    const answers = await Promise.all(Array.from({ length: 200 }, (_, n) => call(app, `/n/${n}`).then((r) => r.json())));
    assert.deepEqual(answers.map((a) => a.n), Array.from({ length: 200 }, (_, n) => n));
  });
});
