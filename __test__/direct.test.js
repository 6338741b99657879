'use strict';
// A lone request (nothing else in flight on the server, nothing else owed on its connection) is
// answered from the JS thread: respond() writes it to the socket itself instead of waking the
// server thread (src/direct.rs). The server thread takes such an offer back before it reads,
// writes or closes that socket. These tests drive every way that hand-over can end: the answer
// written whole, written in part with the rest left to the server thread, taken back because the
// client sent more or a handler timed out, and the client leaving while JS is about to write.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { execFile } = require('node:child_process');
const { start, buildRequest, parseResponse, RawClient, sleep, waitUntil } = require('./helpers');

const T = { timeout: 30000 };

function direct(s) {
  return s.server.stats().bridge.direct;
}

describe('answers written by the JS thread', () => {
  let s;
  before(async () => {
    s = await start(
      (app) => {
        app.get('/id/:id', (req, res) => res.json({ id: req.params.id }));
        app.get('/slow/:ms', async (req, res) => {
          await sleep(Number(req.params.ms));
          res.send(`slow ${req.params.ms}`);
        });
        app.get('/none', (req, res) => res.status(204).end());
        app.get('/big/:kb', (req, res) => res.send('b'.repeat(Number(req.params.kb) * 1024)));
        app.get('/fill/:i', (req, res) => res.send(String.fromCharCode(97 + (Number(req.params.i) % 26)).repeat(60 * 1024)));
        app.get('/bye', (req, res) => res.set('Connection', 'close').send('bye'));
      },
      { appOptions: { handlerTimeout: 300 } },
    );
  });
  after(() => s.close());

  test('lone requests are answered from the JS thread, byte for byte as the server thread would', T, async () => {
    const before = direct(s);
    const c = await RawClient.connect(s.port);
    try {
      for (let i = 0; i < 20; i++) {
        await c.write(buildRequest('GET', `/id/${i}`));
        const res = await c.readResponse();
        assert.equal(res.status, 200);
        assert.deepEqual(res.json(), { id: String(i) });
        assert.equal(res.headers['content-length'], String(res.body.length));
        assert.equal(res.headers.connection, undefined);
        assert.ok(res.headers.date);
      }
      await c.write(buildRequest('HEAD', '/id/h'));
      const head = await c.readResponse({ head: true });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], String(JSON.stringify({ id: 'h' }).length));
      await c.write(buildRequest('GET', '/none'));
      const none = await c.readResponse();
      assert.equal(none.status, 204);
      assert.equal(none.headers['content-length'], undefined);
      // A HEAD answer's body was never written: nothing is left over after these.
      await c.write(buildRequest('GET', '/id/last'));
      assert.deepEqual((await c.readResponse()).json(), { id: 'last' });
      assert.equal(c.leftover.length, 0);
    } finally {
      c.destroy();
    }
    assert.equal(direct(s) - before, 23, 'every one of them went out from the JS thread');
  });

  test('an HTTP/1.0 keep-alive client is told the connection stays open', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      const before = direct(s);
      await c.write(buildRequest('GET', '/id/10', { version: '1.0', headers: [['Connection', 'keep-alive']] }));
      const res = await c.readResponse();
      assert.equal(res.headers.connection, 'keep-alive');
      assert.equal(direct(s) - before, 1);
      await c.write(buildRequest('GET', '/id/11', { version: '1.0', headers: [['Connection', 'keep-alive']] }));
      assert.deepEqual((await c.readResponse()).json(), { id: '11' });
    } finally {
      c.destroy();
    }
  });

  test('answers that close the connection, and large ones, go through the server thread', T, async () => {
    const before = direct(s);
    const c = await RawClient.connect(s.port);
    await c.write(buildRequest('GET', '/big/100'));
    const big = await c.readResponse();
    assert.equal(big.body.length, 100 * 1024);
    await c.write(buildRequest('GET', '/bye'));
    const bye = await c.readResponse();
    assert.equal(bye.headers.connection, 'close');
    await c.waitForClose();
    assert.equal(direct(s) - before, 0);
  });

  test('a request sent while the lone one waits on JS takes the offer back; answers stay in order', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/slow/150'));
      await sleep(50);
      await c.write(buildRequest('GET', '/id/after'));
      const [first, second] = await c.readResponses(2);
      assert.equal(first.text, 'slow 150');
      assert.deepEqual(second.json(), { id: 'after' });
      // The connection is lone again afterwards.
      const before = direct(s);
      await c.write(buildRequest('GET', '/id/again'));
      assert.deepEqual((await c.readResponse()).json(), { id: 'again' });
      assert.equal(direct(s) - before, 1);
    } finally {
      c.destroy();
    }
  });

  test('a handler that times out on an offered request gets a 503 and its late answer is dropped', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/slow/600'));
      const res = await c.readResponse();
      assert.equal(res.status, 503);
      await sleep(500); // the late answer comes and must not reach the wire
      await c.write(buildRequest('GET', '/id/next'));
      const next = await c.readResponse();
      assert.deepEqual(next.json(), { id: 'next' });
      assert.equal(c.leftover.length, 0);
    } finally {
      c.destroy();
    }
  });

  test('a client that stops reading gets every answer, whole and in order, once it reads again', T, async () => {
    // Each answer is lone, so JS writes it until the socket is full; from then on JS sends what
    // fits and hands the rest to the server thread, which waits for the reader.
    const before = direct(s);
    const socket = net.connect(s.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.pause();
    const n = 150;
    for (let i = 0; i < n; i++) {
      socket.write(buildRequest('GET', `/fill/${i}`));
      await sleep(5);
    }
    let buf = Buffer.alloc(0);
    const responses = [];
    const all = new Promise((resolve, reject) => {
      socket.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        for (let r; (r = parseResponse(buf)); buf = buf.subarray(r.consumed)) responses.push(r.response);
        if (responses.length >= n) resolve();
      });
      socket.on('error', reject);
      socket.on('close', () => reject(new Error(`closed after ${responses.length} responses`)));
    });
    socket.resume();
    await all;
    responses.forEach((res, i) => {
      assert.equal(res.status, 200);
      assert.equal(res.body.length, 60 * 1024);
      const expected = 97 + (i % 26);
      assert.ok(res.body.every((b) => b === expected), `response ${i} is its own`);
    });
    assert.equal(buf.length, 0);
    socket.destroy();
    assert.ok(direct(s) - before > 0, 'some answers went out from the JS thread');
  });

  test('clients leaving just as JS writes never get another connection its answer', T, async () => {
    // A client that closes right after its request makes the server close that socket while JS
    // may be about to write to it; the next connection then often gets the same descriptor.
    for (let i = 0; i < 150; i++) {
      const quitter = net.connect(s.port, '127.0.0.1');
      await new Promise((resolve) => quitter.once('connect', resolve));
      quitter.on('error', () => {});
      quitter.end(buildRequest('GET', `/slow/${i % 3}`));
      if (i % 2 === 0) await sleep(i % 4);
      const c = await RawClient.connect(s.port);
      try {
        await c.write(buildRequest('GET', `/id/${i}`));
        assert.deepEqual((await c.readResponse()).json(), { id: String(i) });
        await sleep(3);
        assert.equal(c.leftover.length, 0, 'nothing meant for another client arrived');
      } finally {
        c.destroy();
        quitter.destroy();
      }
    }
    await waitUntil(() => s.server.stats().connections.open === 0, { what: 'every connection to close' });
  });
});

describe('offers at shutdown', () => {
  test('close() during a lone request still answers it, with Connection: close', T, async () => {
    const s = await start((app) => {
      app.get('/slow', async (req, res) => {
        await sleep(200);
        res.send('done');
      });
    });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/slow'));
      await sleep(50);
      const closed = s.close();
      const res = await c.readResponse();
      assert.equal(res.text, 'done');
      assert.equal(res.headers.connection, 'close');
      await c.waitForClose();
      await closed;
    } finally {
      c.destroy();
    }
  });
});

// A client in another process that sends requests on one connection back to back, each as soon as
// the last answer is in, for `ms` milliseconds; resolves with how many it sent. In this process it
// would share the JS thread with the server and could never catch it waiting.
function backToBack(port, ms) {
  const code = `
    const net = require('node:net');
    const s = net.connect(${port}, '127.0.0.1', () => {
      const end = Date.now() + ${ms};
      let n = 0, buf = '';
      const send = () => s.write('GET /id/' + n + ' HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n');
      s.on('data', (d) => {
        buf += d;
        const at = buf.indexOf('{"id":"' + n + '"}');
        if (at === -1) return;
        buf = buf.slice(at);
        n++;
        if (Date.now() < end) send();
        else { console.log(n); s.end(); }
      });
      send();
    });`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', code], { timeout: ms + 10000 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(Number(stdout.trim()));
    });
  });
}

describe('busyPoll: waiting for the next request of a back-to-back client', () => {
  const routes = (app) => app.get('/id/:id', (req, res) => res.json({ id: req.params.id }));

  test('the JS thread takes that client\'s requests as they come, without being woken', T, async (t) => {
    const s = await start(routes);
    t.after(() => s.close());
    const sent = await backToBack(s.port, 400);
    const { bridge, requests } = s.server.stats();
    assert.equal(requests.js, sent);
    assert.ok(bridge.polled > sent / 4, `${bridge.polled} of ${sent} batches were taken by a waiting JS thread`);
    assert.ok(bridge.calls >= bridge.polled);
  });

  test('busyPoll: 0 never waits', T, async (t) => {
    const s = await start(routes, { appOptions: { busyPoll: 0 } });
    t.after(() => s.close());
    const sent = await backToBack(s.port, 300);
    const { bridge } = s.server.stats();
    assert.equal(bridge.polled, 0);
    assert.ok(bridge.direct > sent / 2, 'lone answers are still written from the JS thread');
  });

  test('the event loop still turns while such a client keeps the JS thread busy', T, async (t) => {
    const s = await start(routes, { appOptions: { busyPoll: 1000 } });
    t.after(() => s.close());
    // One setImmediate callback runs per turn of the event loop: the gaps between them are how
    // long everything else in this process (timers, other I/O) had to wait.
    const gaps = [];
    let last = 0;
    let stop = false;
    const turn = () => {
      const now = performance.now();
      if (last !== 0) gaps.push(now - last);
      last = now;
      if (!stop) setImmediate(turn);
    };
    setImmediate(turn);
    try {
      await backToBack(s.port, 600);
    } finally {
      stop = true;
    }
    const { requests, bridge } = s.server.stats();
    assert.ok(bridge.polled > requests.js / 2, `${bridge.polled} of ${requests.js} taken by a waiting JS thread`);
    // Back in the event loop after at most 32 requests served in a row (js/bridge.js): about 2 ms
    // here. A few long gaps are the machine's (GC, preemption); without the bound most are long.
    const long = gaps.filter((g) => g > 5).length;
    assert.ok(long < 10, `${long} turns of the event loop came more than 5 ms apart`);
  });

  test('busyPoll is an integer from 0 to 1000 microseconds', () => {
    const { createApp } = require('..');
    for (const busyPoll of [-1, 1001, 2.5, '50']) {
      assert.throws(() => createApp({ busyPoll }), { code: 'HN_ERR_BAD_OPTION' }, String(busyPoll));
    }
    createApp({ busyPoll: 0 });
    createApp({ busyPoll: 1000 });
  });
});
