'use strict';
// The runner's side of the WebSocket rows' client processes (bench/ws-clients.js, one child per
// share of the connections): starting them, asking every one the same thing over IPC and adding
// up their answers, their CPU time, and stopping them.

const path = require('node:path');
const { once } = require('node:events');
const { fork } = require('node:child_process');
const { readCpuTicks } = require('./proc');

// Resolves with the child's next `op` message; rejects if it exits first, or after `timeoutMs`
// when given.
function reply(child, op, timeoutMs) {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (msg) => {
      if (msg.op !== op) return;
      done();
      resolve(msg);
    };
    const onExit = (code, signal) => {
      done();
      reject(new Error(`a WebSocket client process exited (code ${code}, signal ${signal})`));
    };
    const timer =
      timeoutMs &&
      setTimeout(() => {
        done();
        reject(new Error(`no '${op}' from a WebSocket client process within ${timeoutMs / 1000} s`));
      }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

// Sends `msg` to every client process; resolves with their `op` replies (see reply()).
function ask(group, msg, op, timeoutMs) {
  return Promise.all(
    group.children.map((child) => {
      child.send(msg);
      return reply(child, op, timeoutMs);
    }),
  );
}

// Starts `processes` client processes sharing `count` connections to `wsPath`; resolves once all
// are upgraded (or failed).
async function openClients(node, port, wsPath, count, processes, expect) {
  const script = path.join(__dirname, 'ws-clients.js');
  const n = Math.max(1, Math.min(processes, count));
  const children = Array.from({ length: n }, () => fork(script, [], { execPath: node, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const replies = await Promise.all(
    children.map((child, i) => {
      const share = Math.floor(count / n) + (i < count % n ? 1 : 0);
      child.send({ op: 'open', port, path: wsPath, count: share, expect });
      return reply(child, 'opened');
    }),
  );
  return { children, opened: sum(replies, 'opened'), failed: sum(replies, 'failed'), firstError: replies.map((r) => r.firstError).find(Boolean) };
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

async function closeClients(group) {
  await Promise.all(
    group.children.map((child) => {
      if (child.exitCode !== null || child.signalCode !== null) return undefined;
      const exited = once(child, 'exit');
      if (child.connected) child.send({ op: 'close' });
      else child.kill('SIGKILL');
      return exited;
    }),
  );
}

// CPU ticks of each client process (an exited one counts 0: its time is gone with it).
function clientCpuTicks(group) {
  return group.children.map((child) => {
    try {
      return readCpuTicks(child.pid);
    } catch {
      return 0;
    }
  });
}

// The client side's CPU over a window: all processes in cores, and the busiest one's share.
function clientCpu(before, after, clk, seconds) {
  const each = after.map((t, i) => (t - before[i]) / clk / seconds);
  return { cores: round(each.reduce((a, b) => a + b, 0), 2), busiest: round(Math.max(...each), 2) };
}

function round(n, digits) {
  return Number(n.toFixed(digits));
}

function sum(list, key) {
  return list.reduce((total, item) => total + (item[key] || 0), 0);
}

module.exports = { openClients, ask, countClients, closeClients, clientCpuTicks, clientCpu };
