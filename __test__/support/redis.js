'use strict';
// A real redis-server for the tests of the Redis stores: one per test file, on a free port, its
// files in a temp dir, killed and removed when the file's tests are done (or the process exits).
// Nothing is persisted (no RDB, no AOF), so every server starts empty.
//
// Without redis-server on the PATH (.ci/run installs Debian's `redis-server`), `redisMissing()` is
// the reason to pass as node:test's `skip`, so those tests are reported skipped with that reason,
// never passed.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { freePort } = require('./ports');

// A cold start on a loaded 2-core machine takes well under a second; this only bounds a failure.
const START_TIMEOUT_MS = 20000;
// Another process can take the free port between our look and redis-server's bind.
const START_ATTEMPTS = 5;
// The end of the server's output kept for a failure message.
const LOG_TAIL_BYTES = 4000;

let missing;
function redisMissing() {
  if (missing === undefined) {
    try {
      execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
      missing = false;
    } catch {
      missing = 'redis-server is not installed (or does not run): the Redis store tests need a real one';
    }
  }
  return missing;
}

function startOnce(port, dir) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
        '--daemonize', 'no', '--protected-mode', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    const collect = (chunk) => {
      log = (log + chunk).slice(-LOG_TAIL_BYTES);
      if (log.includes('Ready to accept connections')) done(null);
    };
    let settled = false;
    const timer = setTimeout(() => done(new Error(`redis-server did not start in ${START_TIMEOUT_MS} ms:\n${log}`)), START_TIMEOUT_MS);
    const done = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        reject(err);
      } else {
        resolve(child);
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', done);
    child.once('exit', (code, signal) => done(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${log}`)));
  });
}

// Starts a server; `after` (node:test's, or a test context's) stops it. Resolves to { port, url }.
async function startRedis(after) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-redis-'));
  let child;
  let lastError;
  for (let attempt = 0; attempt < START_ATTEMPTS && child === undefined; attempt++) {
    const port = await freePort();
    try {
      child = await startOnce(port, dir);
      child.port = port;
    } catch (err) {
      lastError = err;
    }
  }
  const cleanup = () => {
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  if (child === undefined) {
    cleanup();
    throw lastError;
  }
  const stop = async () => {
    process.removeListener('exit', cleanup);
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  if (typeof after === 'function') after(stop);
  else after.after(stop);
  return { port: child.port, url: `redis://127.0.0.1:${child.port}` };
}

module.exports = { redisMissing, startRedis };
