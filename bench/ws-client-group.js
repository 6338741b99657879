'use strict';
// The runner's side of the WebSocket rows' client processes (bench/ws-clients.js, one child per
// share of the connections), on bench/client-group.js: what they are sent to open, what their
// counts add up to, and their CPU as cores.

const { ask, openGroup, closeClients, clientCpuTicks, sum } = require('./client-group');
const { round } = require('./format');

// Starts `processes` client processes sharing `count` connections to `wsPath`; resolves once all
// are upgraded (or failed).
function openClients(node, port, wsPath, count, processes, expect) {
  return openGroup('ws-clients.js', 'a WebSocket client process', node, count, processes, { port, path: wsPath, expect });
}

async function countClients(group) {
  const replies = await ask(group, { op: 'count' }, 'counted');
  const perConnection = replies.flatMap((r) => r.sinceLast).sort((a, b) => a - b);
  return {
    messages: sum(replies, 'messages'),
    bad: sum(replies, 'bad'),
    protocolErrors: sum(replies, 'protocolErrors'),
    open: sum(replies, 'open'),
    closedEarly: sum(replies, 'closedEarly'),
    closedByServer: sum(replies, 'closedByServer'),
    firstCloseCode: replies.map((r) => r.firstCloseCode).find((c) => c !== undefined),
    perConnection,
  };
}

// The client side's CPU over a window: all processes in cores, and the busiest one's share.
function clientCpu(before, after, clk, seconds) {
  const each = after.map((t, i) => (t - before[i]) / clk / seconds);
  return { cores: round(each.reduce((a, b) => a + b, 0), 2), busiest: round(Math.max(...each), 2) };
}

module.exports = { openClients, ask, countClients, closeClients, clientCpuTicks, clientCpu };
