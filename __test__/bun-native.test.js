'use strict';
// The native backend under Bun: Bun implements Node-API, so the Rust addon itself loads there.
// Bun (the registry's `bun` package) runs fixtures/bun-native-server.js — the fetch test app, a
// WebSocket route, a streamed upload and a file, served by the addon through listen() — and node's
// clients drive it over real sockets. Skipped, saying why, where Bun cannot run.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { cases } = require('./support/fetch-cases');
const { runtime, spawnRuntime, firstLine, stop, ROOT } = require('./support/runtimes');
const { connect } = require('./support/ws-client');

const bun = runtime('bun', ['--version']);
if (bun.missing) console.log(`# bun-native: skipped: ${bun.missing}`);

describe(`the native addon under Bun (bun ${bun.version ?? 'missing'})`, { skip: bun.missing }, () => {
  let server;
  let info;
  let base;
  before(async () => {
    server = spawnRuntime(bun.bin, [path.join(__dirname, 'fixtures', 'bun-native-server.js')], {
      cwd: ROOT,
      // The native backend whatever the suite's pass (HTTP_NATIVE_BACKEND=node tests the JS one).
      env: { NODE_ENV: 'test', HTTP_NATIVE_BACKEND: 'native' },
      stdin: true,
    });
    info = await firstLine(server, (line) => {
      const value = JSON.parse(line);
      if (value.error !== undefined) throw new Error(value.error);
      return value;
    });
    base = `http://127.0.0.1:${info.port}`;
  });
  after(() => server && stop(server));

  test('listen() starts the Rust server (its driver is the addon\'s)', () => {
    assert.ok(['io_uring', 'epoll', 'kqueue'].includes(info.driver), info.driver);
    if (process.env.HTTP_NATIVE_DRIVER === 'legacy') assert.equal(info.driver, 'epoll');
  });

  const send = (p, init) => fetch(base + p, { signal: AbortSignal.timeout(30_000), ...init });
  for (const { name, run } of cases) test(name, () => run(send, { direct: false }));

  test('req.ip is the peer\'s address', async () => {
    assert.equal((await (await send('/api/headers')).json()).ip, '127.0.0.1');
  });

  test('a streamed request body ({ body: \'stream\' }) is read in full', async () => {
    const total = 3 * 1024 * 1024;
    const res = await send('/count', { method: 'POST', body: Buffer.alloc(total, 1) });
    assert.deepEqual(await res.json(), { bytes: total });
  });

  test('res.sendFile() is served by Rust', async () => {
    const res = await send('/file');
    assert.equal(res.status, 200);
    assert.match(await res.text(), /bun-native-server\.js|Run by Bun/);
  });

  test('a WebSocket echoes, and app.publish() reaches it', async () => {
    const peer = await connect(`ws://127.0.0.1:${info.port}/ws/lobby`);
    try {
      assert.equal((await peer.next()).text, 'joined lobby');
      peer.ws.send('hello');
      assert.equal((await peer.next()).text, 'hello');
      peer.ws.send(Buffer.from([1, 2, 3]));
      const binary = await peer.next();
      assert.equal(binary.isBinary, true);
      assert.deepEqual([...binary.data], [1, 2, 3]);
      const announced = await send('/announce/lobby', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'to all' }),
      });
      assert.deepEqual(await announced.json(), { reached: true });
      assert.equal((await peer.next()).text, 'to all');
    } finally {
      peer.ws.close();
      await peer.closed;
    }
  });

  test('listen({ ioThreads: 2 }) serves from both threads', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => fetch(`http://127.0.0.1:${info.threads}/api/users/${i}`).then((r) => r.json())),
    );
    assert.deepEqual(answers.map((a) => a.id), Array.from({ length: 20 }, (_, i) => String(i)));
  });

  test('close() resolves and nothing of the servers keeps Bun alive', async () => {
    server.child.stdin.write('close\n');
    const closed = await firstLine(server, (line) => (JSON.parse(line).closed ? JSON.parse(line) : undefined));
    assert.ok(closed.requests > 0);
    assert.equal(await server.exited, 0);
  });
});
