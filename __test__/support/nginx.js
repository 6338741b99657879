'use strict';
// A real nginx (Debian's package) in front of the deployment test's instances: its own prefix
// and config in a temp dir (error log, pid and temp paths inside it, nothing under /etc or
// /var), in the foreground (`daemon off`) as a child of the test, on a free loopback port, in its
// own process group, killed with its workers when the test is done (or the process exits).
//
// Without nginx, `nginxMissing()` is the reason to pass as node:test's `skip`.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { freePort, connectable } = require('./ports');

const CANDIDATES = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'];
// Only bounds a failure: nginx starts in milliseconds.
const START_TIMEOUT_MS = 20000;
const START_POLL_MS = 20;
// Another process can take the free port between our look and nginx's bind.
const START_ATTEMPTS = 5;

let found;
function nginxPath() {
  if (found === undefined) {
    found = CANDIDATES.find((p) => {
      try {
        fs.accessSync(p, fs.constants.X_OK);
        return spawnSync(p, ['-v']).status === 0;
      } catch {
        return false;
      }
    }) ?? null;
  }
  return found;
}

function nginxMissing() {
  return nginxPath() === null ? `nginx is not installed (Debian package nginx; looked for ${CANDIDATES.join(', ')})` : false;
}

// `http(dir, port)` returns the body of the http block (everything the test's site needs).
function config(dir, port, http) {
  return [
    'worker_processes 1;',
    'daemon off;',
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${path.join(dir, 'error.log')} warn;`,
    // As root, nginx would start its workers as `nobody`, who cannot read the temp dir.
    process.getuid && process.getuid() === 0 ? 'user root root;' : '',
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(dir, `${t}_temp`)};`),
    http(port),
    '}',
    '',
  ].filter((line) => line !== '').join('\n');
}

async function startOnce(dir, port, http) {
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, config(dir, port, http));
  const child = spawn(nginxPath(), ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = fs.existsSync(path.join(dir, 'error.log')) ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8') : '';
      throw new Error(`nginx exited (${child.exitCode ?? child.signalCode}) before listening:\n${stderr}${log}`);
    }
    if (await connectable(port)) return Object.assign(child, { port });
    if (Date.now() > deadline) {
      kill(child);
      throw new Error(`nginx did not listen on ${port} in ${START_TIMEOUT_MS} ms:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, START_POLL_MS));
  }
}

function kill(child) {
  try {
    process.kill(-child.pid, 'SIGKILL'); // the master and its workers
  } catch {
    // gone
  }
}

// Starts nginx with `http(port)` as its http block's site; `after` (node:test's) stops it.
// Resolves to { port, url, errorLog() } (errorLog: the error log's text so far).
async function startNginx(after, http) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-nginx-'));
  let child;
  let lastError;
  for (let attempt = 0; attempt < START_ATTEMPTS && child === undefined; attempt++) {
    try {
      child = await startOnce(dir, await freePort(), http);
    } catch (err) {
      lastError = err;
    }
  }
  const cleanup = () => {
    if (child !== undefined) kill(child);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  if (child === undefined) {
    cleanup();
    throw lastError;
  }
  after(async () => {
    process.removeListener('exit', cleanup);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      kill(child);
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const errorLog = () => {
    try {
      return fs.readFileSync(path.join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  return { port: child.port, url: `http://127.0.0.1:${child.port}`, errorLog };
}

module.exports = { nginxMissing, startNginx };
