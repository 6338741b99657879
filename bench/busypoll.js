'use strict';
// How often busyPoll's wait catches a lone client's next request on this machine, and what it
// costs, as the client's turnaround grows (docs/performance.md, "One connection").
//
//   node bench/busypoll.js [busyPoll µs list] [client extra turnaround µs list] [seconds]
//   node bench/busypoll.js 0,50,200 0,20,40,80 2
//
// For each pair it starts an http-native server in a child process, runs one client in another
// process that sends a request as soon as the last answer is in plus a busy wait of the given
// microseconds, and prints the client's p50, the share of batches a waiting JS thread took
// (polled / calls), the waits (waited) and the server's CPU per request.
const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const [polls = '0,50,200', extras = '0,20,40,80', seconds = '2'] = process.argv.slice(2);
const ROOT = path.join(__dirname, '..');

const SERVER = `
  const { createApp } = require(${JSON.stringify(ROOT)});
  const app = createApp({ busyPoll: Number(process.argv[1]) });
  let server;
  app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
  app.get('/__bridge', (req, res) => res.json(server.stats().bridge));
  app.listen({ port: 0, host: '127.0.0.1' }).then((s) => { server = s; console.log(s.port); });`;

const CLIENT = `
  const net = require('node:net');
  const [port, extraUs, ms] = process.argv.slice(1).map(Number);
  const s = net.connect(port, '127.0.0.1', () => {
    s.setNoDelay(true);
    const end = Date.now() + ms;
    const lat = [];
    let n = 0, buf = '', t0;
    const send = () => { t0 = process.hrtime.bigint(); s.write('GET /users/' + n + ' HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'); };
    s.on('data', (d) => {
      buf += d;
      if (buf.indexOf('{"id":"' + n + '"}') === -1) return;
      lat.push(Number(process.hrtime.bigint() - t0) / 1000);
      buf = '';
      n++;
      if (Date.now() >= end) {
        lat.sort((a, b) => a - b);
        console.log(lat[lat.length >> 1]);
        s.end();
        return;
      }
      const until = process.hrtime.bigint() + BigInt(extraUs * 1000);
      while (process.hrtime.bigint() < until);
      send();
    });
    send();
  });`;

function cpuTicks(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function bridge(port) {
  return fetch(`http://127.0.0.1:${port}/__bridge`).then((r) => r.json());
}

async function measure(busyPoll, extra) {
  const server = spawn(process.execPath, ['-e', SERVER, String(busyPoll)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  try {
    const before = await bridge(port);
    const cpu0 = cpuTicks(server.pid);
    const p50 = await new Promise((resolve, reject) =>
      execFile(process.execPath, ['-e', CLIENT, String(port), String(extra), String(seconds * 1000)], (err, out) =>
        err ? reject(err) : resolve(Number(out.trim())),
      ),
    );
    const ticks = cpuTicks(server.pid) - cpu0;
    const after = await bridge(port);
    const d = (k) => after[k] - before[k];
    const hz = 100; // USER_HZ on Linux
    return {
      busyPoll,
      extra,
      p50: p50.toFixed(0),
      polled: `${((100 * d('polled')) / d('calls')).toFixed(1)}%`,
      waited: d('waited'),
      requests: d('requests'),
      cpuUsPerRequest: ((ticks * 1e6) / hz / d('requests')).toFixed(1),
    };
  } finally {
    server.kill();
  }
}

(async () => {
  console.log('busyPoll µs  client +µs  p50 µs  batches polled  waits / requests  server CPU µs/req');
  for (const busyPoll of polls.split(',').map(Number)) {
    for (const extra of extras.split(',').map(Number)) {
      const r = await measure(busyPoll, extra);
      console.log(
        `${String(r.busyPoll).padStart(11)}  ${String(r.extra).padStart(9)}  ${r.p50.padStart(6)}  ${r.polled.padStart(14)}  ` +
          `${`${r.waited} / ${r.requests}`.padStart(16)}  ${r.cpuUsPerRequest.padStart(17)}`,
      );
    }
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
