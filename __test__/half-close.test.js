'use strict';
// A client that shuts down its sending side after its request (a FIN: `nc -N`, `printf … | nc`,
// some proxies and scripts) is still answered: every complete request read before the FIN gets
// its answer, then the server closes. A FIN alone is not "client gone": req.signal aborts only
// when the client really left, which the server learns from a reset (checked while the request
// waits) or a failed write.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const net = require('node:net');
const { once } = require('node:events');
const { serve, buildRequest, parseResponse, sleep, waitUntil, withTimeout } = require('./helpers');

const T = { timeout: 20000 };

// Sends `data`, then half-closes; resolves with every byte the server sent until it closed.
function sendThenShutdown(port, data) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      const chunks = [];
      sock.on('data', (d) => chunks.push(d));
      sock.on('error', reject);
      sock.on('end', () => {
        sock.destroy();
        resolve(Buffer.concat(chunks));
      });
      sock.on('connect', () => sock.end(data));
    }),
    10000,
    'the answers to a half-closed connection',
  );
}

function responses(buf, heads = []) {
  const out = [];
  let rest = buf;
  while (rest.length > 0) {
    const r = parseResponse(rest, { head: !!heads[out.length], ended: true });
    assert.ok(r, `a complete response in ${JSON.stringify(rest.toString('latin1').slice(0, 200))}`);
    out.push(r.response);
    rest = rest.subarray(r.consumed);
  }
  return out;
}

test('a request followed by a FIN is answered, then the connection closes', T, async (t) => {
  const s = await serve(t, (app) => {
    app.get('/now', (req, res) => res.send('now'));
    app.get('/later', async (req, res) => {
      await sleep(300); // longer than the server's 100 ms tick: the wait is watched
      res.send('later');
    });
  });
  const [now] = responses(await sendThenShutdown(s.port, buildRequest('GET', '/now')));
  assert.equal(now.status, 200);
  assert.equal(now.text, 'now');
  const [later] = responses(await sendThenShutdown(s.port, buildRequest('GET', '/later')));
  assert.equal(later.text, 'later');
});

test('every pipelined request read before the FIN is answered, in order', T, async (t) => {
  const s = await serve(t, (app) => {
    app.get('/a/:n', async (req, res) => {
      await sleep(Number(req.params.n));
      res.send(`a${req.params.n}`);
    });
    app.static('/s', 'static');
  });
  const data = Buffer.concat([
    buildRequest('GET', '/a/150'),
    buildRequest('GET', '/s'),
    buildRequest('HEAD', '/a/0'),
    buildRequest('GET', '/a/20'),
    buildRequest('GET', '/missing'),
  ]);
  const got = responses(await sendThenShutdown(s.port, data), [false, false, true]);
  assert.deepEqual(
    got.map((r) => [r.status, r.text]),
    [[200, 'a150'], [200, 'static'], [200, ''], [200, 'a20'], [404, '{"error":"Not Found"}']],
  );
});

test('a request body and the FIN in one write', T, async (t) => {
  const s = await serve(t, (app) => app.post('/echo', (req, res) => res.send(req.body)));
  const body = Buffer.alloc(100000, 0x61);
  const [res] = responses(
    await sendThenShutdown(s.port, buildRequest('POST', '/echo', { body, headers: { 'content-type': 'text/plain' } })),
  );
  assert.equal(res.status, 200);
  assert.equal(res.body.length, body.length);
});

test('an incomplete request before the FIN gets no answer: the connection just closes', T, async (t) => {
  const s = await serve(t, (app) => app.get('/', (req, res) => res.send('x')));
  const got = await sendThenShutdown(s.port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n'));
  assert.equal(got.length, 0);
});

test('a FIN does not abort req.signal; the answer still arrives', T, async (t) => {
  const rec = {};
  const s = await serve(t, (app) => {
    app.get('/watch', async (req, res) => {
      const outcome = await Promise.race([once(req.signal, 'abort').then(() => 'aborted'), sleep(600).then(() => 'finished')]);
      rec.outcome = outcome;
      res.send(outcome);
    });
  });
  const [res] = responses(await sendThenShutdown(s.port, buildRequest('GET', '/watch')));
  assert.equal(res.text, 'finished');
  assert.equal(rec.outcome, 'finished');
});

test('a half-closed client that then resets the connection aborts req.signal', T, async (t) => {
  const rec = {};
  const s = await serve(t, (app) => {
    app.get('/watch', async (req, res) => {
      rec.started = true;
      rec.outcome = await Promise.race([once(req.signal, 'abort').then(() => 'aborted'), sleep(8000).then(() => 'timeout')]);
      res.send('late');
    });
    app.get('/', (req, res) => res.send('ok'));
  });
  const sock = net.connect({ port: s.port, host: '127.0.0.1', allowHalfOpen: true });
  sock.on('error', () => {});
  await once(sock, 'connect');
  sock.end(buildRequest('GET', '/watch'));
  await waitUntil(() => rec.started, { what: 'the handler to start' });
  // Let the server see the FIN first, so it is the reset that makes the difference.
  await sleep(250);
  sock.resetAndDestroy();
  await waitUntil(() => rec.outcome, { timeout: 10000, what: 'the handler to finish' });
  assert.equal(rec.outcome, 'aborted');
  // The server is unharmed.
  const [ok] = responses(await sendThenShutdown(s.port, buildRequest('GET', '/')));
  assert.equal(ok.text, 'ok');
});
