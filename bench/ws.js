'use strict';
// The WebSocket rows of `npm run bench` (issue 13), run by bench/run.js after the file rows, or
// alone with `npm run bench -- --only ws`. Each scenario runs on a fresh server process, one
// server at a time: http-native (app.ws and app.publish, bench/servers/http-native-ws.js) and the
// `ws` package on node:http (bench/servers/ws-node.js), in the same run:
//   echo-small   BENCH_CONNECTIONS (64) connections each keep BENCH_WS_WINDOW (8) 32-byte text
//                messages in flight to an echo route (a new one goes out for each one back):
//                echoed messages/s and server CPU per echoed message
//   echo-large   the same with 16 KiB binary messages
//   broadcast    BENCH_WS_SUBSCRIBERS (10,000) connections subscribed to one topic; one publisher
//                connection sends "pub", and the server publishes a 32-byte message to the topic
//                (Rust fans it out for http-native; a JS loop over the subscribers for ws). The
//                publisher keeps BENCH_WS_PUBLISH_WINDOW (8) publishes in flight — a publish is in
//                flight until every subscriber has it — so the server always has the next ones,
//                as a busy topic does: delivered messages/s, server CPU per delivered message, and
//                RSS per subscriber
//   broadcast-rounds  the same one publish at a time (publish, wait until every subscriber has
//                it, repeat): what one fan-out costs when there is nothing to batch it with
//   idle         BENCH_WS_IDLE (10,000) upgraded, idle connections: server RSS per socket
// The server's CPU is its utime + stime from /proc (every thread), its RSS VmRSS. The clients are
// child processes on raw node:net sockets with pre-built masked frames (bench/ws-clients.js,
// bench/ws-wire.js), on the peers' Node; the publisher is in the runner.
//
// Environment (besides BENCH_QUICK / --quick, BENCH_DURATION, BENCH_WARMUP and BENCH_CONNECTIONS,
// which mean what they mean for the route rows):
//   BENCH_WS                  subset of echo-small,echo-large,broadcast,broadcast-rounds,idle
//   BENCH_SERVERS             as for the route rows; here http-native and ws (http-native-epoll
//                             when named)
//   BENCH_WS_WINDOW           echo messages in flight per connection (8)
//   BENCH_WS_SUBSCRIBERS      broadcast subscribers (10000; 1000 with --quick)
//   BENCH_WS_PUBLISH_WINDOW   publishes in flight in the broadcast row (8)
//   BENCH_WS_IDLE             idle sockets (10000; 1000 with --quick)
//   BENCH_WS_PROCESSES        client processes (2; the echo connections and the subscribers and
//                             idle sockets are shared among them)

const os = require('node:os');
const http = require('node:http');
const { setTimeout: sleep } = require('node:timers/promises');
const { STOP_GRACE_MS, readCpuTicks, readRssBytes, startServer, stopServer, diedDuring } = require('./proc');
const { openFilesLimit } = require('./idle');
const { OP, frames, openChecked } = require('./ws-wire');
const { openClients, ask, countClients, closeClients, clientCpuTicks, clientCpu } = require('./ws-client-group');
const shared = require('./servers/ws-shared');
const report = require('./ws-report');
const { SETTLE_MS, FD_RESERVE, positive, pickList, pickServers, packageVersion, sectionResult } = require('./config');
const { round } = require('./format');

const SCENARIOS = ['echo-small', 'echo-large', 'broadcast', 'broadcast-rounds', 'idle'];
const ECHO_KIND = { 'echo-small': 'small', 'echo-large': 'large' };
const SERVERS = [
  { name: 'http-native', label: 'http-native', script: 'http-native-ws.js' },
  { name: 'http-native-epoll', label: 'http-native (epoll)', script: 'http-native-ws.js', env: { HTTP_NATIVE_DRIVER: 'legacy' }, onlyWhenNamed: true },
  { name: 'ws', label: 'ws (node:http)', script: 'ws-node.js', peer: true },
];
const SERVER_NAMES = SERVERS.map((s) => s.name);
// Connections opened and closed before a baseline RSS, so it includes what the first ones grow.
const WARMUP_SOCKETS = 64;
// A check or a subscription count that takes longer than this means a broken server.
const CHECK_TIMEOUT_MS = 10000;
const SUBSCRIBED_TIMEOUT_MS = 30000;
const SUBSCRIBED_POLL_MS = 50;
// Every idle socket's one echo back, or the server lost some.
const ECHOED_TIMEOUT_MS = 30000;
// No publish reaching every subscriber for this long ends the broadcast run as failed (a dropped
// message or a dead connection, not a slow server).
const STALL_MS = 10000;

// ---------------------------------------------------------------------------------------------
// Configuration

function wsConfig(env, config) {
  // Counts and windows: whole numbers only.
  const count = (name, fallback) => positive(name, env[name], fallback, 1, true);
  return {
    scenarios: pickList('BENCH_WS', env.BENCH_WS, SCENARIOS),
    durationSeconds: config.duration,
    warmupSeconds: config.warmup,
    connections: config.connections,
    window: count('BENCH_WS_WINDOW', 8),
    subscribers: count('BENCH_WS_SUBSCRIBERS', config.quick ? 1000 : 10000),
    publishWindow: count('BENCH_WS_PUBLISH_WINDOW', 8),
    idleSockets: count('BENCH_WS_IDLE', config.quick ? 1000 : 10000),
    processes: count('BENCH_WS_PROCESSES', 2),
    messageBytes: { small: shared.ECHO_MESSAGES.small.payload.length, large: shared.ECHO_MESSAGES.large.payload.length, broadcast: shared.BROADCAST_MESSAGE.length },
  };
}

// ---------------------------------------------------------------------------------------------
// Checks: one message each way before measuring, so a broken route is not measured

async function checkEcho(port, kind) {
  const m = shared.ECHO_MESSAGES[kind];
  const c = await openChecked(port, shared.ECHO_PATH, CHECK_TIMEOUT_MS);
  try {
    c.send(m.binary ? OP.BINARY : OP.TEXT, m.payload);
    const got = await c.next(CHECK_TIMEOUT_MS);
    if (got.opcode !== (m.binary ? OP.BINARY : OP.TEXT) || !got.payload.equals(m.payload)) {
      throw new Error(`the echo came back as opcode ${got.opcode}, ${got.payload.length} bytes, not the message sent`);
    }
  } finally {
    c.close();
  }
}

// A subscriber gets the broadcast message once for a "pub" message and once for POST /publish.
async function checkBroadcast(port) {
  const sub = await openChecked(port, shared.BROADCAST_PATH, CHECK_TIMEOUT_MS);
  const pub = await openChecked(port, shared.PUBLISHER_PATH, CHECK_TIMEOUT_MS);
  try {
    await waitForSubscribers(port, 1);
    for (const trigger of ['message', 'POST /publish']) {
      if (trigger === 'message') pub.send(OP.TEXT, shared.PUBLISH_COMMAND);
      else await httpRequest(port, 'POST', '/publish', 204);
      const got = await sub.next(CHECK_TIMEOUT_MS);
      if (got.opcode !== OP.TEXT || !got.payload.equals(shared.BROADCAST_MESSAGE)) {
        throw new Error(`a publish by ${trigger} delivered opcode ${got.opcode}, ${got.payload.length} bytes, not the broadcast message`);
      }
    }
  } finally {
    sub.close();
    pub.close();
  }
  await waitForSubscribers(port, 0);
}

function httpRequest(port, method, urlPath, status) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== status) reject(new Error(`${method} ${urlPath}: status ${res.statusCode}`));
        else resolve(body);
      });
    });
    req.setTimeout(CHECK_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${urlPath}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

// Resolves once the server counts `count` subscribers on the topic: a subscription lands after
// the 101 (in `open`), so the first publish must wait for it.
async function waitForSubscribers(port, count) {
  const deadline = Date.now() + SUBSCRIBED_TIMEOUT_MS;
  let seen;
  while (Date.now() < deadline) {
    seen = JSON.parse(await httpRequest(port, 'GET', '/subscribers', 200)).subscribers;
    if (seen === count) return;
    await sleep(SUBSCRIBED_POLL_MS);
  }
  throw new Error(`the server counts ${seen} subscribers, not ${count}, after ${SUBSCRIBED_TIMEOUT_MS / 1000} s`);
}

// ---------------------------------------------------------------------------------------------
// Scenarios

async function measureEcho(proc, scenario, config, clientNode, clk) {
  const kind = ECHO_KIND[scenario];
  await checkEcho(proc.port, kind);
  const group = await openClients(clientNode, proc.port, shared.ECHO_PATH, config.connections, config.processes, kind);
  try {
    if (group.opened === 0) throw new Error(`no WebSocket opened: ${group.firstError}`);
    await ask(group, { op: 'echo', expect: kind, window: config.window }, 'echoing');
    await sleep(config.warmupSeconds * 1000);
    const c0 = await countClients(group);
    const cpu0 = readCpuTicks(proc.pid);
    const client0 = clientCpuTicks(group);
    const t0 = process.hrtime.bigint();
    await sleep(config.durationSeconds * 1000);
    const c1 = await countClients(group);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpuSeconds = (readCpuTicks(proc.pid) - cpu0) / clk;
    const client = clientCpu(client0, clientCpuTicks(group), clk, seconds);
    await ask(group, { op: 'stop' }, 'stopped');
    const messages = c1.messages - c0.messages;
    return {
      messageBytes: shared.ECHO_MESSAGES[kind].payload.length,
      binary: shared.ECHO_MESSAGES[kind].binary,
      connections: group.opened,
      failed: group.failed,
      firstError: group.firstError,
      window: config.window,
      clientProcesses: group.children.length,
      seconds: round(seconds, 2),
      messages,
      messagesPerSecond: Math.round(messages / seconds),
      mbPerSecond: round((messages * shared.ECHO_MESSAGES[kind].payload.length) / 1e6 / seconds, 1),
      // Messages each connection got back in the window: a starved connection shows as a low min.
      perConnection: spread(c1.perConnection),
      bad: c1.bad,
      protocolErrors: c1.protocolErrors,
      closedEarly: c1.closedEarly,
      closeCode: c1.firstCloseCode,
      rssBytes: readRssBytes(proc.pid),
      serverCpuSeconds: round(cpuSeconds, 2),
      serverCpuUsPerMessage: messages > 0 ? round((cpuSeconds * 1e6) / messages, 3) : null,
      serverCpuCores: round(cpuSeconds / seconds, 2),
      clientCpuCores: client.cores,
      ...report.bounds(cpuSeconds / seconds, client),
    };
  } finally {
    await closeClients(group);
  }
}

// Publishes through `pub` (a checked connection on the publisher path) whenever fewer than
// `window` publishes are in flight, i.e. not yet received by every subscriber of every client
// process. Returns { published(), stop() }; `failed` rejects when the subscribers stall.
function publishLoop(pub, group, window) {
  const built = frames(OP.TEXT, shared.PUBLISH_COMMAND, window);
  const got = group.children.map(() => 0);
  let published = 0;
  let stopped = false;
  let lastProgress = Date.now();
  let stall;
  const failed = new Promise((resolve, reject) => {
    stall = setInterval(() => {
      if (!stopped && Date.now() - lastProgress > STALL_MS) {
        reject(new Error(`publish #${Math.min(...got) + 1} had not reached every subscriber after ${STALL_MS / 1000} s`));
      }
    }, 1000);
  });
  failed.catch(() => {}); // raced by the caller; this only keeps a late stall from going unhandled
  const pump = () => {
    if (stopped) return;
    const n = Math.min(...got) + window - published;
    if (n > 0) {
      pub.socket.write(built.many.subarray(0, n * built.size));
      published += n;
    }
  };
  group.children.forEach((child, i) => {
    child.on('message', (msg) => {
      if (msg.op !== 'allGot' || msg.k <= got[i]) return;
      got[i] = msg.k;
      lastProgress = Date.now();
      pump();
    });
  });
  pump();
  return {
    failed,
    published: () => published,
    stop() {
      stopped = true;
      clearInterval(stall);
    },
  };
}

// `publishWindow`: publishes in flight (1 = rounds).
async function measureBroadcast(proc, config, publishWindow, clientNode, clk) {
  await checkBroadcast(proc.port);
  await sleep(SETTLE_MS);
  const rssBefore = readRssBytes(proc.pid);
  const group = await openClients(clientNode, proc.port, shared.BROADCAST_PATH, config.subscribers, config.processes, 'broadcast');
  let pub;
  let loop;
  try {
    if (group.opened === 0) throw new Error(`no subscriber connected: ${group.firstError}`);
    await waitForSubscribers(proc.port, group.opened);
    await sleep(SETTLE_MS);
    const rssSubscribed = readRssBytes(proc.pid);
    await ask(group, { op: 'watch' }, 'watching');
    pub = await openChecked(proc.port, shared.PUBLISHER_PATH, CHECK_TIMEOUT_MS);
    loop = publishLoop(pub, group, publishWindow);
    const window = async () => {
      await sleep(config.warmupSeconds * 1000);
      const c0 = await countClients(group);
      const published0 = loop.published();
      const cpu0 = readCpuTicks(proc.pid);
      const client0 = clientCpuTicks(group);
      const t0 = process.hrtime.bigint();
      let rssPeak = readRssBytes(proc.pid);
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, readRssBytes(proc.pid));
      }, SETTLE_MS / 4);
      await sleep(config.durationSeconds * 1000);
      clearInterval(sampler);
      const c1 = await countClients(group);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpuSeconds = (readCpuTicks(proc.pid) - cpu0) / clk;
      const client = clientCpu(client0, clientCpuTicks(group), clk, seconds);
      return { c1, delivered: c1.messages - c0.messages, publishes: loop.published() - published0, seconds, cpuSeconds, client, rssPeak };
    };
    const m = await Promise.race([window(), loop.failed]);
    loop.stop();
    return {
      subscribersWanted: config.subscribers,
      subscribers: group.opened,
      failed: group.failed,
      firstError: group.firstError,
      publishWindow,
      clientProcesses: group.children.length,
      seconds: round(m.seconds, 2),
      publishes: m.publishes,
      publishesPerSecond: round(m.publishes / m.seconds, 1),
      delivered: m.delivered,
      deliveredPerSecond: Math.round(m.delivered / m.seconds),
      perSubscriber: spread(m.c1.perConnection),
      bad: m.c1.bad,
      protocolErrors: m.c1.protocolErrors,
      closedEarly: m.c1.closedEarly,
      closeCode: m.c1.firstCloseCode,
      rssBeforeBytes: rssBefore,
      rssSubscribedBytes: rssSubscribed,
      rssPerSubscriberBytes: Math.round((rssSubscribed - rssBefore) / group.opened),
      rssPeakBytes: Math.max(m.rssPeak, readRssBytes(proc.pid)),
      serverCpuSeconds: round(m.cpuSeconds, 2),
      serverCpuUsPerDelivery: m.delivered > 0 ? round((m.cpuSeconds * 1e6) / m.delivered, 3) : null,
      serverCpuCores: round(m.cpuSeconds / m.seconds, 2),
      clientCpuCores: m.client.cores,
      ...report.bounds(m.cpuSeconds / m.seconds, m.client),
    };
  } finally {
    if (loop) loop.stop();
    if (pub) pub.close();
    await closeClients(group);
  }
}

// Opens `count` sockets on the echo route and has each echo one small message, so every socket has
// been through the message path once (as a used, then idle, socket has).
async function openUsed(clientNode, port, count, processes) {
  const group = await openClients(clientNode, port, shared.ECHO_PATH, count, processes, 'small');
  await ask(group, { op: 'once', expect: 'small' }, 'echoed', ECHOED_TIMEOUT_MS);
  return group;
}

async function measureIdle(proc, config, clientNode) {
  const warm = await openUsed(clientNode, proc.port, WARMUP_SOCKETS, 1);
  await closeClients(warm);
  if (warm.opened === 0) throw new Error(`no WebSocket opened: ${warm.firstError}`);
  await sleep(SETTLE_MS);
  const rssBefore = readRssBytes(proc.pid);
  const group = await openUsed(clientNode, proc.port, config.idleSockets, config.processes);
  try {
    await sleep(SETTLE_MS);
    const rssAfter = readRssBytes(proc.pid);
    // A server that dropped idle sockets before the reading would make them look cheap.
    const c = await countClients(group);
    return {
      socketsWanted: config.idleSockets,
      sockets: c.open,
      failed: group.failed,
      firstError: group.firstError,
      closedEarly: c.closedEarly,
      wrong: c.bad,
      rssBeforeBytes: rssBefore,
      rssAfterBytes: rssAfter,
      bytesPerSocket: c.open > 0 ? Math.round((rssAfter - rssBefore) / c.open) : null,
    };
  } finally {
    await closeClients(group);
  }
}

// ---------------------------------------------------------------------------------------------
// The section

/**
 * Runs the WebSocket rows and returns them ({ settings, versions, servers, runs, notes }).
 * @param {object} o
 * @param {object} o.env process.env
 * @param {{ quick: boolean, duration: number, warmup: number, connections: number }} o.config run.js's
 * @param {string[]} o.serverNames BENCH_SERVERS as resolved by run.js
 * @param {boolean} o.serversNamed whether BENCH_SERVERS was set
 * @param {{ path: string, version: string }} o.self the Node running the bench (http-native's)
 * @param {{ path: string, version: string }} o.peers the Node the peer and the clients run on
 * @param {number} o.clk clock ticks per second
 */
async function runWs({ env, config, serverNames, serversNamed, self, peers, clk }) {
  const settings = wsConfig(env, config);
  const { result, note } = sectionResult({
    settings: { ...settings, targets: report.TARGETS },
    loadAverage: os.loadavg().map((l) => round(l, 2)),
    versions: { ws: packageVersion('ws'), httpNative: require('../package.json').version, peersNode: peers.version },
  });
  const servers = pickServers(SERVERS, serverNames, serversNamed);
  if (!servers.length) {
    note(`no WebSocket server among BENCH_SERVERS (${SERVER_NAMES.join(', ')})`);
    return result;
  }
  // The server holds every socket, each client process its share.
  const limit = openFilesLimit();
  settings.openFilesLimit = limit;
  for (const key of ['subscribers', 'idleSockets']) {
    const room = Math.max(0, limit - FD_RESERVE);
    if (settings[key] > room) {
      note(`open files limit ${limit}: ${room} ${key} instead of ${settings[key]} (raise it with \`ulimit -n\`)`);
      settings[key] = room;
    }
  }

  console.log(
    `WebSocket: ${settings.scenarios.join(', ')}; ${settings.durationSeconds} s per run after ${settings.warmupSeconds} s of warm-up; ` +
      `echo ${settings.connections} connections × ${settings.window} in flight, ${settings.subscribers} subscribers × ` +
      `${settings.publishWindow} publishes in flight, ${settings.idleSockets} idle sockets (${settings.processes} client processes on ` +
      `Node ${peers.version}); load average ${result.loadAverage.join(' ')}`,
  );
  for (const server of servers) {
    const node = server.peer ? peers : self;
    result.servers[server.name] = { label: server.label, node: node.version, driver: undefined };
    console.log(`${server.label} (Node ${node.version})`);
    for (const scenario of settings.scenarios) {
      await runOne({ ...server, node }, scenario, settings, peers, clk, result).catch((err) => note(`${server.name} ${scenario}: ${err.message}`));
    }
  }
  report.addRatios(result.runs);
  return result;
}

async function runOne(server, scenario, settings, peers, clk, result) {
  const proc = await startServer(server);
  try {
    let run;
    try {
      if (scenario === 'broadcast') run = await measureBroadcast(proc, settings, settings.publishWindow, peers.path, clk);
      else if (scenario === 'broadcast-rounds') run = await measureBroadcast(proc, settings, 1, peers.path, clk);
      else if (scenario === 'idle') run = await measureIdle(proc, settings, peers.path);
      else run = await measureEcho(proc, scenario, settings, peers.path, clk);
    } catch (err) {
      throw diedDuring(proc, err, scenario);
    }
    result.runs.push({ scenario, server: server.name, ...run });
    console.log(`  ${scenario}: ${report.summary(scenario, run)}`);
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

// ---------------------------------------------------------------------------------------------
// Helpers

// The fewest, 1st percentile, median and most of an ascending list.
function spread(sorted) {
  const at = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null);
  return { min: sorted.length ? sorted[0] : null, p1: at(1), p50: at(50), max: sorted.length ? sorted[sorted.length - 1] : null };
}

function printWs(result) {
  report.printWs(result, { servers: SERVER_NAMES, scenarios: SCENARIOS });
}

module.exports = { runWs, printWs, SCENARIOS, SERVER_NAMES };
