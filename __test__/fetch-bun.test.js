'use strict';
// app.fetch under Bun.serve, for real: Bun (the registry's `bun` package) runs the fetch test app
// (fixtures/fetch-bun-server.js) and node's fetch drives it over a socket. Skipped, saying why,
// where Bun cannot run.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { cases } = require('./support/fetch-cases');
const { runtime, spawnRuntime, firstLine, stop, ROOT } = require('./support/runtimes');

const bun = runtime('bun', ['--version']);
if (bun.missing) console.log(`# fetch-bun: skipped: ${bun.missing}`);

describe(`app.fetch under Bun.serve (bun ${bun.version ?? 'missing'})`, { skip: bun.missing }, () => {
  let server;
  let base;
  before(async () => {
    server = spawnRuntime(bun.bin, [path.join(__dirname, 'fixtures', 'fetch-bun-server.js')], { cwd: ROOT, env: { NODE_ENV: 'test' } });
    const { port } = await firstLine(server, (line) => JSON.parse(line));
    base = `http://127.0.0.1:${port}`;
  });
  after(() => server && stop(server));

  const send = (p, init) => fetch(base + p, { signal: AbortSignal.timeout(30_000), ...init });
  for (const { name, run } of cases) test(name, () => run(send, { direct: false }));

  test('req.ip is the client\'s address, from Bun\'s server.requestIP()', async () => {
    const body = await (await send('/api/headers')).json();
    assert.equal(body.ip, '127.0.0.1');
  });
});
