'use strict';
// wrk as a second load generator for bench/run.js (BENCH_CLIENT=wrk or both). autocannon is
// what users measure with, but it is JavaScript: on a 2-core machine it saturates its core
// before the fastest servers do. wrk costs a fraction of the CPU per request, so its figures
// show the server rather than the client.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { available, runClient } = require('./native-client');

function wrkAvailable() {
  return available('wrk');
}

// Lua strings: JSON's escapes (\" \\ \n) mean the same in Lua for the ASCII bodies used here.
function luaString(s) {
  if (/[^\x20-\x7e]/.test(s)) throw new Error('wrk bodies must be printable ASCII');
  return JSON.stringify(s);
}

// One request repeated `pipelining` times per write; wrk counts the responses one by one.
function script(route, pipelining) {
  const lines = [`wrk.method = ${luaString(route.method)}`];
  if (route.body !== undefined) lines.push(`wrk.body = ${luaString(route.body)}`);
  for (const [name, value] of Object.entries(route.headers || {})) {
    lines.push(`wrk.headers[${luaString(name)}] = ${luaString(value)}`);
  }
  if (pipelining > 1) {
    lines.push(
      'init = function(args)',
      '  local r = {}',
      `  for i = 1, ${pipelining} do r[i] = wrk.format() end`,
      '  req = table.concat(r)',
      'end',
      'request = function() return req end',
    );
  }
  return `${lines.join('\n')}\n`;
}

function toMs(value, unit) {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60000 : n;
}

function parse(output) {
  const num = (re) => {
    const m = re.exec(output);
    return m ? Number(m[1]) : 0;
  };
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(output);
    // wrk's histogram breaks with pipelining: high percentiles print as 0. Unknown, not zero.
    const ms = m ? Number(toMs(m[1], m[2]).toFixed(3)) : 0;
    return ms > 0 ? ms : null;
  };
  const done = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(output);
  if (!done) throw new Error(`unexpected wrk output:\n${output}`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    requests: Number(done[1]),
    durationSeconds: toMs(done[2], done[3]) / 1000,
    p50: pct(50),
    p99: pct(99),
    errors: socket ? Number(socket[1]) + Number(socket[2]) + Number(socket[3]) : 0,
    timeouts: socket ? Number(socket[4]) : 0,
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
  };
}

// Runs wrk (one thread by default: on two cores the server needs the other one; the cores rows give
// it `threads` and pin it to `cpus`, a taskset list); its CPU time comes back as clientCpuTicks.
async function runWrk({ port, route, connections, pipelining, seconds, threads = 1, cpus }) {
  const file = path.join(os.tmpdir(), `http-native-bench-${process.pid}.lua`);
  fs.writeFileSync(file, script(route, pipelining));
  const url = `http://127.0.0.1:${port}${route.path}`;
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', '-s', file, url];
  let run;
  try {
    // taskset execs wrk, so the CPU time runClient reads is still wrk's.
    run = await (cpus ? runClient('taskset', ['-c', cpus, 'wrk', ...args], seconds) : runClient('wrk', args, seconds));
  } finally {
    fs.rmSync(file, { force: true });
  }
  if (run.code !== 0) throw new Error(`wrk exited with ${run.code}: ${run.stderr.trim()}`);
  return { ...parse(run.stdout), clientCpuTicks: run.cpuTicks };
}

module.exports = { runWrk, wrkAvailable, parse, script };
