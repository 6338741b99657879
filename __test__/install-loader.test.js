'use strict';
// The loader (js/backend.js, js/addon.js) in the layouts it meets, built by hand in a temporary
// directory (no npm, so quick): a copy of the package installed in an app's node_modules, with a
// platform package beside it (right version, another version, a file that is no addon) or not, a
// local build or not; a clone with both. Each app starts a real server in a fresh process and
// reports what served it, which addon file the process mapped, and what http-native printed.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { root, userEnv, serve } = require('./support/install');
const { PLATFORMS, currentPlatform } = require('../js/platforms');

const localAddon = path.join(root, 'http-native.node');
const { platform } = currentPlatform();
const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
const hostAvailable = fs.existsSync(path.join(root, 'js', 'host', 'index.js'));
const SERVED = 'served by the installed package';

// The loader's choice depends on neither the driver nor the Node running the suite: `npm test`
// runs these in its first pass only, as the install tests.
const testedBy = process.env.HTTP_NATIVE_INSTALL_TESTED_BY
  ? `loading does not depend on the driver or the Node running the suite: "${process.env.HTTP_NATIVE_INSTALL_TESTED_BY}" ran it`
  : undefined;
const skip =
  testedBy ??
  (platform === undefined ? `no prebuilt package is made for ${currentPlatform().id}` : undefined) ??
  (fs.existsSync(localAddon) ? undefined : `there is no local build (${localAddon}) to load`);
if (skip) console.log(`install-loader.test.js: skipped: ${skip}`);

let work;
let env;
before(() => {
  if (skip) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'http-native-loader-'));
  // The package's runtime dependencies, found where this checkout has them.
  env = userEnv(work, { NODE_PATH: path.join(root, 'node_modules') });
});
after(() => work && fs.rmSync(work, { recursive: true, force: true }));

// The package's JavaScript (no addon) at `dir`.
function copyPackage(dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(path.join(root, 'js'), path.join(dir, 'js'), { recursive: true });
  fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
}

// This platform's package in `nodeModules`: its manifest at `pkgVersion`, and as its addon a copy
// of the local build (or `addonText` written in its place).
function platformPackage(nodeModules, { pkgVersion = version, addonText } = {}) {
  const dir = path.join(nodeModules, platform.packageName);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: platform.packageName, version: pkgVersion, main: platform.addonFile }));
  const file = path.join(dir, platform.addonFile);
  if (addonText === undefined) fs.copyFileSync(localAddon, file);
  else fs.writeFileSync(file, addonText);
  return file;
}

// An app with http-native installed in its node_modules; `local`: with an addon built there.
function app(name, { local = false } = {}) {
  const dir = path.join(work, name);
  const pkg = path.join(dir, 'node_modules', 'http-native');
  copyPackage(pkg);
  if (local) fs.copyFileSync(localAddon, path.join(pkg, 'http-native.node'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, private: true }));
  return { dir, nodeModules: path.join(dir, 'node_modules'), localBuild: path.join(pkg, 'http-native.node') };
}

test('npm/<platform>/package.json of every platform: its name, version, addon file and the os/cpu/libc npm selects it by', () => {
  const dirs = fs.readdirSync(path.join(root, 'npm')).sort();
  assert.deepEqual(dirs, PLATFORMS.map((p) => p.id).sort());
  for (const p of PLATFORMS) {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'npm', p.id, 'package.json'), 'utf8'));
    assert.equal(manifest.name, p.packageName);
    assert.equal(manifest.version, version, `${p.id}: the loader loads only http-native's own version`);
    assert.equal(manifest.main, p.addonFile);
    assert.deepEqual(manifest.files, [p.addonFile]);
    assert.deepEqual(manifest.os, [p.os]);
    assert.deepEqual(manifest.cpu, [p.cpu]);
    assert.deepEqual(manifest.libc, p.libc === undefined ? undefined : [p.libc]);
    assert.ok(fs.existsSync(path.join(root, 'npm', p.id, 'README.md')));
  }
});

test('installed with its platform package: served from the prebuilt addon, without a word', { skip }, () => {
  const a = app('prebuilt');
  const prebuilt = platformPackage(a.nodeModules);
  const served = serve(a.dir, env);
  assert.equal(served.body, SERVED);
  assert.equal(served.stderr, '');
  if (served.addons !== undefined) assert.deepEqual(served.addons, [prebuilt]);
});

test('a platform package of another version is not loaded: the local build serves, and one line says why', { skip }, () => {
  const a = app('other-version', { local: true });
  platformPackage(a.nodeModules, { pkgVersion: '0.0.1-other' });
  const served = serve(a.dir, env);
  assert.equal(served.body, SERVED);
  if (served.addons !== undefined) assert.deepEqual(served.addons, [a.localBuild]);
  assert.equal(
    served.stderr,
    `http-native: using the native backend from the local build ${a.localBuild}: the prebuilt package ${platform.packageName} is version 0.0.1-other, not ${version} as http-native is\n`,
  );
});

test('a platform package whose addon does not load: the local build serves, and the line gives the loader\'s reason', { skip }, () => {
  const a = app('broken-prebuilt', { local: true });
  platformPackage(a.nodeModules, { addonText: 'not a shared library' });
  const served = serve(a.dir, env);
  assert.equal(served.body, SERVED);
  if (served.addons !== undefined) assert.deepEqual(served.addons, [a.localBuild]);
  assert.match(served.stderr, new RegExp(`^http-native: using the native backend from the local build .*: the prebuilt package ${platform.packageName} could not be loaded \\(.*${platform.addonFile}.*\\)\\n$`));
});

test('HTTP_NATIVE_ADDON names the addon to load, over the prebuilt package; one that does not load is an error, not a fallback', { skip }, () => {
  const a = app('env-addon');
  platformPackage(a.nodeModules);
  const served = serve(a.dir, { ...env, HTTP_NATIVE_ADDON: localAddon });
  assert.equal(served.body, SERVED);
  assert.equal(served.stderr, '');
  if (served.addons !== undefined) assert.deepEqual(served.addons, [localAddon]);

  // cargo's own name for the library, as a cross build leaves it.
  const library = path.join(work, 'libhttp_native.so');
  fs.copyFileSync(localAddon, library);
  const byLibrary = serve(a.dir, { ...env, HTTP_NATIVE_ADDON: library });
  assert.equal(byLibrary.body, SERVED);
  if (byLibrary.addons !== undefined) assert.deepEqual(byLibrary.addons, [library]);

  const missing = path.join(work, 'no-such.node');
  const failed = serve(a.dir, { ...env, HTTP_NATIVE_ADDON: missing });
  assert.equal(failed.code, 'HN_ERR_ADDON_MISSING');
  assert.match(failed.message, new RegExp(`HTTP_NATIVE_ADDON=${missing} could not be loaded`));
});

test('nothing native here: the JavaScript backend serves with one line, or listen() rejects where there is none', { skip }, () => {
  const a = app('no-addon');
  const served = serve(a.dir, env);
  if (served.addons !== undefined) assert.deepEqual(served.addons, []);
  if (hostAvailable) {
    assert.equal(served.body, SERVED);
    assert.match(served.stderr, new RegExp(`^http-native: using the JavaScript backend \\(node:http\\), slower: no native addon loads here: the prebuilt package ${platform.packageName} is not installed; ${a.localBuild} is not built\\. [^\\n]*\`npm rebuild http-native\`[^\\n]*\\n$`));
  } else {
    assert.equal(served.code, 'HN_ERR_ADDON_MISSING');
  }
});

test('HTTP_NATIVE_BACKEND=node: the JavaScript backend, asked for, so without a word; a name it does not know is an error', { skip }, () => {
  const a = app('env-node');
  platformPackage(a.nodeModules);
  const served = serve(a.dir, { ...env, HTTP_NATIVE_BACKEND: 'node' });
  if (hostAvailable) {
    assert.equal(served.body, SERVED);
    assert.equal(served.stderr, '');
    if (served.addons !== undefined) assert.deepEqual(served.addons, []);
  } else {
    assert.equal(served.code, 'HN_ERR_BACKEND_UNAVAILABLE');
  }
  const bad = serve(a.dir, { ...env, HTTP_NATIVE_BACKEND: 'wasm' });
  assert.equal(bad.code, 'HN_ERR_BAD_OPTION');
  assert.match(bad.message, /HTTP_NATIVE_BACKEND/);
});

test('in a clone the local build comes first (a prebuilt package of the same version must not shadow the sources being built); without one, the prebuilt package, saying so', { skip }, () => {
  const clone = path.join(work, 'clone');
  copyPackage(clone);
  const local = path.join(clone, 'http-native.node');
  fs.copyFileSync(localAddon, local);
  const prebuilt = platformPackage(path.join(clone, 'node_modules'));
  // An app that reaches the clone through a link (npm link): the clone's real path decides.
  const a = path.join(work, 'linked-app');
  fs.mkdirSync(path.join(a, 'node_modules'), { recursive: true });
  fs.symlinkSync(clone, path.join(a, 'node_modules', 'http-native'), 'dir');

  const served = serve(a, env);
  assert.equal(served.body, SERVED);
  assert.equal(served.stderr, '');
  if (served.addons !== undefined) assert.deepEqual(served.addons, [local]);
  const debug = serve(a, { ...env, NODE_DEBUG: 'http-native' });
  assert.match(debug.stderr, new RegExp(`^http-native: using the native backend from the local build ${local}: the usual choice in a clone of the repository$`, 'm'));

  fs.rmSync(local);
  const fallback = serve(a, env);
  assert.equal(fallback.body, SERVED);
  if (fallback.addons !== undefined) assert.deepEqual(fallback.addons, [prebuilt]);
  assert.equal(fallback.stderr, `http-native: using the native backend from the prebuilt package ${platform.packageName} (${prebuilt}): ${local} is not built\n`);
});
