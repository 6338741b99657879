'use strict';
// Protocol hardening (issue 3), the load side: handlerTimeout, maxInFlight, maxPipelined, a client
// that never reads, req.signal, server.close({ timeout }), and a Rust panic reported through
// server.on('error'). Servers whose memory is measured, or whose environment must differ, run in
// a child process.
const { test, describe } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const { once, EventEmitter } = require('node:events');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { start, serve, buildRequest, chunked, RawClient, sleep, withTimeout, waitUntil, assertStillServes } = require('./helpers');

const T = { timeout: 30000 };
const ROOT = path.join(__dirname, '..');

function show(buf) {
  return JSON.stringify(buf.toString('latin1').slice(0, 200));
}

// ---------------------------------------------------------------------------------------------
// A server in a child process. The child prints one JSON object per line on stdout; the first is
// { event: 'listening', port }. SIGUSR2 makes it close the server (and print { event: 'closed' });
// it must then exit by itself.
function spawnServer(body, { env = {}, listen = '{ port: 0 }' } = {}) {
  const script = `
    'use strict';
    const { createApp } = require(${JSON.stringify(ROOT)});
    const emit = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
    (async () => {
      const app = createApp();
      ${body}
      const server = await app.listen(${listen});
      if (typeof server.on === 'function') {
        server.on('error', (err) => emit({ event: 'error', isError: err instanceof Error, message: String(err && err.message) }));
      }
      emit({ event: 'listening', port: server.port, pid: process.pid, emitter: typeof server.on === 'function' });
      process.on('SIGUSR2', () => {
        server.close({ timeout: 2000 }).then(() => emit({ event: 'closed' }), (e) => emit({ event: 'close-failed', message: String(e) }));
      });
    })().catch((e) => { console.error(e); process.exit(2); });`;
  const child = spawn(process.execPath, ['-e', script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events = [];
  const waiters = new Set();
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
    let nl;
    while ((nl = stdout.indexOf('\n')) !== -1) {
      const line = stdout.slice(0, nl);
      stdout = stdout.slice(nl + 1);
      try {
        events.push(JSON.parse(line));
      } catch {
        events.push({ event: 'raw', line });
      }
      for (const w of [...waiters]) w();
    }
  });
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let exitInfo = null;
  exited.then((e) => {
    exitInfo = e;
    for (const w of [...waiters]) w();
  });
  const handle = {
    child,
    events,
    exited,
    get stderr() {
      return stderr;
    },
    waitEvent(pred, timeout = 10000, what = 'an event') {
      return new Promise((resolve, reject) => {
        const check = () => {
          const e = events.find(pred);
          if (e) {
            done();
            resolve(e);
          } else if (exitInfo) {
            done();
            reject(new Error(`child exited (${JSON.stringify(exitInfo)}) before ${what}; stderr: ${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out after ${timeout} ms waiting for ${what}; events ${JSON.stringify(events)}; stderr: ${stderr}`));
        }, timeout);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    kill() {
      if (exitInfo === null) child.kill('SIGKILL');
    },
  };
  return handle;
}

function rssKiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

// The highest RSS the server reaches over `ms`, read every `everyMs` (at least `before`).
async function peakRssKiB(pid, before, ms, everyMs) {
  let peak = before;
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await sleep(everyMs);
    const now = rssKiB(pid);
    if (now !== null && now > peak) peak = now;
  }
  return peak;
}

// Sends `request` `times` times on one connection and reads every answer (of `bodyLength`
// bytes), so the server's buffers and allocator reach their working size; returns the server's
// RSS after a short settle.
async function warmUp(port, pid, request, times, bodyLength) {
  const warm = await RawClient.connect(port);
  for (let i = 0; i < times; i++) {
    await warm.write(request);
    assert.equal((await warm.readResponse({ timeout: 10000 })).body.length, bodyLength);
  }
  warm.destroy();
  await sleep(300);
  return rssKiB(pid);
}

// A plain socket that is never read: paused, no 'data' listener.
async function neverReadingSocket(t, port) {
  const sock = net.connect({ port, host: '127.0.0.1' });
  t.after(() => sock.destroy());
  sock.on('error', () => {});
  await withTimeout(once(sock, 'connect'), 5000, 'connect');
  sock.pause();
  return sock;
}

// ---------------------------------------------------------------------------------------------
describe('handlerTimeout', () => {
  test('a handler that never answers gets 503 from Rust; the connection then serves the next request', T, async (t) => {
    const s = await serve(
      t,
      (app) => {
        app.get('/', (req, res) => res.send('ok'));
        app.get('/hang', () => {});
      },
      { appOptions: { handlerTimeout: 200 } },
    );
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/hang'));
      const res = await c.readResponse({ timeout: 8000 });
      assert.equal(res.status, 503);
      assert.ok(!c.isClosedByPeer, 'the connection stays open');
      await c.write(buildRequest('GET', '/'));
      const next = await c.readResponse();
      assert.equal(next.status, 200);
      assert.equal(next.text, 'ok');
      // Pipelined behind a hanging request, a fast one is answered after its 503, in order.
      await c.write(Buffer.concat([buildRequest('GET', '/hang'), buildRequest('GET', '/')]));
      const [a, b] = await c.readResponses(2, { timeout: 8000 });
      assert.equal(a.status, 503);
      assert.equal(b.status, 200);
      assert.equal(b.text, 'ok');
    } finally {
      c.destroy();
    }
  });

  test('the late answer is dropped: no second response, req.signal aborted, res.send does not throw', T, async (t) => {
    const rec = {};
    const s = await serve(
      t,
      (app) => {
        app.get('/', (req, res) => res.send('ok'));
        app.get('/late', (req, res) => {
          rec.started = true;
          rec.abortedAtStart = req.signal.aborted;
          req.signal.addEventListener('abort', () => {
            rec.abortEvent = true;
          });
          setTimeout(() => {
            rec.aborted = req.signal.aborted;
            try {
              res.send('late answer');
              rec.threw = false;
            } catch (err) {
              rec.threw = err;
            }
            rec.done = true;
          }, 400);
        });
      },
      { listenOptions: { handlerTimeout: 200 } },
    );
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/late'));
      const res = await c.readResponse({ timeout: 8000 });
      assert.equal(res.status, 503);
      await c.write(buildRequest('GET', '/'));
      const next = await c.readResponse();
      assert.equal(next.status, 200);
      assert.equal(next.text, 'ok');
      await waitUntil(() => rec.done, { timeout: 5000, what: 'the late handler to finish' });
      await sleep(200);
      assert.equal(c.leftover.length, 0, `the late answer reached the client: ${show(c.leftover)}`);
      assert.equal(rec.abortedAtStart, false);
      assert.equal(rec.aborted, true, 'req.signal.aborted after the handler timed out');
      assert.equal(rec.abortEvent, true, "req.signal fired 'abort'");
      assert.equal(rec.threw, false, `res.send after the timeout threw: ${rec.threw}`);
      // The connection is still in order after the dropped answer.
      await c.write(buildRequest('GET', '/'));
      assert.equal((await c.readResponse()).text, 'ok');
    } finally {
      c.destroy();
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('maxInFlight', () => {
  test('maxInFlight 2: a third concurrent request gets 503 with Retry-After and never reaches JS', T, async (t) => {
    let calls = 0;
    let release;
    const gate = new Promise((r) => (release = r));
    const s = await serve(
      t,
      (app) => {
        app.get('/wait', async (req, res) => {
          calls += 1;
          await gate;
          res.send('done');
        });
      },
      { appOptions: { maxInFlight: 2 } },
    );
    const clients = await Promise.all([1, 2, 3, 4].map(() => RawClient.connect(s.port)));
    t.after(() => clients.forEach((c) => c.destroy()));
    try {
      await clients[0].write(buildRequest('GET', '/wait'));
      await clients[1].write(buildRequest('GET', '/wait'));
      await waitUntil(() => calls === 2, { what: 'two handlers running' });
      await clients[2].write(buildRequest('GET', '/wait'));
      const shed = await clients[2].readResponse({ timeout: 8000 });
      assert.equal(shed.status, 503);
      assert.ok(shed.headers['retry-after'] !== undefined, `retry-after header: ${JSON.stringify(shed.headers)}`);
      assert.match(shed.headers['retry-after'], /^\d+$/);
      await sleep(100);
      assert.equal(calls, 2, 'the JS handler ran exactly twice');
    } finally {
      release();
    }
    const [a, b] = await Promise.all([clients[0].readResponse(), clients[1].readResponse()]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(calls, 2);
    // Once they are answered there is room again.
    await clients[3].write(buildRequest('GET', '/wait'));
    assert.equal((await clients[3].readResponse()).status, 200);
    assert.equal(calls, 3);
  });
});

describe('maxInFlight, continued', () => {
  test('requests over maxInFlight pipelined on one connection are answered 503 in their place, in order', T, async (t) => {
    let calls = 0;
    let release;
    const gate = new Promise((r) => (release = r));
    const s = await serve(
      t,
      (app) => {
        app.get('/wait/:i', async (req, res) => {
          calls += 1;
          await gate;
          res.send(req.params.i);
        });
      },
      { appOptions: { maxInFlight: 2, maxPipelined: 8 } },
    );
    const c = await RawClient.connect(s.port);
    t.after(() => c.destroy());
    await c.write(Buffer.concat([0, 1, 2].map((i) => buildRequest('GET', `/wait/${i}`))));
    await waitUntil(() => calls === 2, { what: 'two handlers running' });
    await sleep(100);
    release();
    const [a, b, d] = await c.readResponses(3, { timeout: 8000 });
    assert.deepEqual([a.status, a.text, b.status, b.text], [200, '0', 200, '1']);
    assert.equal(d.status, 503);
    assert.ok(d.headers['retry-after'] !== undefined, 'retry-after');
    assert.equal(calls, 2);
  });

  test('a handler that timed out, or whose client left, does not hold its maxInFlight slot forever', T, async (t) => {
    let hung = 0;
    const s = await serve(
      t,
      (app) => {
        app.get('/hang', () => {
          hung += 1;
        });
        app.get('/ok', (req, res) => res.send('ok'));
      },
      { appOptions: { maxInFlight: 2, handlerTimeout: 200 } },
    );
    // Two handlers that never answer: both get 503 from the handler timeout.
    for (let i = 0; i < 2; i++) {
      const c = await RawClient.connect(s.port);
      try {
        await c.write(buildRequest('GET', '/hang'));
        assert.equal((await c.readResponse({ timeout: 8000 })).status, 503);
      } finally {
        c.destroy();
      }
    }
    // Two more whose clients leave while they run.
    for (let i = 0; i < 2; i++) {
      const c = await RawClient.connect(s.port);
      await c.write(buildRequest('GET', '/hang'));
      await waitUntil(() => hung === 3 + i, { what: 'the handler to start' });
      c.destroy();
    }
    await sleep(500);
    assert.equal(hung, 4);
    // None of the four ever answers, yet there is room for new requests.
    for (let i = 0; i < 3; i++) {
      const c = await RawClient.connect(s.port);
      try {
        await c.write(buildRequest('GET', '/ok'));
        const res = await c.readResponse({ timeout: 5000 });
        assert.equal(res.status, 200, `request ${i} after the abandoned handlers`);
      } finally {
        c.destroy();
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('maxPipelined', () => {
  async function pipelineRun(t, listenOptions, n, limit) {
    let inFlight = 0;
    let maxInFlight = 0;
    const s = await serve(
      t,
      (app) => {
        app.get('/n/:i', async (req, res) => {
          inFlight += 1;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await sleep(Number(req.params.i) % 3);
          inFlight -= 1;
          res.send(req.params.i);
        });
      },
      { listenOptions },
    );
    const c = await RawClient.connect(s.port);
    try {
      const reqs = [];
      for (let i = 0; i < n; i++) reqs.push(i % 10 === 9 ? buildRequest('GET', `/missing/${i}`) : buildRequest('GET', `/n/${i}`));
      await c.write(Buffer.concat(reqs));
      const responses = await c.readResponses(n, { timeout: 15000 });
      responses.forEach((res, i) => {
        if (i % 10 === 9) {
          assert.equal(res.status, 404, `response ${i}`);
        } else {
          assert.equal(res.status, 200, `response ${i}`);
          assert.equal(res.text, String(i), `response ${i} in request order`);
        }
      });
      assert.ok(maxInFlight <= limit, `at most ${limit} requests of one connection in JS at once, saw ${maxInFlight}`);
    } finally {
      c.destroy();
    }
  }

  test('maxPipelined 4: 200 pipelined requests on one socket are all answered in order, at most 4 at a time', T, async (t) => {
    await pipelineRun(t, { maxPipelined: 4 }, 200, 4);
  });

  test('default maxPipelined (64): 300 pipelined requests all answered in order, at most 64 at a time', T, async (t) => {
    await pipelineRun(t, {}, 300, 64);
  });
});

// ---------------------------------------------------------------------------------------------
describe('a client that never reads', () => {
  const BIG = 256 * 1024;
  const GROWTH_BOUND_KIB = 150 * 1024; // unbounded buffering would need ~375 MB below

  test('pipelining 1500 requests for 256 KiB responses without reading: server RSS stays bounded and it keeps serving', { timeout: 60000 }, async (t) => {
    const srv = spawnServer(`
      const big = Buffer.alloc(${BIG}, 0x62);
      app.get('/', (req, res) => res.send('ok'));
      app.get('/big', (req, res) => res.send(big));`);
    t.after(() => srv.kill());
    const { port, pid } = await srv.waitEvent((e) => e.event === 'listening', 15000, 'listening');
    const haveProc = rssKiB(pid) !== null;

    // Warm-up: the same responses, read, so buffers and the allocator reach their working size.
    const before = await warmUp(port, pid, buildRequest('GET', '/big'), 20, BIG);

    // The greedy client.
    const sock = await neverReadingSocket(t, port);
    const reqs = [];
    for (let i = 0; i < 1500; i++) reqs.push(buildRequest('GET', '/big'));
    sock.write(Buffer.concat(reqs));

    const peak = await peakRssKiB(pid, before, 4000, 200);

    await assertStillServes(port);
    sock.destroy();

    if (haveProc) {
      t.diagnostic(`server RSS before ${before} KiB, peak ${peak} KiB, growth ${peak - before} KiB`);
      assert.ok(peak - before < GROWTH_BOUND_KIB, `server RSS grew by ${peak - before} KiB (bound ${GROWTH_BOUND_KIB} KiB)`);
    } else {
      t.diagnostic('/proc is not available: RSS not measured');
    }
    srv.child.kill('SIGUSR2');
    await srv.waitEvent((e) => e.event === 'closed', 15000, 'closed');
    const exit = await withTimeout(srv.exited, 15000, 'child exit');
    assert.deepEqual(exit, { code: 0, signal: null }, srv.stderr);
  });

  test('with maxPipelined 4, a client that never reads makes the server produce only a bounded number of 1 MiB responses', { timeout: 60000 }, async (t) => {
    const MIB = 1024 * 1024;
    const srv = spawnServer(`
      const big = Buffer.alloc(${MIB}, 0x62);
      let calls = 0;
      app.get('/', (req, res) => res.send('ok'));
      app.get('/count', (req, res) => res.json({ calls }));
      app.get('/b', (req, res) => { calls += 1; res.send(big); });`, { listen: '{ port: 0, maxPipelined: 4 }' });
    t.after(() => srv.kill());
    const { port, pid } = await srv.waitEvent((e) => e.event === 'listening', 15000, 'listening');
    const count = async () => {
      const c = await RawClient.connect(port);
      try {
        await c.write(buildRequest('GET', '/count'));
        return (await c.readResponse({ timeout: 5000 })).json().calls;
      } finally {
        c.destroy();
      }
    };
    const before = await warmUp(port, pid, buildRequest('GET', '/b'), 8, MIB);
    const callsBefore = await count();

    const sock = await neverReadingSocket(t, port);
    // 28-byte requests: one 4 KiB read holds ~146 of them, ~146 MiB of answers.
    sock.write(Buffer.from('GET /b HTTP/1.1\r\nHost:x\r\n\r\n'.repeat(1000)));
    const peak = await peakRssKiB(pid, before, 3000, 200);
    const produced = (await count()) - callsBefore;
    sock.destroy();
    // 4 parsed ahead, plus what the socket buffers of both ends hold (a few MiB on loopback).
    t.diagnostic(`responses produced for the non-reading client: ${produced}; RSS before ${before} KiB, peak ${peak} KiB`);
    assert.ok(produced >= 4, `the server did start answering (${produced})`);
    assert.ok(produced <= 48, `the server produced ${produced} MiB-sized responses for a client that reads nothing`);
    if (before !== null) {
      assert.ok(peak - before < 96 * 1024, `server RSS grew by ${peak - before} KiB`);
    }
  });

  test('pipelined requests Rust answers itself (a 1 MiB app.static body) from clients that never read: RSS stays bounded', { timeout: 60000 }, async (t) => {
    const MIB = 1024 * 1024;
    const srv = spawnServer(`
      app.static('/big', Buffer.alloc(${MIB}, 0x61));
      app.get('/', (req, res) => res.send('ok'));`);
    t.after(() => srv.kill());
    const { port, pid } = await srv.waitEvent((e) => e.event === 'listening', 15000, 'listening');
    const before = await warmUp(port, pid, buildRequest('GET', '/big'), 8, MIB);
    // 4 KiB of requests per connection: 146 answers of 1 MiB each, were they all serialized.
    const requests = Buffer.from('GET /big HTTP/1.1\r\nHost:x\r\n\r\n'.repeat(146));
    for (let i = 0; i < 4; i++) (await neverReadingSocket(t, port)).write(requests);
    const peak = await peakRssKiB(pid, before, 2000, 200);
    await assertStillServes(port);
    t.diagnostic(`RSS before ${before} KiB, peak ${peak} KiB`);
    // Shared bodies and at most ~64 KiB owed per connection: a few MiB at most. All 584
    // answers serialized would be 584 MiB.
    if (before !== null) assert.ok(peak - before < 48 * 1024, `server RSS grew by ${peak - before} KiB`);
  });

  test('behind a slow JS request, pipelined cache hits for a client that never reads stay bounded', { timeout: 60000 }, async (t) => {
    const BODY = 64 * 1024;
    const srv = spawnServer(`
      const body = Buffer.alloc(${BODY}, 0x63);
      app.get('/c', (req, res) => res.ncache(body, 600));
      app.get('/slow', async (req, res) => { await new Promise((r) => setTimeout(r, 1500)); res.send('slow'); });`,
    // Few answers before the slow one is done, so they fit in the socket buffers and the server
    // goes on to the requests it read meanwhile.
    { listen: '{ port: 0, maxPipelined: 4 }' });
    t.after(() => srv.kill());
    const { port, pid } = await srv.waitEvent((e) => e.event === 'listening', 15000, 'listening');
    const before = await warmUp(port, pid, buildRequest('GET', '/c'), 8, BODY);
    // One slow request, then 64 KiB of cache hits (~2,300 of them, 145 MiB of answers).
    const hits = Buffer.from('GET /c HTTP/1.1\r\nHost:x\r\n\r\n'.repeat(2300));
    for (let i = 0; i < 2; i++) (await neverReadingSocket(t, port)).write(Buffer.concat([buildRequest('GET', '/slow'), hits]));
    const peak = await peakRssKiB(pid, before, 3000, 200);
    t.diagnostic(`RSS before ${before} KiB, peak ${peak} KiB`);
    if (before !== null) assert.ok(peak - before < 48 * 1024, `server RSS grew by ${peak - before} KiB`);
  });

  test('a client that stops reading its response is disconnected once a write makes no progress for requestTimeout', { timeout: 30000 }, async (t) => {
    const BIG = 8 << 20;
    const s = await start(
      (app) => {
        const big = Buffer.alloc(BIG, 0x61);
        app.get('/big', (req, res) => res.send(big));
        app.get('/', (req, res) => res.send('ok'));
      },
      { appOptions: { requestTimeout: 300 } },
    );
    t.after(() => withTimeout(s.server.close({ timeout: 200 }), 10000, 'close'));
    const sock = net.connect({ port: s.port, host: '127.0.0.1' });
    t.after(() => sock.destroy());
    sock.on('error', () => {});
    await withTimeout(once(sock, 'connect'), 5000, 'connect');
    sock.pause(); // never read (a paused socket emits no 'end' either, so ask the server)
    sock.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil(() => s.server.stats().connections.total === 1, { what: 'the connection to be accepted' });
    await waitUntil(() => s.server.stats().connections.open === 0, {
      timeout: 10000,
      what: 'the server to drop the connection that stopped reading',
    });
    // What the client can still read is a truncated response, then the end.
    let received = 0;
    sock.on('data', (d) => (received += d.length));
    sock.resume();
    await withTimeout(once(sock, 'close'), 10000, 'the client to see the close');
    assert.ok(received < BIG, `received ${received} bytes: the whole response was never buffered for it`);
    // Others are still served.
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/'));
      assert.equal((await c.readResponse()).text, 'ok');
    } finally {
      c.destroy();
    }
  });

  test('a client that pipelines 256 KiB uploads and never reads: the server stops reading it, RSS stays bounded', { timeout: 60000 }, async (t) => {
    const srv = spawnServer(`
      app.get('/', (req, res) => res.send('ok'));
      app.post('/echo', (req, res) => res.send(req.body));`, { listen: '{ port: 0, bodyLimit: 1048576 }' });
    t.after(() => srv.kill());
    const { port, pid } = await srv.waitEvent((e) => e.event === 'listening', 15000, 'listening');
    const haveProc = rssKiB(pid) !== null;
    const upload = buildRequest('POST', '/echo', {
      headers: [['Content-Type', 'application/octet-stream']],
      body: Buffer.alloc(BIG, 0x75),
    });
    const before = await warmUp(port, pid, upload, 20, BIG);

    const sock = await neverReadingSocket(t, port);
    // Write uploads while the socket accepts them; stop when a write has not drained for 2 s (the
    // server stopped reading) or after 1500 uploads (~375 MB), whichever comes first.
    let written = 0;
    let stalled = false;
    let peak = before;
    const until = Date.now() + 20000;
    while (written < 1500 && Date.now() < until) {
      written += 1;
      if (!sock.write(upload)) {
        const drained = await Promise.race([once(sock, 'drain').then(() => true), sleep(2000).then(() => false)]);
        const now = rssKiB(pid);
        if (now !== null && now > peak) peak = now;
        if (!drained) {
          stalled = true;
          break;
        }
      }
    }
    t.diagnostic(`uploads written before the server stopped reading: ${written} (stalled: ${stalled})`);
    assert.ok(stalled, `the server kept reading ${written} uploads (${(written * BIG) >> 20} MiB) from a client that reads nothing`);
    const now = rssKiB(pid);
    if (now !== null && now > peak) peak = now;

    await assertStillServes(port);
    sock.destroy();
    if (haveProc) {
      t.diagnostic(`server RSS before ${before} KiB, peak ${peak} KiB, growth ${peak - before} KiB`);
      assert.ok(peak - before < GROWTH_BOUND_KIB, `server RSS grew by ${peak - before} KiB (bound ${GROWTH_BOUND_KIB} KiB)`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('maxInFlightBytes', () => {
  const BODY = 100 * 1000;

  async function holdingServer(t, budget) {
    const held = [];
    const s = await serve(
      t,
      (app) => {
        app.post('/hold', { bodyLimit: 10 * BODY }, (req, res) => held.push({ res, length: req.body.length }));
      },
      { listenOptions: { maxInFlightBytes: budget } },
    );
    return { s, held };
  }

  async function fiveUploads(t, s, request) {
    const clients = [];
    t.after(() => clients.forEach((c) => c.destroy()));
    for (let i = 0; i < 5; i++) {
      const c = await RawClient.connect(s.port);
      clients.push(c);
      await c.write(request);
    }
    return clients;
  }

  test('bodies of known length past the budget wait unread until JS answers; stats.bodies reports them', T, async (t) => {
    const { s, held } = await holdingServer(t, 3 * BODY);
    const clients = await fiveUploads(t, s, buildRequest('POST', '/hold', { body: Buffer.alloc(BODY, 0x61) }));
    // Three bodies fit; two connections wait for room before reading theirs.
    const stats = await waitUntil(() => {
      const now = s.server.stats();
      return held.length === 3 && now.bodies.waiting === 2 ? now : undefined;
    }, { what: 'three requests in JS and two waiting for the budget' });
    assert.equal(stats.bodies.bytes, 3 * BODY);
    await answerAll(s, held, clients);
  });

  test('chunked bodies past the budget wait too; what the server holds stays within the budget plus one body', T, async (t) => {
    const { s, held } = await holdingServer(t, 3 * BODY);
    const body = Buffer.alloc(BODY, 0x61);
    const pieces = Array.from({ length: 10 }, (_, i) => body.subarray((i * BODY) / 10, ((i + 1) * BODY) / 10));
    const clients = await fiveUploads(t, s, buildRequest('POST', '/hold', { headers: { 'Transfer-Encoding': 'chunked' }, body: chunked(pieces) }));
    const stats = await waitUntil(() => {
      const now = s.server.stats();
      return held.length >= 1 && now.bodies.waiting >= 1 ? now : undefined;
    }, { what: 'a request in JS and connections waiting for the budget' });
    assert.ok(held.length < 5, `${held.length} requests reached JS`);
    assert.ok(stats.bodies.bytes <= 4 * BODY + 64 * 1024, `bodies.bytes ${stats.bodies.bytes}`);
    await answerAll(s, held, clients);
  });

  // Answers held requests as they arrive: each answer makes room for the next body, and every
  // request is served, in full; then nothing is held any more.
  async function answerAll(s, held, clients) {
    for (let answered = 0; answered < 5; answered++) {
      await waitUntil(() => held.length > 0, { what: `request ${answered + 1} in JS` });
      const { res, length } = held.shift();
      res.send(String(length));
    }
    const answers = await Promise.all(clients.map((c) => c.readResponse({ timeout: 10000 })));
    assert.deepEqual(answers.map((r) => r.text), Array(5).fill(String(BODY)));
    await waitUntil(() => s.server.stats().bodies.bytes === 0, { what: 'every reservation given back' });
  }

  test('one body larger than the whole budget is still served, alone', T, async (t) => {
    const { s, held } = await holdingServer(t, BODY / 2);
    const c = await RawClient.connect(s.port);
    t.after(() => c.destroy());
    await c.write(buildRequest('POST', '/hold', { body: Buffer.alloc(BODY, 0x62) }));
    await waitUntil(() => held.length === 1, { what: 'the request in JS' });
    held[0].res.send(String(held[0].length));
    assert.equal((await c.readResponse()).text, String(BODY));
  });

  test('a client that leaves while it waits for the budget gives nothing back twice and blocks no one', T, async (t) => {
    const { s, held } = await holdingServer(t, BODY);
    const first = await RawClient.connect(s.port);
    const quitter = await RawClient.connect(s.port);
    const third = await RawClient.connect(s.port);
    t.after(() => [first, quitter, third].forEach((c) => c.destroy()));
    const request = buildRequest('POST', '/hold', { body: Buffer.alloc(BODY, 0x63) });
    await first.write(request);
    await waitUntil(() => held.length === 1, { what: 'the first request in JS' });
    // Only its head: a request whose body was sent whole before the reset would still be read.
    await quitter.write(request.subarray(0, request.indexOf('\r\n\r\n') + 4));
    await waitUntil(() => s.server.stats().bodies.waiting === 1, { what: 'the second waiting' });
    quitter.socket.resetAndDestroy();
    await third.write(request);
    held.shift().res.send('1');
    assert.equal((await first.readResponse()).text, '1');
    await waitUntil(() => held.length === 1, { what: 'the third request in JS' });
    held.shift().res.send('3');
    assert.equal((await third.readResponse()).text, '3');
    await waitUntil(() => {
      const b = s.server.stats().bodies;
      return b.bytes === 0 && b.waiting === 0;
    }, { what: 'nothing held, nobody waiting' });
  });

  test('with the JS thread blocked, 100 uploads of 1 MiB hold about the budget, not their sum', { timeout: 60000 }, async (t) => {
    const MIB = 1024 * 1024;
    const srv = spawnServer(`
      app.get('/block', (req, res) => { const end = Date.now() + 3000; while (Date.now() < end); res.send('unblocked'); });
      app.post('/up', (req, res) => res.send(String(req.body.length)));`, { listen: `{ port: 0, maxInFlightBytes: ${8 * MIB} }` });
    t.after(() => srv.kill());
    const { port, pid } = await srv.waitEvent((e) => e.event === 'listening', 15000, 'listening');
    const upload = buildRequest('POST', '/up', { body: Buffer.alloc(MIB, 0x64), headers: { 'content-type': 'application/octet-stream' } });
    const before = await warmUp(port, pid, upload, 8, String(MIB).length);
    const blocker = await RawClient.connect(port);
    t.after(() => blocker.destroy());
    await blocker.write(buildRequest('GET', '/block'));
    await sleep(100);
    const clients = [];
    t.after(() => clients.forEach((c) => c.destroy()));
    for (let i = 0; i < 100; i++) {
      const c = await RawClient.connect(port);
      clients.push(c);
      c.write(upload);
    }
    const peak = await peakRssKiB(pid, before, 2000, 100);
    t.diagnostic(`RSS before ${before} KiB, peak while blocked ${peak} KiB`);
    // 8 MiB held twice at most (buffer and batch), plus what read ahead of it: far from 100 MiB.
    if (before !== null) assert.ok(peak - before < 48 * 1024, `server RSS grew by ${peak - before} KiB`);
    const answers = await Promise.all(clients.map((c) => c.readResponse({ timeout: 30000 })));
    assert.deepEqual([...new Set(answers.map((r) => r.text))], [String(MIB)]);
  });
});

// ---------------------------------------------------------------------------------------------
describe('req.signal', () => {
  test('fires when the client resets the connection while its handler runs; a later res.send is a no-op', T, async (t) => {
    const rec = {};
    const s = await serve(t, (app) => {
      app.get('/', (req, res) => {
        rec.normal = { isSignal: req.signal instanceof AbortSignal, aborted: req.signal.aborted };
        res.send('ok');
      });
      app.get('/watch', async (req, res) => {
        rec.started = true;
        rec.isSignal = req.signal instanceof AbortSignal;
        rec.abortedAtStart = req.signal.aborted;
        rec.outcome = await Promise.race([
          once(req.signal, 'abort').then(() => 'abort'),
          sleep(5000).then(() => 'timeout'),
        ]);
        rec.aborted = req.signal.aborted;
        try {
          res.send('too late');
          rec.threw = false;
        } catch (err) {
          rec.threw = err;
        }
        rec.done = true;
      });
    });
    const normal = await RawClient.connect(s.port);
    await normal.write(buildRequest('GET', '/'));
    assert.equal((await normal.readResponse()).text, 'ok');
    normal.destroy();
    assert.deepEqual(rec.normal, { isSignal: true, aborted: false });

    const c = await RawClient.connect(s.port);
    await c.write(buildRequest('GET', '/watch'));
    await waitUntil(() => rec.started, { what: 'the handler to start' });
    // A reset: a FIN alone is a half-close, still answered (half-close.test.js).
    c.socket.resetAndDestroy();
    await waitUntil(() => rec.done, { timeout: 8000, what: 'the handler to finish' });
    assert.equal(rec.isSignal, true, 'req.signal is an AbortSignal');
    assert.equal(rec.abortedAtStart, false);
    assert.equal(rec.outcome, 'abort', "req.signal fired 'abort' when the client left");
    assert.equal(rec.aborted, true);
    assert.equal(rec.threw, false, `res.send after the disconnect threw: ${rec.threw}`);

    // The server is unharmed.
    const after = await RawClient.connect(s.port);
    try {
      await after.write(buildRequest('GET', '/'));
      assert.equal((await after.readResponse()).text, 'ok');
    } finally {
      after.destroy();
    }
  });

  test('a client that resets with several requests in flight aborts each of them', T, async (t) => {
    const aborted = new Set();
    let started = 0;
    const s = await serve(t, (app) => {
      app.get('/watch/:i', async (req, res) => {
        started += 1;
        await Promise.race([once(req.signal, 'abort'), sleep(5000)]);
        if (req.signal.aborted) aborted.add(req.params.i);
        res.send('x');
      });
    });
    const c = await RawClient.connect(s.port);
    await c.write(Buffer.concat([0, 1, 2].map((i) => buildRequest('GET', `/watch/${i}`))));
    await waitUntil(() => started === 3, { what: 'three handlers running' });
    c.socket.resetAndDestroy();
    await waitUntil(() => aborted.size === 3, { timeout: 8000, what: `all three aborted (got ${[...aborted]})` });
  });
});

// ---------------------------------------------------------------------------------------------
describe('server.close({ timeout })', () => {
  function connectOutcome(port) {
    return new Promise((resolve) => {
      const sock = net.connect({ port, host: '127.0.0.1' });
      let got = '';
      const finish = (v) => {
        sock.destroy();
        resolve(v);
      };
      sock.setTimeout(3000, () => finish(`hung${got ? ' after ' + JSON.stringify(got) : ''}`));
      sock.on('data', (d) => (got += d));
      sock.once('connect', () => sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      sock.once('error', (e) => finish(e.code));
      sock.once('end', () => finish(got ? `answered ${JSON.stringify(got.slice(0, 40))}` : 'closed'));
    });
  }

  test('stops accepting at once, closes idle keep-alive, answers in-flight with connection: close, resolves', T, async (t) => {
    let slowStarted = false;
    const s = await start((app) => {
      app.get('/', (req, res) => res.send('ok'));
      app.get('/slow', async (req, res) => {
        slowStarted = true;
        await sleep(1500);
        res.send('slow done');
      });
    });
    t.after(() => s.close());
    const idle = await RawClient.connect(s.port);
    const busy = await RawClient.connect(s.port);
    t.after(() => {
      idle.destroy();
      busy.destroy();
    });
    await idle.write(buildRequest('GET', '/'));
    assert.equal((await idle.readResponse()).status, 200);
    await busy.write(buildRequest('GET', '/slow'));
    await waitUntil(() => slowStarted, { what: 'the slow handler to start' });

    let resolved = false;
    const closing = s.server.close({ timeout: 5000 }).then(() => {
      resolved = true;
    });
    // New connections are refused while the in-flight request is still running (within a
    // moment: the listener is closed by the server thread). None is ever answered.
    const refusedBy = Date.now() + 1000;
    for (;;) {
      const outcome = await connectOutcome(s.port);
      if (outcome === 'ECONNREFUSED') break;
      assert.ok(!outcome.startsWith('answered') && !outcome.startsWith('hung'), `a new connection during close(): ${outcome}`);
      assert.ok(Date.now() < refusedBy, `new connections still accepted 1 s after close(): ${outcome}`);
      await sleep(20);
    }
    assert.equal(resolved, false, 'close() waits for the in-flight request');
    // The idle keep-alive connection is closed without a response.
    await idle.waitForClose(3000);
    assert.equal(idle.leftover.length, 0, `idle connection got ${show(idle.leftover)}`);
    // The in-flight request gets its answer, marked connection: close, and then the close.
    const res = await busy.readResponse({ timeout: 5000 });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'slow done');
    assert.equal(res.headers.connection, 'close');
    await busy.waitForClose(3000);
    await withTimeout(closing, 8000, 'close() to resolve');
    assert.equal(resolved, true);
  });

  test('force-closes what is left after the timeout, then resolves', T, async (t) => {
    let started = false;
    const s = await start((app) => {
      app.get('/hang', () => {
        started = true;
      });
    });
    t.after(() => s.close());
    const c = await RawClient.connect(s.port);
    t.after(() => c.destroy());
    await c.write(buildRequest('GET', '/hang'));
    await waitUntil(() => started, { what: 'the handler to start' });
    const t0 = Date.now();
    await withTimeout(s.server.close({ timeout: 300 }), 8000, 'close({ timeout: 300 })');
    await c.waitForClose(3000);
    t.diagnostic(`close resolved after ${Date.now() - t0} ms`);
  });
});

// ---------------------------------------------------------------------------------------------
describe('Rust panics', () => {
  test('the server is an EventEmitter', T, async (t) => {
    const s = await serve(t, (app) => app.get('/', (req, res) => res.send('ok')));
    assert.ok(s.server instanceof EventEmitter, 'server instanceof EventEmitter');
  });

  test("a panic on the server thread is reported through server.on('error') and the server keeps serving", { timeout: 60000 }, async (t) => {
    const srv = spawnServer(`app.get('/', (req, res) => res.send('ok'));`, {
      env: { HTTP_NATIVE_TEST_PANIC_PATH: '/__panic' },
    });
    t.after(() => srv.kill());
    const { port, emitter } = await srv.waitEvent((e) => e.event === 'listening', 15000, 'listening');
    assert.equal(emitter, true, 'server.on is a function');

    // The panicking request: the connection closes with no response, or with a 500.
    const c = await RawClient.connect(port);
    try {
      await c.write(buildRequest('GET', '/__panic'));
      await c.waitForClose(8000);
      if (c.leftover.length > 0) {
        const res = await c.readResponse();
        assert.equal(res.status, 500, `answer to the panicking request: ${show(c.leftover)}`);
      }
    } finally {
      c.destroy();
    }
    const err = await srv.waitEvent((e) => e.event === 'error', 10000, "server.on('error')");
    assert.equal(err.isError, true, `reported as an Error: ${JSON.stringify(err)}`);

    // The next request on a new connection is served, twice over (the accept loop survived).
    for (let i = 0; i < 2; i++) await assertStillServes(port);
    // A panic does not leave a connection counted open, or close from exiting.
    srv.child.kill('SIGUSR2');
    await srv.waitEvent((e) => e.event === 'closed', 15000, 'closed');
    const exit = await withTimeout(srv.exited, 15000, 'the child to exit by itself');
    assert.deepEqual(exit, { code: 0, signal: null }, srv.stderr);
    assert.doesNotMatch(srv.stderr, /Uncaught|FATAL|Abort/i);
  });

  test('without the test hook, /__panic is an ordinary path', T, async (t) => {
    // The hook is read at listen time only from the environment; it must not be on by default.
    assert.equal(process.env.HTTP_NATIVE_TEST_PANIC_PATH, undefined);
    const s = await serve(t, (app) => app.get('/__panic', (req, res) => res.send('fine')));
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/__panic'));
      assert.equal((await c.readResponse()).text, 'fine');
    } finally {
      c.destroy();
    }
  });
});
