'use strict';
const { test, describe } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const path = require('node:path');
const net = require('node:net');
const { spawn } = require('node:child_process');
const { createApp } = require('..');
const {
  DRIVERS,
  LEGACY_ENV,
  serve,
  closeServer,
  request,
  buildRequest,
  RawClient,
  withTimeout,
  sleep,
} = require('./helpers');

const T = { timeout: 20000 };
const ROOT = path.join(__dirname, '..');

// Runs a node child; resolves { code, signal, stdout, stderr } or rejects if it is still alive after
// `limit` ms (then it is killed). `onStdout` may act on output as it arrives.
function runNode(args, { env, limit = 30000, onStdout } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      if (onStdout) onStdout(stdout, child);
    });
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not exit within ${limit} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, limit);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function connectRefused(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    sock.setTimeout(3000, () => {
      sock.destroy();
      resolve('timeout');
    });
    sock.once('connect', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.once('error', (e) => resolve(e.code));
  });
}

describe('listen', () => {
  test('listen(0) gives a port, a url and a known driver', T, async (t) => {
    const app = createApp();
    app.get('/', (req, res) => res.send('hi'));
    const server = await withTimeout(app.listen(0), 5000, 'listen(0)');
    t.after(() => closeServer(server));
    assert.equal(typeof server.port, 'number');
    assert.ok(server.port > 0 && server.port < 65536);
    assert.equal(server.url, `http://127.0.0.1:${server.port}`);
    assert.ok(DRIVERS.includes(server.driver), `driver ${server.driver}`);
    if (LEGACY_ENV) assert.notEqual(server.driver, 'io_uring');
    const res = await request(server.url, '/');
    assert.equal(await res.text(), 'hi');
  });

  test('listen({ port, host }) binds that host', T, async (t) => {
    const s = await serve(t, (app) => app.get('/', (req, res) => res.send('hi')));
    assert.equal(s.server.url, `http://127.0.0.1:${s.port}`);
    const res = await request(s.server.url, '/');
    assert.equal(await res.text(), 'hi');
  });

  test("listen({ driver: 'legacy' }) does not use io_uring and serves requests", T, async (t) => {
    const s = await serve(t, (app) => app.get('/users/:id', (req, res) => res.json({ id: req.params.id })), {
      listenOptions: { driver: 'legacy' },
    });
    assert.ok(DRIVERS.includes(s.server.driver), `driver ${s.server.driver}`);
    assert.notEqual(s.server.driver, 'io_uring');
    const res = await request(s.base, '/users/77');
    assert.deepEqual(await res.json(), { id: '77' });
  });

  test('HTTP_NATIVE_DRIVER=legacy in a child process forces a non-io_uring driver', T, async () => {
    const script = `
      const { createApp } = require(${JSON.stringify(ROOT)});
      (async () => {
        const server = await createApp().listen(0);
        console.log('DRIVER=' + server.driver);
        await server.close();
      })().catch((e) => { console.error(e); process.exit(2); });`;
    const r = await runNode(['-e', script], { env: { HTTP_NATIVE_DRIVER: 'legacy' } });
    assert.equal(r.code, 0, r.stderr);
    const m = /DRIVER=(\S+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(DRIVERS.includes(m[1]), m[1]);
    assert.notEqual(m[1], 'io_uring');
  });

  test('listening on a port already in use rejects', T, async (t) => {
    const s = await serve(t, () => {});
    const app = createApp();
    let second;
    t.after(() => second && closeServer(second));
    await assert.rejects(async () => {
      second = await withTimeout(Promise.resolve().then(() => app.listen(s.port)), 5000, 'listen on a used port');
    });
  });

  test('two apps listen side by side with their own routes', T, async (t) => {
    const a = await serve(t, (app) => app.get('/who', (req, res) => res.send('a')));
    const b = await serve(t, (app) => app.get('/who', (req, res) => res.send('b')));
    assert.notEqual(a.port, b.port);
    assert.equal(await (await request(a.base, '/who')).text(), 'a');
    assert.equal(await (await request(b.base, '/who')).text(), 'b');
  });
});

describe('close', () => {
  // These tests close the server themselves; t.after is the safety net when an assertion fails first.
  test('close() resolves and then new connections are refused', T, async (t) => {
    const app = createApp();
    app.get('/', (req, res) => res.send('hi'));
    const server = await app.listen(0);
    t.after(() => closeServer(server));
    const res = await request(server.url, '/');
    assert.equal(await res.text(), 'hi');
    await closeServer(server);
    assert.equal(await connectRefused(server.port), 'ECONNREFUSED');
  });

  test('close() closes idle keep-alive connections', T, async (t) => {
    const app = createApp();
    app.get('/', (req, res) => res.send('hi'));
    const server = await app.listen(0);
    t.after(() => closeServer(server));
    const c = await RawClient.connect(server.port);
    try {
      await c.write(buildRequest('GET', '/'));
      assert.equal((await c.readResponse()).text, 'hi');
      await closeServer(server);
      await c.waitForClose(5000);
    } finally {
      c.destroy();
    }
  });

  test('close() lets an in-flight request finish', T, async (t) => {
    const app = createApp();
    let entered;
    const handlerStarted = new Promise((r) => (entered = r));
    app.get('/slow', async (req, res) => {
      entered();
      await sleep(300);
      res.send('finished');
    });
    const server = await app.listen(0);
    t.after(() => closeServer(server));
    const c = await RawClient.connect(server.port);
    try {
      await c.write(buildRequest('GET', '/slow'));
      await withTimeout(handlerStarted, 5000, 'handler start');
      const closing = closeServer(server);
      const res = await c.readResponse({ timeout: 8000 });
      assert.equal(res.status, 200);
      assert.equal(res.text, 'finished');
      await closing;
    } finally {
      c.destroy();
    }
  });
});

describe('process exit after close', () => {
  const lib = JSON.stringify(ROOT);
  const cases = {
    'listen then close without requests': `
      const server = await createApp().listen(0);
      await server.close();`,
    'listen, fetch, close': `
      const app = createApp();
      app.get('/', (req, res) => res.send('hi'));
      const server = await app.listen(0);
      const r = await fetch(server.url + '/');
      if ((await r.text()) !== 'hi') process.exit(3);
      await server.close();`,
    'listen, raw request left on an idle keep-alive socket, close': `
      const net = require('node:net');
      const app = createApp();
      app.get('/', (req, res) => res.send('hi'));
      const server = await app.listen(0);
      const sock = net.connect(server.port, '127.0.0.1');
      await new Promise((resolve, reject) => {
        sock.on('error', reject);
        sock.on('data', (d) => { if (d.toString().includes('hi')) resolve(); });
        sock.write('GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n');
      });
      sock.on('error', () => {});
      await server.close();`,
    "legacy driver: listen, fetch, close": `
      const app = createApp();
      app.get('/', (req, res) => res.send('hi'));
      const server = await app.listen({ port: 0, driver: 'legacy' });
      const r = await fetch(server.url + '/');
      if ((await r.text()) !== 'hi') process.exit(3);
      await server.close();`,
  };
  for (const [name, body] of Object.entries(cases)) {
    test(`process exits by itself: ${name}`, { timeout: 40000 }, async () => {
      const script = `
        const { createApp } = require(${lib});
        (async () => {
          ${body}
          console.log('CLOSED');
        })().catch((e) => { console.error(e); process.exit(2); });`;
      const r = await runNode(['-e', script], { limit: 30000 });
      assert.equal(r.signal, null, r.stderr);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /CLOSED/);
    });
  }
});

describe('concurrency', () => {
  test('100 concurrent raw clients each get their own answer', T, async (t) => {
    const s = await serve(t, (app) => {
      app.get('/users/:id', async (req, res) => {
        await sleep(Number(req.params.id) % 7);
        res.json({ id: req.params.id });
      });
    });
    const results = await Promise.all(
      Array.from({ length: 100 }, async (_, n) => {
        const c = await RawClient.connect(s.port);
        try {
          await c.write(buildRequest('GET', `/users/${n}`));
          const res = await c.readResponse({ timeout: 10000 });
          return { status: res.status, body: res.json() };
        } finally {
          c.destroy();
        }
      }),
    );
    results.forEach((r, n) => {
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { id: String(n) });
    });
  });

  test('100 concurrent fetches each get their own answer', T, async (t) => {
    const s = await serve(t, (app) => {
      app.post('/echo/:id', (req, res) => res.json({ id: req.params.id, body: req.body }));
    });
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, n) =>
        request(s.base, `/echo/${n}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ n }),
        }).then((r) => r.json()),
      ),
    );
    results.forEach((r, n) => assert.deepEqual(r, { id: String(n), body: { n } }));
  });
});

describe('examples/hello.js', () => {
  test('serves the documented routes and exits cleanly on SIGTERM', { timeout: 40000 }, async () => {
    let url;
    let checked;
    const r = await runNode([path.join(ROOT, 'examples', 'hello.js')], {
      env: { PORT: '0' },
      limit: 30000,
      onStdout(out, child) {
        const m = /(http:\/\/[\w.:[\]-]+)/.exec(out);
        if (!m || url) return;
        url = m[1];
        checked = (async () => {
          try {
            const root = await request(url, '/');
            const user = await request(url, '/users/42');
            const health = await request(url, '/api/v1/health');
            return {
              root: await root.text(),
              user: await user.json(),
              health: await health.json(),
              powered: root.headers.get('x-powered-by'),
            };
          } finally {
            child.kill('SIGTERM');
          }
        })();
      },
    });
    assert.ok(url, `no URL printed: ${r.stdout} ${r.stderr}`);
    const got = await checked;
    assert.equal(got.root, 'Hello, World!');
    assert.deepEqual(got.user, { id: '42' });
    assert.deepEqual(got.health, { ok: true });
    assert.equal(got.powered, 'http-native');
    assert.equal(r.code, 0, `exit code ${r.code} signal ${r.signal}\n${r.stderr}`);
    assert.match(r.stdout, /io_uring|epoll|kqueue/);
  });
});
