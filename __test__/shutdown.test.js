'use strict';
// Regression tests for shutdown and socket hygiene bugs found in the native core.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const { once } = require('node:events');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { start, RawClient, sleep, withTimeout } = require('./helpers');

test('close({ timeout }) force-closes a connection whose handler never answers', { timeout: 20000 }, async () => {
  const s = await start((app) => app.get('/hang', () => {}));
  const client = await RawClient.connect(s.port);
  client.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
  await sleep(100); // let the request reach JS
  await withTimeout(s.server.close({ timeout: 200 }), 10000, 'close()');
  // Before the fix the server thread exited but leaked the socket: no FIN ever came.
  await client.waitForClose(5000);
});

test('client sockets are not inherited by child processes', { timeout: 20000 }, async (t) => {
  const s = await start((app) => app.get('/', (req, res) => res.send('ok')));
  t.after(() => s.close());
  const client = await RawClient.connect(s.port);
  t.after(() => client.destroy());
  client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const res = await client.readResponse();
  assert.equal(res.status, 200);

  // The child's stdio is a file and /dev/null, so any socket it holds was inherited from us.
  const out = path.join(os.tmpdir(), `hn-fds-${process.pid}.txt`);
  const fd = fs.openSync(out, 'w');
  try {
    spawnSync('sh', ['-c', 'ls -l /proc/$$/fd'], { stdio: ['ignore', fd, 'ignore'] });
  } finally {
    fs.closeSync(fd);
  }
  const listing = fs.readFileSync(out, 'utf8');
  fs.unlinkSync(out);
  const sockets = listing.split('\n').filter((line) => line.includes('socket:'));
  assert.deepEqual(sockets, [], `child inherited sockets:\n${listing}`);
});

// Python's socket client is used because it reports the reset that Node's client hides here.
const PYTHON_CLIENT = `
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
body = b"x" * (256 * 1024)
s.sendall(b"POST /upload HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)
time.sleep(0.5)
data = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            print("closed cleanly")
            break
        data += chunk
except ConnectionResetError:
    print("connection reset")
print(data.split(b"\\r\\n")[0].decode())
`;

test('an oversized body sent in one go gets its 413 and a clean close, not a reset', { timeout: 20000 }, async (t) => {
  if (spawnSync('python3', ['--version']).status !== 0) return t.skip('python3 is not installed');
  const s = await start((app) => app.post('/upload', (req, res) => res.send('ok')), {
    listenOptions: { bodyLimit: 1000 },
  });
  t.after(() => s.close());
  // Asynchronous spawn: a synchronous one would block the JS thread the server answers on.
  const child = require('node:child_process').spawn('python3', ['-c', PYTHON_CLIENT, String(s.port)]);
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const [code] = await withTimeout(once(child, 'exit'), 10000, 'the python client');
  assert.equal(code, 0, out);
  // Before the fix the server closed with the body unread and its kernel answered with a reset.
  assert.deepEqual(out.trim().split('\n'), ['closed cleanly', 'HTTP/1.1 413 Content Too Large']);
});

// On io_uring, shutting the listener down cancels its pending accept; if a connection arrived
// just before the cancel, the accept completes anyway, and dropping that result leaked the
// socket: the client stayed connected to nobody, forever. Connections that race close() must
// each be answered, refused, reset or closed, never left hanging.
test('connections racing close() are never left hanging', { timeout: 60000 }, async () => {
  const outcome = (port) =>
    new Promise((resolve) => {
      const sock = require('node:net').connect({ port, host: '127.0.0.1' });
      let got = '';
      const finish = (v) => {
        sock.destroy();
        resolve(v);
      };
      sock.setTimeout(3000, () => finish('hung'));
      sock.on('data', (d) => (got += d));
      sock.once('connect', () => sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      sock.once('error', (e) => finish(e.code));
      sock.once('end', () => finish(got ? 'answered' : 'closed'));
    });
  for (let round = 0; round < 15; round++) {
    const s = await start((app) => app.get('/', (req, res) => res.send('ok')));
    const attempts = [];
    let stop = false;
    // A steady stream of connection attempts, so some land while the listener is being closed.
    const storm = (async () => {
      while (!stop) {
        for (let i = 0; i < 8; i++) attempts.push(outcome(s.port));
        await sleep(1);
      }
    })();
    await sleep(20 + (round % 5) * 7);
    await s.close();
    stop = true;
    await storm;
    const results = await Promise.all(attempts);
    const hung = results.filter((r) => r === 'hung').length;
    assert.equal(hung, 0, `round ${round}: ${hung} of ${results.length} connections left hanging`);
  }
});
