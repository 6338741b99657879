'use strict';
// node:cluster: workers that all listen on one port, as with node:http. Here each worker binds the
// port itself with SO_REUSEPORT (reusePort defaults to true in a cluster worker) and the kernel
// spreads connections between them.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { get, withTimeout } = require('./helpers');

const T = { timeout: 60000 };
const ROOT = JSON.stringify(path.join(__dirname, '..'));
// Fresh connections sent to the shared port. Which worker gets one is a hash of its addresses and
// ports, so with this many both workers are picked except with probability 2 * 2^-64.
const CONNECTIONS = 64;

// The primary forks worker A, which listens on PORT=0, then worker B on A's port, and prints
// `RESULT {a, b}` (each { ok, port, pid } or { ok: false, code }). A line 'stop' on its stdin
// closes the workers' servers and ends everything. `listenCall` is the workers' listen() call.
function clusterScript(listenCall) {
  return `
    const cluster = require('node:cluster');
    const { createApp } = require(${ROOT});
    if (cluster.isPrimary) {
      const fork = (port) => new Promise((resolve) => {
        const worker = cluster.fork({ PORT: String(port) });
        worker.once('message', (m) => resolve({ ...m, worker }));
      });
      (async () => {
        const a = await fork(0);
        const b = a.ok ? await fork(a.port) : { ok: false };
        const plain = ({ worker, ...rest }) => rest;
        console.log('RESULT ' + JSON.stringify({ a: plain(a), b: plain(b) }));
        process.stdin.setEncoding('utf8');
        process.stdin.on('data', (line) => {
          if (!line.includes('stop')) return;
          // A worker that failed to listen disconnects on its own, possibly between the check and
          // the send: the callback takes that EPIPE, which would otherwise crash the primary.
          for (const w of Object.values(cluster.workers)) if (w.isConnected()) w.send('stop', () => {});
          process.stdin.destroy();
        });
      })();
    } else {
      const app = createApp();
      app.get('/', (req, res) => res.json({ pid: process.pid }));
      const PORT = process.env.PORT;
      ${listenCall}.then(
        (server) => {
          process.send({ ok: true, port: server.port, pid: process.pid });
          process.on('message', async (m) => {
            if (m !== 'stop') return;
            await server.close();
            process.disconnect();
          });
        },
        (err) => {
          process.send({ ok: false, code: err.code, message: err.message });
          process.disconnect();
        },
      );
    }`;
}

// Runs the primary in its own process; resolves { result, stop() } once it printed RESULT.
function runCluster(t, listenCall) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-cluster-'));
  const file = path.join(dir, 'primary.js');
  fs.writeFileSync(file, clusterScript(listenCall));
  const child = spawn(process.execPath, [file], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  child.stderr.on('data', (d) => (stderr += d));
  const result = withTimeout(
    new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        const m = /RESULT (.*)\n/.exec(stdout);
        if (m) resolve(JSON.parse(m[1]));
      });
      exited.then(({ code, signal }) => reject(new Error(`the primary exited (${code ?? signal}) before its result\n${stdout}\n${stderr}`)));
    }),
    30000,
    'the cluster to listen',
  );
  const stop = async () => {
    child.stdin.write('stop\n');
    const { code, signal } = await withTimeout(exited, 20000, 'the cluster to stop');
    assert.equal(signal, null, stderr);
    assert.equal(code, 0, stderr);
  };
  return { result, stop };
}

test('two cluster workers listen(PORT) on one port, and both serve it', T, async (t) => {
  const cluster = runCluster(t, 'app.listen(PORT)');
  const { a, b } = await cluster.result;
  assert.equal(a.ok, true, JSON.stringify(a));
  assert.equal(b.ok, true, `the second worker listens without EADDRINUSE: ${JSON.stringify(b)}`);
  assert.equal(b.port, a.port);

  const pids = new Set();
  for (let i = 0; i < CONNECTIONS; i++) {
    const res = await get(a.port, '/');
    assert.equal(res.status, 200);
    pids.add(res.json().pid);
  }
  if (process.platform === 'linux') {
    assert.deepEqual([...pids].sort(), [a.pid, b.pid].sort(), 'both workers answered');
  } else {
    t.diagnostic(`${process.platform} does not balance SO_REUSEPORT sockets: workers that answered: ${pids.size}`);
  }
  await cluster.stop();
});

test('reusePort: false in a cluster worker: the second worker gets EADDRINUSE', T, async (t) => {
  const cluster = runCluster(t, 'app.listen({ port: PORT, reusePort: false })');
  const { a, b } = await cluster.result;
  assert.equal(a.ok, true, JSON.stringify(a));
  assert.equal(b.ok, false);
  assert.equal(b.code, 'EADDRINUSE', b.message);
  await cluster.stop();
});
