#!/usr/bin/env node
'use strict';
// Soak test (issue 3, not part of CI). Spawns an http-native server in a child process, opens
// 10,000 concurrent keep-alive connections to it over loopback, then sends a few million pipelined
// requests (a JS route, a POST echo, a res.ncache() route, an app.static() route, a 404) mixed with
// bad traffic (malformed heads, smuggling attempts, oversize heads/targets/bodies, bad chunking,
// slowloris partial heads and aborted bodies that the client drops, clients that leave while their
// handler runs). It measures the server's RSS after warm-up and at the end (after every connection
// closed and a settle), counts every unexpected answer, and prints a summary JSON.
//
//   ulimit -n 65536 && node bench/soak.js
//
// Options (environment): SOAK_CONNECTIONS (10000), SOAK_REQUESTS (4000000), SOAK_SECONDS (150,
// the load phase's time bound), SOAK_ACTIVE (1000 connections with a batch in flight at once),
// SOAK_BATCH (16 pipelined requests per batch), SOAK_DRIVER ('auto' or 'legacy').
// Node built-ins only. Every loop is bounded in count and time; the script stops by itself.
// Exit code: 0 when there were no errors and the final RSS is within 10% of the warm-up RSS.

const net = require('node:net');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.join(__dirname, '..');

if (process.argv[2] === '--server') {
  runServer().catch((err) => {
    console.error(err);
    process.exit(2);
  });
  return;
}

// ---------------------------------------------------------------------------------------------
// The server (child process).

async function runServer() {
  const { createApp } = require(ROOT);
  // Idle keep-alive connections must outlive the gaps between their batches.
  const app = createApp({ keepAliveTimeout: 60000, ...(process.env.SOAK_APP_OPTIONS ? JSON.parse(process.env.SOAK_APP_OPTIONS) : {}) });
  let secret = 0;
  let serverErrors = 0;
  let server;
  app.get('/js/:id', (req, res) => res.json({ id: req.params.id, x: req.query.x }));
  app.post('/echo', (req, res) => res.send(req.body));
  app.get('/cached/:k', (req, res) => res.ncache({ k: req.params.k, at: Date.now() }, 300));
  app.static('/static', 'static body\n', { type: 'text' });
  app.get('/slow', async (req, res) => {
    await new Promise((r) => setTimeout(r, 200));
    res.send('slow');
  });
  app.all('/secret', (req, res) => {
    secret += 1;
    res.send('secret');
  });
  app.get('/__stats', (req, res) =>
    res.json({ stats: server.stats(), memory: process.memoryUsage(), secret, serverErrors }),
  );
  // Diagnostics only (the parent starts us with --expose-gc): what a full GC gives back, to tell
  // JS garbage that was simply not collected yet from memory that is really held.
  app.get('/__gc', (req, res) => {
    if (typeof global.gc === 'function') global.gc();
    res.json({ memory: process.memoryUsage(), gc: typeof global.gc === 'function' });
  });
  const driver = process.env.SOAK_DRIVER || 'auto';
  server = await app.listen({ port: 0, host: '127.0.0.1', driver });
  if (typeof server.on === 'function') {
    server.on('error', (err) => {
      serverErrors += 1;
      console.log(JSON.stringify({ event: 'error', message: String(err && err.message) }));
    });
  }
  console.log(JSON.stringify({ event: 'listening', port: server.port, pid: process.pid, driver: server.driver }));
  process.on('SIGUSR2', () => {
    server.close({ timeout: 5000 }).then(
      () => console.log(JSON.stringify({ event: 'closed' })),
      (err) => console.log(JSON.stringify({ event: 'close-failed', message: String(err) })),
    );
  });
  // A safety net if the parent died without stopping us (unref'd: it never keeps us alive).
  setTimeout(() => process.exit(3), 10 * 60 * 1000).unref();
}

// ---------------------------------------------------------------------------------------------
// The client (parent process).

const env = (name, def) => {
  const v = process.env[name];
  const n = v === undefined || v === '' ? def : Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${v}`);
  return n;
};
const CONFIG = {
  connections: env('SOAK_CONNECTIONS', 10000),
  maxRequests: env('SOAK_REQUESTS', 4000000),
  loadSeconds: env('SOAK_SECONDS', 150),
  active: env('SOAK_ACTIVE', 1000),
  batch: env('SOAK_BATCH', 16),
  warmupSeconds: 10,
  badConcurrency: 32,
  maxBad: 40000,
  batchTimeoutMs: 15000,
  // How long to let the idle server give memory back (V8 collects its old generation lazily,
  // and its memory reducer runs only once allocation has stopped for a while).
  settleMs: env('SOAK_SETTLE', 30000),
  connectConcurrency: 256,
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CRLFCRLF = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = Buffer.from('content-length: ');

const summary = {
  config: CONFIG,
  driver: null,
  durationSeconds: 0,
  phases: {},
  connections: { opened: 0, connectErrors: 0, emfile: false, closedByServerUnexpectedly: 0 },
  requests: { sent: 0, answered: 0, byStatus: {}, unexpected: 0, shed503: 0, batchTimeouts: 0, socketErrors: 0 },
  bad: {},
  rssKiB: { baseline: null, afterConnect: null, afterWarmup: null, peak: null, end: null, endAfterFullGc: null },
  // [seconds since start, server RSS KiB, requests answered] every 5 s of load.
  rssTimeline: [],
  server: { errorsReported: 0, secretHits: null, stats: null, exitCode: null },
  errors: [],
  pass: false,
};

// Distinct error messages (first 50) with how often each was seen.
const errorCounts = new Map();
function noteError(msg) {
  if (errorCounts.has(msg)) errorCounts.set(msg, errorCounts.get(msg) + 1);
  else if (errorCounts.size < 50) errorCounts.set(msg, 1);
  summary.errors = [...errorCounts].map(([message, count]) => ({ message, count }));
}

function rssKiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function openFileLimit() {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return m ? (m[1] === 'unlimited' ? Infinity : Number(m[1])) : null;
  } catch {
    return null;
  }
}

// Request mix of one batch: [bytes, { head, status }] per request.
function buildBatches(n) {
  const templates = [];
  for (let t = 0; t < 8; t++) {
    const parts = [];
    const expect = [];
    for (let i = 0; i < n; i++) {
      const k = (t * n + i) % 16;
      let req;
      let exp = { head: false, status: 200 };
      if (k < 4) req = `GET /js/${t * 100 + i}?x=${k} HTTP/1.1\r\nHost: soak\r\nUser-Agent: soak\r\n\r\n`;
      else if (k < 9) req = `GET /cached/${(t * 7 + i) % 100} HTTP/1.1\r\nHost: soak\r\n\r\n`;
      else if (k < 12) req = 'GET /static HTTP/1.1\r\nHost: soak\r\nAccept: */*\r\n\r\n';
      else if (k === 12) {
        req = 'HEAD /static HTTP/1.1\r\nHost: soak\r\n\r\n';
        exp = { head: true, status: 200 };
      } else if (k === 13) req = 'POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world';
      else if (k === 14) req = 'POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n';
      else {
        req = `GET /missing/${i} HTTP/1.1\r\nHost: soak\r\n\r\n`;
        exp = { head: false, status: 404 };
      }
      parts.push(Buffer.from(req, 'latin1'));
      expect.push(exp);
    }
    templates.push({ bytes: Buffer.concat(parts), expect });
  }
  return templates;
}

// One keep-alive connection that runs pipelined batches and parses the answers just enough to
// count them (status line, content-length).
class Conn {
  constructor(sock) {
    this.sock = sock;
    this.buf = null;
    this.expect = null;
    this.idx = 0;
    this.done = null;
    this.dead = false;
    this.closing = false;
    sock.setNoDelay(true);
    sock.on('data', (d) => this.onData(d));
    sock.on('error', (err) => {
      if (!this.closing) {
        summary.requests.socketErrors += 1;
        noteError(`socket error on a keep-alive connection: ${err.code || err.message}`);
      }
    });
    sock.on('close', () => {
      this.dead = true;
      if (!this.closing) summary.connections.closedByServerUnexpectedly += 1;
      this.finish(new Error('connection closed'));
    });
  }

  run(template) {
    if (this.dead) return Promise.reject(new Error('connection is closed'));
    return new Promise((resolve, reject) => {
      this.expect = template.expect;
      this.idx = 0;
      this.done = { resolve, reject };
      summary.requests.sent += template.expect.length;
      this.sock.write(template.bytes);
    });
  }

  finish(err) {
    const d = this.done;
    if (d === null) return;
    this.done = null;
    this.expect = null;
    if (err) d.reject(err);
    else d.resolve();
  }

  onData(chunk) {
    let buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
    let off = 0;
    while (this.expect !== null && this.idx < this.expect.length) {
      const headEnd = buf.indexOf(CRLFCRLF, off);
      if (headEnd === -1) break;
      const status = (buf[off + 9] - 48) * 100 + (buf[off + 10] - 48) * 10 + (buf[off + 11] - 48);
      const exp = this.expect[this.idx];
      let len = 0;
      if (!exp.head && status >= 200 && status !== 204 && status !== 304) {
        const cl = buf.indexOf(CONTENT_LENGTH, off);
        if (cl === -1 || cl > headEnd) {
          noteError(`response without content-length: ${JSON.stringify(buf.subarray(off, headEnd).toString('latin1').slice(0, 200))}`);
          this.sock.destroy();
          return;
        }
        for (let i = cl + CONTENT_LENGTH.length; buf[i] >= 48 && buf[i] <= 57; i++) len = len * 10 + buf[i] - 48;
      }
      const end = headEnd + 4 + len;
      if (buf.length < end) break;
      summary.requests.answered += 1;
      summary.requests.byStatus[status] = (summary.requests.byStatus[status] || 0) + 1;
      if (status !== exp.status) {
        if (status === 503) summary.requests.shed503 += 1;
        else {
          summary.requests.unexpected += 1;
          noteError(`expected ${exp.status}, got ${status}: ${JSON.stringify(buf.subarray(off, Math.min(end, off + 200)).toString('latin1'))}`);
        }
      }
      off = end;
      this.idx += 1;
    }
    this.buf = off < buf.length ? buf.subarray(off) : null;
    if (this.expect === null && this.buf !== null && !this.closing) {
      noteError(`unsolicited bytes: ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`);
      this.buf = null;
    }
    if (this.expect !== null && this.idx === this.expect.length) this.finish(null);
  }

  // Asks the server to close (Connection: close), so the TIME_WAIT lands on the server side.
  closeGracefully(timeoutMs) {
    this.closing = true;
    if (this.dead) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sock.destroy();
        resolve();
      }, timeoutMs);
      this.sock.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.sock.write('GET /static HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n');
    });
  }
}

function connect(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
    }, 10000);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      resolve(sock);
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

// Bad traffic: each case uses a fresh connection. `status` is the answer expected before the
// server closes; null means the client drops the connection itself and expects nothing.
const BAD_CASES = [
  { kind: 'malformed-header', status: 400, bytes: 'GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n' },
  { kind: 'cl-te-smuggle', status: 400, bytes: 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /secret HTTP/1.1\r\nHost: x\r\n\r\n' },
  { kind: 'bad-content-length', status: 400, bytes: 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhelloGET /secret HTTP/1.1\r\nHost: x\r\n\r\n' },
  { kind: 'bad-version', status: 505, bytes: 'GET / HTTP/2.0\r\nHost: x\r\n\r\n' },
  { kind: 'no-host', status: 400, bytes: 'GET / HTTP/1.1\r\n\r\n' },
  { kind: 'oversize-head', status: 431, bytes: `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20000)}\r\n\r\n` },
  { kind: 'oversize-target', status: 414, bytes: `GET /${'u'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n` },
  { kind: 'oversize-body', status: 413, bytes: 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n' },
  { kind: 'bad-chunk', status: 400, bytes: 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n' },
  { kind: 'slowloris-dropped', status: null, bytes: 'GET /js/1 HTTP/1.1\r\nHost: x\r\nX-Slow: ', dropAfterMs: 50 },
  { kind: 'aborted-body', status: null, bytes: `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n${'a'.repeat(100)}`, dropAfterMs: 20 },
  { kind: 'left-during-handler', status: null, bytes: 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n', dropAfterMs: 30 },
].map((c) => ({ ...c, bytes: Buffer.from(c.bytes, 'latin1') }));

function runBad(port, c) {
  const stat = (summary.bad[c.kind] ||= { sent: 0, ok: 0, unexpected: 0 });
  stat.sent += 1;
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let got = Buffer.alloc(0);
    let settled = false;
    const finish = (ok, why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (ok) stat.ok += 1;
      else {
        stat.unexpected += 1;
        noteError(`bad case ${c.kind}: ${why}`);
      }
      resolve();
    };
    const timer = setTimeout(() => finish(false, `no answer and no close within 5 s; got ${JSON.stringify(got.toString('latin1').slice(0, 100))}`), 5000);
    sock.on('data', (d) => {
      got = Buffer.concat([got, d]);
    });
    sock.on('error', (err) => {
      if (c.status === null) return;
      // A reset after the answer arrived is fine; before it, it is not.
      if (got.length === 0) finish(false, `socket error before any answer: ${err.code}`);
    });
    sock.on('close', () => {
      if (c.status === null) return finish(true);
      const text = got.toString('latin1');
      const status = Number(text.slice(9, 12));
      const responses = (text.match(/^HTTP\/1\.1 \d{3}/gm) || []).length;
      if (status !== c.status) finish(false, `expected ${c.status}, got ${JSON.stringify(text.slice(0, 100))}`);
      else if (responses !== 1) finish(false, `expected exactly one response, got ${responses}`);
      else finish(true);
    });
    sock.once('connect', () => {
      sock.write(c.bytes);
      if (c.status === null) setTimeout(() => finish(true), c.dropAfterMs);
    });
  });
}

async function getStats(port, path = '/__stats') {
  const sock = await connect(port);
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('stats request timed out'));
    }, 10000);
    sock.on('data', (d) => {
      got += d;
      const i = got.indexOf('\r\n\r\n');
      const m = /content-length: (\d+)/.exec(got);
      if (i !== -1 && m && got.length >= i + 4 + Number(m[1])) {
        clearTimeout(timer);
        sock.destroy();
        resolve(JSON.parse(got.slice(i + 4, i + 4 + Number(m[1]))));
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.write(`GET ${path} HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n`);
  });
}

function startChild() {
  const child = spawn(process.execPath, ['--expose-gc', __filename, '--server'], {
    cwd: ROOT,
    env: process.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const events = [];
  let pending = '';
  let onEvent = () => {};
  child.stdout.on('data', (d) => {
    pending += d;
    let nl;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let e;
      try {
        e = JSON.parse(line);
      } catch {
        e = { event: 'raw', line };
      }
      if (e.event === 'error') summary.server.errorsReported += 1;
      events.push(e);
      onEvent();
    }
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const waitFor = (name, ms) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server child: no '${name}' within ${ms} ms`)), ms);
      const check = () => {
        const e = events.find((x) => x.event === name);
        if (e) {
          clearTimeout(timer);
          onEvent = () => {};
          resolve(e);
        }
      };
      onEvent = check;
      check();
      exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`server child exited before '${name}'`));
      });
    });
  return { child, exited, waitFor };
}

const T0 = Date.now();

async function main() {
  const t0 = T0;
  const limit = openFileLimit();
  const needed = CONFIG.connections + CONFIG.badConcurrency + 200;
  if (limit !== null && limit < needed) {
    console.error(
      `soak: the open-file limit is ${limit}, but ${CONFIG.connections} connections need about ${needed} ` +
        'descriptors in each of the client and the server. Raise it first: ulimit -n 65536',
    );
    process.exit(2);
  }

  const srv = startChild();
  const killChild = () => srv.child.kill('SIGKILL');
  process.on('exit', killChild);
  process.on('SIGINT', () => process.exit(130));
  const { port, pid, driver } = await srv.waitFor('listening', 20000);
  summary.driver = driver;
  const rss = () => {
    const v = rssKiB(pid);
    if (v !== null && (summary.rssKiB.peak === null || v > summary.rssKiB.peak)) summary.rssKiB.peak = v;
    return v;
  };
  summary.rssKiB.baseline = rss();

  // Phase 1: open the connections, a bounded number connecting at once.
  let phase = Date.now();
  const conns = [];
  let next = 0;
  let emfile = false;
  await Promise.all(
    Array.from({ length: CONFIG.connectConcurrency }, async () => {
      while (!emfile && next < CONFIG.connections) {
        next += 1;
        try {
          conns.push(new Conn(await connect(port)));
          summary.connections.opened += 1;
        } catch (err) {
          summary.connections.connectErrors += 1;
          if (err.code === 'EMFILE' || err.code === 'ENFILE') emfile = true;
          else noteError(`connect: ${err.code || err.message}`);
        }
      }
    }),
  );
  if (emfile) {
    summary.connections.emfile = true;
    console.error(`soak: EMFILE after ${conns.length} connections: raise the open-file limit (ulimit -n 65536) and run again`);
  }
  // Every connection is served once: they are all real, accepted connections.
  const templates = buildBatches(CONFIG.batch);
  const once1 = { bytes: Buffer.from('GET /static HTTP/1.1\r\nHost: soak\r\n\r\n'), expect: [{ head: false, status: 200 }] };
  await runAll(conns, () => once1, conns.length, 60000);
  summary.phases.connectSeconds = (Date.now() - phase) / 1000;
  summary.rssKiB.afterConnect = rss();
  console.error(`soak: ${conns.length} connections open and served once (${summary.phases.connectSeconds} s), server RSS ${summary.rssKiB.afterConnect} KiB`);

  // Phase 2: warm-up load, then the RSS reference.
  phase = Date.now();
  await load(port, conns, templates, { seconds: CONFIG.warmupSeconds, requests: Infinity, bad: true });
  summary.phases.warmupSeconds = (Date.now() - phase) / 1000;
  summary.phases.shed503DuringConnectAndWarmup = summary.requests.shed503;
  await sleep(1000);
  summary.rssKiB.afterWarmup = rss();
  summary.serverMemory = { afterWarmup: await getStats(port).then((s) => s.memory, (e) => String(e)) };
  console.error(`soak: warm-up done, ${summary.requests.answered} answers, server RSS ${summary.rssKiB.afterWarmup} KiB`);

  // Phase 3: the load.
  phase = Date.now();
  const sentBefore = summary.requests.sent;
  await load(port, conns, templates, { seconds: CONFIG.loadSeconds, requests: CONFIG.maxRequests, bad: true, rss });
  summary.phases.loadSeconds = (Date.now() - phase) / 1000;
  summary.phases.loadRequests = summary.requests.sent - sentBefore;
  summary.phases.loadRequestsPerSecond = Math.round(summary.phases.loadRequests / summary.phases.loadSeconds);
  console.error(`soak: load done, ${summary.phases.loadRequests} requests in ${summary.phases.loadSeconds} s`);

  // Phase 4: close every connection (server side first), settle, measure.
  phase = Date.now();
  for (let i = 0; i < conns.length; i += 500) {
    await Promise.all(conns.slice(i, i + 500).map((c) => c.closeGracefully(5000)));
  }
  // RSS every 5 s while the idle server settles, until it is back within 10% or time is up.
  summary.rssSettle = [];
  for (let waited = 0; waited < CONFIG.settleMs; waited += 5000) {
    await sleep(5000);
    const now = rss();
    summary.rssSettle.push([(waited + 5000) / 1000, now]);
    if (now <= summary.rssKiB.afterWarmup * 1.1) break;
  }
  try {
    const st = await getStats(port);
    summary.server.stats = st.stats;
    summary.server.secretHits = st.secret;
    if (st.secret !== 0) noteError(`a smuggled request reached /secret ${st.secret} times`);
    if (st.stats.connections.open > 1) noteError(`server still counts ${st.stats.connections.open} open connections`);
  } catch (err) {
    noteError(`stats: ${err.message}`);
  }
  await sleep(500);
  summary.rssKiB.end = rss();
  summary.serverMemory.end = await getStats(port).then((s) => s.memory, (e) => String(e));
  // Not part of the pass criterion: RSS once the server's JS garbage is collected.
  summary.serverMemory.afterFullGc = await getStats(port, '/__gc').then((s) => s.memory, (e) => String(e));
  await sleep(500);
  summary.rssKiB.endAfterFullGc = rssKiB(pid);
  summary.phases.closeSeconds = (Date.now() - phase) / 1000;

  srv.child.kill('SIGUSR2');
  await Promise.race([srv.waitFor('closed', 20000).catch((e) => noteError(e.message)), sleep(20000)]);
  const exit = await Promise.race([srv.exited, sleep(15000).then(() => null)]);
  summary.server.exitCode = exit ? exit.code : 'still running after close (killed)';
  if (!exit || exit.code !== 0) noteError(`server child did not exit cleanly: ${JSON.stringify(exit)}`);

  summary.durationSeconds = (Date.now() - t0) / 1000;
  const badUnexpected = Object.values(summary.bad).reduce((n, b) => n + b.unexpected, 0);
  const errorCount =
    summary.requests.unexpected +
    summary.requests.batchTimeouts +
    summary.requests.socketErrors +
    summary.connections.closedByServerUnexpectedly +
    summary.server.errorsReported +
    badUnexpected +
    (summary.server.secretHits || 0) +
    (summary.connections.emfile ? 1 : 0);
  const { afterWarmup, end } = summary.rssKiB;
  summary.rssEndOverWarmup = afterWarmup && end ? Math.round((end / afterWarmup) * 1000) / 1000 : null;
  summary.rssWithin10Percent = summary.rssEndOverWarmup === null ? null : summary.rssEndOverWarmup <= 1.1;
  summary.errorCount = errorCount;
  summary.pass = errorCount === 0 && summary.rssWithin10Percent !== false && summary.errors.length === 0;
  console.log(JSON.stringify(summary, null, 2));
  process.removeListener('exit', killChild);
  process.exitCode = summary.pass ? 0 : 1;
}

// Runs `count` batches over the connections, at most `active` at once; each batch has a timeout.
async function runAll(conns, pick, count, timeoutMs) {
  if (conns.length === 0) return;
  let i = 0;
  const worker = async () => {
    while (i < count) {
      const c = conns[i % conns.length];
      const tpl = pick(i);
      i += 1;
      await batch(c, tpl, timeoutMs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONFIG.active, count) }, worker));
}

async function batch(c, tpl, timeoutMs) {
  if (c.dead) return;
  let timer;
  try {
    await Promise.race([
      c.run(tpl),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('batch timed out'), { timeout: true })), timeoutMs);
      }),
    ]);
  } catch (err) {
    if (err.timeout) {
      summary.requests.batchTimeouts += 1;
      noteError(`a batch was not answered within ${timeoutMs} ms`);
      c.closing = true;
      c.sock.destroy();
    }
  } finally {
    clearTimeout(timer);
  }
}

// Good batches round-robin over every connection (so all 10,000 stay in use) with CONFIG.active
// in flight, plus CONFIG.badConcurrency loops of bad traffic, until the time or request bound.
async function load(port, conns, templates, { seconds, requests, bad, rss }) {
  const deadline = Date.now() + seconds * 1000;
  const startSent = summary.requests.sent;
  let stop = false;
  const over = () => stop || Date.now() >= deadline || summary.requests.sent - startSent >= requests;
  let cursor = 0;
  const good = async () => {
    let skipped = 0;
    while (!over()) {
      const c = conns[cursor % conns.length];
      cursor += 1;
      if (c.dead || c.done !== null) {
        // Busy or gone: try the next one, but never spin through the whole list without yielding.
        if (++skipped >= conns.length) {
          skipped = 0;
          await sleep(10);
        }
        continue;
      }
      skipped = 0;
      await batch(c, templates[cursor % templates.length], CONFIG.batchTimeoutMs);
    }
  };
  let badCount = 0;
  const badLoop = async (n) => {
    while (!over() && badCount < CONFIG.maxBad) {
      badCount += 1;
      await runBad(port, BAD_CASES[(badCount + n) % BAD_CASES.length]);
    }
  };
  const sampler = async () => {
    let n = 0;
    while (!over()) {
      await sleep(1000);
      if (rss) {
        const v = rss();
        if (++n % 5 === 0) summary.rssTimeline.push([Math.round((Date.now() - T0) / 1000), v, summary.requests.answered]);
      }
    }
  };
  const live = conns.filter((c) => !c.dead).length;
  if (live === 0) noteError('no live connection left for the load phase');
  await Promise.all([
    ...Array.from({ length: Math.min(CONFIG.active, live) }, good),
    ...(bad ? Array.from({ length: CONFIG.badConcurrency }, (_, n) => badLoop(n)) : []),
    sampler(),
  ]);
  stop = true;
}

main().catch((err) => {
  console.error('soak failed:', err);
  summary.errors.push(String(err && err.stack));
  console.log(JSON.stringify(summary, null, 2));
  process.exit(1);
});
