'use strict';
// The package as an app gets it: `npm pack`, then `npm install <tarball>` into an empty app,
// offline: its runtime dependencies (transitively) are packed from this checkout's node_modules and installed
// from those tarballs alongside it, so npm never asks the registry. Installed normally, the addon
// is built outside the package and only http-native.node stays in node_modules/http-native;
// installed with --ignore-scripts, require() works, the app runs on the JavaScript backend (when
// the package has it) with a line naming the command that builds the addon, listen({ backend:
// 'native' }) rejects with HN_ERR_ADDON_MISSING naming it too, and running it builds a working addon.
// (Installing with the prebuilt package instead: __test__/install-prebuilt.test.js.)
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
const { root, missing, userEnv: baseEnv, pack, packRuntimeDependencies, newApp, serve } = require('./support/install');

const SHARED_TARGET_DIR = path.join(root, 'target', 'install-test');
const TEMP_TARGET_PREFIX = 'http-native-cargo-'; // scripts/build.js's temporary target directories
const INSTALL_TIMEOUT_MS = 10 * 60 * 1000;
const cargo = process.env.CARGO || 'cargo';
const hostAvailable = fs.existsSync(path.join(root, 'js', 'host', 'index.js'));

// Without cargo nothing can be built; without npm nothing installed. Installing runs the machine's
// npm and cargo whatever the I/O driver or the Node running the suite, and each install compiles
// the crate (minutes): `npm test` runs it in its first pass and tells the others which that was.
const testedBy = process.env.HTTP_NATIVE_INSTALL_TESTED_BY
  ? `installing does not depend on the driver or the Node running the suite: "${process.env.HTTP_NATIVE_INSTALL_TESTED_BY}" ran it`
  : undefined;
const skip = missing(cargo) ?? missing('npm') ?? testedBy;
if (skip) console.log(`install.test.js: skipped: ${skip}`);

// Debug builds without debug info: the fastest cargo makes.
let work;
const userEnv = (extra) => baseEnv(work, { HTTP_NATIVE_PROFILE: 'debug', CARGO_PROFILE_DEV_DEBUG: '0', ...extra });

function run(t, cmd, args, options) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: INSTALL_TIMEOUT_MS, ...options });
  t.diagnostic(`${cmd} ${args.join(' ')}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

// The package's tarball as `npm pack` makes it (no optional dependencies on prebuilt packages:
// scripts/artifacts.js adds those), then one per runtime dependency.
let tarballs;
before(() => {
  if (skip) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'http-native-install-'));
  tarballs = [...pack(work, ['.'], work), ...packRuntimeDependencies(work, work)];
});
after(() => work && fs.rmSync(work, { recursive: true, force: true }));

const installed = (app, ...rel) => path.join(app, 'node_modules', 'http-native', ...rel);
const SERVED = 'served by the installed package';

test('npm install builds the addon outside the package: node_modules/http-native keeps http-native.node and no target/', { skip, timeout: INSTALL_TIMEOUT_MS }, (t) => {
  const app = newApp(work, 'app-install');
  const tmp = path.join(work, 'tmp');
  fs.mkdirSync(tmp);
  run(t, 'npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], { cwd: app, env: userEnv({ TMPDIR: tmp }) });

  assert.ok(fs.existsSync(installed(app, 'http-native.node')), 'the addon was not built');
  assert.equal(fs.existsSync(installed(app, 'target')), false, 'cargo build products were left in node_modules/http-native/target');
  assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith(TEMP_TARGET_PREFIX)), [], 'the temporary target directory was left behind');
  const served = serve(app, userEnv());
  assert.equal(served.body, SERVED);
  // Built from source because no prebuilt package was installed: the loader says so.
  assert.match(served.stderr, /^http-native: using the native backend from the local build .*http-native\.node: the prebuilt package http-native-\S+ is not installed\n$/);
});

test('with --ignore-scripts, require() works, the command to run is named, and that command builds the addon', { skip, timeout: INSTALL_TIMEOUT_MS }, (t) => {
  const app = newApp(work, 'app-ignore-scripts');
  run(t, 'npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', ...tarballs], { cwd: app, env: userEnv() });
  assert.equal(fs.existsSync(installed(app, 'http-native.node')), false);

  // Asked for by name, the native backend cannot load: listen() rejects.
  const failed = serve(app, userEnv({ HTTP_NATIVE_BACKEND: 'native' }));
  assert.equal(failed.code, 'HN_ERR_ADDON_MISSING');
  assert.match(failed.message, /Rust toolchain/);
  assert.doesNotMatch(failed.message, /npm run build/, 'a script of the package, which an app cannot run');
  const command = /`(npm rebuild http-native)`/.exec(failed.message);
  assert.ok(command, `no rebuild command in: ${failed.message}`);

  // Left to choose, the app runs on the JavaScript backend, and one line says why and what to run.
  const fallback = serve(app, userEnv());
  if (hostAvailable) {
    assert.equal(fallback.body, SERVED);
    assert.deepEqual(fallback.addons, [], 'an addon was loaded');
    assert.match(fallback.stderr, /^http-native: using the JavaScript backend \(node:http\), slower: .*`npm rebuild http-native`.*\n$/);
  } else {
    t.diagnostic('the JavaScript backend (js/host/) is not in this tree: without an addon listen() rejects');
    assert.equal(fallback.code, 'HN_ERR_ADDON_MISSING');
  }

  // The command as the message gives it, with a target directory of the user's own (kept).
  const [cmd, ...args] = command[1].split(' ');
  run(t, cmd, args, { cwd: app, env: userEnv({ CARGO_TARGET_DIR: SHARED_TARGET_DIR }) });
  assert.ok(fs.existsSync(path.join(SHARED_TARGET_DIR, 'debug')), 'the CARGO_TARGET_DIR the user set was not used or not kept');
  assert.equal(fs.existsSync(installed(app, 'target')), false);
  assert.equal(serve(app, userEnv()).body, SERVED);
});
