'use strict';
// The report of the TLS rows (bench/tls.js): what bounded each run, each run's ratios to node and
// fastify, issue 16's targets, and the tables printed after the section.

const os = require('node:os');
const { round, fmt, fmtInt, fmtRatio, table } = require('./format');

// Issue 16's targets: http-native's requests/s on the JS route over TLS against node's, and its
// cached route over TLS against the same route over plain TCP (same protocol and depth).
const TARGETS = { jsRouteVsNode: 3, cachedTlsOverPlain: 0.7 };
// The plain-TCP scenario each TLS cached scenario is held against.
const PLAIN_OF = { 'h1-cached': 'plain-cached', 'h2-cached': 'h2c-cached' };
// A client near this share of its threads' cores (or the machine's) is a bottleneck, not the server.
const BOUND_CPU = 0.9;

// What bounded a run besides the server: the client's threads near their cores (clientBound), or
// server and client together near every core of the machine (machineBound: the rates are then the
// share of the CPU each side got, and CPU per request is the figure to compare).
function bounds(serverCores, clientCores, clientThreads) {
  if (clientCores === null) return { clientBound: false, machineBound: false };
  return {
    clientBound: clientCores >= BOUND_CPU * clientThreads,
    machineBound: serverCores + clientCores >= BOUND_CPU * os.cpus().length,
  };
}

// The name a server goes by in a scenario (node:https or node:http2).
function labelOf(server, scenario) {
  return scenario.proto === 'h2' && server.h2Label ? server.h2Label : server.label;
}

const ratio = (a, b) => (a !== null && a !== undefined && b !== null && b !== undefined && b > 0 ? round(a / b, 2) : null);
const rateOf = (r) => (r.scenario === 'handshake' ? r.handshakesPerSecond : r.rps);
const cpuOf = (r) => (r.scenario === 'handshake' ? r.serverCpuUsPerHandshake : r.serverCpuUsPerRequest);

// Adds vsNode and vsFastify ({ rate, cpu }: rate over 1 and cpu under 1 are better for the run)
// to every run with a peer run of the same scenario and depth; returns issue 16's targets as
// [{ target, scenario, depth, got, want, met }].
function addRatios(runs) {
  const same = (a, b) => a.scenario === b.scenario && a.depth === b.depth;
  for (const run of runs) {
    for (const [key, peer] of [['vsNode', 'node-http'], ['vsFastify', 'fastify']]) {
      const base = run.server !== peer && runs.find((r) => r.server === peer && same(r, run));
      if (base) run[key] = { rate: ratio(rateOf(run), rateOf(base)), cpu: ratio(cpuOf(run), cpuOf(base)) };
    }
  }
  const targets = [];
  for (const run of runs.filter((r) => r.server === 'http-native')) {
    if ((run.scenario === 'h1-js' || run.scenario === 'h2-js') && run.vsNode) {
      targets.push({ target: 'jsRouteVsNode', scenario: run.scenario, depth: run.depth, got: run.vsNode.rate, want: TARGETS.jsRouteVsNode });
    }
    const plain = PLAIN_OF[run.scenario] && runs.find((r) => r.server === run.server && r.scenario === PLAIN_OF[run.scenario] && r.depth === run.depth);
    if (plain) {
      targets.push({ target: 'cachedTlsOverPlain', scenario: run.scenario, depth: run.depth, got: ratio(run.rps, plain.rps), want: TARGETS.cachedTlsOverPlain });
    }
  }
  for (const t of targets) t.met = t.got !== null && t.got >= t.want;
  return targets;
}

const pct = (x) => (x === null || x === undefined ? '-' : `${Math.round(x * 100)}%`);
const marks = (r) => `${r.clientBound ? '*' : ''}${r.machineBound ? '†' : ''}`;
// A TLS table cell that is a figure or a mark, so its column is right-aligned.
const NUMERIC = /^[-\d.,x%/*† ]+$/;

// The in-flight column: HTTP/1.1 pipelining depth or HTTP/2 streams per connection.
function inFlight(r) {
  return `${r.connections}×${r.depth}`;
}

function printTls(result, { servers, scenarios }) {
  const sorted = (want) =>
    result.runs
      .filter(want)
      .sort((a, b) => scenarios.indexOf(a.scenario) - scenarios.indexOf(b.scenario) || a.depth - b.depth || servers.indexOf(a.server) - servers.indexOf(b.server));
  const load = sorted((r) => r.scenario !== 'handshake');
  if (load.length) {
    console.log('');
    console.log(
      table(
        ['scenario', 'server', 'conn×in flight', 'req/s', 'vs node', 'vs fastify', 'CPU µs/req', 'CPU vs node', 'RSS MiB', 'err/non2xx', 'protocol', 'server CPU', 'client CPU'],
        load.map((r) => [
          r.scenario,
          r.label,
          inFlight(r),
          fmtInt(r.rps),
          fmtRatio(r.vsNode && r.vsNode.rate),
          fmtRatio(r.vsFastify && r.vsFastify.rate),
          fmt(r.serverCpuUsPerRequest, 2),
          fmtRatio(r.vsNode && r.vsNode.cpu),
          fmt(r.rssBytes / 2 ** 20, 1),
          `${r.errors + r.timeouts}/${r.non2xx}`,
          `${r.tls ? `${r.tls} ` : ''}${r.protocol}`,
          pct(r.serverCpuCores),
          `${pct(r.clientCpuCores)}${marks(r)}`,
        ]),
        NUMERIC,
      ),
    );
    console.log(
      `h2load over ${load[0].seconds} s per run; conn×in flight = connections × (HTTP/1.1 pipelining depth | HTTP/2 streams per connection). ` +
        "CPU µs/req = server utime + stime / requests; CPU vs node = ours over node's (under 1 is better); vs X = req/s over X's in the same scenario and depth. " +
        `client CPU = h2load's, in cores; * = at ${BOUND_CPU * 100}% of its threads' cores or more (client-bound); † = server and client together at ` +
        `${BOUND_CPU * 100}% of the machine's cores or more (compare CPU per request).`,
    );
  }
  const hs = sorted((r) => r.scenario === 'handshake');
  if (hs.length) {
    console.log('');
    console.log(
      table(
        ['server', 'clients', 'handshakes/s', 'vs node', 'CPU µs/handshake', 'CPU vs node', 'bytes/conn', 'RSS MiB', 'server CPU', 'client CPU'],
        hs.map((r) => [
          r.label,
          r.clients,
          fmtInt(r.handshakesPerSecond),
          fmtRatio(r.vsNode && r.vsNode.rate),
          fmt(r.serverCpuUsPerHandshake, 1),
          fmtRatio(r.vsNode && r.vsNode.cpu),
          `${fmt(r.bytesPerConnection, 0)}/${r.expectedBytes}`,
          fmt(r.rssBytes / 2 ** 20, 1),
          pct(r.serverCpuCores),
          `${pct(r.clientCpuCores)}${marks(r)}`,
        ]),
        NUMERIC,
      ),
    );
    console.log(
      `Handshakes over ${hs[0].seconds} s: each openssl s_time process loops a new TCP connection, a full ${result.settings.cert} handshake (no resumption), ` +
        'GET /users/42 HTTP/1.0 and a read to the close. CPU µs/handshake = server utime + stime / connections (the request included); ' +
        'bytes/conn = bytes each connection read / the answer the check read.',
    );
  }
  printTargets(result);
  for (const n of result.notes) console.log(`note: ${n}`);
}

function printTargets(result) {
  if (!result.targets.length) return;
  console.log('');
  console.log('Targets (issue 16):');
  for (const t of result.targets) {
    const what =
      t.target === 'jsRouteVsNode'
        ? `${t.scenario} ×${t.depth}: ${fmtRatio(t.got)} node's req/s (target ≥ ${t.want}x`
        : `${t.scenario} ×${t.depth}: ${fmtRatio(t.got)} the plain-TCP req/s (${PLAIN_OF[t.scenario]}; target ≥ ${t.want}x`;
    console.log(`  ${what} ${t.met ? '✓' : '✗'})`);
  }
}

// One run in a line, printed as it ends.
function summary(scenario, run) {
  if (scenario.handshake) {
    return `handshake: ${fmtInt(run.handshakesPerSecond)} handshakes/s, ${fmt(run.serverCpuUsPerHandshake, 1)} µs CPU/handshake (${run.clients} s_time clients)`;
  }
  return (
    `${scenario.id} ×${run.depth}: ${fmtInt(run.rps)} req/s, ${fmt(run.serverCpuUsPerRequest, 2)} µs CPU/req, ${run.tls ? `${run.tls} ` : ''}${run.protocol}` +
    `${run.errors + run.timeouts + run.non2xx ? `, ${run.errors + run.timeouts} errors, ${run.non2xx} non-2xx` : ''}`
  );
}

module.exports = { TARGETS, bounds, labelOf, addRatios, summary, printTls };
