'use strict';
// nginx, the reference of the file rows of `npm run bench` (bench/files.js): Debian's package
// (`apt-get install nginx`; `libnginx-mod-http-brotli-filter` adds brotli), started with a
// config of its own written to a temp dir, on a free loopback port, in the foreground, in its own
// process group. The config is what a production site serving the same directory would use:
// sendfile and tcp_nopush on (Debian's defaults), no access log (no server in the bench logs),
// keep-alive requests unlimited (the Node servers do not cap them either); with `compress`, gzip
// level 6 and brotli quality 4 (the Node peers' defaults) for text/plain, with Vary.
// Unlike the Node servers it is not a script: startNginx() returns the same shape as
// bench/proc.js's startServer(), so stopServer() stops it (SIGTERM: nginx's fast shutdown).

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const CANDIDATES = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'];
const BROTLI_MODULE = '/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so';
const READY_TIMEOUT_MS = 10000;
// Compression levels matching the Node peers' defaults (compression, @fastify/compress).
const GZIP_LEVEL = 6;
const BROTLI_LEVEL = 4;
// Below this the peers do not compress either (their default threshold, 1 KiB).
const COMPRESS_MIN_LENGTH = 1024;

// { path, version } or { reason }.
function findNginx() {
  const found = CANDIDATES.find((p) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!found) return { reason: `nginx is not installed (Debian package nginx; looked for ${CANDIDATES.join(', ')})` };
  const out = spawnSync(found, ['-v'], { encoding: 'utf8' });
  const m = /nginx\/(\S+)/.exec(`${out.stdout}${out.stderr}`);
  return { path: found, version: m ? m[1] : 'unknown' };
}

function brotliAvailable() {
  return fs.existsSync(BROTLI_MODULE);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function config({ dir, root, port, workers, compress }) {
  const brotli = compress && brotliAvailable();
  const lines = [
    brotli ? `load_module ${BROTLI_MODULE};` : '',
    `worker_processes ${workers};`,
    'daemon off;',
    `pid ${path.join(dir, 'nginx.pid')};`,
    'error_log stderr warn;',
    // Root starts the workers as `nobody` otherwise; the bench's files are its own.
    process.getuid && process.getuid() === 0 ? 'user root root;' : '',
    'events { worker_connections 8192; }',
    'http {',
    '  access_log off;',
    '  sendfile on;',
    '  tcp_nopush on;',
    '  keepalive_timeout 60s;',
    '  keepalive_requests 100000000;',
    '  types { text/plain txt; application/octet-stream bin; }',
    '  default_type application/octet-stream;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(dir, `${t}_temp`)};`),
    ...(compress
      ? [
          '  gzip on;',
          `  gzip_comp_level ${GZIP_LEVEL};`,
          `  gzip_min_length ${COMPRESS_MIN_LENGTH};`,
          '  gzip_types text/plain;',
          '  gzip_vary on;',
          ...(brotli ? ['  brotli on;', `  brotli_comp_level ${BROTLI_LEVEL};`, `  brotli_min_length ${COMPRESS_MIN_LENGTH};`, '  brotli_types text/plain;'] : []),
        ]
      : []),
    '  server {',
    `    listen 127.0.0.1:${port};`,
    `    location /files/ { alias ${root}/; }`,
    '  }',
    '}',
  ];
  return `${lines.filter(Boolean).join('\n')}\n`;
}

function connectable(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const running = new Set();
process.on('exit', () => {
  // The master and its workers: a runner that dies must not leave them on the CPU or the port.
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

/**
 * Starts nginx serving `root` at /files/. Resolves with { child, pid, port, driver, exited,
 * brotli } once its port accepts connections.
 * @param {{ binary: string, root: string, dir: string, workers: number | 'auto', compress: boolean, name: string }} o
 */
async function startNginx({ binary, root, dir, workers, compress, name }) {
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, config({ dir, root, port, workers, compress }));
  const child = spawn(binary, ['-p', dir, '-e', 'stderr', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  running.add(child.pid);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    stderr += d;
    for (const line of d.split('\n').filter(Boolean)) console.error(`  [${name}] ${line}`);
  });
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child.pid);
      resolve({ code, signal });
    }),
  );
  const proc = { child, pid: child.pid, port, driver: undefined, exited, brotli: compress && brotliAvailable() };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nginx exited before listening: ${stderr.trim()}`);
    if (await connectable(port)) return proc;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not listen within ${READY_TIMEOUT_MS / 1000} s: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

module.exports = { findNginx, brotliAvailable, startNginx, GZIP_LEVEL, BROTLI_LEVEL };
