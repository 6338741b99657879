'use strict';
// The package as an app gets it: `npm pack`, then `npm install <tarball>` into an empty app,
// offline: its runtime dependencies (transitively) are packed from this checkout's node_modules and installed
// from those tarballs alongside it, so npm never asks the registry. Installed normally, the addon
// is built outside the package and only http-native.node stays in node_modules/http-native;
// installed with --ignore-scripts, require() works, listen() rejects with HN_ERR_ADDON_MISSING
// naming the command to run, and running that command builds a working addon.
//
// The builds are debug builds without debug info (the fastest cargo makes): the normal install
// builds in a fresh temporary directory, as a user's does (about a minute on a 2-core machine); the
// rebuild shares a target directory this test keeps under ./target, so after the first run it
// recompiles the crate alone.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const SHARED_TARGET_DIR = path.join(root, 'target', 'install-test');
const TEMP_TARGET_PREFIX = 'http-native-cargo-'; // scripts/build.js's temporary target directories
const INSTALL_TIMEOUT_MS = 10 * 60 * 1000;
const cargo = process.env.CARGO || 'cargo';

function missing(cmd) {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  return r.error ? `${cmd} is not available (${r.error.code})` : undefined;
}
// Without cargo nothing can be built; without npm nothing installed. Installing runs the machine's
// npm and cargo whatever the I/O driver or the Node running the suite, and each install compiles
// the crate (minutes): `npm test` runs it in its first pass and tells the others which that was.
const testedBy = process.env.HTTP_NATIVE_INSTALL_TESTED_BY
  ? `installing does not depend on the driver or the Node running the suite: "${process.env.HTTP_NATIVE_INSTALL_TESTED_BY}" ran it`
  : undefined;
const skip = missing(cargo) ?? missing('npm') ?? testedBy;
if (skip) console.log(`install.test.js: skipped: ${skip}`);

// The environment of a user's shell: none of the npm_* variables of an `npm test` around this
// run, no CARGO_TARGET_DIR of the developer's, and npm's cache private to the test.
let work;
function userEnv(extra) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'CARGO_TARGET_DIR'));
  return {
    ...env,
    npm_config_cache: path.join(work, 'npm-cache'),
    HTTP_NATIVE_PROFILE: 'debug',
    CARGO_PROFILE_DEV_DEBUG: '0',
    ...extra,
  };
}

function run(t, cmd, args, options) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: INSTALL_TIMEOUT_MS, ...options });
  t.diagnostic(`${cmd} ${args.join(' ')}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

// The package's tarball, then one per runtime dependency (as installed here, so at the version
// package-lock.json pins).
let tarballs;
before(() => {
  if (skip) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'http-native-install-'));
  const pack = (dir) => {
    const r = spawnSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work, dir], { cwd: root, encoding: 'utf8', env: userEnv() });
    assert.equal(r.status, 0, r.stderr);
    return path.join(work, JSON.parse(r.stdout)[0].filename);
  };
  // Every package the runtime dependencies need, transitively (as the app's own dependencies:
  // npm --offline finds nothing else), each at the version installed for them here.
  const ls = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8', env: userEnv() });
  assert.equal(ls.status, 0, ls.stderr);
  const seen = new Set();
  const dirs = [];
  for (const dir of ls.stdout.trim().split('\n').slice(1)) {
    const name = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name;
    if (!seen.has(name)) dirs.push(dir);
    seen.add(name);
  }
  tarballs = [pack('.'), ...dirs.map(pack)];
});
after(() => work && fs.rmSync(work, { recursive: true, force: true }));

function newApp(name) {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  return dir;
}

// Starts a server from the installed package in a fresh process and fetches from it; returns what
// happened ({ status, body } or the listen() error's { code, message }).
const SERVE = `
const { createApp } = require('http-native');
const app = createApp();
app.get('/', (req, res) => res.send('served by the installed package'));
app.listen({ port: 0, host: '127.0.0.1' }).then(
  async (server) => {
    const res = await fetch(server.url + '/', { signal: AbortSignal.timeout(5000) });
    console.log(JSON.stringify({ status: res.status, body: await res.text() }));
    await server.close();
  },
  (err) => console.log(JSON.stringify({ code: err.code, message: err.message })),
);`;
function serve(app) {
  const r = spawnSync(process.execPath, ['-e', SERVE], { cwd: app, encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const installed = (app, ...rel) => path.join(app, 'node_modules', 'http-native', ...rel);

test('npm install builds the addon outside the package: node_modules/http-native keeps http-native.node and no target/', { skip, timeout: INSTALL_TIMEOUT_MS }, (t) => {
  const app = newApp('app-install');
  const tmp = path.join(work, 'tmp');
  fs.mkdirSync(tmp);
  run(t, 'npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], { cwd: app, env: userEnv({ TMPDIR: tmp }) });

  assert.ok(fs.existsSync(installed(app, 'http-native.node')), 'the addon was not built');
  assert.equal(fs.existsSync(installed(app, 'target')), false, 'cargo build products were left in node_modules/http-native/target');
  assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith(TEMP_TARGET_PREFIX)), [], 'the temporary target directory was left behind');
  assert.deepEqual(serve(app), { status: 200, body: 'served by the installed package' });
});

test('with --ignore-scripts, require() works, listen() names the command to run, and that command builds the addon', { skip, timeout: INSTALL_TIMEOUT_MS }, (t) => {
  const app = newApp('app-ignore-scripts');
  run(t, 'npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', ...tarballs], { cwd: app, env: userEnv() });
  assert.equal(fs.existsSync(installed(app, 'http-native.node')), false);

  const failed = serve(app);
  assert.equal(failed.code, 'HN_ERR_ADDON_MISSING');
  assert.match(failed.message, /Rust toolchain/);
  assert.doesNotMatch(failed.message, /npm run build/, 'a script of the package, which an app cannot run');
  const command = /`(npm rebuild http-native)`/.exec(failed.message);
  assert.ok(command, `no rebuild command in: ${failed.message}`);

  // The command as the message gives it, with a target directory of the user's own (kept).
  const [cmd, ...args] = command[1].split(' ');
  run(t, cmd, args, { cwd: app, env: userEnv({ CARGO_TARGET_DIR: SHARED_TARGET_DIR }) });
  assert.ok(fs.existsSync(path.join(SHARED_TARGET_DIR, 'debug')), 'the CARGO_TARGET_DIR the user set was not used or not kept');
  assert.equal(fs.existsSync(installed(app, 'target')), false);
  assert.deepEqual(serve(app), { status: 200, body: 'served by the installed package' });
});
