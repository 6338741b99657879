'use strict';
// How evenly one listen({ ioThreads }) spreads connections over its threads, by `balance`:
// `node bench/balance.js`. N long-lived connections, each opened once the one before it was
// answered (so each thread's count is settled when the next arrives); the busiest thread's share,
// mean and worst over TRIALS. Counts, not timings: quick, and the same on a busy machine.
const net = require('node:net');
const { createApp } = require('..');

const TRIALS = 20;
const CONNECTIONS = [4, 8, 16, 64];
const THREADS = [2, 4];
const BALANCES = ['reuseport', 'acceptor'];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pct = (x) => `${Math.round(x * 100)} %`;

async function open(port) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write('GET / HTTP/1.1\r\nHost: bench\r\n\r\n');
  await new Promise((resolve) => socket.once('data', resolve));
  return socket;
}

async function busiestShares(server, n) {
  const shares = [];
  for (let t = 0; t < TRIALS; t++) {
    const sockets = [];
    for (let i = 0; i < n; i++) sockets.push(await open(server.port));
    shares.push(Math.max(...server.stats().threads.map((s) => s.connections.open)) / n);
    for (const s of sockets) s.destroy();
    while (server.stats().connections.open > 0) await sleep(5);
  }
  return { mean: shares.reduce((a, b) => a + b, 0) / shares.length, worst: Math.max(...shares) };
}

async function main() {
  console.log(`busiest I/O thread's share of N long-lived connections (mean / worst of ${TRIALS})`);
  console.log(['threads', 'balance', ...CONNECTIONS.map((n) => `${n} conns`)].join('\t'));
  for (const threads of THREADS) {
    for (const balance of BALANCES) {
      const app = createApp();
      app.get('/', (req, res) => res.send('ok'));
      const server = await app.listen({ port: 0, host: '127.0.0.1', ioThreads: threads, balance });
      const cells = [];
      for (const n of CONNECTIONS) {
        const { mean, worst } = await busiestShares(server, n);
        cells.push(`${pct(mean)} / ${pct(worst)}`);
      }
      console.log([threads, balance, ...cells].join('\t') + `\t(even: ${pct(1 / threads)})`);
      await server.close();
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
