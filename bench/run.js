#!/usr/bin/env node
'use strict';
// Benchmark runner (`npm run bench`). Starts each server in its own child process, one at a
// time (http-native, node:http, fastify, express, http-native's fetch entry under Bun.serve, and
// the raw Rust ceiling from bench/raw/),
// drives each route with autocannon (64 connections, without and with pipelining), measures
// the server's CPU time per request and RSS from /proc, then the RSS each idle keep-alive
// connection costs. Prints a table, writes bench/results/latest.json and latest.svg. Then the
// stream rows (bench/streams.js: 1 GiB download and upload, 10,000 SSE clients; http-native,
// node:http and fastify), written to bench/results/streams.json. Then the file rows
// (bench/files.js: 1 KiB, 100 KiB and 10 MiB files from a directory, with and without compression
// and keep-alive; nginx, http-native, express.static and @fastify/static), written to
// bench/results/files.json. Then the WebSocket rows (bench/ws.js: echo over 64 connections,
// broadcast to 10,000 subscribers, idle sockets; http-native and the `ws` package on node:http),
// written to bench/results/ws.json. Then the TLS and HTTP/2 rows (bench/tls.js: HTTPS/1.1 and HTTP/2
// with h2load, the JS and cached routes, plain TCP for comparison, and full handshakes per second;
// http-native, node:https / node:http2 and fastify), written to bench/results/tls.json. Then the
// battery rows (bench/batteries.js: a JS route with CORS, a rate limit, cookies, a session or body
// validation enabled; http-native's native batteries, http-native with the npm middleware, fastify
// with its plugins and Express with the npm middleware), written to bench/results/batteries.json.
// Then the cores rows (bench/cores.js: the cached and JS routes with 1 and 2 I/O threads, 2 serve()
// workers, and fastify on node:cluster, the server and wrk pinned to their own CPUs), written to
// bench/results/cores.json; `--cores N` runs only the scaling table of a big machine (1..N I/O
// threads, workers and fastify processes), written to bench/results/cores-scaling.json.
//
// The peers (node:http, fastify, express) run on the newest LTS Node when scripts/lts-node.js finds
// it (`node scripts/lts-node.js --install`, or HTTP_NATIVE_LTS_NODE), since they are markedly faster
// there than on older Nodes: they are compared at their best. http-native runs on the Node running
// this script. Each server's Node is printed and recorded.
//
//   npm run bench                      # 10 s per run (+ warm-up)
//   BENCH_QUICK=1 npm run bench        # or `npm run bench -- --quick`: 2 s per run, smoke test
//   npm run bench -- --only streams    # only the stream rows (--only routes: only the route rows)
//   npm run bench -- --only files      # only the file rows (with --quick: a short smoke run)
//   npm run bench -- --only ws         # only the WebSocket rows
//   npm run bench -- --only tls        # only the TLS and HTTP/2 rows
//   npm run bench -- --only batteries  # only the battery rows (cors, rate limit, cookies, ...)
//   npm run bench -- --only cores      # only the cores rows (ioThreads, serve() workers, node:cluster)
//   npm run bench -- --cores 8         # the scaling table: 1..8 threads of each kind on 8 CPUs,
//                                      # wrk on the others
//
// Environment:
//   BENCH_CLIENT            autocannon (default), wrk, or both: wrk needs less CPU per request,
//                           so it shows the fastest servers where autocannon is the bottleneck
//   BENCH_DURATION          seconds per measured run (10; 2 with --quick/BENCH_QUICK=1)
//   BENCH_WARMUP            seconds of discarded warm-up before each run (2; 1 with --quick)
//   BENCH_CONNECTIONS       autocannon connections (64)
//   BENCH_PIPELINING        pipelining depths to run (1,10)
//   BENCH_SERVERS           subset of http-native,http-native-epoll,http-native-node,node-http,fastify,express,
//                           http-native-fetch-bun,raw-ceiling,raw-ceiling-epoll
//   BENCH_ROUTES            subset of hello,users,echo,cached,static
//   BENCH_LONE              seconds of the one-connection latency run on GET /users/:id (3; 0 skips)
//   BENCH_IDLE_CONNECTIONS  idle keep-alive connections per server (5000; 0 skips the measurement)
//   BENCH_IDLE_WAIT_MS      settle time before each idle RSS reading (2000)
//   BENCH_RAW_DIR           the raw ceiling crate (bench/raw)
//   HTTP_NATIVE_DRIVER      `legacy` forces http-native onto epoll (passed through to the server)
//   BENCH_STREAMS, BENCH_STREAM_BYTES, BENCH_SSE_*   the stream rows: see bench/streams.js
//   BENCH_FILES             the file rows' scenarios: see bench/files.js
//   BENCH_WS, BENCH_WS_*    the WebSocket rows: see bench/ws.js
//   BENCH_TLS, BENCH_TLS_*  the TLS rows: see bench/tls.js
//   BENCH_BATTERIES         the battery rows' scenarios: see bench/batteries.js
//   BENCH_CORES_*, BENCH_SERVER_CPUS, BENCH_CLIENT_CPUS   the cores rows: see bench/cores.js
//
// Linux only: CPU time and RSS come from /proc/<pid>.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { spawnSync } = require('node:child_process');
const { measureIdle, clampConnections, openFilesLimit } = require('./idle');
const { wrkAvailable } = require('./wrk');
const { CLIENT_BOUND_CPU, measureLoad } = require('./load');
const chart = require('./chart');
const { runStreams, printStreams } = require('./streams');
const files = require('./files');
const ws = require('./ws');
const tlsRows = require('./tls');
const batteries = require('./batteries');
const cores = require('./cores');
const { STOP_GRACE_MS, clockTicks, readRssBytes, startServer, stopServer, diedDuring, killCurrent } = require('./proc');
const ltsNode = require('../scripts/lts-node');

const ROOT = path.join(__dirname, '..');
const RESULTS_DIR = path.join(__dirname, 'results');

// ~1 KiB JSON body for POST /echo: a realistic shape, padded to exactly 1024 bytes.
const ECHO_BODY = (() => {
  const value = {
    user: { id: 4242, name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'dev'] },
    items: Array.from({ length: 12 }, (_, i) => ({ sku: `SKU-${1000 + i}`, qty: i + 1, price: 9.99 + i })),
    note: '',
  };
  value.note = 'x'.repeat(1024 - JSON.stringify(value).length);
  return JSON.stringify(value);
})();

const ROUTES = {
  hello: { label: 'GET /', method: 'GET', path: '/', check: (body) => body === 'Hello, World!' },
  users: {
    label: 'GET /users/:id',
    method: 'GET',
    path: '/users/42',
    check: (body) => body === '{"id":"42"}',
  },
  echo: {
    label: 'POST /echo',
    method: 'POST',
    path: '/echo',
    headers: { 'content-type': 'application/json' },
    body: ECHO_BODY,
    check: (body) => body === ECHO_BODY,
  },
  // fastify has no cache or static route: these compare against the fastify route that
  // sends the same kind of response the slow way.
  cached: {
    label: 'GET /cached',
    method: 'GET',
    path: '/cached',
    check: (body) => body === '{"hello":"world"}',
    baseline: 'users',
  },
  static: {
    label: 'GET /static',
    method: 'GET',
    path: '/static',
    check: (body) => body === 'Hello, World!',
    baseline: 'hello',
  },
};

const SERVERS = [
  { name: 'http-native', script: 'http-native.js', routes: ['hello', 'users', 'echo', 'cached', 'static'] },
  // The same server forced onto epoll: which driver wins depends on the kernel and the machine
  // (on the 2-core VM in docs/performance.md, epoll beats io_uring on the wake-heavy runs).
  {
    name: 'http-native-epoll',
    script: 'http-native.js',
    env: { HTTP_NATIVE_DRIVER: 'legacy' },
    routes: ['hello', 'users', 'echo', 'cached', 'static'],
  },
  // The same app on the JavaScript backend (js/host/ on node:http, issue 14): what a machine where
  // the addon cannot load gets, against the native rows and node:http itself.
  {
    name: 'http-native-node',
    script: 'http-native.js',
    env: { HTTP_NATIVE_BACKEND: 'node' },
    routes: ['hello', 'users', 'echo', 'cached', 'static'],
  },
  { name: 'node-http', script: 'node-http.js', peer: true, routes: ['hello', 'users', 'echo'] },
  { name: 'fastify', script: 'fastify.js', peer: true, routes: ['hello', 'users', 'echo'] },
  { name: 'express', script: 'express.js', peer: true, routes: ['hello', 'users', 'echo'] },
  // The fetch entry (app.fetch on the JavaScript core) under Bun.serve: what an app costs where the
  // addon is not used at all. Run with the `bun` devDependency's binary (`bun: true`).
  { name: 'http-native-fetch-bun', script: 'http-native-fetch-bun.js', bun: true, routes: ['hello', 'users', 'echo', 'cached', 'static'] },
  { name: 'raw-ceiling', raw: true, routes: ['hello'] },
  { name: 'raw-ceiling-epoll', raw: true, env: { HTTP_NATIVE_DRIVER: 'legacy' }, routes: ['hello'] },
];
// The route rows (with the lone-request and idle-connection measurements), the stream rows
// (bench/streams.js), the file rows (bench/files.js), the WebSocket rows (bench/ws.js), the TLS
// rows (bench/tls.js), the battery rows (bench/batteries.js) and the cores rows (bench/cores.js).
const SECTIONS = ['routes', 'streams', 'files', 'ws', 'tls', 'batteries', 'cores'];
// BENCH_SERVERS may name any section's servers (nginx only serves the file rows, ws the
// WebSocket rows, http-native-npm the battery rows).
const SERVER_NAMES = [
  ...new Set([...SERVERS.map((s) => s.name), ...files.SERVER_NAMES, ...ws.SERVER_NAMES, ...tlsRows.SERVER_NAMES, ...batteries.SERVER_NAMES, ...cores.SERVER_NAMES]),
];
const SERVER_ALIASES = { 'node:http': 'node-http', http: 'node-http', raw: 'raw-ceiling', epoll: 'http-native-epoll' };

// ---------------------------------------------------------------------------------------------
// Configuration

function listFromEnv(value, valid, aliases = {}) {
  if (!value) return valid;
  const picked = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => aliases[s] || s);
  const unknown = picked.filter((s) => !valid.includes(s));
  if (unknown.length) {
    throw new Error(`unknown ${unknown.join(', ')}; choose from ${valid.join(', ')}`);
  }
  return valid.filter((s) => picked.includes(s));
}

function positiveNumber(name, value, fallback) {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number >= 0, got ${value}`);
  return n;
}

// The value of `--name value` or `--name=value`; undefined when the flag is absent.
function flagValue(argv, name) {
  const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i === -1) return undefined;
  return (argv[i] === name ? argv[i + 1] : argv[i].slice(name.length + 1)) || '';
}

// `--only routes`, `--only streams`, `--only files`, `--only ws`, `--only tls`, `--only batteries`
// or `--only cores` (also `--only=...`, or a comma list): some sections of the bench; all by
// default, only the cores section with `--cores N`.
function parseSections(argv, coresFlag) {
  const value = flagValue(argv, '--only');
  if (value === undefined) return coresFlag === undefined ? SECTIONS : ['cores'];
  const sections = listFromEnv(value || '-', SECTIONS);
  if (coresFlag !== undefined && !sections.includes('cores')) throw new Error('--cores N is the cores section\'s: add cores to --only');
  return sections;
}

// `--cores N`: the cores section's scaling table, 1..N threads of each kind on N CPUs.
function parseCores(argv) {
  const value = flagValue(argv, '--cores');
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--cores must be an integer >= 1, got ${value || 'nothing'}`);
  return n;
}

function parseConfig(argv, env) {
  const quick = argv.includes('--quick') || env.BENCH_QUICK === '1';
  const coresFlag = parseCores(argv);
  const config = {
    quick,
    cores: coresFlag,
    sections: parseSections(argv, coresFlag),
    duration: positiveNumber('BENCH_DURATION', env.BENCH_DURATION, quick ? 2 : 10),
    warmup: positiveNumber('BENCH_WARMUP', env.BENCH_WARMUP, quick ? 1 : 2),
    connections: positiveNumber('BENCH_CONNECTIONS', env.BENCH_CONNECTIONS, 64),
    pipelining: (env.BENCH_PIPELINING || '1,10').split(',').map((s) => positiveNumber('BENCH_PIPELINING', s, 1)),
    servers: listFromEnv(env.BENCH_SERVERS, SERVER_NAMES, SERVER_ALIASES),
    routes: listFromEnv(env.BENCH_ROUTES, Object.keys(ROUTES)),
    lone: positiveNumber('BENCH_LONE', env.BENCH_LONE, quick ? 1 : 3),
    idleConnections: positiveNumber('BENCH_IDLE_CONNECTIONS', env.BENCH_IDLE_CONNECTIONS, 5000),
    idleWaitMs: positiveNumber('BENCH_IDLE_WAIT_MS', env.BENCH_IDLE_WAIT_MS, 2000),
    rawDir: path.resolve(ROOT, env.BENCH_RAW_DIR || 'bench/raw'),
    clients: { autocannon: ['autocannon'], wrk: ['wrk'], both: ['autocannon', 'wrk'] }[env.BENCH_CLIENT || 'autocannon'],
  };
  if (!config.clients) throw new Error(`BENCH_CLIENT must be autocannon, wrk or both, got ${env.BENCH_CLIENT}`);
  if (config.duration < 1) throw new Error('BENCH_DURATION must be at least 1 second');
  if (config.pipelining.some((p) => p < 1)) throw new Error('BENCH_PIPELINING values must be >= 1');
  return config;
}

// The command line as someone would retype it, with the knobs that shaped the results.
function commandLine(argv, env) {
  const vars = Object.keys(env)
    .filter((k) => k.startsWith('BENCH_') || k === 'HTTP_NATIVE_DRIVER')
    .sort()
    .map((k) => `${k}=${env[k]}`);
  const viaNpm = env.npm_lifecycle_event === 'bench';
  const args = argv.length ? (viaNpm ? ['--', ...argv] : argv) : [];
  return [...vars, viaNpm ? 'npm run bench' : 'node bench/run.js', ...args].join(' ');
}

// ---------------------------------------------------------------------------------------------
// The machine and the versions measured

function machineInfo() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus.length ? cpus[0].model : 'unknown',
    cores: cpus.length,
    totalMemBytes: os.totalmem(),
    platform: os.platform(),
    kernel: os.release(),
    node: process.version,
  };
}

// Which addon build was measured: it is rebuilt often, and a rebuild during a run skews it.
function addonFingerprint() {
  const file = path.join(ROOT, 'http-native.node');
  try {
    const st = fs.statSync(file);
    const sha256 = require('node:crypto').createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    return { sha256, size: st.size, mtime: st.mtime.toISOString() };
  } catch {
    return null;
  }
}

function wrkVersion() {
  const out = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  const m = /wrk (\S+)/.exec(`${out.stdout}${out.stderr}`);
  return m ? `wrk ${m[1]}` : undefined;
}

function packageVersion(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

// Bun, from the `bun` devDependency, for the fetch entry's row: { path, version }, or { reason }
// when it cannot be run here.
function bunRuntime() {
  const bin = path.join(ROOT, 'node_modules', '.bin', 'bun');
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (out.error || out.status !== 0) return { reason: `bun cannot be run (${out.error ? out.error.message : `exit ${out.status}`}; npm install brings the devDependency)` };
  return { path: bin, version: `bun ${out.stdout.trim()}` };
}

// ---------------------------------------------------------------------------------------------
// Server processes

// Builds the raw ceiling when its binary is missing. Returns the binary path, or a reason to skip.
function prepareRaw(rawDir) {
  const manifest = path.join(rawDir, 'Cargo.toml');
  const rel = rawDir.startsWith(ROOT + path.sep) ? path.relative(ROOT, rawDir) : rawDir;
  if (!fs.existsSync(manifest)) return { skip: `${rel}/Cargo.toml not found (the raw ceiling crate is not there yet)` };
  const bin = path.join(rawDir, 'target', 'release', 'raw-ceiling');
  if (!fs.existsSync(bin)) {
    console.log(`Building the raw ceiling: cargo build --release --manifest-path ${rel}/Cargo.toml`);
    // A CARGO_TARGET_DIR from the environment would put the binary somewhere else.
    const built = spawnSync('cargo', ['build', '--release', '--manifest-path', manifest], {
      stdio: 'inherit',
      env: { ...process.env, CARGO_TARGET_DIR: path.join(rawDir, 'target') },
    });
    if (built.error) return { skip: `cargo failed to start: ${built.error.message}` };
    if (built.status !== 0) return { skip: `cargo build failed (exit ${built.status})` };
    if (!fs.existsSync(bin)) return { skip: `cargo built, but ${path.relative(ROOT, bin)} is missing` };
  }
  return { bin };
}

// ---------------------------------------------------------------------------------------------
// Load

// One plain request, to catch a broken route before spending seconds measuring 404s.
function checkRoute(port, route) {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: route.method, path: route.path, headers: route.headers, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) resolve(`status ${res.statusCode}`);
          else if (!route.check(body)) resolve(`unexpected body ${JSON.stringify(body.slice(0, 80))}`);
          else resolve(null);
        });
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve(err.message));
    req.end(route.body);
  });
}

// One measured run of `route` (bench/load.js), labelled for the route rows.
async function measureRun(proc, serverName, routeId, pipelining, config, clk, client) {
  const route = ROUTES[routeId];
  const run = await measureLoad(proc, route, { ...config, pipelining }, clk, client);
  return { server: serverName, client, route: routeId, label: route.label, pipelining, ...run };
}

// ---------------------------------------------------------------------------------------------
// One server: idle measurement on a fresh process, then every route on another fresh one, so
// neither measurement inherits the other's heap.

async function benchIdle(server, rawBin, config, out) {
  const proc = await startServer(server, rawBin);
  try {
    const idle = await measureIdle({
      port: proc.port,
      readRss: () => readRssBytes(proc.pid),
      connections: config.idleConnections,
      waitMs: config.idleWaitMs,
    });
    out.idle.push({ server: server.name, ...idle });
    const per = idle.bytesPerConnection === null ? 'n/a' : `${idle.bytesPerConnection} B/conn`;
    console.log(`  idle: ${idle.connections} connections, ${per}`);
  } catch (err) {
    throw diedDuring(proc, err, 'the idle-connection measurement');
  } finally {
    const exit = await stopServer(proc);
    if (exit.killed) note(out, `${server.name} did not exit within ${STOP_GRACE_MS / 1000} s of SIGTERM: killed`);
  }
}

async function benchRoutes(server, rawBin, config, clk, out) {
  const proc = await startServer(server, rawBin);
  out.servers[server.name] = { pid: proc.pid, node: server.node && server.node.version };
  try {
    for (const routeId of server.routes.filter((r) => config.routes.includes(r))) {
      const problem = await checkRoute(proc.port, ROUTES[routeId]);
      if (problem) {
        note(out, `${server.name} ${ROUTES[routeId].label}: skipped, sanity request got ${problem}`);
        continue;
      }
      for (const client of config.clients) {
        for (const pipelining of config.pipelining) {
          let run;
          try {
            run = await measureRun(proc, server.name, routeId, pipelining, config, clk, client);
          } catch (err) {
            throw diedDuring(proc, err, `${ROUTES[routeId].label} pipelining ${pipelining} (${client})`);
          }
          out.runs.push(run);
          console.log(`  ${run.label} pipelining ${pipelining} (${client}): ${fmtInt(run.rps)} req/s`);
        }
      }
    }
    // A lone client: a batching bridge must still answer one request at once, not wait to fill
    // a batch, so its p50 here should be no worse than node:http's.
    const lone = server.routes.includes('users') && config.routes.includes('users') && config.lone > 0;
    if (lone) {
      const loneConfig = { ...config, connections: 1, duration: config.lone, warmup: Math.min(config.warmup, 1) };
      const before = await bridgeCounters(proc.port, server);
      const run = await measureRun(proc, server.name, 'users', 1, loneConfig, clk, config.clients[config.clients.length - 1]);
      const after = await bridgeCounters(proc.port, server);
      if (before && after) {
        // What the lone-request paths did in this run (warm-up included): the share of answers
        // JS wrote itself (offers) and of batches a waiting JS thread took (busyPoll).
        const delta = (k) => after[k] - before[k];
        run.bridge = { calls: delta('calls'), requests: delta('requests'), direct: delta('direct'), polled: delta('polled'), waited: delta('waited') };
      }
      out.lone.push(run);
      const shares = run.bridge
        ? `, ${fmtShare(run.bridge.direct, run.bridge.requests)} written by JS, ${fmtShare(run.bridge.polled, run.bridge.calls)} of batches polled (${fmtShare(run.bridge.polled, run.bridge.waited)} of waits caught one)`
        : '';
      console.log(`  ${run.label}, 1 connection (${run.client}): p50 ${fmtNum(run.latencyMs.p50, 3)} ms${shares}`);
    }
  } finally {
    const exit = await stopServer(proc);
    // Read late: a driver reported on stderr may arrive after the READY line.
    out.servers[server.name].driver = proc.driver;
    if (server.name === 'http-native') out.httpNativeDriver = proc.driver;
    out.servers[server.name].exit = exit;
    if (exit.killed) note(out, `${server.name} did not exit within ${STOP_GRACE_MS / 1000} s of SIGTERM: killed`);
  }
}

// http-native's bridge counters (its /__bridge route), or null for other servers.
function bridgeCounters(port, server) {
  if (server.script !== 'http-native.js') return Promise.resolve(null);
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: '/__bridge', agent: false }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch {
            resolve(null);
          }
        });
      })
      .on('error', () => resolve(null));
  });
}

function fmtShare(part, whole) {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '—';
}


async function benchServer(server, config, clk, out) {
  let rawBin;
  if (server.raw) {
    const raw = prepareRaw(config.rawDir);
    if (raw.skip) return note(out, `raw-ceiling skipped: ${raw.skip}`);
    rawBin = raw.bin;
  }
  console.log(server.node ? `${server.name} (${server.bun ? server.node.version : `Node ${server.node.version}`})` : server.name);
  // Each part on its own process: a crash in one still lets the other report.
  if (config.idleConnections > 0) {
    await benchIdle(server, rawBin, config, out).catch((err) => note(out, `${server.name} idle: ${err.message}`));
  }
  await benchRoutes(server, rawBin, config, clk, out).catch((err) => note(out, `${server.name}: ${err.message}`));
}

function note(out, text) {
  out.notes.push(text);
  console.log(`  note: ${text}`);
}

// ---------------------------------------------------------------------------------------------
// Report

function fmtInt(n) {
  return n === null || n === undefined || Number.isNaN(n) ? '-' : Math.round(n).toLocaleString('en-US');
}

function fmtNum(n, digits) {
  return n === null || n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits);
}

// The fastify run this one is compared with: same route and pipelining, or the route
// `baseline` names for http-native-only routes.
function fastifyBaseline(runs, run) {
  const route = ROUTES[run.route].baseline || run.route;
  return runs.find(
    (r) => r.server === 'fastify' && r.route === route && r.pipelining === run.pipelining && r.client === run.client,
  );
}

function addRatios(runs) {
  for (const run of runs) {
    const base = fastifyBaseline(runs, run);
    run.vsFastify = base && base.rps > 0 ? Number((run.rps / base.rps).toFixed(2)) : null;
    if (base && base.route !== run.route) run.vsFastifyRoute = base.route;
  }
}

function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  // Text columns left-aligned, numbers right-aligned.
  const left = headers.map((_, i) => rows.every((r) => !/^[-\d.,x%/†*]+$/.test(String(r[i]))));
  const line = (cells) =>
    cells.map((c, i) => (left[i] ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function runsTable(runs) {
  const headers = ['client', 'server', 'route', 'pipe', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'RSS MiB', 'err/non2xx', 'vs fastify', 'client CPU'];
  const rows = runs.map((r) => [
    r.client,
    r.server,
    r.label,
    r.pipelining,
    fmtInt(r.rps),
    fmtNum(r.latencyMs.p50, 2),
    fmtNum(r.latencyMs.p99, 2),
    fmtNum(r.serverCpuUsPerRequest, 1),
    fmtNum(r.rssBytes / 1048576, 1),
    `${r.errors + r.timeouts}/${r.non2xx}`,
    r.vsFastify === null ? '-' : `${r.vsFastify.toFixed(2)}x${r.vsFastifyRoute ? '†' : ''}`,
    `${Math.round(r.clientCpuCores * 100)}%${r.clientBound ? '*' : ''}`,
  ]);
  return table(headers, rows);
}

function idleTable(idle) {
  const headers = ['server', 'connections', 'RSS before MiB', 'RSS after MiB', 'bytes/conn', 'closed early', 'failed'];
  const rows = idle.map((i) => [
    i.server,
    i.connections,
    fmtNum(i.rssBeforeBytes / 1048576, 1),
    fmtNum(i.rssAfterBytes / 1048576, 1),
    fmtInt(i.bytesPerConnection),
    i.closedEarly,
    i.failed,
  ]);
  return table(headers, rows);
}

function printReport(out) {
  console.log('');
  if (out.runs.length) {
    // Side by side: every server on one route and depth together, one table per client.
    const routeOrder = Object.keys(ROUTES);
    const serverOrder = SERVERS.map((s) => s.name);
    const sorted = [...out.runs].sort(
      (a, b) =>
        a.client.localeCompare(b.client) ||
        routeOrder.indexOf(a.route) - routeOrder.indexOf(b.route) ||
        a.pipelining - b.pipelining ||
        serverOrder.indexOf(a.server) - serverOrder.indexOf(b.server),
    );
    console.log(runsTable(sorted));
    console.log('');
    console.log('err = socket errors + timeouts. vs fastify = req/s over fastify\'s on the same route and pipelining;');
    console.log('† compared with fastify\'s GET /users/:id (cached) or GET / (static), which fastify serves from JS.');
    console.log(`client CPU = the load generator's share of one core; * = ${CLIENT_BOUND_CPU * 100}% or more: the run is likely client-bound.`);
  }
  if (out.lone.length) {
    console.log('');
    console.log('One connection, no pipelining, GET /users/:id (latency of a lone request):');
    console.log(
      table(
        ['client', 'server', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'written by JS', 'batches polled', 'waits that caught one'],
        out.lone.map((r) => [
          r.client,
          r.server,
          fmtInt(r.rps),
          fmtNum(r.latencyMs.p50, 3),
          fmtNum(r.latencyMs.p99, 3),
          fmtNum(r.serverCpuUsPerRequest, 1),
          r.bridge ? fmtShare(r.bridge.direct, r.bridge.requests) : '—',
          r.bridge ? fmtShare(r.bridge.polled, r.bridge.calls) : '—',
          r.bridge ? fmtShare(r.bridge.polled, r.bridge.waited) : '—',
        ]),
      ),
    );
  }
  if (out.idle.length) {
    console.log('');
    console.log(idleTable(out.idle));
    console.log('');
    console.log('bytes/conn = (RSS with the idle keep-alive connections open - RSS before) / connections.');
  }
  if (out.notes.length) {
    console.log('');
    for (const n of out.notes) console.log(`note: ${n}`);
  }
}

function writeAtomic(file, text) {
  // *.tmp is ignored by git, so an interrupted write never shows up as a result.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const argv = process.argv.slice(2);
  let config;
  try {
    config = parseConfig(argv, process.env);
  } catch (err) {
    console.error(`bench: ${err.message}`);
    process.exitCode = 2;
    return;
  }
  const clk = clockTicks();
  const machine = machineInfo();
  const command = commandLine(argv, process.env);
  const addon = addonFingerprint();
  console.log(`${machine.cpuModel}, ${machine.cores} cores, ${(machine.totalMemBytes / 2 ** 30).toFixed(1)} GiB, ${machine.platform} ${machine.kernel}, Node ${machine.node}`);
  const self = { path: process.execPath, version: process.version };
  const lts = ltsNode.find();
  const peers = lts.path === undefined ? self : lts;
  console.log(`node:http, fastify, express and ws run on Node ${peers.version} (${peers.path}), http-native on Node ${self.version}`);
  const peersNote = lts.path === undefined ? `peers on the Node running the bench: ${lts.reason}` : undefined;
  if (peersNote) console.log(`  note: ${peersNote}`);

  let measured = false;
  if (config.sections.includes('routes')) {
    measured = (await benchRouteRows({ config, clk, machine, command, addon, self, peers, peersNote })) || measured;
  }
  if (config.sections.includes('streams')) {
    measured = (await benchStreamRows({ config, clk, machine, command, addon, self, peers, peersNote })) || measured;
  }
  if (config.sections.includes('files')) {
    measured = (await benchFileRows({ config, clk, machine, command, addon, self, peers, peersNote })) || measured;
  }
  if (config.sections.includes('ws')) {
    measured = (await benchWsRows({ config, clk, machine, command, addon, self, peers, peersNote })) || measured;
  }
  if (config.sections.includes('tls')) {
    measured = (await benchTlsRows({ config, clk, machine, command, addon, self, peers, peersNote })) || measured;
  }
  if (config.sections.includes('batteries')) {
    measured = (await benchBatteryRows({ config, clk, machine, command, addon, self, peers, peersNote })) || measured;
  }
  if (config.sections.includes('cores')) {
    measured = (await benchCoresRows({ config, clk, machine, command, addon, self, peers, peersNote })) || measured;
  }
  if (!measured && !process.exitCode) process.exitCode = 1;
}

// The route rows, the lone request and the idle connections: bench/results/latest.json and
// latest.svg. Resolves with whether anything was measured.
async function benchRouteRows({ config, clk, machine, command, addon, self, peers, peersNote }) {
  const idleClamped = clampConnections(config.idleConnections);
  const out = {
    date: new Date().toISOString(),
    command,
    machine,
    httpNativeDriver: undefined,
    addon,
    settings: {
      durationSeconds: config.duration,
      warmupSeconds: config.warmup,
      connections: config.connections,
      pipelining: config.pipelining,
      idleConnections: config.idleConnections,
      idleWaitMs: config.idleWaitMs,
      clockTicksPerSecond: clk,
      clients: config.clients,
      echoBodyBytes: Buffer.byteLength(ECHO_BODY),
    },
    versions: {
      autocannon: packageVersion('autocannon'),
      fastify: packageVersion('fastify'),
      express: packageVersion('express'),
      httpNative: require('../package.json').version,
      peersNode: peers.version,
      wrk: config.clients.includes('wrk') ? wrkVersion() : undefined,
    },
    servers: {},
    runs: [],
    lone: [],
    idle: [],
    notes: peersNote ? [peersNote] : [],
  };

  console.log(
    `${config.duration} s per run after ${config.warmup} s of warm-up, ${config.connections} connections, pipelining ${config.pipelining.join(' and ')}`,
  );
  console.log(
    `Note: the load generator (${config.clients.join(' and ')}) shares the ${machine.cores} CPU cores with the server; ` +
      'the fastest servers can be limited by the client, and results on a busy machine are noisy.',
  );
  if (config.clients.includes('wrk') && !wrkAvailable()) {
    console.error('bench: BENCH_CLIENT asks for wrk, which is not installed (apt-get install wrk)');
    process.exitCode = 2;
    return false;
  }
  if (config.idleConnections > 0 && idleClamped < config.idleConnections) {
    note(out, `idle connections clamped to ${idleClamped} (open files limit ${openFilesLimit()})`);
  }
  console.log('');

  for (const server of SERVERS.filter((s) => config.servers.includes(s.name))) {
    if (server.bun) {
      const bun = bunRuntime();
      if (bun.path === undefined) {
        note(out, `${server.name}: skipped, ${bun.reason}`);
        continue;
      }
      out.versions.bun = bun.version;
      await benchServer({ ...server, node: bun }, config, clk, out);
      continue;
    }
    await benchServer({ ...server, node: server.raw ? undefined : server.peer ? peers : self }, config, clk, out);
  }

  const addonAfter = addonFingerprint();
  if (out.addon && addonAfter && addonAfter.sha256 !== out.addon.sha256) {
    note(out, 'http-native.node was rebuilt during the run: the http-native results may mix two builds');
  }
  addRatios(out.runs);
  printReport(out);

  if (!out.runs.length && !out.idle.length) {
    // Keep the previous results rather than replacing them with an empty file.
    console.log('\nNothing was measured: bench/results/latest.json left as it was.');
    return false;
  }
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const jsonFile = path.join(RESULTS_DIR, 'latest.json');
  const svgFile = path.join(RESULTS_DIR, 'latest.svg');
  writeAtomic(jsonFile, `${JSON.stringify(out, null, 2)}\n`);
  writeAtomic(svgFile, chart.render(out));
  console.log('');
  console.log(`Wrote ${path.relative(ROOT, jsonFile)} and ${path.relative(ROOT, svgFile)}`);
  return true;
}

// The stream rows (bench/streams.js): bench/results/streams.json. Resolves with whether anything
// was measured.
function benchStreamRows(ctx) {
  return benchSection(ctx, {
    file: 'streams.json',
    run: () => runStreams({ env: process.env, quick: ctx.config.quick, ...sectionServers(ctx) }),
    print: printStreams,
    versions: { fastify: packageVersion('fastify'), httpNative: require('../package.json').version, peersNode: ctx.peers.version },
  });
}

// The file rows (bench/files.js): bench/results/files.json. Resolves with whether anything was
// measured.
function benchFileRows(ctx) {
  return benchSection(ctx, {
    file: 'files.json',
    run: () => files.runFiles({ env: process.env, config: ctx.config, ...sectionServers(ctx) }),
    print: files.printFiles,
  });
}

// The WebSocket rows (bench/ws.js): bench/results/ws.json. Resolves with whether anything was
// measured.
function benchWsRows(ctx) {
  return benchSection(ctx, {
    file: 'ws.json',
    run: () => ws.runWs({ env: process.env, config: ctx.config, ...sectionServers(ctx) }),
    print: ws.printWs,
  });
}

// The TLS and HTTP/2 rows (bench/tls.js): bench/results/tls.json. Resolves with whether anything
// was measured.
function benchTlsRows(ctx) {
  return benchSection(ctx, {
    file: 'tls.json',
    run: () => tlsRows.runTls({ env: process.env, config: ctx.config, ...sectionServers(ctx) }),
    print: tlsRows.printTls,
  });
}

// The battery rows (bench/batteries.js): bench/results/batteries.json. Resolves with whether
// anything was measured.
function benchBatteryRows(ctx) {
  return benchSection(ctx, {
    file: 'batteries.json',
    run: () => batteries.runBatteries({ env: process.env, config: ctx.config, ...sectionServers(ctx) }),
    print: batteries.printBatteries,
  });
}

// The cores rows (bench/cores.js): bench/results/cores.json, or with --cores N the scaling table,
// bench/results/cores-scaling.json. Resolves with whether anything was measured.
function benchCoresRows(ctx) {
  return benchSection(ctx, {
    file: ctx.config.cores === undefined ? 'cores.json' : 'cores-scaling.json',
    run: () => cores.runCores({ env: process.env, config: ctx.config, ...sectionServers(ctx) }),
    print: cores.printCores,
  });
}

// What every section runner takes about the servers to run.
function sectionServers({ config, self, peers, clk }) {
  return { serverNames: config.servers, serversNamed: Boolean(process.env.BENCH_SERVERS), self, peers, clk };
}

// One section of rows after the route rows: `run()` measures (resolving with { runs, notes,
// settings, ... }), `print` shows it, and what was measured goes to bench/results/<file>.
async function benchSection({ clk, machine, command, addon, peersNote }, { file, run, print, versions }) {
  console.log('');
  let result;
  try {
    result = await run();
  } catch (err) {
    console.error(`bench: ${err.message}`);
    process.exitCode = 2;
    return false;
  }
  const addonAfter = addonFingerprint();
  if (addon && addonAfter && addonAfter.sha256 !== addon.sha256) {
    result.notes.push('http-native.node was rebuilt during the run: the http-native results may mix two builds');
  }
  if (peersNote) result.notes.unshift(peersNote);
  print(result);
  if (!result.runs.length) {
    console.log(`\nNothing was measured: bench/results/${file} left as it was.`);
    return false;
  }
  const out = {
    date: new Date().toISOString(),
    command,
    machine,
    addon,
    ...(versions ? { versions } : {}),
    ...result,
    settings: { ...result.settings, clockTicksPerSecond: clk },
  };
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const jsonFile = path.join(RESULTS_DIR, file);
  writeAtomic(jsonFile, `${JSON.stringify(out, null, 2)}\n`);
  console.log('');
  console.log(`Wrote ${path.relative(ROOT, jsonFile)}`);
  return true;
}

// A runner that dies must not leave a server holding the CPU for the next measurement.
process.on('exit', killCurrent);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killCurrent();
    process.exit(128 + os.constants.signals[signal]);
  });
}

main().catch((err) => {
  console.error(err.stack || err.message);
  process.exitCode = 1;
});
