'use strict';
// A lone request (nothing else in flight on the server, nothing else owed on its connection) is
// answered from the JS thread: respond() writes it to the socket itself instead of waking the
// server thread (src/direct.rs). The server thread takes such an offer back before it reads,
// writes or closes that socket. These tests drive every way that hand-over can end: the answer
// written whole, written in part with the rest left to the server thread, taken back because the
// client sent more or a handler timed out, and the client leaving while JS is about to write.
const { test, describe, before, after } = require('./support/backends').tests(__filename);
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

// A client in another process that sends requests on one connection, each as soon as the last
// answer is in plus `pauseMs` (0: back to back), until `count` were answered; resolves when done.
// In this process it would share the JS thread with the server and could never catch it waiting.
function client(port, count, pauseMs = 0) {
  const code = `
    const net = require('node:net');
    const s = net.connect(${port}, '127.0.0.1', () => {
      let n = 0, buf = '';
      const send = () => s.write('GET /id/' + n + ' HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n');
      s.on('data', (d) => {
        buf += d;
        const at = buf.indexOf('{"id":"' + n + '"}');
        if (at === -1) return;
        buf = buf.slice(at);
        n++;
        if (n === ${count}) s.end();
        else if (${pauseMs} > 0) setTimeout(send, ${pauseMs});
        else send();
      });
      send();
    });`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', code], { timeout: 60000 }, (err) => (err ? reject(err) : resolve()));
  });
}

// These tests check busyPoll's rules, which hold however the machine schedules threads. How
// often the wait catches a back-to-back client's next request depends on that scheduling: it is
// a bench figure (the lone-client run of `npm run bench` reports it), not a test's.
describe('busyPoll: waiting for the next request of a back-to-back client', () => {
  const routes = (app) => app.get('/id/:id', (req, res) => res.json({ id: req.params.id }));

  test('busyPoll: 0 never waits; every lone answer is still written by the JS thread', T, async (t) => {
    const s = await start(routes, { appOptions: { busyPoll: 0 } });
    t.after(() => s.close());
    await client(s.port, 300);
    const { bridge, requests } = s.server.stats();
    assert.equal(requests.js, 300);
    assert.equal(bridge.waited, 0);
    assert.equal(bridge.polled, 0);
    assert.equal(bridge.direct, 300, 'each answer was written from the JS thread');
  });

  test('a client that pauses longer than twice busyPoll between requests is never waited for', T, async (t) => {
    // 1000 µs: the longest wait; such a client's requests come 5 ms apart at least.
    const s = await start(routes, { appOptions: { busyPoll: 1000 } });
    t.after(() => s.close());
    await client(s.port, 40, 5);
    const { bridge, requests } = s.server.stats();
    assert.equal(requests.js, 40);
    assert.equal(bridge.waited, 0, 'the JS thread never waited');
    assert.equal(bridge.polled, 0, 'no batch was handed to a waiting JS thread');
    assert.equal(bridge.direct, 40, 'each answer was still written from the JS thread');
  });

  test('at most 32 batches are taken in a row from a waiting respond() before JS goes back to the event loop', T, async (t) => {
    const s = await start(routes, { appOptions: { busyPoll: 1000 } });
    t.after(() => s.close());
    // js/bridge.js counts the batches respond() handed it in a row (`_chained`, reset by each
    // batch from the threadsafe function) and stops waiting at 32. Read it at every batch run.
    const bridge = s.server._bridge;
    const run = bridge._run;
    let longest = 0;
    bridge._run = function (buf) {
      longest = Math.max(longest, this._chained);
      return run.call(this, buf);
    };
    await client(s.port, 2000);
    const { bridge: counts, requests } = s.server.stats();
    t.diagnostic(`${counts.polled} of ${requests.js} requests were taken by a waiting JS thread; longest run ${longest}`);
    assert.ok(longest <= 32, `${longest} batches in a row were taken from respond()`);
    if (counts.polled < 33) t.diagnostic('too few batches were polled on this machine to reach the bound');
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
