'use strict';
// app.fetch in workerd, Cloudflare's runtime (the registry's `workerd` package), for real: the
// fetch test app and http-native's JavaScript are bundled with esbuild into a worker, workerd
// serves it on a loopback port under a config this test writes, and node's fetch drives it.
// Skipped, saying why, where workerd cannot run.
//
// The bundle is CommonJS, loaded by workerd as a commonJsModule under an ES module entry (as
// `export default app`): its require() of node: modules is workerd's own (nodejs_compat), resolved
// when first called, as in Node.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { cases } = require('./support/fetch-cases');
const { runtime, spawnRuntime, listening, stop, ROOT } = require('./support/runtimes');
const { freePort } = require('./support/ports');

const workerd = runtime('workerd', ['--version']);
if (workerd.missing) console.log(`# fetch-workerd: skipped: ${workerd.missing}`);
// Tries at a free port: another process may take it between the probe and workerd's bind.
const START_TRIES = 3;

// The newest compatibility date this workerd knows (what a new Worker project is given), with
// nodejs_compat: the Node APIs (Buffer, node:events, node:stream ...) the app layer uses.
function compatibilityDate() {
  return require('workerd').compatibilityDate;
}

async function bundle(dir) {
  const entry = path.join(dir, 'entry.js');
  fs.writeFileSync(
    entry,
    `const { createApp } = require(${JSON.stringify(ROOT)});\n` +
      `const { buildApp } = require(${JSON.stringify(path.join(__dirname, 'fixtures', 'fetch-app.js'))});\n` +
      'module.exports = buildApp(createApp);\n',
  );
  // js/host/files.js (directory mounts, sendFile) arrives with the node backend's file serving; the
  // fetch app uses neither, so until it exists its lazy require stays unresolved.
  const external = fs.existsSync(path.join(ROOT, 'js', 'host', 'files.js')) ? [] : ['./files'];
  await require('esbuild').build({
    entryPoints: [entry],
    bundle: true,
    format: 'cjs',
    platform: 'node',
    outfile: path.join(dir, 'app.cjs'),
    external,
    logLevel: 'error',
  });
  // esbuild's service process and its pipes would keep this test process alive after its tests.
  await require('esbuild').stop();
  fs.writeFileSync(path.join(dir, 'main.mjs'), "import app from 'app.cjs';\nexport default app;\n");
}

function config(port) {
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .app) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const app :Workerd.Worker = (
  modules = [
    (name = "main.mjs", esModule = embed "main.mjs"),
    (name = "app.cjs", commonJsModule = embed "app.cjs"),
  ],
  compatibilityDate = "${compatibilityDate()}",
  compatibilityFlags = ["nodejs_compat"],
  bindings = [ (name = "NODE_ENV", text = "test") ],
);
`;
}

describe(`app.fetch in workerd (${workerd.version ?? 'missing'})`, { skip: workerd.missing }, () => {
  let dir;
  let server;
  let base;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-workerd-'));
    await bundle(dir);
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      fs.writeFileSync(path.join(dir, 'config.capnp'), config(port));
      // workerd prints nothing once it listens: the port taking connections says it.
      server = spawnRuntime(workerd.bin, ['serve', path.join(dir, 'config.capnp')], { cwd: dir });
      if (await listening(server, port)) {
        base = `http://127.0.0.1:${port}`;
        return;
      }
      if (attempt === START_TRIES) throw new Error(`workerd did not start; it printed:\n${server.output()}`);
    }
  });
  after(async () => {
    if (server) await stop(server);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const send = (p, init) => fetch(base + p, { signal: AbortSignal.timeout(30_000), ...init });
  for (const { name, run } of cases) test(name, () => run(send, { direct: false }));

  test('req.ip is empty: a Worker learns its client from headers the app chooses to trust', async () => {
    const body = await (await send('/api/headers')).json();
    assert.equal(body.ip, '');
  });
});
