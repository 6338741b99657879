'use strict';
// One measured load run against a server process, shared by the route rows (bench/run.js) and the
// battery rows (bench/batteries.js): autocannon in this process or wrk in its own (bench/wrk.js),
// a discarded warm-up, then the run with the server's CPU time (utime + stime from /proc, of the
// server and its child processes: node:cluster's workers) and RSS read around it, and the load
// generator's own CPU, so a client-bound run shows.

const autocannon = require('autocannon');
const { treeCpuTicks, treeRssBytes } = require('./proc');
const { runWrk } = require('./wrk');

// The runner is one JS thread; near a full core it is the bottleneck, not the server.
const CLIENT_BOUND_CPU = 0.9;

// Latency histogram with 10 µs buckets: autocannon's own rounds to whole milliseconds, too
// coarse for sub-millisecond p50s.
class Latencies {
  constructor(maxMs = 10000, bucketMs = 0.01) {
    this.bucketMs = bucketMs;
    this.counts = new Uint32Array(Math.ceil(maxMs / bucketMs) + 1);
    this.total = 0;
  }
  record(ms) {
    const i = Math.min(this.counts.length - 1, Math.floor(ms / this.bucketMs));
    this.counts[i] += 1;
    this.total += 1;
  }
  percentile(p) {
    if (this.total === 0) return null;
    const rank = Math.ceil((p / 100) * this.total);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Number(((i + 1) * this.bucketMs).toFixed(2));
    }
    return null;
  }
}

function cannon(port, route, config, pipelining, seconds, onResponse) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}${route.path}`,
        method: route.method,
        headers: route.headers,
        body: route.body,
        connections: config.connections,
        pipelining,
        duration: seconds,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    if (onResponse) instance.on('response', onResponse);
  });
}

// One autocannon run, in this process. Its CPU time is this process's over the run.
async function autocannonLoad(port, route, config, pipelining, seconds) {
  const latencies = new Latencies();
  const before = process.cpuUsage();
  const result = await cannon(port, route, config, pipelining, seconds, (client, status, bytes, ms) =>
    latencies.record(ms),
  );
  const cpu = process.cpuUsage(before);
  return {
    requests: result.requests.total,
    durationSeconds: result.duration,
    latencyMs: { p50: latencies.percentile(50), p99: latencies.percentile(99), autocannonP99: result.latency.p99 },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    clientCpuUs: cpu.user + cpu.system,
    extra: {
      autocannonAverageRps: result.requests.average,
      statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([k, v]) => [k, v.count])),
    },
  };
}

// One wrk run, in its own process (see bench/wrk.js).
async function wrkLoad(port, route, config, pipelining, seconds, clk) {
  const result = await runWrk({ port, route, connections: config.connections, pipelining, seconds, threads: config.clientThreads, cpus: config.clientCpus });
  return {
    requests: result.requests,
    durationSeconds: result.durationSeconds,
    latencyMs: { p50: result.p50, p99: result.p99 },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    clientCpuUs: result.clientCpuTicks === null ? 0 : (result.clientCpuTicks / clk) * 1e6,
    extra: {},
  };
}

// One measured run of `route` ({ method, path, headers, body }) with `config` ({ connections,
// pipelining, warmup, duration }, and for wrk optionally clientThreads and clientCpus, a taskset
// list) and `client` ('autocannon' or 'wrk'): warm-up (discarded), then the run with CPU and RSS
// readings around it.
async function measureLoad(proc, route, config, clk, client) {
  const { pipelining } = config;
  const load = (seconds) =>
    client === 'wrk'
      ? wrkLoad(proc.port, route, config, pipelining, seconds, clk)
      : autocannonLoad(proc.port, route, config, pipelining, seconds);
  if (config.warmup > 0) await load(config.warmup);

  const cpuBefore = treeCpuTicks(proc.pid);
  const t0 = process.hrtime.bigint();
  const result = await load(config.duration);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const cpuUs = ((treeCpuTicks(proc.pid) - cpuBefore) / clk) * 1e6;
  const rssBytes = treeRssBytes(proc.pid);

  const completed = result.requests;
  const clientCpuCores = result.clientCpuUs / wallUs;
  return {
    connections: config.connections,
    durationSeconds: result.durationSeconds,
    requests: completed,
    rps: Math.round(completed / result.durationSeconds),
    latencyMs: result.latencyMs,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    ...result.extra,
    serverCpuUsPerRequest: completed > 0 ? Number((cpuUs / completed).toFixed(2)) : null,
    serverCpuCores: Number((cpuUs / wallUs).toFixed(2)),
    clientCpuCores: Number(clientCpuCores.toFixed(2)),
    clientBound: clientCpuCores >= CLIENT_BOUND_CPU,
    rssBytes,
  };
}

module.exports = { CLIENT_BOUND_CPU, measureLoad };
