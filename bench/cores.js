'use strict';
// The cores rows of `npm run bench` (issue 17), run by bench/run.js after the battery rows, or
// alone with `npm run bench -- --only cores`; `npm run bench -- --cores N` is the scaling table of a
// big machine. Two routes (bench/servers/cores-app.js, the same as the TLS rows'):
//   cached   GET /cached, res.ncache: answered by Rust from the cache every I/O thread and worker
//            shares (fastify, which has none, sends the same JSON serialized once at start-up)
//   users    GET /users/42, {"id":"42"} serialized by JS per request
// served by
//   http-native        listen({ ioThreads: n }): n I/O threads feeding one JS thread
//   http-native-acceptor  the same with balance: 'acceptor' (one thread accepts and hands each
//                      connection to the thread with the fewest), against SO_REUSEPORT's hash
//   http-native-serve  serve(cores-app.js, { workers: n }): n worker threads, each its own JS
//                      thread and I/O thread (bench/servers/http-native-cores.js)
//   fastify-cluster    node:cluster with n fastify worker processes (fastify-cluster.js), the peer
// with wrk as the load generator. The server is pinned with taskset to its CPUs and wrk (one thread
// per CPU) to the others, so neither takes the other's cores and the server's CPU is all it had.
//
// Without --cores: http-native with 1 and 2 I/O threads (2 with each balance), with 2 workers, and fastify with 1 and 2
// workers, the server on min(2, CPUs - 1) CPUs. On a 2-core machine that is ONE core for the
// server: 2 threads cannot be faster there than 1, so these rows show what the extra threads
// cost (CPU per request), not how they scale. With --cores N: every server with 1..N threads of
// its kind (N I/O threads, N workers, N fastify processes) on N CPUs, the client on the rest
// (there must be at least one), and the scaling table: requests/s at each count and its ratio to 1.
//
// Reported per run: requests/s, the server's CPU per request (utime + stime of every thread of the
// server process, and of every process for node:cluster, from /proc), how much of its pinned
// CPUs it used, RSS (summed over the processes: shared pages count twice for the cluster), for
// http-native the requests handed to JS per request and each thread's (worker's) share of the
// requests (SO_REUSEPORT's balance), and wrk's own CPU (client-bound runs are marked).
//
// Environment (besides BENCH_QUICK / --quick, BENCH_DURATION, BENCH_WARMUP, BENCH_PIPELINING and
// BENCH_SERVERS, which mean what they mean for the route rows):
//   BENCH_CONNECTIONS   wrk connections (64; with --cores N, max(64, 16 × N) unless set)
//   BENCH_CORES_ROUTES  subset of cached,users
//   BENCH_CORES_STEPS   the thread counts of the scaling table (every one from 1 to N)
//   BENCH_SERVER_CPUS   the server's CPUs, a taskset list such as 0-7 (default: the first of the
//   BENCH_CLIENT_CPUS   CPUs this process may use); the client's (default: the rest). Name both to
//                       keep hyperthread siblings apart, or the client off the server's socket.

const fs = require('node:fs');
const os = require('node:os');
const http = require('node:http');
const { STOP_GRACE_MS, startServer, stopServer, diedDuring } = require('./proc');
const { measureLoad } = require('./load');
const { wrkAvailable } = require('./wrk');
const { pickList, pickServers, packageVersion, positive, sectionResult } = require('./config');
const { round, fmt, fmtInt, fmtRatio, table } = require('./format');
const { CACHED_PATH, CACHED_BODY } = require('./servers/tls-shared');

const CHECK_TIMEOUT_MS = 10000;
// A side near this share of its pinned CPUs was the bottleneck.
const BOUND_CPU = 0.9;
// The server's CPUs without --cores: 2 threads of each kind, on 2 CPUs when the machine has a
// third for the client.
const DEFAULT_THREADS = 2;
// wrk connections per server thread with --cores N (SO_REUSEPORT spreads connections, not
// requests: a thread with a handful of connections idles while another has more).
const CONNECTIONS_PER_THREAD = 16;

const ROUTES = [
  { id: 'cached', label: 'GET /cached (res.ncache)', method: 'GET', path: CACHED_PATH, body: CACHED_BODY },
  { id: 'users', label: 'GET /users/:id (JS)', method: 'GET', path: '/users/42', body: '{"id":"42"}' },
];

// `threads(n)`: the threads that do the work (what n costs in CPUs when each has one).
const SERVERS = [
  { name: 'http-native', kind: 'ioThreads', script: 'http-native-cores.js', env: (n) => ({ IO_THREADS: String(n), BALANCE: 'reuseport' }), label: (n) => `http-native, ${n} I/O + 1 JS thread${n > 1 ? ', SO_REUSEPORT' : ''}`, threads: (n) => n + 1 },
  { name: 'http-native-acceptor', kind: 'ioThreads', script: 'http-native-cores.js', env: (n) => ({ IO_THREADS: String(n), BALANCE: 'acceptor' }), label: (n) => `http-native, ${n} I/O + 1 JS thread, acceptor`, threads: (n) => n + 1 },
  { name: 'http-native-serve', kind: 'workers', script: 'http-native-cores.js', env: (n) => ({ WORKERS: String(n) }), label: (n) => `http-native serve(), ${n} worker${n === 1 ? '' : 's'}`, threads: (n) => 2 * n },
  { name: 'fastify-cluster', kind: 'cluster', script: 'fastify-cluster.js', peer: true, env: (n) => ({ WORKERS: String(n) }), label: (n) => `fastify, node:cluster ${n} worker${n === 1 ? '' : 's'}`, threads: (n) => n },
];
const SERVER_NAMES = SERVERS.map((s) => s.name);
// Without --cores: the rows issue 17 asks for on a 2-core machine, and fastify on one process.
const DEFAULT_PLAN = [
  ['http-native', 1],
  ['http-native', 2],
  ['http-native-acceptor', 2],
  ['http-native-serve', 2],
  ['fastify-cluster', 1],
  ['fastify-cluster', 2],
];

// ---------------------------------------------------------------------------------------------
// CPUs: which the server gets and which the client

// A taskset / cpuset list (`0-3,8,10-11`) as CPU numbers.
function parseCpuList(list) {
  const out = [];
  for (const part of list.trim().split(',').filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`not a CPU list: ${list}`);
    for (let c = Number(m[1]); c <= Number(m[2] === undefined ? m[1] : m[2]); c++) out.push(c);
  }
  return [...new Set(out)];
}

// The CPUs this process may run on (a container or taskset may allow fewer than the machine has).
function allowedCpus() {
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return parseCpuList(m[1]);
  } catch {
    // not Linux: the count is all there is
  }
  return Array.from({ length: os.availableParallelism() }, (_, i) => i);
}

// { server: [cpus], client: [cpus] }: `want` CPUs for the server (the first allowed ones), the
// rest for the client, unless BENCH_SERVER_CPUS / BENCH_CLIENT_CPUS name them.
function splitCpus(env, want) {
  const allowed = allowedCpus();
  const server = env.BENCH_SERVER_CPUS ? parseCpuList(env.BENCH_SERVER_CPUS) : allowed.slice(0, want);
  const client = env.BENCH_CLIENT_CPUS ? parseCpuList(env.BENCH_CLIENT_CPUS) : allowed.filter((c) => !server.includes(c));
  if (server.length < want) {
    throw new Error(`the server needs ${want} CPUs and has ${server.length} (${allowed.length} allowed here; the client needs at least one more)`);
  }
  if (!client.length) {
    throw new Error(`no CPU is left for the load generator: ${allowed.length} allowed here, ${server.length} for the server (--cores N needs N + 1 CPUs)`);
  }
  const shared = server.filter((c) => client.includes(c));
  if (shared.length) throw new Error(`BENCH_SERVER_CPUS and BENCH_CLIENT_CPUS share CPU ${shared.join(', ')}`);
  return { server, client };
}

// ---------------------------------------------------------------------------------------------
// Configuration

function coresConfig(env, config) {
  const scaling = config.cores !== undefined;
  const steps = scaling
    ? env.BENCH_CORES_STEPS
      ? [...new Set(env.BENCH_CORES_STEPS.split(',').map((s) => positive('BENCH_CORES_STEPS', s.trim(), 1, 1, true)))].sort((a, b) => a - b)
      : Array.from({ length: config.cores }, (_, i) => i + 1)
    : undefined;
  if (scaling && steps.some((n) => n > config.cores)) throw new Error(`BENCH_CORES_STEPS goes past --cores ${config.cores}`);
  const serverCpus = scaling ? config.cores : Math.max(1, Math.min(DEFAULT_THREADS, allowedCpus().length - 1));
  const cpus = splitCpus(env, serverCpus);
  const connections = scaling && !env.BENCH_CONNECTIONS ? Math.max(config.connections, CONNECTIONS_PER_THREAD * config.cores) : config.connections;
  return {
    mode: scaling ? 'scaling' : 'rows',
    cores: config.cores,
    steps,
    routes: pickList('BENCH_CORES_ROUTES', env.BENCH_CORES_ROUTES, ROUTES, (r) => r.id).map((r) => r.id),
    durationSeconds: config.duration,
    warmupSeconds: config.warmup,
    connections,
    pipelining: config.pipelining,
    serverCpus: cpus.server.join(','),
    clientCpus: cpus.client.join(','),
    serverCores: cpus.server.length,
    clientCores: cpus.client.length,
    // One wrk thread per client CPU, and never more threads than connections.
    clientThreads: Math.min(cpus.client.length, connections),
  };
}

// The runs to make: [[server, n]], servers in SERVERS order.
function planOf(settings, servers) {
  const names = servers.map((s) => s.name);
  const plan = settings.mode === 'scaling' ? SERVERS.flatMap((s) => settings.steps.map((n) => [s.name, n])) : DEFAULT_PLAN;
  return plan.filter(([name]) => names.includes(name)).map(([name, n]) => [servers.find((s) => s.name === name), n]);
}

// ---------------------------------------------------------------------------------------------
// Checks and counters

function get(port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(CHECK_TIMEOUT_MS, () => req.destroy(new Error(`GET ${path}: no answer within ${CHECK_TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
  });
}

// What an http-native server says it runs and its request counters ({ workers, ioThreads,
// requests: { total, native, js }, parts: [the same per thread or worker] }), from the second
// port its cores server listens on; null for fastify.
async function describe(proc) {
  if (!proc.statsPort) return null;
  const res = await get(proc.statsPort, '/');
  if (res.status !== 200) throw new Error(`the stats port answered ${res.status}: ${res.body}`);
  return JSON.parse(res.body);
}

// The server runs what was asked: n I/O threads, or n workers (each with its one I/O thread).
function checkShape(server, n, d) {
  if (!d) return;
  if (server.kind === 'ioThreads' && (d.ioThreads !== n || d.workers !== 0)) {
    throw new Error(`asked for ${n} I/O threads, the server runs ${d.ioThreads} (and ${d.workers} workers)`);
  }
  if (server.kind === 'workers' && d.workers !== n) throw new Error(`asked for ${n} workers, serve() started ${d.workers}`);
  if (n > 1 && d.parts.length !== n) {
    throw new Error(`stats() gave ${d.parts.length} per-${server.kind === 'workers' ? 'worker' : 'thread'} figures for ${n}`);
  }
}

// Two answers each, so the cached route's entry is stored before the load starts.
async function checkRoutes(port, routes) {
  for (const route of routes) {
    for (let i = 0; i < 2; i++) {
      const res = await get(port, route.path);
      if (res.status !== 200 || res.body !== route.body) {
        throw new Error(`${route.label}: expected 200 ${route.body}, got ${res.status} ${JSON.stringify(res.body.slice(0, 160))}`);
      }
    }
  }
}

// What the counters moved by between two describe()s: requests to JS per request, and each
// thread's (worker's) share of the requests.
function counterDelta(before, after, requests) {
  if (!before || !after) return {};
  const js = after.requests.js - before.requests.js;
  const parts = after.parts.map((p, i) => p.total - (before.parts[i] ? before.parts[i].total : 0));
  const total = parts.reduce((a, b) => a + b, 0);
  return {
    jsPerRequest: requests > 0 ? round(js / requests, 3) : null,
    shares: parts.length > 1 && total > 0 ? parts.map((p) => round(p / total, 3)) : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Runs

async function measure(proc, route, pipelining, settings, clk) {
  const config = {
    connections: settings.connections,
    pipelining,
    warmup: 0,
    duration: settings.durationSeconds,
    clientThreads: settings.clientThreads,
    clientCpus: settings.clientCpus,
  };
  // The warm-up apart, so the counters around the measured run count only its requests.
  if (settings.warmupSeconds > 0) await measureLoad(proc, route, { ...config, duration: settings.warmupSeconds }, clk, 'wrk');
  const before = await describe(proc);
  const run = await measureLoad(proc, route, config, clk, 'wrk');
  const after = await describe(proc);
  return {
    ...run,
    ...counterDelta(before, after, run.requests),
    valid: run.requests > 0 && run.errors + run.timeouts + run.non2xx === 0,
    serverShare: round(run.serverCpuCores / settings.serverCores, 2),
    clientShare: round(run.clientCpuCores / settings.clientThreads, 2),
    serverBound: run.serverCpuCores >= BOUND_CPU * settings.serverCores,
    clientBound: run.clientCpuCores >= BOUND_CPU * settings.clientThreads,
  };
}

async function runServer(server, n, routes, settings, clk, result, note) {
  const label = server.label(n);
  const proc = await startServer({ ...server, env: server.env(n), cpus: settings.serverCpus }).catch((err) => {
    throw new Error(`the server did not start: ${err.message}`);
  });
  try {
    try {
      checkShape(server, n, await describe(proc));
      await checkRoutes(proc.port, routes);
    } catch (err) {
      throw new Error(`check failed: ${err.message}`);
    }
    if (server.kind !== 'cluster' && n > 1 && !(await describe(proc)).parts.length) note(`${label}: stats() has no per-thread figures`);
    for (const route of routes) {
      for (const pipelining of settings.pipelining) {
        let run;
        try {
          run = await measure(proc, route, pipelining, settings, clk);
        } catch (err) {
          throw diedDuring(proc, err, `${route.id} pipelining ${pipelining}`);
        }
        result.runs.push({ server: server.name, kind: server.kind, n, label, route: route.id, pipelining, ...run });
        const shares = run.shares ? `, threads ${run.shares.map((s) => `${Math.round(s * 100)}%`).join('/')}` : '';
        console.log(
          `  ${route.id} ×${pipelining}: ${fmtInt(run.rps)} req/s, ${fmt(run.serverCpuUsPerRequest, 2)} µs CPU/req${shares}` +
            `${run.valid ? '' : ` — INVALID: ${run.non2xx} non-2xx, ${run.errors + run.timeouts} errors`}`,
        );
        if (!run.valid) note(`${label} ${route.id} ×${pipelining}: ${run.non2xx} non-2xx answers, ${run.errors} socket errors, ${run.timeouts} timeouts: left out of the ratios`);
      }
    }
  } finally {
    const exit = await stopServer(proc);
    if (proc.driver && proc.driver !== 'unknown') result.servers[server.name].driver = proc.driver;
    if (exit.killed) note(`${label} did not exit within ${STOP_GRACE_MS / 1000} s of SIGTERM: killed`);
    else if (exit.code !== 0) note(`${label} exited with code ${exit.code} after SIGTERM`);
  }
}

// ---------------------------------------------------------------------------------------------
// Ratios and the report

const ratio = (a, b) => (a !== null && a !== undefined && b !== null && b !== undefined && b > 0 ? round(a / b, 2) : null);

// vsFastify: requests/s over fastify's with as many workers (the same route and depth); scale:
// requests/s over the same server's with 1 thread of its kind.
function addRatios(runs) {
  const same = (a, b) => a.route === b.route && a.pipelining === b.pipelining && b.valid;
  for (const run of runs.filter((r) => r.valid)) {
    const fastify = run.server !== 'fastify-cluster' && runs.find((r) => r.server === 'fastify-cluster' && r.n === run.n && same(r, run));
    if (fastify) run.vsFastify = { rate: ratio(run.rps, fastify.rps), cpu: ratio(run.serverCpuUsPerRequest, fastify.serverCpuUsPerRequest) };
    const one = runs.find((r) => r.server === run.server && r.n === 1 && same(r, run));
    if (one && run.n > 1) run.scale = ratio(run.rps, one.rps);
  }
}

const NUMERIC = /^[-\d.,x%/*†✗ ()µ]+$/;
const pct = (x) => (x === null || x === undefined ? '-' : `${Math.round(x * 100)}%`);
const order = (runs, routes) =>
  [...runs].sort(
    (a, b) =>
      routes.indexOf(a.route) - routes.indexOf(b.route) ||
      a.pipelining - b.pipelining ||
      SERVER_NAMES.indexOf(a.server) - SERVER_NAMES.indexOf(b.server) ||
      a.n - b.n,
  );

function runsTable(runs, routes) {
  return table(
    ['route', 'pipe', 'server', 'req/s', 'vs fastify', 'CPU µs/req', 'RSS MiB', 'JS/req', 'threads share', 'server CPU', 'client CPU'],
    order(runs, routes).map((r) => [
      r.route,
      r.pipelining,
      r.label,
      `${fmtInt(r.rps)}${r.valid ? '' : ' ✗'}`,
      fmtRatio(r.vsFastify && r.vsFastify.rate),
      fmt(r.serverCpuUsPerRequest, 2),
      fmt(r.rssBytes / 2 ** 20, 1),
      fmt(r.jsPerRequest, 2),
      r.shares ? r.shares.map((s) => Math.round(s * 100)).join('/') : '-',
      `${pct(r.serverShare)}${r.serverBound ? '†' : ''}`,
      `${pct(r.clientShare)}${r.clientBound ? '*' : ''}`,
    ]),
    NUMERIC,
  );
}

// Per route and depth: one row per server, one column per thread count, `req/s (µs/req)`, and the
// last count's requests/s over the first's.
function scalingTables(result) {
  const { steps, routes, pipelining } = result.settings;
  const out = [];
  for (const route of routes) {
    for (const depth of pipelining) {
      const rows = SERVERS.filter((s) => result.runs.some((r) => r.server === s.name)).map((s) => {
        const at = (n) => result.runs.find((r) => r.server === s.name && r.n === n && r.route === route && r.pipelining === depth);
        const cells = steps.map((n) => {
          const r = at(n);
          return r ? `${fmtInt(r.rps)}${r.valid ? '' : ' ✗'}${r.clientBound ? '*' : ''} (${fmt(r.serverCpuUsPerRequest, 1)})` : '-';
        });
        const last = at(steps[steps.length - 1]);
        return [s.name, ...cells, fmtRatio(last && last.scale)];
      });
      out.push(`${ROUTES.find((r) => r.id === route).label}, pipelining ${depth}: req/s (server CPU µs/req) by threads of each kind`);
      out.push(table(['server', ...steps.map(String), `× at ${steps[steps.length - 1]}`], rows, NUMERIC));
      out.push('');
    }
  }
  return out.join('\n');
}

function printCores(result) {
  const { settings } = result;
  const routes = ROUTES.map((r) => r.id);
  if (result.runs.length) {
    console.log('');
    if (settings.mode === 'scaling') console.log(scalingTables(result));
    console.log(runsTable(result.runs, routes));
    console.log(
      `wrk, ${settings.connections} connections, ${settings.clientThreads} thread(s) on CPU ${settings.clientCpus}; the server on CPU ${settings.serverCpus}; ` +
        `${settings.durationSeconds} s per run. vs fastify = req/s over fastify (node:cluster) with as many workers as the row has threads of its kind. ` +
        'CPU µs/req = utime + stime of every server thread and process / requests. RSS summed over the processes. JS/req = requests handed to JS per request ' +
        '(0: Rust answered from the cache). threads share = each I/O thread\'s (worker\'s) share of the requests. server CPU = its share of its pinned CPUs ' +
        `(† ${BOUND_CPU * 100}% or more: the server was the bottleneck, as it should be); client CPU = wrk's share of its threads (* ${BOUND_CPU * 100}% or more: client-bound). ✗ = an invalid run.`,
    );
  }
  if (settings.mode === 'rows' && settings.serverCores === 1) {
    console.log('');
    console.log(
      `The server had ONE CPU (${settings.serverCpus}; the load generator had ${settings.clientCpus}). Two I/O threads or two workers on one core ` +
        'cannot be faster than one: these rows show what the extra threads cost (CPU per request, RSS), not how they scale. ' +
        '`npm run bench -- --cores N` on a machine with more than N cores prints the scaling table.',
    );
  }
  if (result.failures.length) {
    console.log('');
    console.log('FAILED (not measured):');
    for (const f of result.failures) console.log(`  ${f.label}: ${f.reason}`);
  }
  for (const n of result.notes) console.log(`note: ${n}`);
}

// ---------------------------------------------------------------------------------------------
// The section

/**
 * Runs the cores rows (or, with config.cores, the scaling table's) and returns them ({ settings,
 * versions, servers, runs, failures, notes }). A server that fails to start or its check is in
 * `failures`; that, or an invalid run, sets process.exitCode = 1.
 * @param {object} o
 * @param {object} o.env process.env
 * @param {{ cores?: number, duration: number, warmup: number, connections: number, pipelining: number[] }} o.config run.js's
 * @param {string[]} o.serverNames BENCH_SERVERS as resolved by run.js
 * @param {boolean} o.serversNamed whether BENCH_SERVERS was set
 * @param {{ path: string, version: string }} o.self the Node running the bench (http-native's)
 * @param {{ path: string, version: string }} o.peers the Node fastify runs on
 * @param {number} o.clk clock ticks per second
 */
async function runCores({ env, config, serverNames, serversNamed, self, peers, clk }) {
  const { result, note } = sectionResult({
    settings: undefined,
    loadAverage: os.loadavg().map((l) => round(l, 2)),
    versions: { fastify: packageVersion('fastify'), httpNative: require('../package.json').version, peersNode: peers.version },
    failures: [],
  });
  if (!wrkAvailable()) {
    // autocannon runs in this process, on one thread: it cannot be pinned apart from the runner
    // nor spread over the client's CPUs.
    note('the cores rows need wrk (apt-get install wrk): not run');
    process.exitCode = 2;
    result.settings = {};
    return result;
  }
  const settings = coresConfig(env, config);
  result.settings = settings;
  const servers = pickServers(SERVERS, serverNames, serversNamed);
  const routes = ROUTES.filter((r) => settings.routes.includes(r.id));
  const plan = planOf(settings, servers);
  if (!plan.length) {
    note(`no cores server among BENCH_SERVERS (${SERVER_NAMES.join(', ')})`);
    return result;
  }
  console.log(
    `Cores: ${settings.mode === 'scaling' ? `scaling table, ${settings.steps.join(', ')} threads of each kind` : 'fixed rows'}; ` +
      `the server on CPU ${settings.serverCpus}, wrk (${settings.clientThreads} thread${settings.clientThreads === 1 ? '' : 's'}) on CPU ${settings.clientCpus}; ` +
      `${settings.durationSeconds} s per run after ${settings.warmupSeconds} s of warm-up, ${settings.connections} connections, ` +
      `pipelining ${settings.pipelining.join(' and ')}; load average ${result.loadAverage.join(' ')}`,
  );
  for (const [server, n] of plan) {
    const node = server.peer ? peers : self;
    if (!result.servers[server.name]) result.servers[server.name] = { node: node.version, driver: undefined };
    const label = server.label(n);
    console.log(`${label} (Node ${node.version})`);
    if (server.threads(n) > settings.serverCores) console.log(`  (${server.threads(n)} threads at work on ${settings.serverCores} CPU${settings.serverCores === 1 ? '' : 's'})`);
    await runServer({ ...server, node }, n, routes, settings, clk, result, note).catch((err) => {
      result.failures.push({ server: server.name, n, label, reason: err.message });
      console.log(`  FAILED: ${err.message}`);
    });
  }
  if (result.failures.length || result.runs.some((r) => !r.valid)) process.exitCode = 1;
  addRatios(result.runs);
  return result;
}

module.exports = { runCores, printCores, SERVER_NAMES, parseCpuList };
