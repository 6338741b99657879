'use strict';
// listen(): node's and Express's signatures, the callback, the default host (every interface) and
// exact hosts, server.address(), and reusePort outside node:cluster (cluster.test.js has it inside).
const { test, describe } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const net = require('node:net');
const os = require('node:os');
const dns = require('node:dns/promises');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { createApp } = require('..');
const { closeServer, withTimeout, get } = require('./helpers');

const T = { timeout: 20000 };
const ROOT = path.join(__dirname, '..');

function hiApp(text = 'hi') {
  const app = createApp();
  app.get('/', (req, res) => res.send(text));
  return app;
}

// Listens and registers the close with the test; resolves to the server.
async function listening(t, promise) {
  const server = await withTimeout(promise, 5000, 'listen');
  t.after(() => closeServer(server));
  return server;
}

// listen() with a callback: resolves { self, args, server } once the callback has run, `self` being
// its `this`, and `server` what the returned promise resolved to.
function listenWithCallback(t, app, ...args) {
  return withTimeout(
    new Promise((resolve, reject) => {
      let called;
      const promise = app.listen(...args, function (...cbArgs) {
        called = { self: this, args: cbArgs };
      });
      promise.then((server) => {
        t.after(() => closeServer(server));
        // The callback may run before or after the promise's own reactions: wait for both.
        const check = () => (called ? resolve({ ...called, server }) : setImmediate(check));
        check();
      }, reject);
    }),
    5000,
    'the listen callback',
  );
}

// 'connected', or the connect error's code.
function tryConnect(host, port) {
  return withTimeout(
    new Promise((resolve) => {
      const sock = net.connect({ host, port });
      sock.once('connect', () => {
        sock.destroy();
        resolve('connected');
      });
      sock.once('error', (e) => resolve(e.code));
    }),
    5000,
    `connect to ${host}:${port}`,
  );
}

// One GET / over a fresh connection to host:port; resolves the body.
async function fetchFrom(host, port) {
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return res.text();
}

// This machine's first non-loopback IPv4 address, or undefined.
function externalIPv4() {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

// Whether IPv6 works here: a socket can listen on ::1.
async function ipv6Available() {
  const probe = net.createServer();
  try {
    await new Promise((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(0, '::1', resolve);
    });
    return true;
  } catch {
    return false;
  } finally {
    probe.close();
  }
}

describe('listen() signatures', () => {
  test('listen(port, callback): the callback runs once listening, with the server as this and no arguments', T, async (t) => {
    const { self, args, server } = await listenWithCallback(t, hiApp(), 0);
    assert.equal(self, server);
    assert.deepEqual(args, []);
    assert.equal(await fetchFrom('127.0.0.1', server.port), 'hi');
  });

  test('listen(callback) alone listens on a free port', T, async (t) => {
    const { self, server } = await listenWithCallback(t, hiApp());
    assert.equal(self, server);
    assert.ok(server.port > 0);
  });

  test("listen(port, host) binds that host: listen(0, '127.0.0.1')", T, async (t) => {
    const server = await listening(t, hiApp().listen(0, '127.0.0.1'));
    assert.deepEqual(server.address(), { address: '127.0.0.1', family: 'IPv4', port: server.port });
    assert.equal(server.url, `http://127.0.0.1:${server.port}`);
    assert.equal(await fetchFrom('127.0.0.1', server.port), 'hi');
  });

  test('listen(port, host, backlog, callback): the backlog reaches the listening socket', T, async (t) => {
    const { self, args, server } = await listenWithCallback(t, hiApp(), 0, '127.0.0.1', 7);
    assert.equal(self, server);
    assert.deepEqual(args, []);
    assert.equal(server.address().address, '127.0.0.1');
    assert.equal(await fetchFrom('127.0.0.1', server.port), 'hi');
    // ss shows a listening socket's backlog as its Send-Q.
    const ss = spawnSync('ss', ['-Hltn', `sport = :${server.port}`], { encoding: 'utf8' });
    if (ss.status !== 0) return t.skip(`backlog not observed: ss is not available (${ss.error?.code ?? ss.stderr})`);
    const [state, , sendQ] = ss.stdout.trim().split(/\s+/);
    assert.equal(state, 'LISTEN', ss.stdout);
    assert.equal(sendQ, '7', ss.stdout);
  });

  test('listen(port, backlog, callback): a number after the port is the backlog', T, async (t) => {
    const { server } = await listenWithCallback(t, hiApp(), 0, 5);
    assert.equal(await fetchFrom('127.0.0.1', server.port), 'hi');
  });

  test('listen(options, callback)', T, async (t) => {
    const { self, args, server } = await listenWithCallback(t, hiApp(), { port: 0, host: '127.0.0.1', backlog: 64 });
    assert.equal(self, server);
    assert.deepEqual(args, []);
    assert.equal(server.address().address, '127.0.0.1');
    assert.equal(await fetchFrom('127.0.0.1', server.port), 'hi');
  });

  test('a numeric string port is that port (process.env.PORT)', T, async (t) => {
    const taken = await listening(t, hiApp().listen(0, '127.0.0.1'));
    // The string names the port in use, so listening on it fails, naming it.
    await assert.rejects(hiApp().listen(String(taken.port), '127.0.0.1'), { code: 'EADDRINUSE', port: taken.port });
    const { server } = await listenWithCallback(t, hiApp(), '0', '127.0.0.1');
    assert.ok(server.port > 0);
    assert.equal(await fetchFrom('127.0.0.1', server.port), 'hi');
  });

  test('host undefined or null in its place means no host (listen(PORT, process.env.HOST, cb))', T, async (t) => {
    const a = await listenWithCallback(t, hiApp(), 0, undefined);
    const b = await listenWithCallback(t, hiApp(), 0, null, 16);
    for (const { server } of [a, b]) {
      assert.ok(['::', '0.0.0.0'].includes(server.address().address), server.address().address);
    }
  });

  test('bad arguments reject with HN_ERR_BAD_OPTION, and reach the callback', T, async () => {
    const app = hiApp();
    await assert.rejects(app.listen({ port: 0 }, '127.0.0.1'), { code: 'HN_ERR_BAD_OPTION' });
    await assert.rejects(app.listen(0, '127.0.0.1', 16, 'extra'), { code: 'HN_ERR_BAD_OPTION' });
    await assert.rejects(app.listen(0, '127.0.0.1', 0), { code: 'HN_ERR_BAD_OPTION', message: /backlog/ });
    await assert.rejects(app.listen({ port: 0, reusePort: 'yes' }), { code: 'HN_ERR_BAD_OPTION', message: /reusePort/ });
    const err = await withTimeout(new Promise((resolve) => app.listen(0, '127.0.0.1', 1.5, resolve)), 5000, 'callback');
    assert.equal(err.code, 'HN_ERR_BAD_OPTION');
  });

  test('EADDRINUSE goes to the callback as its error, with no unhandled rejection', T, async (t) => {
    const taken = await listening(t, hiApp().listen(0));
    const unhandled = [];
    const onUnhandled = (reason) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    t.after(() => process.off('unhandledRejection', onUnhandled));

    let promise;
    const err = await withTimeout(
      new Promise((resolve) => {
        promise = hiApp().listen(taken.port, function (e) {
          resolve(e);
        });
      }),
      5000,
      'the callback',
    );
    assert.ok(err instanceof Error);
    assert.equal(err.code, 'EADDRINUSE');
    assert.equal(err.syscall, 'listen');
    assert.equal(err.port, taken.port);
    // Two turns of the event loop: node reports unhandled rejections after each microtask drain.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, []);
    // The promise still rejects for whoever awaits it.
    await assert.rejects(promise, { code: 'EADDRINUSE' });
  });
});

describe('hosts', () => {
  test('no host: every interface, dual-stack, reachable over 127.0.0.1 and ::1', T, async (t) => {
    const server = await listening(t, hiApp().listen(0));
    const v6 = await ipv6Available();
    const address = v6 ? '::' : '0.0.0.0';
    assert.deepEqual(server.address(), { address, family: v6 ? 'IPv6' : 'IPv4', port: server.port });
    assert.equal(server.host, address);
    assert.equal(server.url, `http://127.0.0.1:${server.port}`, 'the url is one a local client can connect to');
    assert.equal(await fetchFrom('127.0.0.1', server.port), 'hi');
    const external = externalIPv4();
    if (external !== undefined) assert.equal(await fetchFrom(external, server.port), 'hi', `over ${external}`);
    if (!v6) return t.skip('this machine has no IPv6: ::1 not tried');
    assert.equal(await fetchFrom('::1', server.port), 'hi');
  });

  test("host '0.0.0.0' is every IPv4 interface: reachable on a non-loopback address, reported as 0.0.0.0", T, async (t) => {
    const server = await listening(t, hiApp().listen(0, '0.0.0.0'));
    assert.deepEqual(server.address(), { address: '0.0.0.0', family: 'IPv4', port: server.port });
    assert.equal(server.url, `http://127.0.0.1:${server.port}`);
    const external = externalIPv4();
    if (external === undefined) t.diagnostic('no non-loopback IPv4 address on this machine: tried 127.0.0.1 only');
    assert.equal(await fetchFrom(external ?? '127.0.0.1', server.port), 'hi');
    if (await ipv6Available()) assert.equal(await tryConnect('::1', server.port), 'ECONNREFUSED', 'not IPv6');
  });

  test("host '127.0.0.1' binds loopback only", T, async (t) => {
    const server = await listening(t, hiApp().listen({ port: 0, host: '127.0.0.1' }));
    assert.equal(server.address().address, '127.0.0.1');
    const external = externalIPv4();
    if (external === undefined) return t.skip('no non-loopback IPv4 address on this machine to be refused on');
    assert.equal(await tryConnect(external, server.port), 'ECONNREFUSED');
  });

  test("host '::1' binds IPv6 loopback only, with a bracketed url", T, async (t) => {
    if (!(await ipv6Available())) return t.skip('this machine has no IPv6');
    const server = await listening(t, hiApp().listen(0, '::1'));
    assert.deepEqual(server.address(), { address: '::1', family: 'IPv6', port: server.port });
    assert.equal(server.url, `http://[::1]:${server.port}`);
    assert.equal(await (await fetch(server.url, { signal: AbortSignal.timeout(5000) })).text(), 'hi');
    assert.equal(await tryConnect('127.0.0.1', server.port), 'ECONNREFUSED');
  });

  test("host 'localhost' binds the address localhost resolves to", T, async (t) => {
    const server = await listening(t, hiApp().listen(0, 'localhost'));
    const { address } = await dns.lookup('localhost');
    assert.equal(server.address().address, address);
    assert.equal(await (await fetch(server.url, { signal: AbortSignal.timeout(5000) })).text(), 'hi');
  });

  test('address() is null once close() was called', T, async () => {
    const server = await hiApp().listen(0, '127.0.0.1');
    assert.notEqual(server.address(), null);
    await closeServer(server);
    assert.equal(server.address(), null);
  });
});

describe('reusePort outside node:cluster', () => {
  test('without reusePort a second listen on the same port fails with EADDRINUSE', T, async (t) => {
    const first = await listening(t, hiApp().listen(0));
    await assert.rejects(hiApp().listen(first.port), { code: 'EADDRINUSE', syscall: 'listen', port: first.port });
    // Asking for it alone is not enough: the socket holding the port must have asked too.
    await assert.rejects(hiApp().listen({ port: first.port, reusePort: true }), { code: 'EADDRINUSE' });
  });

  test('two servers with reusePort share a port and both answer', T, async (t) => {
    const a = await listening(t, hiApp('a').listen({ port: 0, reusePort: true }));
    const b = await listening(t, hiApp('b').listen({ port: a.port, reusePort: true }));
    assert.equal(b.port, a.port);
    // The kernel picks a socket by a hash of each connection's addresses and ports, so fresh
    // connections (new source ports) reach both.
    const seen = new Set();
    for (let i = 0; i < 64; i++) seen.add((await get(a.port, '/')).text);
    assert.deepEqual([...seen].sort(), ['a', 'b']);
  });
});

// Starts node with `args`. `line(re)` resolves the match of `re` in its stdout once printed;
// `stop()` sends SIGTERM and resolves { stdout, stderr, code, signal } once it exited.
function startNode(t, args, env) {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  const waiters = new Set();
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ stdout, stderr, code, signal })));
  child.stdout.on('data', (d) => {
    stdout += d;
    for (const w of waiters) w();
  });
  child.stderr.on('data', (d) => (stderr += d));
  const line = (re) =>
    withTimeout(
      new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(stdout);
          if (m !== null) {
            waiters.delete(check);
            resolve(m);
          }
        };
        waiters.add(check);
        check();
        exited.then(() => reject(new Error(`exited before printing ${re}\nstdout: ${stdout}\nstderr: ${stderr}`)));
      }),
      10000,
      `a line matching ${re}; stdout so far: ${JSON.stringify(stdout)}`,
    );
  const stop = () => {
    child.kill('SIGTERM');
    return withTimeout(exited, 10000, 'the child to exit');
  };
  return { line, stop };
}

describe('startup line', () => {
  const script = (listenArgs) =>
    `require(${JSON.stringify(ROOT)}).createApp().listen(${listenArgs}).then((s) => setTimeout(() => s.close(), 100));`;

  test('NODE_DEBUG=http-native prints what was bound: every interface, or the host given', T, async () => {
    const all = spawnSync(process.execPath, ['-e', script('0')], { env: { ...process.env, NODE_DEBUG: 'http-native' }, encoding: 'utf8', timeout: 15000 });
    assert.equal(all.status, 0, all.stderr);
    assert.match(all.stderr, /^http-native: listening on every interface \((\[::\]|0\.0\.0\.0):(\d+), (IPv6 and IPv4|IPv4)\), http:\/\/127\.0\.0\.1:\2 from this machine \(driver \w+\)$/m);
    const local = spawnSync(process.execPath, ['-e', script("0, '127.0.0.1'")], { env: { ...process.env, NODE_DEBUG: 'http-native' }, encoding: 'utf8', timeout: 15000 });
    assert.equal(local.status, 0, local.stderr);
    assert.match(local.stderr, /^http-native: listening on http:\/\/127\.0\.0\.1:\d+ \(driver \w+\)$/m);
  });

  test('examples/hello.js prints the bound address and serves on the url it prints', T, async (t) => {
    const hello = startNode(t, [path.join('examples', 'hello.js')], { PORT: '0' });
    const listening = await hello.line(/^Listening .*$/m);
    const m = /^Listening on every interface \((::|0\.0\.0\.0)\), port (\d+): (http:\/\/127\.0\.0\.1:\2) \(driver: \w+\)$/.exec(listening[0]);
    assert.ok(m, listening[0]);
    assert.equal(await (await fetch(m[3], { signal: AbortSignal.timeout(5000) })).text(), 'Hello, World!');
    const r = await hello.stop();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /SIGTERM received, closing/);
  });
});
