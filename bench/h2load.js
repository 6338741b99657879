'use strict';
// h2load (Debian nghttp2-client) as the load generator of the TLS rows (bench/tls.js): a native,
// multi-connection client for HTTP/1.1 (`--h1`, over TLS or TCP) and HTTP/2 (ALPN h2 over TLS,
// prior knowledge h2c over TCP), so TLS on the client side is C, not the JavaScript a Node client
// would spend per record. Its output is checked for the protocol it negotiated and for failures.

const { spawnSync } = require('node:child_process');
const { runClient } = require('./native-client');

function h2loadVersion() {
  const probe = spawnSync('h2load', ['--version'], { encoding: 'utf8' });
  if (probe.error) return undefined;
  const m = /h2load (\S+)/.exec(probe.stdout);
  return m ? m[1] : 'unknown';
}

function parse(output) {
  const num = (re) => {
    const m = re.exec(output);
    return m ? Number(m[1]) : null;
  };
  const done = /finished in ([\d.]+)(ms|s),/.exec(output);
  const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(output);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output);
  if (!done || !requests || !codes) throw new Error(`unexpected h2load output:\n${output}`);
  const text = (re) => {
    const m = re.exec(output);
    return m ? m[1].trim() : null;
  };
  return {
    durationSeconds: done[2] === 'ms' ? Number(done[1]) / 1000 : Number(done[1]),
    started: Number(requests[2]),
    requests: Number(requests[4]),
    failed: Number(requests[5]),
    errored: Number(requests[6]),
    timeouts: Number(requests[7]),
    non2xx: Number(codes[2]) + Number(codes[3]) + Number(codes[4]),
    dataBytes: num(/traffic: .*?\((\d+)\) data/),
    meanRequestMs: meanMs(output),
    protocol: text(/^Application protocol: (.+)$/m),
    tls: text(/^TLS Protocol: (.+)$/m),
    cipher: text(/^Cipher: (.+)$/m),
    keyExchange: text(/^Server Temp Key: (.+)$/m),
  };
}

// The mean of "time for request", in ms.
function meanMs(output) {
  const m = /time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/.exec(output);
  if (!m) return null;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

/**
 * One timed h2load run. Resolves with the parsed figures and clientCpuTicks; rejects when h2load
 * fails, or negotiates another protocol than `h1` asks for (an h2-only server answers nothing to
 * --h1: h2load then reports 0 requests and no error).
 * @param {{ url: string, h1: boolean, connections: number, streams: number, threads: number, seconds: number }} o
 *   streams: requests in flight per connection (HTTP/2 streams; HTTP/1.1 pipelining depth)
 */
async function runH2load({ url, h1, connections, streams, threads, seconds }) {
  const args = [`-c${connections}`, `-m${streams}`, `-t${threads}`, `-D${seconds}`, ...(h1 ? ['--h1'] : []), url];
  const run = await runClient('h2load', args, seconds);
  if (run.code !== 0) throw new Error(`h2load exited with ${run.code}: ${(run.stderr || run.stdout).trim().split('\n').slice(-3).join(' / ')}`);
  const result = parse(run.stdout);
  const want = h1 ? 'http/1.1' : url.startsWith('https:') ? 'h2' : 'h2c';
  if (result.protocol !== want) {
    throw new Error(`h2load negotiated ${result.protocol === null ? 'no protocol' : result.protocol}, not ${want}`);
  }
  return { ...result, clientCpuTicks: run.cpuTicks };
}

module.exports = { runH2load, h2loadVersion, parse };
