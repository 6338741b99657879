'use strict';
// Builds the Rust addon with cargo and copies it to http-native.node at the package root.
// `--if-missing` skips cargo when the addon is already there (npm start); otherwise cargo's own
// incremental build decides what to do, so running this twice is cheap.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const target = path.join(root, 'http-native.node');

if (process.argv.includes('--if-missing') && fs.existsSync(target)) process.exit(0);

const profile = process.env.HTTP_NATIVE_PROFILE === 'debug' ? 'debug' : 'release';
const cargo = process.env.CARGO || 'cargo';
const args = ['build', '--lib'];
if (profile === 'release') args.push('--release');

const result = spawnSync(cargo, args, { cwd: root, stdio: 'inherit' });
if (result.error && result.error.code === 'ENOENT') {
  console.error('http-native: building the native addon needs a Rust toolchain (cargo). Install it from https://rustup.rs and run `npm run build`.');
  process.exit(1);
}
if (result.status !== 0) process.exit(result.status || 1);

const targetDir = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
const libName = {
  linux: 'libhttp_native.so',
  darwin: 'libhttp_native.dylib',
  freebsd: 'libhttp_native.so',
  win32: 'http_native.dll',
}[process.platform] || 'libhttp_native.so';
const built = path.join(targetDir, profile, libName);
// Copy through a temporary name and rename: a process that already has the old addon mapped
// keeps its file, and a reader never sees a half-written one.
const tmp = `${target}.${process.pid}.tmp`;
fs.copyFileSync(built, tmp);
fs.renameSync(tmp, target);
