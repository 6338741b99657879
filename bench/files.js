'use strict';
// The file rows of `npm run bench` (issue 12), run by bench/run.js after the stream rows, or alone
// with `npm run bench -- --only files`. One directory of generated files — 1 KiB (small.bin),
// 100 KiB of compressible text (medium.txt) and 10 MiB (large.bin) — served side by side by
//   nginx           the reference (bench/servers/nginx.js): Debian's package with its own config,
//                   `worker_processes 1` (one worker, as http-native has one I/O thread)
//   nginx-auto      the same with `worker_processes auto` (one worker per core)
//   http-native     app.static('/files', { root }) (bench/servers/http-native-files.js)
//   express         express.static (bench/servers/express-files.js)
//   fastify         @fastify/static (bench/servers/fastify-files.js)
// each loaded with GET /files/<file> over BENCH_CONNECTIONS connections, with keep-alive and
// without (`Connection: close`: one connection per request), and on the text file with
// `Accept-Encoding: gzip, br` against each server's compressing setup (nginx gzip + brotli,
// compression / @fastify/compress, createApp({ compression: true })). Per run: requests/s, the
// ratio to nginx and to each peer, the server's CPU time per request (utime + stime of the server
// and its children — nginx's workers — from /proc/<pid>/stat over the run), and its RSS (the same
// processes' VmRSS, summed) after the run. One server process per server and setup, one at a time.
// The peers run on the newest LTS Node, as in the route rows; http-native on the Node running
// the bench.
//
// The load generator is wrk when it is installed and BENCH_CLIENT does not say otherwise:
// autocannon parses bodies in JavaScript at a few tens of MB/s, so on the 10 MiB file it measures
// itself (a few requests a second whatever the server), and on the small file it saturates its
// core before nginx or http-native do.
//
// Environment (besides BENCH_QUICK / --quick, BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS and
// BENCH_CLIENT, which mean what they mean for the route rows):
//   BENCH_FILES     subset of the scenarios (ids below: small, small-close, medium, ...)
//   BENCH_SERVERS   as for the route rows; here nginx, nginx-auto, http-native, express, fastify
//                   (http-native-epoll when named)

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const zlib = require('node:zlib');
const crypto = require('node:crypto');
const autocannon = require('autocannon');
const { STOP_GRACE_MS, processTree, treeCpuTicks, treeRssBytes, startServer, stopServer, diedDuring } = require('./proc');
const { runWrk, wrkAvailable } = require('./wrk');
const { findNginx, startNginx, brotliAvailable, GZIP_LEVEL, BROTLI_LEVEL } = require('./servers/nginx');
const { pickList, pickServers, packageVersion, sectionResult } = require('./config');
const { round, fmt, fmtInt, fmtRatio, table } = require('./format');

const KiB = 1024;
const MiB = 1024 * KiB;
const FILES = {
  'small.bin': { bytes: KiB, text: false },
  'medium.txt': { bytes: 100 * KiB, text: true },
  'large.bin': { bytes: 10 * MiB, text: false },
};
const ACCEPT_ENCODING = 'gzip, br';
// 10 MiB downloads over 64 connections at once would be 640 MiB in flight before the first answer
// completes (a short run counts none): downloads of this size come a few at a time.
const LARGE_CONNECTIONS = 8;
const SCENARIOS = [
  { id: 'small', file: 'small.bin', keepAlive: true },
  { id: 'small-close', file: 'small.bin', keepAlive: false },
  { id: 'medium', file: 'medium.txt', keepAlive: true },
  { id: 'medium-close', file: 'medium.txt', keepAlive: false },
  { id: 'medium-compressed', file: 'medium.txt', keepAlive: true, compress: true },
  { id: 'medium-compressed-close', file: 'medium.txt', keepAlive: false, compress: true },
  { id: 'large', file: 'large.bin', keepAlive: true, connections: LARGE_CONNECTIONS },
  { id: 'large-close', file: 'large.bin', keepAlive: false, connections: LARGE_CONNECTIONS },
];
const SERVERS = [
  { name: 'nginx', label: 'nginx (1 worker)', nginx: true, workers: 1 },
  { name: 'nginx-auto', label: 'nginx (auto workers)', nginx: true, workers: 'auto' },
  { name: 'http-native', label: 'http-native', script: 'http-native-files.js' },
  { name: 'http-native-epoll', label: 'http-native (epoll)', script: 'http-native-files.js', env: { HTTP_NATIVE_DRIVER: 'legacy' }, onlyWhenNamed: true },
  { name: 'express', label: 'express.static', script: 'express-files.js', peer: true },
  { name: 'fastify', label: '@fastify/static', script: 'fastify-files.js', peer: true },
];
const SERVER_NAMES = SERVERS.map((s) => s.name);
// The issue's targets on the small file: requests/s over nginx's, express.static's, @fastify/static's.
const TARGETS = { nginx: 1.0, express: 10, fastify: 5 };
// The runner is one JS thread; near a full core it is the bottleneck, not the server.
const CLIENT_BOUND_CPU = 0.9;
const CHECK_TIMEOUT_MS = 10000;

// ---------------------------------------------------------------------------------------------
// The files: generated from a fixed seed, so every run serves the same bytes.

function prng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function randomBytes(n, seed) {
  const next = prng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(next(), Math.min(i, n - 4));
  return b;
}

// Text that compresses like prose or source does (about 3-4x), not like a run of one letter.
function text(n, seed) {
  const words = 'the a of to and in is it you that he was for on are with as his they be at one have this from or had by word but what some we can out other were all there when up use your how said an each she which do their time if will way about many then them write would like so these her long make thing see him two has look more day could go come did number sound no most people my over know water than call first who may down side been now find any new work part take get place made live where after back little only round man year came show every good me give our under name very through just form sentence great think say help low line differ turn cause much mean before move right boy old too same tell does set three want air well also play small end put home read hand port large spell add even land here must big high such follow act why ask men change went light kind off need house picture try us again animal point mother world near build self earth father'.split(' ');
  const next = prng(seed);
  let out = '';
  while (out.length < n) {
    const len = 6 + (next() % 10);
    const line = Array.from({ length: len }, () => words[next() % words.length]);
    out += `${line.join(' ')}.\n`;
  }
  return Buffer.from(out.slice(0, n));
}

function makeFiles() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'http-native-bench-files-'));
  const root = path.join(dir, 'files');
  fs.mkdirSync(root);
  // nginx's workers may run as another user: the tree is world-readable.
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(root, 0o755);
  const sha = {};
  for (const [name, f] of Object.entries(FILES)) {
    const bytes = f.text ? text(f.bytes, f.bytes) : randomBytes(f.bytes, f.bytes);
    fs.writeFileSync(path.join(root, name), bytes, { mode: 0o644 });
    sha[name] = crypto.createHash('sha256').update(bytes).digest('hex');
  }
  return { dir, root, sha };
}

async function start(server, files, compress, nginx) {
  if (server.nginx) {
    return startNginx({
      binary: nginx.path,
      root: files.root,
      dir: path.join(files.dir, `${server.name}${compress ? '-compress' : ''}`),
      workers: server.workers,
      compress,
      name: server.name,
    });
  }
  return startServer({ ...server, env: { ...server.env, FILES_ROOT: files.root, FILES_COMPRESS: compress ? '1' : '0' } });
}

// ---------------------------------------------------------------------------------------------
// One request to check what a server answers for a scenario: status 200 and the file's bytes
// (decoded). Resolves with { coding, bodyBytes } or throws why the server is not measured.

function headersFor(scenario) {
  const headers = {};
  if (scenario.compress) headers['accept-encoding'] = ACCEPT_ENCODING;
  if (!scenario.keepAlive) headers.connection = 'close';
  return headers;
}

function check(port, scenario, files) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/files/${scenario.file}`, headers: headersFor(scenario), agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
        const body = Buffer.concat(chunks);
        const coding = res.headers['content-encoding'] || 'identity';
        let decoded;
        try {
          decoded =
            coding === 'br' ? zlib.brotliDecompressSync(body)
            : coding === 'gzip' ? zlib.gunzipSync(body)
            : coding === 'zstd' && zlib.zstdDecompressSync ? zlib.zstdDecompressSync(body)
            : coding === 'identity' ? body
            : null;
        } catch (err) {
          return reject(new Error(`a ${coding} body that does not decode: ${err.message}`));
        }
        if (decoded === null) return reject(new Error(`an unexpected content-encoding ${coding}`));
        const sha = crypto.createHash('sha256').update(decoded).digest('hex');
        if (sha !== files.sha[scenario.file]) return reject(new Error(`the body is not ${scenario.file} (${decoded.length} bytes)`));
        resolve({ coding, bodyBytes: body.length });
      });
    });
    req.setTimeout(CHECK_TIMEOUT_MS, () => req.destroy(new Error('no answer')));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// Load

function autocannonLoad(port, scenario, connections, seconds) {
  return new Promise((resolve, reject) => {
    const before = process.cpuUsage();
    autocannon(
      { url: `http://127.0.0.1:${port}/files/${scenario.file}`, headers: headersFor(scenario), connections, duration: seconds },
      (err, result) => {
        if (err) return reject(err);
        const cpu = process.cpuUsage(before);
        resolve({
          requests: result.requests.total,
          durationSeconds: result.duration,
          errors: result.errors,
          timeouts: result.timeouts,
          non2xx: result.non2xx,
          clientCpuUs: cpu.user + cpu.system,
        });
      },
    );
  });
}

async function wrkLoad(port, scenario, connections, seconds, clk) {
  const route = { method: 'GET', path: `/files/${scenario.file}`, headers: headersFor(scenario) };
  const r = await runWrk({ port, route, connections, pipelining: 1, seconds });
  return {
    requests: r.requests,
    durationSeconds: r.durationSeconds,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    clientCpuUs: r.clientCpuTicks === null ? 0 : (r.clientCpuTicks / clk) * 1e6,
  };
}

async function measure(proc, scenario, checked, client, o) {
  const connections = Math.min(o.connections, scenario.connections || o.connections);
  const load = (seconds) =>
    client === 'wrk' ? wrkLoad(proc.port, scenario, connections, seconds, o.clk) : autocannonLoad(proc.port, scenario, connections, seconds);
  if (o.warmup > 0) await load(o.warmup);
  const cpu0 = treeCpuTicks(proc.pid);
  const t0 = process.hrtime.bigint();
  const r = await load(o.duration);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const cpuUs = ((treeCpuTicks(proc.pid) - cpu0) / o.clk) * 1e6;
  const rps = r.requests / r.durationSeconds;
  const clientCpuCores = r.clientCpuUs / wallUs;
  return {
    client,
    connections,
    durationSeconds: r.durationSeconds,
    requests: r.requests,
    rps: Math.round(rps),
    // Body bytes per second, as the server sent them (encoded when compressed).
    mbPerSecond: round((rps * checked.bodyBytes) / 1e6, 1),
    coding: checked.coding,
    bodyBytes: checked.bodyBytes,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    serverCpuUsPerRequest: r.requests > 0 ? round(cpuUs / r.requests, 2) : null,
    serverCpuCores: round(cpuUs / wallUs, 2),
    clientCpuCores: round(clientCpuCores, 2),
    clientBound: clientCpuCores >= CLIENT_BOUND_CPU,
    rssBytes: treeRssBytes(proc.pid),
    processes: processTree(proc.pid).length,
  };
}

// ---------------------------------------------------------------------------------------------
// The section

/**
 * Runs the file rows and returns { settings, versions, servers, runs, notes }.
 * @param {object} o
 * @param {object} o.env process.env
 * @param {{ duration: number, warmup: number, connections: number, clients: string[] }} o.config run.js's
 * @param {string[]} o.serverNames BENCH_SERVERS as resolved by run.js
 * @param {boolean} o.serversNamed whether BENCH_SERVERS was set
 * @param {{ path: string, version: string }} o.self the Node running the bench (http-native's)
 * @param {{ path: string, version: string }} o.peers the Node the peers run on
 * @param {number} o.clk clock ticks per second
 */
async function runFiles({ env, config, serverNames, serversNamed, self, peers, clk }) {
  const scenarios = pickList('BENCH_FILES', env.BENCH_FILES, SCENARIOS, (s) => s.id);
  const nginx = findNginx();
  const clients = env.BENCH_CLIENT ? config.clients : wrkAvailable() ? ['wrk'] : ['autocannon'];
  config = { ...config, clients };
  const { result, note } = sectionResult({
    settings: {
      durationSeconds: config.duration,
      warmupSeconds: config.warmup,
      connections: config.connections,
      largeFileConnections: Math.min(config.connections, LARGE_CONNECTIONS),
      clients: config.clients,
      acceptEncoding: ACCEPT_ENCODING,
      files: Object.fromEntries(Object.entries(FILES).map(([n, f]) => [n, f.bytes])),
      scenarios: scenarios.map((s) => s.id),
      nginx: { gzipLevel: GZIP_LEVEL, brotliLevel: brotliAvailable() ? BROTLI_LEVEL : null, brotliModule: brotliAvailable() },
    },
    loadAverage: os.loadavg().map((l) => round(l, 2)),
    versions: {
      nginx: nginx.version,
      express: packageVersion('express'),
      compression: packageVersion('compression'),
      fastify: packageVersion('fastify'),
      fastifyStatic: packageVersion('@fastify/static'),
      fastifyCompress: packageVersion('@fastify/compress'),
      httpNative: require('../package.json').version,
      peersNode: peers.version,
    },
  });
  const servers = pickServers(SERVERS, serverNames, serversNamed);
  if (!env.BENCH_CLIENT && clients[0] === 'autocannon') {
    note('wrk is not installed (apt-get install wrk): autocannon drives the file rows, and it is the bottleneck on the 10 MiB file');
  }
  if (nginx.reason && servers.some((s) => s.nginx)) note(`nginx rows skipped: ${nginx.reason}`);
  if (nginx.path && !brotliAvailable()) note('nginx has no brotli module (Debian package libnginx-mod-http-brotli-filter): its compressed rows are gzip');

  const files = makeFiles();
  console.log(
    `Files: ${scenarios.map((s) => s.id).join(', ')}; ${config.duration} s per run after ${config.warmup} s of warm-up, ` +
      `${config.connections} connections (${Math.min(config.connections, LARGE_CONNECTIONS)} for the 10 MiB file; ${config.clients.join(' and ')}); load average ${result.loadAverage.join(' ')}`,
  );
  try {
    for (const server of servers) {
      if (server.nginx && !nginx.path) continue;
      const node = server.nginx ? undefined : server.peer ? peers : self;
      result.servers[server.name] = { label: server.label, node: node && node.version, workers: server.workers };
      console.log(`${server.label}${node ? ` (Node ${node.version})` : nginx.version ? ` (nginx ${nginx.version})` : ''}`);
      for (const compress of [false, true]) {
        const mine = scenarios.filter((s) => Boolean(s.compress) === compress);
        if (!mine.length) continue;
        await benchServer({ ...server, node }, compress, mine, files, nginx, { ...config, clk }, result, note).catch((err) =>
          note(`${server.name}${compress ? ' (compressing)' : ''}: ${err.message}`),
        );
      }
    }
  } finally {
    fs.rmSync(files.dir, { recursive: true, force: true });
  }
  addRatios(result.runs);
  return result;
}

async function benchServer(server, compress, scenarios, files, nginx, o, result, note) {
  const proc = await start(server, files, compress, nginx);
  try {
    for (const scenario of scenarios) {
      let checked;
      try {
        checked = await check(proc.port, scenario, files);
      } catch (err) {
        note(`${server.name} ${scenario.id}: skipped, the check request got ${err.message}`);
        continue;
      }
      for (const client of o.clients) {
        let run;
        try {
          run = await measure(proc, scenario, checked, client, o);
        } catch (err) {
          throw diedDuring(proc, err, `${scenario.id} (${client})`);
        }
        result.runs.push({ scenario: scenario.id, file: scenario.file, keepAlive: scenario.keepAlive, compressed: Boolean(scenario.compress), server: server.name, ...run });
        console.log(`  ${scenario.id} (${client}): ${fmtInt(run.rps)} req/s, ${fmt(run.serverCpuUsPerRequest, 1)} µs CPU/req, ${run.coding}`);
      }
    }
  } finally {
    const exit = await stopServer(proc);
    if (proc.driver) result.servers[server.name].driver = proc.driver;
    if (exit.killed) note(`${server.name} did not exit within ${STOP_GRACE_MS / 1000} s of SIGTERM: killed`);
  }
}

// Each run's requests/s over nginx's (1 worker and auto) and each peer's, same scenario and client.
function addRatios(runs) {
  for (const run of runs) {
    run.vs = {};
    for (const other of ['nginx', 'nginx-auto', 'http-native', 'express', 'fastify']) {
      if (other === run.server) continue;
      const base = runs.find((r) => r.server === other && r.scenario === run.scenario && r.client === run.client);
      if (base && base.rps > 0) run.vs[other] = round(run.rps / base.rps, 2);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Report

// A files table cell that is a figure or a mark, so its column is right-aligned.
const NUMERIC = /^[-\d.,x%/* ]+$/;

function printFiles(result) {
  if (!result.runs.length) {
    for (const n of result.notes) console.log(`note: ${n}`);
    return;
  }
  const order = SERVERS.map((s) => s.name);
  const scenarioOrder = SCENARIOS.map((s) => s.id);
  const runs = [...result.runs].sort(
    (a, b) => a.client.localeCompare(b.client) || scenarioOrder.indexOf(a.scenario) - scenarioOrder.indexOf(b.scenario) || order.indexOf(a.server) - order.indexOf(b.server),
  );
  const label = (name) => (SERVERS.find((s) => s.name === name) || { label: name }).label;
  console.log('');
  console.log(
    table(
      ['client', 'scenario', 'server', 'req/s', 'MB/s', 'vs nginx', 'vs nginx-auto', 'vs express', 'vs fastify', 'CPU µs/req', 'RSS MiB', 'coding', 'err/non2xx', 'client CPU'],
      runs.map((r) => [
        r.client,
        r.scenario,
        label(r.server),
        fmtInt(r.rps),
        fmt(r.mbPerSecond, 1),
        fmtRatio(r.vs.nginx),
        fmtRatio(r.vs['nginx-auto']),
        fmtRatio(r.vs.express),
        fmtRatio(r.vs.fastify),
        fmt(r.serverCpuUsPerRequest, 1),
        fmt(r.rssBytes / MiB, 1),
        r.coding,
        `${r.errors + r.timeouts}/${r.non2xx}`,
        `${Math.round(r.clientCpuCores * 100)}%${r.clientBound ? '*' : ''}`,
      ]),
      NUMERIC,
    ),
  );
  console.log(
    `small = 1 KiB, medium = 100 KiB of text, large = 10 MiB; -close = Connection: close (a new connection per request); ` +
      `compressed = Accept-Encoding: ${ACCEPT_ENCODING} to the server's compressing setup (coding = what it answered). ` +
      'MB/s = body bytes as sent. CPU µs/req = utime + stime of the server and its child processes over the run / requests; ' +
      'RSS = their VmRSS summed, after the run. vs X = req/s over X\'s in the same scenario. ' +
      `client CPU = the load generator's share of one core; * = ${CLIENT_BOUND_CPU * 100}% or more: the run is likely client-bound.`,
  );
  const targets = runs.filter((r) => r.server === 'http-native' && r.scenario === 'small');
  for (const r of targets) {
    const parts = Object.entries(TARGETS).map(([peer, want]) => {
      const got = r.vs[peer];
      return `vs ${peer} ${fmtRatio(got)} (target ≥ ${want}x${got === undefined ? '' : got >= want ? ' ✓' : ' ✗'})`;
    });
    console.log(`Targets, small file with keep-alive (${r.client}): ${parts.join(', ')}`);
  }
  const plain = runs.find((r) => r.server === 'http-native' && r.scenario === 'medium');
  const packed = runs.find((r) => r.server === 'http-native' && r.scenario === 'medium-compressed' && (!plain || r.client === plain.client));
  if (plain && packed) {
    console.log(
      `http-native, medium file: ${fmt(plain.serverCpuUsPerRequest, 1)} µs CPU/req plain, ${fmt(packed.serverCpuUsPerRequest, 1)} µs compressed ` +
        `(${packed.coding}, ${packed.bodyBytes} bytes): a compressed answer from the cache should cost about what a plain one does.`,
    );
  }
  for (const n of result.notes) console.log(`note: ${n}`);
}

module.exports = { runFiles, printFiles, SERVER_NAMES, SCENARIOS };
