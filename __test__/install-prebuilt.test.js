'use strict';
// The package as an app gets it from the registry, on a machine with no Rust: the main package as
// `npm run artifacts` packs it (optionalDependencies on every platform package) and this platform's
// package holding the addon built here (scripts/artifacts.js --addon: packaged, not compiled
// again), installed offline into an empty app with no cargo or rustc on PATH. The install compiles
// nothing and the app serves from the prebuilt addon, silently (the usual choice). Without the
// platform package, the install still succeeds and the app runs on the JavaScript backend, saying
// so in one line.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { root, missing, userEnv, pathWithout, packRuntimeDependencies, newApp, serve } = require('./support/install');
const { currentPlatform } = require('../js/platforms');

const INSTALL_TIMEOUT_MS = 3 * 60 * 1000;
const TEMP_TARGET_PREFIX = 'http-native-cargo-'; // scripts/build.js's temporary target directories
const localAddon = path.join(root, 'http-native.node');
const { platform } = currentPlatform();
const hostAvailable = fs.existsSync(path.join(root, 'js', 'host', 'index.js'));

// Installing does not depend on the driver or the Node running the suite: `npm test` runs it in
// its first pass only, as install.test.js.
const testedBy = process.env.HTTP_NATIVE_INSTALL_TESTED_BY
  ? `installing does not depend on the driver or the Node running the suite: "${process.env.HTTP_NATIVE_INSTALL_TESTED_BY}" ran it`
  : undefined;
const skip =
  missing('npm') ??
  testedBy ??
  (platform === undefined ? `no prebuilt package is made for ${currentPlatform().id}` : undefined) ??
  (fs.existsSync(localAddon) ? undefined : `there is no local build (${localAddon}) to package`);
if (skip) console.log(`install-prebuilt.test.js: skipped: ${skip}`);

let work;
let mainTarball;
let platformTarball;
let dependencies;
// A machine without Rust: PATH without cargo and rustc, no CARGO naming one elsewhere.
let noRust;
before(() => {
  if (skip) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'http-native-prebuilt-'));
  const out = path.join(work, 'artifacts');
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'artifacts.js'), '--target', platform.id, '--addon', localAddon, '--out', out], {
    cwd: root,
    encoding: 'utf8',
    env: userEnv(work),
  });
  assert.equal(r.status, 0, r.stderr);
  [platformTarball, mainTarball] = r.stdout.trim().split('\n');
  assert.match(path.basename(platformTarball), new RegExp(`^${platform.packageName}-`));
  dependencies = packRuntimeDependencies(work, work);
  const { CARGO, ...env } = userEnv(work);
  noRust = { ...env, PATH: pathWithout(['cargo', 'rustc']), TMPDIR: path.join(work, 'tmp') };
  fs.mkdirSync(noRust.TMPDIR);
});
after(() => work && fs.rmSync(work, { recursive: true, force: true }));

const installed = (app, ...rel) => path.join(app, 'node_modules', ...rel);

// npm install, with the install scripts' output in the log (--foreground-scripts).
function install(t, app, tarballs) {
  const started = Date.now();
  const r = spawnSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', ...tarballs], {
    cwd: app,
    encoding: 'utf8',
    env: noRust,
    timeout: INSTALL_TIMEOUT_MS,
  });
  t.diagnostic(`npm install: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.status, 0, `npm install failed:\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

test('the test machine has no Rust: cargo and rustc are not found on the PATH the installs get', { skip }, () => {
  for (const cmd of ['cargo', 'rustc']) {
    const r = spawnSync(cmd, ['--version'], { env: noRust });
    assert.equal(r.error?.code, 'ENOENT', `${cmd} was found`);
  }
});

test('with the prebuilt package: the install compiles nothing, and the app serves from the prebuilt addon without a word', { skip, timeout: INSTALL_TIMEOUT_MS }, (t) => {
  const app = newApp(work, 'app-prebuilt');
  const log = install(t, app, [mainTarball, platformTarball, ...dependencies]);

  assert.match(log, new RegExp(`http-native: using the prebuilt package ${platform.packageName}: nothing to build`));
  assert.doesNotMatch(log, /was not found|Compiling|JavaScript backend/, 'the install tried to build');
  assert.equal(fs.existsSync(installed(app, 'http-native', 'http-native.node')), false, 'an addon was built');
  assert.equal(fs.existsSync(installed(app, 'http-native', 'target')), false);
  assert.deepEqual(fs.readdirSync(noRust.TMPDIR).filter((f) => f.startsWith(TEMP_TARGET_PREFIX)), [], 'cargo was given a target directory');
  const prebuilt = fs.realpathSync(installed(app, platform.packageName, platform.addonFile));

  const served = serve(app, noRust);
  assert.equal(served.body, 'served by the installed package');
  assert.equal(served.stderr, '', 'the usual choice printed a line');
  if (served.addons !== undefined) assert.deepEqual(served.addons, [prebuilt]);

  // NODE_DEBUG=http-native names the choice even when it is the usual one.
  const debug = serve(app, { ...noRust, NODE_DEBUG: 'http-native' });
  assert.equal(debug.body, 'served by the installed package');
  const line = debug.stderr.split('\n').find((l) => l.includes('using the'));
  assert.equal(line, `http-native: using the native backend from the prebuilt package ${platform.packageName} (${prebuilt}): the usual choice for an installed package`);
});

test('without a prebuilt package or cargo: the install succeeds and the app runs on the JavaScript backend, saying so in one line', { skip: skip ?? (hostAvailable ? undefined : 'the JavaScript backend (js/host/) is not in this tree'), timeout: INSTALL_TIMEOUT_MS }, (t) => {
  const app = newApp(work, 'app-no-prebuilt');
  const log = install(t, app, [mainTarball, ...dependencies]);
  assert.match(log, new RegExp(`http-native: the prebuilt package ${platform.packageName} is not installed and \`cargo\` was not found, so apps will run on the JavaScript backend`));
  assert.equal(fs.existsSync(installed(app, platform.packageName)), false);

  const served = serve(app, noRust);
  assert.equal(served.body, 'served by the installed package');
  if (served.addons !== undefined) assert.deepEqual(served.addons, [], 'an addon was loaded');
  const lines = served.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, served.stderr);
  assert.match(lines[0], new RegExp(`^http-native: using the JavaScript backend \\(node:http\\), slower: no native addon loads here: the prebuilt package ${platform.packageName} is not installed; .* is not built\\.`));

  // Asked for by name, the native backend is not there: listen() says what is missing.
  const native = serve(app, { ...noRust, HTTP_NATIVE_BACKEND: 'native' });
  assert.equal(native.code, 'HN_ERR_ADDON_MISSING');
  assert.match(native.message, new RegExp(`with its optional dependencies \\(without --omit=optional\\) brings the prebuilt package ${platform.packageName}\\.`));
});

test('npm run artifacts refuses to package an addon for another platform: another CPU, or glibc where musl is wanted', { skip: skip ?? (platform.id === 'linux-x64-gnu' ? undefined : 'the cases are written for a linux-x64-gnu build') }, () => {
  const out = path.join(work, 'refused');
  for (const [target, why] of [
    ['linux-arm64-gnu', 'an ELF file for machine 62, not arm64'],
    ['linux-x64-musl', 'linked against glibc (libc.so.6), not musl'],
  ]) {
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'artifacts.js'), '--target', target, '--addon', localAddon, '--out', out], { cwd: root, encoding: 'utf8', env: userEnv(work) });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`artifacts: ${target}: .* is ${why.replace(/[()]/g, '\\$&')}: not an addon for ${target}`));
    assert.deepEqual(fs.readdirSync(out).filter((f) => f.includes(target)), [], 'a tarball was made');
  }
});
