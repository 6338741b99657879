'use strict';
// Builds the Rust addon with cargo and copies it to http-native.node at the package root.
// `--if-missing` skips cargo when the addon is already there (npm start); otherwise cargo's own
// incremental build decides what to do, so running this twice is cheap.
//
// Where cargo builds: in a clone, ./target as cargo does by default. Installed as an app's
// dependency (the install script), in a temporary directory removed afterwards, so the app keeps
// the addon (about 14 MB) and not ~165 MB of build products in node_modules; a target directory the user
// configured (CARGO_TARGET_DIR, or build.target-dir in a cargo config) is used and kept instead.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { RUSTUP_URL, installedAsDependency, buildCommand } = require('../js/addon-build');

const root = path.resolve(__dirname, '..');
const target = path.join(root, 'http-native.node');
const LIB_NAME = 'http_native';
// cargo's JSON messages (one per compiled crate) are read whole from its stdout.
const CARGO_STDOUT_LIMIT = 64 * 1024 * 1024;

if (process.argv.includes('--if-missing') && fs.existsSync(target)) process.exit(0);

const profile = process.env.HTTP_NATIVE_PROFILE === 'debug' ? 'debug' : 'release';
const cargo = process.env.CARGO || 'cargo';

function runCargo(args, options) {
  const r = spawnSync(cargo, args, { cwd: root, maxBuffer: CARGO_STDOUT_LIMIT, ...options });
  if (r.error && r.error.code === 'ENOENT') {
    console.error(
      `http-native: building the native addon needs a Rust toolchain (cargo), and \`${cargo}\` was not found. ` +
        `Install it from ${RUSTUP_URL}, then ${buildCommand(root)}.`,
    );
    process.exit(1);
  }
  if (r.error) throw r.error;
  return r;
}

// The target directory cargo would use here, the user's configuration included.
function configuredTargetDir() {
  const r = runCargo(['metadata', '--no-deps', '--format-version', '1'], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) process.exit(r.status || 1);
  return JSON.parse(r.stdout).target_directory;
}

// Builds into `env.CARGO_TARGET_DIR` (or cargo's choice) and installs the addon; returns the exit status.
function build(env) {
  const args = ['build', '--lib', '--message-format=json-render-diagnostics'];
  if (profile === 'release') args.push('--release');
  // Progress and diagnostics go to the terminal; stdout carries the JSON messages naming the
  // artifacts, wherever the target directory and whatever the platform's library file name.
  const r = runCargo(args, { env, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) return r.status || 1;
  const built = r.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .filter((m) => m.reason === 'compiler-artifact' && m.target.name === LIB_NAME && m.target.kind.includes('cdylib'))
    .flatMap((m) => m.filenames)
    .find((f) => /\.(so|dylib|dll)$/.test(f));
  if (built === undefined) {
    console.error(`http-native: cargo reported no ${LIB_NAME} dynamic library`);
    return 1;
  }
  // Copy through a temporary name and rename: a process that already has the old addon mapped
  // keeps its file, and a reader never sees a half-written one.
  const tmp = `${target}.${process.pid}.tmp`;
  fs.copyFileSync(built, tmp);
  fs.renameSync(tmp, target);
  return 0;
}

// A dependency's build goes to a temporary directory unless the user chose one.
if (installedAsDependency(root) && path.resolve(configuredTargetDir()) === path.join(root, 'target')) {
  const tempTargetDir = fs.mkdtempSync(path.join(os.tmpdir(), 'http-native-cargo-'));
  try {
    process.exitCode = build({ ...process.env, CARGO_TARGET_DIR: tempTargetDir });
  } finally {
    fs.rmSync(tempTargetDir, { recursive: true, force: true });
  }
} else {
  process.exitCode = build(process.env);
}
