'use strict';
// The TLS and HTTP/2 rows of `npm run bench` (issue 16), run by bench/run.js after the WebSocket
// rows, or alone with `npm run bench -- --only tls`. One certificate, generated per run with the
// openssl CLI into a temp dir (ECDSA P-256 by default, what most sites serve now; RSA 2048 with
// BENCH_TLS_CERT=rsa-2048), self-signed for localhost and 127.0.0.1, served by every server:
//   http-native   listen({ tls, http2 default }) (bench/servers/http-native.js), ALPN h2 + http/1.1
//   node-http     node:https (servers/https-node.js) for HTTPS/1.1, node:http2
//                 createSecureServer (servers/http2-node.js) for HTTP/2
//   fastify       fastify({ https }) and fastify({ http2: true, https }) (servers/fastify-*.js)
// Scenarios, each on a fresh server process:
//   h1-js, h1-cached     HTTPS/1.1, GET /users/42 (JSON serialized per request) and GET /cached
//                        (res.ncache for http-native; the peers send the same JSON serialized once:
//                        servers/tls-shared.js), at each BENCH_PIPELINING depth (1,10)
//   h2-js, h2-cached     the same over HTTP/2 (ALPN h2), BENCH_TLS_STREAMS (10) streams per connection
//   plain-cached         http-native only: GET /cached over plain TCP (HTTP/1.1), for issue 16's
//                        target "cached over TLS ≥ 0.7 × plain"
//   h2c-cached           http-native only: the same over h2c (prior knowledge)
//   handshake            a full TLS handshake per request: BENCH_TLS_HANDSHAKE_CLIENTS (4) `openssl
//                        s_time -new` processes, each looping connect, handshake (no session
//                        resumption), GET /users/42 HTTP/1.0, read to the server's close; http-native
//                        and node:https (fastify's TLS is node's)
// The load generator is h2load (Debian nghttp2-client), BENCH_CONNECTIONS (64) connections, one
// thread (BENCH_TLS_THREADS): a native client, so TLS on the client side costs C, not JavaScript.
// Per run: requests/s, the server's CPU per request (utime + stime from /proc), its RSS after the
// run, and the ratios to node and fastify (bench/tls-report.js prints them and issue 16's targets).
// Without h2load or openssl the section says why and is skipped.
//
// Environment (besides BENCH_QUICK / --quick, BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS and
// BENCH_PIPELINING, which mean what they mean for the route rows):
//   BENCH_TLS                    subset of the scenarios above
//   BENCH_SERVERS                as for the route rows; here http-native, node-http, fastify
//                                (http-native-epoll when named)
//   BENCH_TLS_CERT               ecdsa-p256 (default) or rsa-2048
//   BENCH_TLS_STREAMS            HTTP/2 streams in flight per connection (10)
//   BENCH_TLS_THREADS            h2load threads (1)
//   BENCH_TLS_HANDSHAKE_CLIENTS  s_time processes in the handshake row (4)

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { STOP_GRACE_MS, readCpuTicks, readRssBytes, startServer, stopServer, diedDuring } = require('./proc');
const { available } = require('./native-client');
const { runH2load, h2loadVersion } = require('./h2load');
const { checkRoute, checkHandshakeRoute, runHandshakes } = require('./tls-clients');
const { CACHED_BODY } = require('./servers/tls-shared');
const report = require('./tls-report');
const { positive, pickList, pickServers, packageVersion, sectionResult } = require('./config');
const { round } = require('./format');

const JS_PATH = '/users/42';
const JS_BODY = '{"id":"42"}';
const SCENARIOS = [
  { id: 'h1-js', proto: 'h1', tls: true, path: JS_PATH, body: JS_BODY },
  { id: 'h1-cached', proto: 'h1', tls: true, path: '/cached', body: CACHED_BODY },
  { id: 'h2-js', proto: 'h2', tls: true, path: JS_PATH, body: JS_BODY },
  { id: 'h2-cached', proto: 'h2', tls: true, path: '/cached', body: CACHED_BODY },
  { id: 'plain-cached', proto: 'h1', tls: false, path: '/cached', body: CACHED_BODY, nativeOnly: true },
  { id: 'h2c-cached', proto: 'h2', tls: false, path: '/cached', body: CACHED_BODY, nativeOnly: true },
  { id: 'handshake', proto: 'h1', tls: true, path: JS_PATH, body: JS_BODY, handshake: true },
];
const SERVERS = [
  { name: 'http-native', label: 'http-native', scripts: { h1: 'http-native.js', h2: 'http-native.js' }, native: true },
  {
    name: 'http-native-epoll',
    label: 'http-native (epoll)',
    scripts: { h1: 'http-native.js', h2: 'http-native.js' },
    env: { HTTP_NATIVE_DRIVER: 'legacy' },
    native: true,
    onlyWhenNamed: true,
  },
  { name: 'node-http', label: 'node:https', h2Label: 'node:http2', scripts: { h1: 'https-node.js', h2: 'http2-node.js' }, peer: true, handshakes: true },
  { name: 'fastify', label: 'fastify', scripts: { h1: 'fastify-https.js', h2: 'fastify-http2.js' }, peer: true },
];
const SERVER_NAMES = SERVERS.map((s) => s.name);
const CERTS = {
  'ecdsa-p256': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'],
  'rsa-2048': ['-newkey', 'rsa:2048'],
};

// ---------------------------------------------------------------------------------------------
// Configuration and the certificate

function tlsConfig(env, config) {
  const count = (name, fallback) => positive(name, env[name], fallback, 1, true);
  const cert = env.BENCH_TLS_CERT || 'ecdsa-p256';
  if (!CERTS[cert]) throw new Error(`BENCH_TLS_CERT must be ${Object.keys(CERTS).join(' or ')}, got ${cert}`);
  return {
    scenarios: pickList('BENCH_TLS', env.BENCH_TLS, SCENARIOS, (s) => s.id).map((s) => s.id),
    durationSeconds: config.duration,
    warmupSeconds: config.warmup,
    connections: config.connections,
    pipelining: config.pipelining,
    streams: count('BENCH_TLS_STREAMS', 10),
    threads: count('BENCH_TLS_THREADS', 1),
    handshakeClients: count('BENCH_TLS_HANDSHAKE_CLIENTS', 4),
    cert,
  };
}

// A self-signed certificate for localhost and 127.0.0.1 in a new temp dir: { dir, keyFile, certFile, pem }.
function makeCertificate(kind) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'http-native-bench-tls-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', ...CERTS[kind], '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { dir, keyFile, certFile, pem: fs.readFileSync(certFile, 'utf8') };
}

function opensslVersion() {
  try {
    return execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Runs

// The server process for `scenario`: the protocol's script, the certificate for TLS, HTTP2=1 for
// http-native's h2c (off by default without TLS).
function serverFor(server, scenario, cert) {
  const env = { ...server.env };
  if (scenario.tls) Object.assign(env, { TLS_KEY_FILE: cert.keyFile, TLS_CERT_FILE: cert.certFile });
  if (server.native && !scenario.tls && scenario.proto === 'h2') env.HTTP2 = '1';
  return { ...server, script: server.scripts[scenario.proto], env };
}

function applies(server, scenario) {
  if (scenario.nativeOnly) return Boolean(server.native);
  if (scenario.handshake) return Boolean(server.native || server.handshakes);
  return true;
}

// The depths a scenario runs at: HTTP/1.1 pipelining depths, or HTTP/2 streams per connection.
function depthsOf(scenario, settings) {
  if (scenario.handshake) return [1];
  return scenario.proto === 'h1' ? settings.pipelining : [settings.streams];
}

async function measureLoad(proc, scenario, depth, settings, clk) {
  const url = `${scenario.tls ? 'https' : 'http'}://127.0.0.1:${proc.port}${scenario.path}`;
  const load = (seconds) =>
    runH2load({ url, h1: scenario.proto === 'h1', connections: settings.connections, streams: depth, threads: settings.threads, seconds });
  if (settings.warmupSeconds > 0) await load(settings.warmupSeconds);
  const cpu0 = readCpuTicks(proc.pid);
  const t0 = process.hrtime.bigint();
  const r = await load(settings.durationSeconds);
  const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuSeconds = (readCpuTicks(proc.pid) - cpu0) / clk;
  const clientCores = r.clientCpuTicks === null ? null : r.clientCpuTicks / clk / wallSeconds;
  return {
    protocol: r.protocol,
    tls: r.tls,
    cipher: r.cipher,
    keyExchange: r.keyExchange,
    connections: settings.connections,
    depth,
    seconds: round(r.durationSeconds, 2),
    requests: r.requests,
    rps: Math.round(r.requests / r.durationSeconds),
    errors: r.failed + r.errored,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    // Body bytes per answer (including the answers still arriving when the run stopped).
    bodyBytes: r.requests > 0 && r.dataBytes !== null ? round(r.dataBytes / r.requests, 1) : null,
    bodyBytesOk: bodyBytesOk(r, Buffer.byteLength(scenario.body)),
    meanRequestMs: r.meanRequestMs,
    serverCpuUsPerRequest: r.requests > 0 ? round((cpuSeconds * 1e6) / r.requests, 2) : null,
    serverCpuCores: round(cpuSeconds / wallSeconds, 2),
    clientCpuCores: clientCores === null ? null : round(clientCores, 2),
    ...report.bounds(cpuSeconds / wallSeconds, clientCores, settings.threads),
    rssBytes: readRssBytes(proc.pid),
  };
}

// Whether h2load read the checked body for every answer: at least that per answer done, at most
// that per request started (the answers cut off at the end of the run count their bytes too). A
// server answering something else under load shows here.
function bodyBytesOk(r, bytes) {
  if (r.dataBytes === null) return null;
  return r.dataBytes >= r.requests * bytes && r.dataBytes <= r.started * bytes;
}

async function measureHandshakes(proc, expected, settings, clk) {
  const seconds = Math.max(1, Math.round(settings.durationSeconds));
  const warmup = Math.round(settings.warmupSeconds);
  const go = (s) => runHandshakes({ port: proc.port, path: JS_PATH, clients: settings.handshakeClients, seconds: s });
  if (warmup > 0) await go(warmup);
  const cpu0 = readCpuTicks(proc.pid);
  const r = await go(seconds);
  const cpuSeconds = (readCpuTicks(proc.pid) - cpu0) / clk;
  const clientCores = r.clientCpuTicks / clk / r.wallSeconds;
  return {
    clients: settings.handshakeClients,
    seconds: round(r.wallSeconds, 2),
    handshakes: r.connections,
    handshakesPerSecond: Math.round(r.connections / r.wallSeconds),
    // Bytes each connection read: the whole answer the check saw, or some went missing.
    bytesPerConnection: r.connections > 0 ? round(r.bytesRead / r.connections, 1) : null,
    expectedBytes: expected.responseBytes,
    serverCpuUsPerHandshake: r.connections > 0 ? round((cpuSeconds * 1e6) / r.connections, 1) : null,
    serverCpuCores: round(cpuSeconds / r.wallSeconds, 2),
    clientCpuCores: round(clientCores, 2),
    ...report.bounds(cpuSeconds / r.wallSeconds, clientCores, settings.handshakeClients),
    rssBytes: readRssBytes(proc.pid),
  };
}

async function runOne(server, scenario, settings, cert, clk, result, note) {
  const label = report.labelOf(server, scenario);
  let checked;
  const proc = await startServer(serverFor(server, scenario, cert));
  try {
    try {
      checked = scenario.handshake ? await checkHandshakeRoute(proc.port, scenario, cert.pem) : await checkRoute(proc.port, scenario, cert.pem);
    } catch (err) {
      note(`${label} ${scenario.id}: skipped, the check request got ${err.message}`);
      return;
    }
    for (const depth of depthsOf(scenario, settings)) {
      let run;
      try {
        run = scenario.handshake ? await measureHandshakes(proc, checked, settings, clk) : await measureLoad(proc, scenario, depth, settings, clk);
      } catch (err) {
        note(`${label} ${scenario.id}: ${diedDuring(proc, err, scenario.id).message}`);
        if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
        continue;
      }
      result.runs.push({ scenario: scenario.id, server: server.name, label, ...run });
      console.log(`  ${report.summary(scenario, run)}`);
      if (run.bodyBytesOk === false) {
        note(`${label} ${scenario.id}: ${run.bodyBytes} body bytes per answer, not the ${Buffer.byteLength(scenario.body)} checked`);
      }
      if (scenario.handshake && run.bytesPerConnection !== run.expectedBytes) {
        note(`${label} handshake: each connection read ${run.bytesPerConnection} bytes on average, not the ${run.expectedBytes} of the checked answer`);
      }
    }
  } finally {
    const exit = await stopServer(proc);
    if (proc.driver) result.servers[server.name].driver = proc.driver;
    if (exit.killed) note(`${label} did not exit within ${STOP_GRACE_MS / 1000} s of SIGTERM after ${scenario.id}: killed`);
  }
}

// ---------------------------------------------------------------------------------------------
// The section

/**
 * Runs the TLS rows and returns them ({ settings, versions, servers, runs, targets, notes }).
 * @param {object} o
 * @param {object} o.env process.env
 * @param {{ duration: number, warmup: number, connections: number, pipelining: number[] }} o.config run.js's
 * @param {string[]} o.serverNames BENCH_SERVERS as resolved by run.js
 * @param {boolean} o.serversNamed whether BENCH_SERVERS was set
 * @param {{ path: string, version: string }} o.self the Node running the bench (http-native's)
 * @param {{ path: string, version: string }} o.peers the Node the peers run on
 * @param {number} o.clk clock ticks per second
 */
async function runTls({ env, config, serverNames, serversNamed, self, peers, clk }) {
  const settings = tlsConfig(env, config);
  const { result, note } = sectionResult({
    settings: { ...settings, targets: report.TARGETS },
    loadAverage: os.loadavg().map((l) => round(l, 2)),
    versions: {
      h2load: h2loadVersion(),
      openssl: opensslVersion(),
      fastify: packageVersion('fastify'),
      httpNative: require('../package.json').version,
      peersNode: peers.version,
    },
    targets: [],
  });
  const missing = !result.versions.h2load ? 'h2load is not installed (apt-get install nghttp2-client)' : !available('openssl', ['version']) ? 'openssl is not installed' : null;
  if (missing) {
    note(`TLS rows skipped: ${missing}`);
    return result;
  }
  const servers = pickServers(SERVERS, serverNames, serversNamed);
  if (!servers.length) {
    note(`no TLS server among BENCH_SERVERS (${SERVER_NAMES.join(', ')})`);
    return result;
  }
  const scenarios = SCENARIOS.filter((s) => settings.scenarios.includes(s.id));
  const cert = makeCertificate(settings.cert);
  console.log(
    `TLS: ${settings.scenarios.join(', ')}; ${settings.durationSeconds} s per run after ${settings.warmupSeconds} s of warm-up; ${settings.cert} certificate; ` +
      `h2load ${result.versions.h2load}, ${settings.connections} connections, ${settings.threads} thread(s), HTTP/1.1 pipelining ${settings.pipelining.join(' and ')}, ` +
      `HTTP/2 ${settings.streams} streams per connection; handshakes: ${settings.handshakeClients} openssl s_time processes; load average ${result.loadAverage.join(' ')}`,
  );
  try {
    for (const server of servers) {
      const node = server.peer ? peers : self;
      result.servers[server.name] = { label: server.label, h2Label: server.h2Label, node: node.version, driver: undefined };
      console.log(`${server.label}${server.h2Label ? ` / ${server.h2Label}` : ''} (Node ${node.version})`);
      for (const scenario of scenarios.filter((s) => applies(server, s))) {
        await runOne({ ...server, node }, scenario, settings, cert, clk, result, note).catch((err) => note(`${server.name} ${scenario.id}: ${err.message}`));
      }
    }
  } finally {
    fs.rmSync(cert.dir, { recursive: true, force: true });
  }
  result.targets = report.addRatios(result.runs);
  return result;
}

function printTls(result) {
  report.printTls(result, { servers: SERVER_NAMES, scenarios: SCENARIOS.map((s) => s.id) });
}

module.exports = { runTls, printTls, SERVER_NAMES, SCENARIOS };
