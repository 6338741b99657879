'use strict';
// The report of the WebSocket rows (bench/ws.js): what bounded each run, each run's ratios to the
// `ws` peer, the tables printed after the section, and issue 13's targets.

const os = require('node:os');
const { round, fmt, fmtInt, fmtRatio, table } = require('./format');

// Issue 13's targets: echo messages/s and broadcast deliveries/s over ws's, and RSS per idle socket.
const TARGETS = { echo: 3, broadcast: 10, idleBytesPerSocket: 4096 };
const PEER = 'ws';
// A client process near a full core is the bottleneck, not the server.
const CLIENT_BOUND_CPU = 0.9;

// What bounded a run besides the server: a client process near a full core, or the server and the
// clients together near every core of the machine (they share it: a rate is then the share of the
// CPU each side got, and CPU per message is the figure to compare).
function bounds(serverCores, client) {
  return {
    clientBound: client.busiest >= CLIENT_BOUND_CPU,
    machineBound: serverCores + client.cores >= CLIENT_BOUND_CPU * os.cpus().length,
  };
}

// Each run's figures over ws's in the same scenario: `rate` (messages or deliveries per second;
// over 1 is better for http-native), `cpu` and the RSS ratios (per message or per socket; under
// 1 is better).
function addRatios(runs) {
  const ratio = (a, b) => (a !== null && a !== undefined && b !== null && b !== undefined && b > 0 ? round(a / b, 2) : null);
  for (const run of runs) {
    if (run.server === PEER) continue;
    const base = runs.find((r) => r.server === PEER && r.scenario === run.scenario);
    if (!base) continue;
    if (run.scenario.startsWith('broadcast')) {
      run.vsWs = {
        rate: ratio(run.deliveredPerSecond, base.deliveredPerSecond),
        cpu: ratio(run.serverCpuUsPerDelivery, base.serverCpuUsPerDelivery),
        rssPerSubscriber: ratio(run.rssPerSubscriberBytes, base.rssPerSubscriberBytes),
      };
    } else if (run.scenario === 'idle') {
      run.vsWs = { rssPerSocket: ratio(run.bytesPerSocket, base.bytesPerSocket) };
    } else {
      run.vsWs = { rate: ratio(run.messagesPerSecond, base.messagesPerSecond), cpu: ratio(run.serverCpuUsPerMessage, base.serverCpuUsPerMessage) };
    }
  }
}

const pct = (x) => `${Math.round(x * 100)}%`;

// The client's share, marked * when a client process was near a full core and † when the server
// and the clients together were near every core.
function clientCell(r) {
  return `${pct(r.clientCpuCores)}${r.clientBound ? '*' : ''}${r.machineBound ? '†' : ''}`;
}

// A WebSocket table cell that is a figure or a mark, so its column is right-aligned.
const NUMERIC = /^[-\d.,x%/*†✓✗ ]+$/;

const BOUND_LEGEND =
  `client CPU = all client processes, in cores; * = one of them at ${CLIENT_BOUND_CPU * 100}% of a core or more (client-bound); † = server and clients ` +
  `together at ${CLIENT_BOUND_CPU * 100}% of the machine's cores or more (they share its cores: the rates are the share each side got, compare CPU per message).`;

/** Prints the section's tables, targets and notes, runs in the order of `servers` and `scenarios` (names). */
function printWs(result, { servers, scenarios }) {
  const label = (name) => (result.servers[name] && result.servers[name].label) || name;
  const sorted = (wanted) =>
    result.runs
      .filter((r) => wanted.includes(r.scenario))
      .sort((a, b) => scenarios.indexOf(a.scenario) - scenarios.indexOf(b.scenario) || servers.indexOf(a.server) - servers.indexOf(b.server));
  const echo = sorted(['echo-small', 'echo-large']);
  if (echo.length) {
    console.log('');
    console.log(
      table(
        ['scenario', 'server', 'messages/s', 'MB/s', 'vs ws', 'CPU µs/msg', 'CPU vs ws', 'per conn min/median', 'RSS MiB', 'wrong/closed', 'server CPU', 'client CPU'],
        echo.map((r) => [
          r.scenario,
          label(r.server),
          fmtInt(r.messagesPerSecond),
          fmt(r.mbPerSecond, 1),
          fmtRatio(r.vsWs && r.vsWs.rate),
          fmt(r.serverCpuUsPerMessage, 2),
          fmtRatio(r.vsWs && r.vsWs.cpu),
          `${r.perConnection.min}/${r.perConnection.p50}`,
          fmt(r.rssBytes / 2 ** 20, 1),
          `${r.bad}/${r.closedEarly}`,
          pct(r.serverCpuCores),
          clientCell(r),
        ]),
        NUMERIC,
      ),
    );
    const e = echo[0];
    const bytes = result.settings.messageBytes;
    console.log(
      `Echo over ${e.seconds} s: ${e.connections} connections, each with ${e.window} messages in flight; small = ${bytes.small} B text, ` +
        `large = ${bytes.large} B binary. messages/s = echoes the clients received; CPU µs/msg = server utime + stime / echoed messages ` +
        "(each one read, handled and sent back); CPU vs ws = ours over ws's (under 1 is better); wrong = echoes of another type or size. " +
        BOUND_LEGEND,
    );
  }
  const broadcast = sorted(['broadcast', 'broadcast-rounds']);
  if (broadcast.length) {
    console.log('');
    console.log(
      table(
        ['scenario', 'server', 'in flight', 'subscribers', 'deliveries/s', 'vs ws', 'publishes/s', 'CPU µs/delivery', 'CPU vs ws', 'per sub min/median', 'RSS/sub KiB', 'peak RSS MiB', 'wrong/closed', 'server CPU', 'client CPU'],
        broadcast.map((r) => [
          r.scenario,
          label(r.server),
          r.publishWindow,
          r.subscribers,
          fmtInt(r.deliveredPerSecond),
          fmtRatio(r.vsWs && r.vsWs.rate),
          fmt(r.publishesPerSecond, 1),
          fmt(r.serverCpuUsPerDelivery, 3),
          fmtRatio(r.vsWs && r.vsWs.cpu),
          `${r.perSubscriber.min}/${r.perSubscriber.p50}`,
          fmt(r.rssPerSubscriberBytes / 1024, 2),
          fmt(r.rssPeakBytes / 2 ** 20, 1),
          `${r.bad}/${r.closedEarly}`,
          pct(r.serverCpuCores),
          clientCell(r),
        ]),
        NUMERIC,
      ),
    );
    console.log(
      `Broadcast over ${broadcast[0].seconds} s: one publisher keeps "in flight" publishes of ${result.settings.messageBytes.broadcast} B going ` +
        '(a publish is in flight until every subscriber has it; rounds = one at a time); deliveries/s = messages the subscribers received; CPU µs/delivery = ' +
        'server utime + stime / deliveries; RSS/sub = (server VmRSS with the subscribers connected - before) / subscribers. ' +
        BOUND_LEGEND,
    );
  }
  const idle = sorted(['idle']);
  if (idle.length) {
    console.log('');
    console.log(
      table(
        ['server', 'sockets', 'RSS before MiB', 'RSS after MiB', 'KiB/socket', `≤ ${TARGETS.idleBytesPerSocket / 1024} KiB`, 'vs ws', 'failed/closed'],
        idle.map((r) => [
          label(r.server),
          r.sockets,
          fmt(r.rssBeforeBytes / 2 ** 20, 1),
          fmt(r.rssAfterBytes / 2 ** 20, 1),
          fmt(r.bytesPerSocket / 1024, 2),
          r.bytesPerSocket <= TARGETS.idleBytesPerSocket ? '✓' : '✗',
          fmtRatio(r.vsWs && r.vsWs.rssPerSocket),
          `${r.failed}/${r.closedEarly}`,
        ]),
        NUMERIC,
      ),
    );
    console.log('KiB/socket = (server VmRSS with the sockets open - before) / sockets; each socket echoed one 32 B message, then idled.');
  }
  printTargets(result.runs);
  for (const n of result.notes) console.log(`note: ${n}`);
}

// Issue 13's targets, for http-native's runs that have a ws run beside them.
function printTargets(runs) {
  const lines = [];
  for (const r of runs.filter((x) => x.server === 'http-native' && x.vsWs)) {
    if (r.scenario === 'idle') continue;
    const fanout = r.scenario.startsWith('broadcast');
    const want = fanout ? TARGETS.broadcast : TARGETS.echo;
    const got = r.vsWs.rate;
    const cheaper = r.vsWs.cpu ? round(1 / r.vsWs.cpu, 2) : null;
    const bound = r.clientBound || r.machineBound ? ' (the run was client- or machine-bound: the rate understates the server)' : '';
    lines.push(
      `${r.scenario}: ${fmtRatio(got)} ws's ${fanout ? 'deliveries' : 'messages'}/s (target ≥ ${want}x${got === null ? '' : got >= want ? ' ✓' : ' ✗'}); ` +
        `ws spends ${fmtRatio(cheaper)} our CPU per ${fanout ? 'delivery' : 'message'}${bound}`,
    );
  }
  const idle = runs.find((x) => x.server === 'http-native' && x.scenario === 'idle');
  if (idle && idle.bytesPerSocket !== null) {
    const ok = idle.bytesPerSocket <= TARGETS.idleBytesPerSocket;
    lines.push(`idle: ${fmt(idle.bytesPerSocket / 1024, 2)} KiB RSS per socket (target ≤ ${TARGETS.idleBytesPerSocket / 1024} KiB ${ok ? '✓' : '✗'})`);
  }
  if (!lines.length) return;
  console.log('');
  console.log('Targets (issue 13, http-native against ws):');
  for (const l of lines) console.log(`  ${l}`);
}

// One run in a line, printed as it ends.
function summary(scenario, run) {
  if (scenario.startsWith('broadcast')) {
    return (
      `${run.subscribers} subscribers × ${run.publishWindow} in flight, ${fmtInt(run.deliveredPerSecond)} deliveries/s (${fmt(run.publishesPerSecond, 1)} publishes/s), ` +
      `${fmt(run.serverCpuUsPerDelivery, 3)} µs CPU/delivery, ${fmt(run.rssPerSubscriberBytes / 1024, 2)} KiB RSS/subscriber`
    );
  }
  if (scenario === 'idle') return `${run.sockets} sockets, ${fmt(run.bytesPerSocket / 1024, 2)} KiB RSS/socket`;
  return `${fmtInt(run.messagesPerSecond)} messages/s, ${fmt(run.serverCpuUsPerMessage, 2)} µs CPU/message${run.bad ? `, ${run.bad} wrong` : ''}`;
}

module.exports = { TARGETS, bounds, addRatios, summary, printWs };
