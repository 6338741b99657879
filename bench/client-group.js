'use strict';
// The runner's side of a section's client processes (bench/ws-clients.js, bench/sse-clients.js:
// one child per share of the connections): starting them, asking every one the same thing over
// IPC and adding up their answers, their CPU time, and stopping them. Shared by
// bench/ws-client-group.js and bench/streams.js.

const path = require('node:path');
const { once } = require('node:events');
const { fork } = require('node:child_process');
const { readCpuTicks } = require('./proc');

// Resolves with the child's next `op` message; rejects if it exits first, or after `timeoutMs`
// when given. `label` names the child in the errors ("a WebSocket client process").
function reply(child, op, label, timeoutMs) {
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
      reject(new Error(`${label} exited (code ${code}, signal ${signal})`));
    };
    const timer =
      timeoutMs &&
      setTimeout(() => {
        done();
        reject(new Error(`no '${op}' from ${label} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

// Sends `msg` to every client process of `group`; resolves with their `op` replies (see reply()).
function ask(group, msg, op, timeoutMs) {
  return Promise.all(
    group.children.map((child) => {
      child.send(msg);
      return reply(child, op, group.label, timeoutMs);
    }),
  );
}

// Starts `processes` processes of bench/`script` sharing `count` connections, each sent
// { op: 'open', ...open, count: its share }; resolves once all are open (or failed).
async function openGroup(script, label, node, count, processes, open) {
  const file = path.join(__dirname, script);
  const n = Math.max(1, Math.min(processes, count));
  const children = Array.from({ length: n }, () => fork(file, [], { execPath: node, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const replies = await Promise.all(
    children.map((child, i) => {
      const share = Math.floor(count / n) + (i < count % n ? 1 : 0);
      child.send({ op: 'open', ...open, count: share });
      return reply(child, 'opened', label);
    }),
  );
  return { children, label, opened: sum(replies, 'opened'), failed: sum(replies, 'failed'), firstError: replies.map((r) => r.firstError).find(Boolean) };
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

function sum(list, key) {
  return list.reduce((total, item) => total + (item[key] || 0), 0);
}

module.exports = { ask, openGroup, closeClients, clientCpuTicks, sum };
