'use strict';
// A server started in a worker_threads Worker ends with the worker's JS environment: terminated,
// process.exit() in the worker, or a worker that closes its server and finishes. Nothing may keep
// accepting (or keep a thread) after the environment that could answer is gone.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { once } = require('node:events');
const { Worker } = require('node:worker_threads');
const { RawClient, buildRequest, withTimeout, waitUntil } = require('./helpers');

const T = { timeout: 30000 };
const ROOT = JSON.stringify(path.join(__dirname, '..'));

// The worker: a server on 127.0.0.1 with '/' answered and '/hang' never answered. It posts
// { port } once listening and { hanging: true } when a /hang request reached its handler;
// message 'exit' makes it call process.exit(3), message 'close' closes the server and lets the
// worker finish.
const WORKER = `
  const { parentPort } = require('node:worker_threads');
  const { createApp } = require(${ROOT});
  const app = createApp();
  app.get('/', (req, res) => res.send('from the worker'));
  app.get('/hang', () => parentPort.postMessage({ hanging: true }));
  app.listen(0, '127.0.0.1').then((server) => {
    parentPort.postMessage({ port: server.port });
    const onMessage = async (m) => {
      if (m === 'exit') process.exit(3);
      if (m === 'close') {
        parentPort.off('message', onMessage); // with no listener left, the worker can finish
        await server.close();
      }
    };
    parentPort.on('message', onMessage);
  });
`;

// Server threads of this process, by the name server.rs gives them. undefined without /proc.
function serverThreads() {
  const tasks = '/proc/self/task';
  if (!fs.existsSync(tasks)) return undefined;
  let n = 0;
  for (const tid of fs.readdirSync(tasks)) {
    try {
      if (fs.readFileSync(`${tasks}/${tid}/comm`, 'utf8').trim() === 'http-native') n++;
    } catch {
      // The thread ended while we listed them.
    }
  }
  return n;
}

function connectResult(port) {
  return withTimeout(
    new Promise((resolve) => {
      const sock = net.connect({ port, host: '127.0.0.1' });
      sock.once('connect', () => {
        sock.destroy();
        resolve('connected');
      });
      sock.once('error', (e) => resolve(e.code));
    }),
    5000,
    `connect to ${port}`,
  );
}

function nextMessage(worker, key) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const onMessage = (m) => {
        if (m && m[key] !== undefined) {
          worker.off('message', onMessage);
          resolve(m[key]);
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    }),
    10000,
    `the worker's ${key} message`,
  );
}

// Starts the worker and checks its server answers and owns one more server thread.
async function startWorker(t) {
  const before = serverThreads();
  const worker = new Worker(WORKER, { eval: true });
  t.after(() => worker.terminate());
  const port = await nextMessage(worker, 'port');
  const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
  assert.equal(await res.text(), 'from the worker');
  if (before !== undefined) assert.equal(serverThreads(), before + 1, 'the worker started one server thread');
  return { worker, port, before };
}

// After the worker is gone: its port refuses connections and its server thread has ended.
async function assertServerGone(t, { port, before }) {
  assert.equal(await connectResult(port), 'ECONNREFUSED');
  if (before === undefined) t.diagnostic('no /proc: server threads not counted');
  // The worker's 'exit' can reach us before its environment's cleanup (which joins the server
  // thread) has finished on a loaded machine: the thread must end, not by a given moment.
  else await waitUntil(() => serverThreads() === before, { timeout: 10000, what: 'no server thread left' });
}

test('terminating the worker closes its server, drops its connections and ends its thread', T, async (t) => {
  const started = await startWorker(t);
  // A request its handler will never answer, on a connection the server must not leave open.
  const client = await RawClient.connect(started.port);
  t.after(() => client.destroy());
  const hanging = nextMessage(started.worker, 'hanging');
  await client.write(buildRequest('GET', '/hang'));
  await hanging;

  await withTimeout(started.worker.terminate(), 10000, 'worker.terminate()');
  await assertServerGone(t, started);
  await client.waitForClose();
});

test('process.exit() in the worker closes its server and ends its thread', T, async (t) => {
  const started = await startWorker(t);
  const exited = once(started.worker, 'exit');
  started.worker.postMessage('exit');
  const [code] = await withTimeout(exited, 10000, 'the worker to exit');
  assert.equal(code, 3);
  await assertServerGone(t, started);
});

test('a worker that closes its server finishes normally (the cleanup hook then does nothing)', T, async (t) => {
  const started = await startWorker(t);
  const exited = once(started.worker, 'exit');
  started.worker.postMessage('close');
  const [code] = await withTimeout(exited, 10000, 'the worker to finish');
  assert.equal(code, 0);
  await assertServerGone(t, started);
});
