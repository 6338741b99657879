'use strict';
// node:http's IncomingMessage/ServerResponse surface that npm middleware reads (js/node-compat.js),
// the jshttp helpers written against it (on-finished, on-headers), and the containment of throws
// from listeners and callbacks the app hands to req/res (js/contain.js).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const onFinished = require('on-finished');
const onHeaders = require('on-headers');
const { serve, get, request, buildRequest, RawClient, deferred, withRoot, assertStillServes } = require('./helpers');

const T = { timeout: 15000 };

test('req: rawHeaders, httpVersionMajor/Minor, complete, aborted, socket facade, originalUrl, app, res', T, async (t) => {
  let app;
  const s = await serve(t, (a) => {
    app = a;
    a.post('/info', (req, res) => {
      res.json({
        rawHeaders: req.rawHeaders,
        major: req.httpVersionMajor,
        minor: req.httpVersionMinor,
        complete: req.complete,
        aborted: req.aborted,
        remoteAddress: req.socket.remoteAddress,
        remoteFamily: req.connection.remoteFamily,
        encrypted: req.socket.encrypted ?? null,
        sameSocket: req.socket === res.socket && req.connection === res.connection,
        originalUrl: req.originalUrl,
        baseUrl: req.baseUrl,
        isApp: req.app === app && res.app === app,
        linked: req.res === res && res.req === req,
        sendDate: res.sendDate,
        headerBefore: res._header,
        socketWritable: req.socket.writable,
      });
    });
  });
  const res = await get(s.port, '/info?x=1', {
    method: 'POST',
    headers: [['X-One', 'a'], ['x-one', 'b'], ['Content-Length', '0']],
  });
  const info = res.json();
  assert.deepEqual(info.rawHeaders, ['host', 'localhost', 'x-one', 'a', 'x-one', 'b', 'content-length', '0']);
  assert.equal(info.major, 1);
  assert.equal(info.minor, 1);
  assert.equal(info.complete, true);
  assert.equal(info.aborted, false);
  assert.equal(info.remoteAddress, '127.0.0.1');
  assert.equal(info.remoteFamily, 'IPv4');
  assert.equal(info.encrypted, null);
  assert.equal(info.sameSocket, true);
  assert.equal(info.originalUrl, '/info?x=1');
  assert.equal(info.baseUrl, '');
  assert.equal(info.isApp, true);
  assert.equal(info.linked, true);
  assert.equal(info.sendDate, true);
  assert.equal(info.headerBefore, null);
  assert.equal(info.socketWritable, true);

  const old = await RawClient.connect(s.port);
  t.after(() => old.destroy());
  await old.write(buildRequest('POST', '/info', { version: '1.0', headers: [['content-length', '0']] }));
  const info10 = (await old.readResponse()).json();
  assert.equal(info10.major, 1);
  assert.equal(info10.minor, 0);
});

test("res._header is the head once written; middleware may assign what node lets them (req.res, res.req...)", T, async (t) => {
  const s = await serve(t, (app) => {
    app.get('/', (req, res) => {
      res.set('x-a', '1');
      res.writeHead(201);
      const head = res._header;
      // Express's app.handle assigns these; they must not throw on a getter.
      req.res = res;
      res.req = req;
      req.originalUrl = '/rewritten';
      res.end(JSON.stringify({ head, originalUrl: req.originalUrl, headerSent: res._headerSent }));
    });
  });
  const res = await get(s.port, '/');
  assert.equal(res.status, 201);
  const seen = res.json();
  assert.match(seen.head, /^HTTP\/1\.1 201 Created\r\n/);
  assert.match(seen.head, /\r\nx-a: 1\r\n/);
  assert.equal(seen.originalUrl, '/rewritten');
  assert.equal(seen.headerSent, true);
});

test('on-finished sees a whole answer, a streamed one, and a client that left', T, async (t) => {
  const finished = [];
  const left = deferred();
  const s = await serve(t, (app) => {
    app.use((req, res, next) => {
      onFinished(res, (err) => {
        finished.push({ url: req.url, err: err ? err.message : null, isFinished: onFinished.isFinished(res) });
        if (req.url === '/hang') left.resolve();
      });
      next();
    });
    app.get('/whole', (req, res) => res.send('whole'));
    app.get('/streamed', (req, res) => {
      res.write('a');
      setImmediate(() => res.end('b'));
    });
    app.get('/hang', () => {});
  });
  assert.equal((await get(s.port, '/whole')).text, 'whole');
  assert.equal((await get(s.port, '/streamed')).text, 'ab');
  const c = await RawClient.connect(s.port);
  await c.write(buildRequest('GET', '/hang'));
  // The request reached JS before the client leaves: a second request on another connection is
  // answered after it in the same order (one JS thread).
  await assertStillServesWith(s.port, '/whole');
  // A reset: a bare FIN before the answer is a half-close, to which the answer is still owed.
  c.socket.resetAndDestroy();
  await left.promise;
  assert.deepEqual(finished.slice(0, 2), [
    { url: '/whole', err: null, isFinished: true },
    { url: '/streamed', err: null, isFinished: true },
  ]);
  assert.equal(finished.find((f) => f.url === '/hang').url, '/hang');
});

async function assertStillServesWith(port, path) {
  const res = await get(port, path);
  assert.equal(res.status, 200);
}

test('on-headers runs its listener once, just before the head, for every kind of answer', T, async (t) => {
  const s = await serve(t, (app) => {
    app.use((req, res, next) => {
      onHeaders(res, function listener() {
        this.setHeader('x-seen-status', String(this.statusCode));
        this.setHeader('x-calls', String(Number(this.getHeader('x-calls') || 0) + 1));
      });
      next();
    });
    app.get('/json', (req, res) => res.status(202).json({ ok: true }));
    app.get('/stream', (req, res) => {
      res.status(206);
      res.write('x');
      res.end('y');
    });
    app.get('/end', (req, res) => res.end());
  });
  for (const [path, status] of [['/json', '202'], ['/stream', '206'], ['/end', '200']]) {
    const res = await get(s.port, path);
    assert.equal(res.headers['x-seen-status'], status, path);
    assert.equal(res.headers['x-calls'], '1', path);
  }
});

test("res.getHeader('content-length') after send() is the body's length, as Express sets it", T, async (t) => {
  let seen;
  const s = await serve(t, (app) => {
    app.use((req, res, next) => {
      res.on('finish', () => {
        seen = res.getHeader('content-length');
      });
      next();
    });
    app.get('/', (req, res) => res.send('héllo'));
  });
  const res = await get(s.port, '/');
  assert.equal(res.headers['content-length'], '6');
  await waitFor(() => seen !== undefined);
  assert.equal(seen, '6');
});

async function waitFor(check) {
  for (let i = 0; i < 250 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(check(), 'condition reached');
}

test('a mounted middleware sees req.url without its prefix and req.baseUrl; both come back on next()', T, async (t) => {
  const s = await serve(t, (app) => {
    app.use('/api', (req, res, next) => {
      res.set('x-in', `${req.baseUrl}|${req.url}|${req.path}|${req.originalUrl}`);
      next();
    });
    app.use('/api', (req, res, next) => {
      // A rewrite made inside the mount is kept, under the prefix.
      if (req.url === '/old') req.url = '/new';
      next();
    });
    app.use((req, res, next) => {
      res.set('x-after', `${req.baseUrl}|${req.url}|${req.path}`);
      next();
    });
    app.get('/api/users/:id', (req, res) => res.send('user'));
    app.get('/api', (req, res) => res.send('root'));
    app.get('/api/old', (req, res) => res.send(req.url));
  });
  const user = await get(s.port, '/api/users/7?x=1');
  assert.equal(user.headers['x-in'], '/api|/users/7?x=1|/users/7|/api/users/7?x=1');
  assert.equal(user.headers['x-after'], '|/api/users/7?x=1|/api/users/7');
  const root = await get(s.port, '/api?q');
  assert.equal(root.headers['x-in'], '/api|/?q|/|/api?q');
  assert.equal(root.headers['x-after'], '|/api?q|/api');
  assert.equal((await get(s.port, '/api/old')).text, '/api/new');
});

test('a listener or callback that throws costs its request a 500 (or a cut answer), never the process', T, async (t) => {
  const s = await serve(t, (app) => {
    withRoot(app);
    // A hand-written body parser whose 'end' listener throws on bad JSON.
    app.post('/parse', (req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (chunk) => {
        text += chunk;
      });
      req.on('end', () => {
        res.json(JSON.parse(text));
      });
    });
    app.get('/write-cb', (req, res) => {
      res.write('partial', () => {
        throw new Error('write callback');
      });
    });
    app.get('/finish-listener', (req, res) => {
      res.once('finish', () => {
        throw new Error('finish listener');
      });
      res.send('answered');
    });
    app.get('/custom-event', (req, res) => {
      req.on('timeout', () => {
        throw new Error('timeout listener');
      });
      setImmediate(() => req.emit('timeout'));
    });
  }, { listenOptions: {} });

  const ok = await request(s.base, '/parse', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'text/plain' } });
  assert.deepEqual(await ok.json(), { a: 1 });
  const bad = await request(s.base, '/parse', { method: 'POST', body: '{bad', headers: { 'content-type': 'text/plain' } });
  assert.equal(bad.status, 500);
  assert.deepEqual(await bad.json(), { error: 'Internal Server Error' });

  // The head went with 'partial': the answer is cut off instead.
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  await c.write(buildRequest('GET', '/write-cb'));
  await c.waitForClose();
  assert.match(c.leftover.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/);
  assert.doesNotMatch(c.leftover.toString('latin1'), /\r\n0\r\n\r\n$/);

  const finished = await get(s.port, '/finish-listener');
  assert.equal(finished.text, 'answered');

  const custom = await get(s.port, '/custom-event');
  assert.equal(custom.status, 500);

  await assertStillServes(s.port);
});

test('removeListener(fn) and listeners() see the function the app registered', T, async (t) => {
  const s = await serve(t, (app) => {
    app.post('/', (req, res) => {
      const fn = () => {};
      res.on('finish', fn);
      res.once('close', fn);
      req.on('end', fn);
      const before = [res.listeners('finish')[0] === fn, res.listeners('close')[0] === fn, req.listeners('end').includes(fn)];
      res.removeListener('finish', fn);
      res.off('close', fn);
      req.removeListener('end', fn);
      res.json({ before, after: [res.listenerCount('finish'), res.listenerCount('close'), req.listeners('end').includes(fn)] });
    });
  });
  const res = await request(s.base, '/', { method: 'POST', body: 'x' });
  assert.deepEqual(await res.json(), { before: [true, true, true], after: [0, 0, false] });
});
