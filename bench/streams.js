'use strict';
// The stream rows of `npm run bench` (issue 11), run by bench/run.js after the route rows, or
// alone with `npm run bench -- --only streams`. Each scenario runs on a fresh server process
// (bench/servers/*-streams.js), one server at a time, http-native, node:http and fastify in the
// same run:
//   download  one connection downloads BENCH_STREAM_BYTES (1 GiB) the server generates and writes
//             with backpressure: throughput, and the server's peak RSS over its level just before
//   upload    one connection uploads as much to a route that reads the body as it arrives (and
//             counts it): the same figures
//   sse       BENCH_SSE_CLIENTS (10,000) text/event-stream clients, each sent BENCH_SSE_RATE (10)
//             events per second for BENCH_SSE_SECONDS (20): server RSS per client, and server CPU
//             time (utime + stime from /proc/<pid>/stat) per event the clients counted
// The download client is a raw socket (bench/stream-client.js); the SSE clients are child
// processes on raw node:net sockets (bench/sse-clients.js).
//
// Environment (besides BENCH_QUICK / --quick, which shrinks the defaults for a smoke test):
//   BENCH_STREAMS          subset of download,upload,sse
//   BENCH_SERVERS          as for the route rows; the stream rows run http-native, node-http and
//                          fastify (http-native-epoll when named)
//   BENCH_STREAM_BYTES     bytes per download and upload (1 GiB; 64 MiB with --quick)
//   BENCH_SSE_CLIENTS      concurrent SSE clients (10000; 500 with --quick)
//   BENCH_SSE_SECONDS      measured seconds of events (20; 5 with --quick)
//   BENCH_SSE_RATE         events per second per client (10)
//   BENCH_SSE_PROCESSES    client processes sharing the SSE connections (2)

const os = require('node:os');
const http = require('node:http');
const { once } = require('node:events');
const { setTimeout: sleep } = require('node:timers/promises');
const { execFileSync } = require('node:child_process');
const { STOP_GRACE_MS, readCpuTicks, readRssBytes, startServer, stopServer, diedDuring } = require('./proc');
const { openFilesLimit } = require('./idle');
const { CHUNK } = require('./servers/streams-shared');
const { getCounting } = require('./stream-client');
const { ask, openGroup, clientCpuTicks, closeClients, sum } = require('./client-group');
const { SETTLE_MS, FD_RESERVE, positive, pickList, pickServers, sectionResult } = require('./config');
const { round, fmt, fmtRatio, table } = require('./format');

const SCENARIOS = ['download', 'upload', 'sse'];
const SERVERS = [
  { name: 'http-native', script: 'http-native-streams.js' },
  { name: 'http-native-epoll', script: 'http-native-streams.js', env: { HTTP_NATIVE_DRIVER: 'legacy' }, onlyWhenNamed: true },
  { name: 'node-http', script: 'node-http-streams.js', peer: true },
  { name: 'fastify', script: 'fastify-streams.js', peer: true },
];
const TARGET_RSS_OVER_START = 64 * 2 ** 20; // issue 11: a 1 GiB stream costs less than this
const WARMUP_BYTES = 2 ** 20; // one small transfer first: the route works and its code is loaded
// RSS is sampled this often during a transfer: a buffering server grows for the whole transfer,
// so a peak cannot hide between samples.
const TRANSFER_SAMPLE_MS = 5;
const SSE_SAMPLE_MS = 500;
// No byte for this long ends a transfer as failed (a server that stopped, not a slow one).
const TRANSFER_IDLE_TIMEOUT_MS = 30000;
// Connections opened and closed before the baseline RSS, so it includes what the first ones grow.
const SSE_WARMUP_CLIENTS = 64;
const SSE_WARMUP_MS = 1000;

// ---------------------------------------------------------------------------------------------
// Configuration

function streamsConfig(env, quick) {
  const config = {
    scenarios: pickList('BENCH_STREAMS', env.BENCH_STREAMS, SCENARIOS),
    bytes: Math.round(positive('BENCH_STREAM_BYTES', env.BENCH_STREAM_BYTES, quick ? 64 * 2 ** 20 : 2 ** 30)),
    sseClients: Math.round(positive('BENCH_SSE_CLIENTS', env.BENCH_SSE_CLIENTS, quick ? 500 : 10000)),
    sseSeconds: positive('BENCH_SSE_SECONDS', env.BENCH_SSE_SECONDS, quick ? 5 : 20),
    sseRate: positive('BENCH_SSE_RATE', env.BENCH_SSE_RATE, 10, 0.01),
    sseProcesses: Math.round(positive('BENCH_SSE_PROCESSES', env.BENCH_SSE_PROCESSES, 2)),
  };
  return config;
}

// The soft open-files limit, raised to `wanted` when it is lower (root may raise the hard limit
// too). The server and client processes started afterwards inherit it.
function raiseOpenFiles(wanted) {
  const before = openFilesLimit();
  if (before >= wanted) return { limit: before };
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${wanted}:${wanted}`], { stdio: 'pipe' });
  } catch (err) {
    const why = (err.stderr && err.stderr.toString().trim()) || err.message;
    return { limit: openFilesLimit(), error: why };
  }
  return { limit: openFilesLimit(), raisedFrom: before };
}

// ---------------------------------------------------------------------------------------------
// Transfers: one connection, BENCH_STREAM_BYTES each way

async function download(port, bytes) {
  const got = await getCounting({ port, path: `/download?bytes=${bytes}`, idleTimeoutMs: TRANSFER_IDLE_TIMEOUT_MS });
  if (got.status !== 200) throw new Error(`status ${got.status}`);
  if (got.bytes !== bytes) throw new Error(`received ${got.bytes} of ${bytes} bytes`);
  return { framing: got.framing };
}

// Sends `bytes` with a Content-Length (an upload's usual shape) and honours backpressure; the
// server answers {"bytes": <what it counted>}. On a keep-alive connection, as browsers, fetch()
// and curl send it (`agent: false` would add `Connection: close`).
async function upload(port, bytes) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    return await uploadWith(agent, port, bytes);
  } finally {
    agent.destroy();
  }
}

async function uploadWith(agent, port, bytes) {
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/upload',
    headers: { 'content-type': 'application/octet-stream', 'content-length': bytes },
    agent,
  });
  req.setTimeout(TRANSFER_IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no progress for ${TRANSFER_IDLE_TIMEOUT_MS / 1000} s`)));
  let answeredEarly = false;
  const answered = new Promise((resolve, reject) => {
    req.once('response', (res) => {
      answeredEarly = true;
      resolve(res);
    });
    req.once('error', reject);
  });
  answered.catch(() => {}); // awaited below; this only keeps a failure while writing from going unhandled
  let left = bytes;
  // A server that answers before the body's end (an error) stops the upload.
  while (left > 0 && !answeredEarly) {
    const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
    left -= chunk.length;
    if (!req.write(chunk)) await Promise.race([once(req, 'drain'), answered]);
  }
  req.end();
  const res = await answered;
  const chunks = [];
  for await (const chunk of res) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${text.slice(0, 120)}`);
  let counted;
  try {
    counted = JSON.parse(text).bytes;
  } catch {
    throw new Error(`unexpected answer ${JSON.stringify(text.slice(0, 120))}`);
  }
  if (counted !== bytes) throw new Error(`the server counted ${counted} of ${bytes} bytes`);
  return { framing: 'content-length' };
}

const TRANSFERS = { download, upload };

async function measureTransfer(proc, scenario, bytes, clk) {
  const transfer = TRANSFERS[scenario];
  await transfer(proc.port, Math.min(bytes, WARMUP_BYTES));
  await sleep(SETTLE_MS / 4);
  const rssStart = readRssBytes(proc.pid);
  let rssPeak = rssStart;
  const sample = () => {
    rssPeak = Math.max(rssPeak, readRssBytes(proc.pid));
  };
  const sampler = setInterval(sample, TRANSFER_SAMPLE_MS);
  const cpu0 = readCpuTicks(proc.pid);
  const clientCpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let result;
  try {
    result = await transfer(proc.port, bytes);
  } finally {
    clearInterval(sampler);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuSeconds = (readCpuTicks(proc.pid) - cpu0) / clk;
  const clientCpu = process.cpuUsage(clientCpu0);
  sample();
  return {
    bytes,
    framing: result.framing,
    seconds: round(seconds, 3),
    mbPerSecond: round(bytes / 1e6 / seconds, 1),
    rssStartBytes: rssStart,
    rssPeakBytes: rssPeak,
    rssOverStartBytes: rssPeak - rssStart,
    serverCpuSeconds: round(cpuSeconds, 2),
    serverCpuCores: round(cpuSeconds / seconds, 2),
    clientCpuCores: round((clientCpu.user + clientCpu.system) / 1e6 / seconds, 2),
  };
}

// ---------------------------------------------------------------------------------------------
// SSE: many clients in a few child processes

// Starts `processes` client processes sharing `count` connections; resolves once all are open
// (or failed).
function openClients(node, port, ssePath, count, processes) {
  return openGroup('sse-clients.js', 'an SSE client process', node, count, processes, { port, path: ssePath });
}

async function countClients(group) {
  const replies = await ask(group, { op: 'count' }, 'counted');
  const perClient = replies.flatMap((r) => r.sinceLast).sort((a, b) => a - b);
  return { events: sum(replies, 'events'), open: sum(replies, 'open'), closedEarly: sum(replies, 'closedEarly'), perClient };
}

// All client processes' CPU ticks together.
function clientTicks(group) {
  return clientCpuTicks(group).reduce((a, b) => a + b, 0);
}

async function measureSse(proc, config, clientNode, clk) {
  const every = 1000 / config.sseRate;
  const ssePath = `/sse?every=${every}`;
  const warm = await openClients(clientNode, proc.port, ssePath, Math.min(SSE_WARMUP_CLIENTS, config.sseClients), 1);
  if (warm.opened === 0) throw new Error(`no SSE connection opened: ${warm.firstError}`);
  await sleep(SSE_WARMUP_MS);
  await closeClients(warm);
  await sleep(SETTLE_MS);
  const rssBefore = readRssBytes(proc.pid);

  const group = await openClients(clientNode, proc.port, ssePath, config.sseClients, config.sseProcesses);
  try {
    await sleep(SETTLE_MS);
    const c0 = await countClients(group);
    const cpu0 = readCpuTicks(proc.pid);
    const clientCpu0 = clientTicks(group);
    const t0 = process.hrtime.bigint();
    let rssPeak = readRssBytes(proc.pid);
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, readRssBytes(proc.pid));
    }, SSE_SAMPLE_MS);
    await sleep(config.sseSeconds * 1000);
    clearInterval(sampler);
    const c1 = await countClients(group);
    const cpuSeconds = (readCpuTicks(proc.pid) - cpu0) / clk;
    const clientCpuSeconds = (clientTicks(group) - clientCpu0) / clk;
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const rssEnd = readRssBytes(proc.pid);
    rssPeak = Math.max(rssPeak, rssEnd);
    const events = c1.events - c0.events;
    // What the clients open at the window's start should have received at the configured rate.
    const expected = c0.open * config.sseRate * seconds;
    return {
      clientsWanted: config.sseClients,
      clients: group.opened,
      failed: group.failed,
      firstError: group.firstError,
      closedEarly: c1.closedEarly,
      openAtEnd: c1.open,
      clientProcesses: group.children.length,
      seconds: round(seconds, 2),
      events,
      eventsPerSecond: Math.round(events / seconds),
      deliveredShare: expected > 0 ? round(events / expected, 3) : null,
      // Events each client received in the window: the fewest, 1st percentile, median, most.
      perClientEvents: {
        min: c1.perClient[0],
        p1: percentile(c1.perClient, 1),
        p50: percentile(c1.perClient, 50),
        max: c1.perClient[c1.perClient.length - 1],
      },
      rssBeforeBytes: rssBefore,
      rssEndBytes: rssEnd,
      rssPeakBytes: rssPeak,
      rssPerClientBytes: group.opened > 0 ? Math.round((rssEnd - rssBefore) / group.opened) : null,
      serverCpuSeconds: round(cpuSeconds, 2),
      serverCpuUsPerEvent: events > 0 ? round((cpuSeconds * 1e6) / events, 2) : null,
      serverCpuCores: round(cpuSeconds / seconds, 2),
      clientCpuCores: round(clientCpuSeconds / seconds, 2),
    };
  } finally {
    await closeClients(group);
  }
}

// ---------------------------------------------------------------------------------------------
// The section

/**
 * Runs the stream rows and returns them ({ settings, servers, runs, notes }).
 * @param {object} o
 * @param {object} o.env process.env
 * @param {boolean} o.quick
 * @param {string[]} o.serverNames BENCH_SERVERS as resolved by run.js
 * @param {boolean} o.serversNamed whether BENCH_SERVERS was set
 * @param {{ path: string, version: string }} o.self the Node running the bench (http-native's)
 * @param {{ path: string, version: string }} o.peers the Node the peers run on (also the SSE clients')
 * @param {number} o.clk clock ticks per second
 */
async function runStreams({ env, quick, serverNames, serversNamed, self, peers, clk }) {
  const config = streamsConfig(env, quick);
  // Other work on the machine skews every figure here: the load when the section started is kept.
  const loadAverage = os.loadavg().map((l) => round(l, 2));
  const { result, note } = sectionResult({ settings: { ...config, targetRssOverStartBytes: TARGET_RSS_OVER_START }, loadAverage });
  const servers = pickServers(SERVERS, serverNames, serversNamed);
  if (!servers.length) {
    note('no stream server among BENCH_SERVERS (http-native, http-native-epoll, node-http, fastify)');
    return result;
  }

  if (config.scenarios.includes('sse')) {
    // The server holds every connection; each client process its share.
    const wanted = config.sseClients + FD_RESERVE;
    const fds = raiseOpenFiles(wanted);
    result.settings.openFilesLimit = fds.limit;
    if (fds.raisedFrom !== undefined) console.log(`Open files limit raised from ${fds.raisedFrom} to ${fds.limit} for the SSE clients`);
    if (fds.limit < wanted) {
      const clamped = Math.max(0, fds.limit - FD_RESERVE);
      note(
        `open files limit ${fds.limit} could not be raised to ${wanted}${fds.error ? ` (${fds.error})` : ''}: ` +
          `${clamped} SSE clients instead of ${config.sseClients}`,
      );
      config.sseClients = clamped;
    }
  }

  const gib = config.bytes / 2 ** 30;
  const size = gib >= 1 ? `${round(gib, 2)} GiB` : `${round(config.bytes / 2 ** 20, 1)} MiB`;
  console.log(
    `Streams: ${config.scenarios.join(', ')}; ${size} per transfer, ` +
      `${config.sseClients} SSE clients × ${config.sseRate} events/s for ${config.sseSeconds} s ` +
      `(${config.sseProcesses} client processes on Node ${peers.version}); load average ${loadAverage.join(' ')}`,
  );
  for (const scenario of config.scenarios) {
    for (const server of servers) {
      const node = server.peer ? peers : self;
      await runOne({ ...server, node }, scenario, config, peers, clk, result).catch((err) =>
        note(`${server.name} ${scenario}: ${err.message}`),
      );
    }
  }
  addRatios(result.runs);
  return result;
}

async function runOne(server, scenario, config, peers, clk, result) {
  const proc = await startServer(server);
  result.servers[server.name] = { node: server.node.version, driver: undefined };
  try {
    let run;
    try {
      run = scenario === 'sse' ? await measureSse(proc, config, peers.path, clk) : await measureTransfer(proc, scenario, config.bytes, clk);
    } catch (err) {
      throw diedDuring(proc, err, scenario);
    }
    result.runs.push({ scenario, server: server.name, ...run });
    console.log(`  ${server.name} ${scenario}: ${summary(scenario, run)}`);
  } finally {
    const exit = await stopServer(proc);
    if (proc.driver) result.servers[server.name].driver = proc.driver;
    if (exit.killed) {
      const text = `${server.name} did not exit within ${STOP_GRACE_MS / 1000} s of SIGTERM after ${scenario}: killed`;
      result.notes.push(text);
      console.log(`  note: ${text}`);
    }
  }
}

function summary(scenario, run) {
  if (scenario !== 'sse') {
    return `${fmt(run.mbPerSecond, 0)} MB/s, peak RSS ${fmt(run.rssOverStartBytes / 2 ** 20, 1)} MiB over start (${run.framing})`;
  }
  return (
    `${run.clients} clients, ${run.events.toLocaleString('en-US')} events (${fmt(100 * run.deliveredShare, 1)}% of the rate; ` +
    `per client min ${run.perClientEvents.min}, median ${run.perClientEvents.p50}), ` +
    `${fmt(run.rssPerClientBytes / 1024, 1)} KiB RSS/client, ${fmt(run.serverCpuUsPerEvent, 2)} µs CPU/event`
  );
}

// Each run's figures over node:http's and fastify's in the same run (same scenario).
function addRatios(runs) {
  const ratio = (a, b) => (a !== null && b !== null && b > 0 ? round(a / b, 2) : null);
  for (const run of runs) {
    for (const [peer, key] of [['node-http', 'vsNodeHttp'], ['fastify', 'vsFastify']]) {
      const base = runs.find((r) => r.server === peer && r.scenario === run.scenario);
      if (!base) continue;
      run[key] =
        run.scenario === 'sse'
          ? { rssPerClient: ratio(run.rssPerClientBytes, base.rssPerClientBytes), cpuPerEvent: ratio(run.serverCpuUsPerEvent, base.serverCpuUsPerEvent) }
          : { throughput: ratio(run.mbPerSecond, base.mbPerSecond), rssOverStart: ratio(run.rssOverStartBytes, base.rssOverStartBytes) };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Report

// The p-th percentile of an ascending list.
function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

// A streams table cell that is a figure or a mark, so its column is right-aligned.
const NUMERIC = /^[-\d.,x%/✓✗ ]+$/;

function printStreams(result) {
  const transfers = result.runs.filter((r) => r.scenario !== 'sse');
  const sse = result.runs.filter((r) => r.scenario === 'sse');
  const target = TARGET_RSS_OVER_START / 2 ** 20;
  if (transfers.length) {
    console.log('');
    console.log(
      table(
        ['scenario', 'server', 'MB/s', 'vs node:http', 'vs fastify', 'RSS start MiB', 'peak over start MiB', `< ${target} MiB`, 'RSS vs node:http', 'CPU s', 'framing', 'client CPU'],
        transfers.map((r) => [
          r.scenario,
          r.server,
          fmt(r.mbPerSecond, 0),
          fmtRatio(r.vsNodeHttp && r.vsNodeHttp.throughput),
          fmtRatio(r.vsFastify && r.vsFastify.throughput),
          fmt(r.rssStartBytes / 2 ** 20, 1),
          fmt(r.rssOverStartBytes / 2 ** 20, 1),
          r.rssOverStartBytes < TARGET_RSS_OVER_START ? '✓' : '✗',
          fmtRatio(r.vsNodeHttp && r.vsNodeHttp.rssOverStart),
          fmt(r.serverCpuSeconds, 2),
          r.framing,
          `${Math.round(r.clientCpuCores * 100)}%`,
        ]),
        NUMERIC,
      ),
    );
    const bytes = transfers[0].bytes;
    console.log(
      `One connection, ${bytes.toLocaleString('en-US')} bytes each way; MB = 10^6 bytes. peak over start = the server's highest ` +
        'VmRSS during the transfer minus its VmRSS just before; CPU s = server utime + stime over the transfer; client CPU = ' +
        "the runner's share of one core (the client is in the runner).",
    );
  }
  if (sse.length) {
    console.log('');
    console.log(
      table(
        ['server', 'clients', 'events', 'of the rate', 'per client min/median', 'RSS/client KiB', 'RSS vs node:http', 'RSS vs fastify', 'CPU µs/event', 'CPU vs node:http', 'CPU vs fastify', 'server CPU', 'client CPU', 'failed/closed'],
        sse.map((r) => [
          r.server,
          r.clients,
          r.events.toLocaleString('en-US'),
          `${fmt(100 * r.deliveredShare, 1)}%`,
          `${r.perClientEvents.min}/${r.perClientEvents.p50}`,
          fmt(r.rssPerClientBytes / 1024, 2),
          fmtRatio(r.vsNodeHttp && r.vsNodeHttp.rssPerClient),
          fmtRatio(r.vsFastify && r.vsFastify.rssPerClient),
          fmt(r.serverCpuUsPerEvent, 2),
          fmtRatio(r.vsNodeHttp && r.vsNodeHttp.cpuPerEvent),
          fmtRatio(r.vsFastify && r.vsFastify.cpuPerEvent),
          `${Math.round(r.serverCpuCores * 100)}%`,
          `${Math.round(r.clientCpuCores * 100)}%`,
          `${r.failed}/${r.closedEarly}`,
        ]),
        NUMERIC,
      ),
    );
    console.log(
      `SSE over ${sse[0].seconds} s: events = counted by the clients; of the rate = events over clients × rate × seconds ` +
        '(under 100%: the server or the clients could not keep up; a server\'s setInterval also drifts late as its event loop ' +
        'fills); per client = events each client received (a starved client shows as a low min); RSS/client = (server VmRSS at the end - before the ' +
        'clients connected) / clients; CPU µs/event = server utime + stime / events; client CPU = all client processes, ' +
        'in cores. Ratios under 1 are better for http-native here.',
    );
  }
  for (const n of result.notes) console.log(`note: ${n}`);
}

module.exports = { runStreams, printStreams, SCENARIOS };
