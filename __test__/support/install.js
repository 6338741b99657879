'use strict';
// What the install tests share (__test__/install*.test.js): a user's environment for npm, the
// runtime dependencies packed as tarballs (so `npm install --offline` never asks the registry),
// an empty app, and an app that starts a server from the installed package in a fresh process and
// reports what it served, which addon file it mapped, and what http-native printed on stderr.
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const SERVE_TIMEOUT_MS = 30000;

function missing(cmd) {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  return r.error ? `${cmd} is not available (${r.error.code})` : undefined;
}

// The environment of a user's shell: none of the npm_* variables of an `npm test` around this run,
// no CARGO_TARGET_DIR, backend choice or NODE_DEBUG of the developer's (the tests read what
// http-native prints), and npm's cache private to `work`.
const DEVELOPER_ONLY = new Set(['CARGO_TARGET_DIR', 'HTTP_NATIVE_ADDON', 'HTTP_NATIVE_BACKEND', 'NODE_DEBUG']);
function userEnv(work, extra) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && !DEVELOPER_ONLY.has(k)));
  return { ...env, npm_config_cache: path.join(work, 'npm-cache'), ...extra };
}

// PATH without any directory that holds one of `commands` (cargo, rustc): a machine with no Rust.
function pathWithout(commands) {
  return (process.env.PATH || '')
    .split(path.delimiter)
    .filter((dir) => dir !== '' && !commands.some((c) => fs.existsSync(path.join(dir, c))))
    .join(path.delimiter);
}

// `npm pack` of each of `dirs` in one npm process: → the tarballs' paths, in order.
function pack(work, dirs, dest) {
  const r = spawnSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest, ...dirs], { cwd: root, encoding: 'utf8', env: userEnv(work) });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).map((p) => path.join(dest, p.filename));
}

// One tarball per runtime dependency, transitively (as the app's own dependencies: npm --offline
// finds nothing else), each at the version installed here (package-lock.json's).
function packRuntimeDependencies(work, dest) {
  const ls = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8', env: userEnv(work) });
  assert.equal(ls.status, 0, ls.stderr);
  const seen = new Set();
  const dirs = [];
  for (const dir of ls.stdout.trim().split('\n').slice(1)) {
    const name = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name;
    if (!seen.has(name)) dirs.push(dir);
    seen.add(name);
  }
  return pack(work, dirs, dest);
}

function newApp(work, name) {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  return dir;
}

// Prints { status, body, addons } (the addons this process mapped, Linux only: .node files, and
// cargo's libhttp_native.so) or the
// listen() error's { code, message }.
const SERVE = `
const fs = require('node:fs');
const { createApp } = require('http-native');
const app = createApp();
app.get('/', (req, res) => res.send('served by the installed package'));
const mapped = () => process.platform !== 'linux' ? undefined : [...new Set(fs.readFileSync('/proc/self/maps', 'utf8')
  .split('\\n').map((l) => l.split(/\\s+/).slice(5).join(' ')).filter((f) => /\\.node$|\\/libhttp_native\\.so$/.test(f)))];
app.listen({ port: 0, host: '127.0.0.1' }).then(
  async (server) => {
    const res = await fetch(server.url + '/', { signal: AbortSignal.timeout(5000) });
    console.log(JSON.stringify({ status: res.status, body: await res.text(), addons: mapped() }));
    await server.close();
  },
  (err) => console.log(JSON.stringify({ code: err.code, message: err.message, addons: mapped() })),
);`;

// Runs SERVE in `app`: → its report, plus `stderr` (what http-native printed there).
function serve(app, env = process.env) {
  const r = spawnSync(process.execPath, ['-e', SERVE], { cwd: app, encoding: 'utf8', timeout: SERVE_TIMEOUT_MS, env });
  assert.equal(r.status, 0, r.stderr);
  return { ...JSON.parse(r.stdout), stderr: r.stderr };
}

module.exports = { root, missing, userEnv, pathWithout, pack, packRuntimeDependencies, newApp, serve };
