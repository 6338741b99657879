'use strict';
// Pub/sub: subscribe/unsubscribe/isSubscribed/getTopics, ws.publish (every subscriber but the
// publisher), app.publish from an HTTP handler, numSubscribers, a closed socket dropping out of its
// topics, and one publish reaching 10,000 subscribers exactly once each (the clients in a child
// process, support/ws-swarm.js).
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const path = require('node:path');
const { fork, execFileSync } = require('node:child_process');
const { once } = require('node:events');
const { request, waitUntil, withTimeout } = require('./helpers');
const { serveWs } = require('./support/ws-serve');
const { connect, connectAll } = require('./support/ws-client');

const T = { timeout: 20000 };
const SWARM = 10000;
// Descriptors the test process needs besides the swarm's sockets (the server's listener, the
// driver's rings and pipes, node's own): generous, since too few means failing mid-way.
const FD_MARGIN = 1000;

// /ps: each text message is a JSON command run on the socket, answered with { reply }; whatever
// else arrives (publishes) comes as it was published.
async function pubsubServer(t) {
  const sockets = [];
  const closes = [];
  let app;
  const s = await serveWs(t, (a) => {
    app = a;
    a.ws('/ps', {
      open(ws) {
        sockets.push(ws);
      },
      message(ws, data) {
        const cmd = JSON.parse(data.toString());
        let reply;
        if (cmd.op === 'sub') reply = ws.subscribe(cmd.topic);
        else if (cmd.op === 'unsub') reply = ws.unsubscribe(cmd.topic);
        else if (cmd.op === 'is') reply = ws.isSubscribed(cmd.topic);
        else if (cmd.op === 'topics') reply = ws.getTopics();
        else if (cmd.op === 'pub') reply = ws.publish(cmd.topic, cmd.binary ? Buffer.from(cmd.message) : cmd.message, cmd.binary);
        else throw new Error(`unknown command ${cmd.op}`);
        ws.send(JSON.stringify({ reply }));
      },
      close(ws) {
        closes.push(ws);
      },
    });
    a.post('/announce', (req, res) => res.json({ delivered: app.publish(req.body.topic, req.body.message) }));
  });
  return Object.assign(s, { sockets, closes, app });
}

// Sends a command and returns its reply (the next message must be the reply).
async function run(peer, cmd) {
  await peer.send(JSON.stringify(cmd));
  const m = await peer.next();
  return JSON.parse(m.text).reply;
}

test('subscribe, isSubscribed, getTopics, unsubscribe', T, async (t) => {
  const s = await pubsubServer(t);
  const peer = await connect(`ws://127.0.0.1:${s.port}/ps`);
  t.after(() => peer.terminate());

  assert.deepEqual(await run(peer, { op: 'topics' }), []);
  assert.equal(await run(peer, { op: 'is', topic: 'a' }), false);
  assert.equal(await run(peer, { op: 'sub', topic: 'a' }), true);
  assert.equal(await run(peer, { op: 'sub', topic: 'b/ü/✓' }), true);
  assert.equal(await run(peer, { op: 'is', topic: 'a' }), true);
  assert.equal(await run(peer, { op: 'is', topic: 'b/ü/✓' }), true);
  // A second subscribe changes nothing: still one subscription, one delivery per publish.
  await run(peer, { op: 'sub', topic: 'a' });
  assert.deepEqual((await run(peer, { op: 'topics' })).sort(), ['a', 'b/ü/✓']);
  assert.equal(s.app.numSubscribers('a'), 1);
  assert.equal(s.app.publish('a', 'once'), true);
  assert.equal((await peer.next()).text, 'once');

  assert.equal(await run(peer, { op: 'unsub', topic: 'a' }), true);
  assert.equal(await run(peer, { op: 'unsub', topic: 'a' }), false, 'unsubscribing from a topic not subscribed');
  assert.equal(await run(peer, { op: 'is', topic: 'a' }), false);
  assert.deepEqual(await run(peer, { op: 'topics' }), ['b/ü/✓']);
  assert.equal(s.app.numSubscribers('a'), 0);
  assert.equal(s.app.publish('a', 'nobody hears'), false, 'no subscriber left');
  // The next message is the reply: the publish to 'a' did not reach it.
  assert.equal(await run(peer, { op: 'is', topic: 'b/ü/✓' }), true);
});

test('ws.publish reaches every subscriber but the publisher, in order, text and binary', T, async (t) => {
  const s = await pubsubServer(t);
  const [a, b, c, outsider] = await connectAll(`ws://127.0.0.1:${s.port}/ps`, 4);
  t.after(() => [a, b, c, outsider].forEach((p) => p.terminate()));
  for (const p of [a, b, c]) assert.equal(await run(p, { op: 'sub', topic: 'room' }), true);
  assert.equal(s.app.numSubscribers('room'), 3);

  assert.equal(await run(a, { op: 'pub', topic: 'room', message: 'from a' }), true);
  assert.equal(await run(a, { op: 'pub', topic: 'room', message: 'bytes from a', binary: true }), true);
  for (const p of [b, c]) {
    const first = await p.next();
    assert.equal(first.text, 'from a');
    assert.equal(first.isBinary, false);
    const second = await p.next();
    assert.equal(second.isBinary, true);
    assert.equal(second.data.toString(), 'bytes from a');
  }
  // A socket not subscribed may publish: all three subscribers get it.
  await run(outsider, { op: 'pub', topic: 'room', message: 'from outside' });
  for (const p of [a, b, c]) assert.equal((await p.next()).text, 'from outside');

  // The publisher got none of its own: its next message is this marker.
  s.app.publish('room', 'marker');
  for (const p of [a, b, c]) assert.equal((await p.next()).text, 'marker');
  assert.equal(a.received.length, 3 + 1 + 1, 'a: three replies, the outsider’s message, the marker (and not its own two)');

  // Many publishes in a row keep their order for every subscriber.
  for (let i = 0; i < 300; i++) s.app.publish('room', `n${i}`);
  for (const p of [a, b, c]) for (let i = 0; i < 300; i++) assert.equal((await p.next()).text, `n${i}`);
});

test('app.publish from an HTTP handler; its result says whether any subscriber was there', T, async (t) => {
  const s = await pubsubServer(t);
  const peers = await connectAll(`ws://127.0.0.1:${s.port}/ps`, 2);
  t.after(() => peers.forEach((p) => p.terminate()));
  for (const p of peers) await run(p, { op: 'sub', topic: 'news' });

  const post = (body) =>
    request(s.base, '/announce', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) =>
      r.json(),
    );
  assert.deepEqual(await post({ topic: 'news', message: 'extra! extra!' }), { delivered: true });
  for (const p of peers) assert.equal((await p.next()).text, 'extra! extra!');
  assert.deepEqual(await post({ topic: 'sports', message: 'nobody' }), { delivered: false });

  // Buffers publish as binary by default, strings as text; isBinary overrides.
  s.app.publish('news', Buffer.from([1, 2, 3]));
  s.app.publish('news', 'as binary', true);
  for (const p of peers) {
    const m = await p.next();
    assert.equal(m.isBinary, true);
    assert.deepEqual([...m.data], [1, 2, 3]);
    const b = await p.next();
    assert.equal(b.isBinary, true);
    assert.equal(b.data.toString(), 'as binary');
  }
});

test('a topic given as a Buffer is the topic of the same bytes', T, async (t) => {
  let app;
  const s = await serveWs(t, (a) => {
    app = a;
    a.ws('/b', {
      open(ws) {
        ws.send(JSON.stringify([ws.subscribe(Buffer.from('bytes-topic')), ws.isSubscribed('bytes-topic')]));
      },
    });
  });
  const peer = await connect(`ws://127.0.0.1:${s.port}/b`);
  t.after(() => peer.terminate());
  assert.deepEqual(JSON.parse((await peer.next()).text), [true, true]);
  assert.equal(app.numSubscribers('bytes-topic'), 1);
  app.publish(Buffer.from('bytes-topic'), 'via buffer');
  app.publish('bytes-topic', 'via string');
  assert.equal((await peer.next()).text, 'via buffer');
  assert.equal((await peer.next()).text, 'via string');
});

test('a closed socket is no longer subscribed: numSubscribers drops and publishes skip it', T, async (t) => {
  const s = await pubsubServer(t);
  const [stay, leave, terminated] = await connectAll(`ws://127.0.0.1:${s.port}/ps`, 3);
  t.after(() => [stay, leave, terminated].forEach((p) => p.terminate()));
  for (const p of [stay, leave, terminated]) {
    await run(p, { op: 'sub', topic: 'x' });
    await run(p, { op: 'sub', topic: 'y' });
  }
  assert.equal(s.app.numSubscribers('x'), 3);

  await leave.close(1000, 'bye');
  terminated.terminate();
  await waitUntil(() => s.closes.length === 2, { what: 'two close handler calls' });
  assert.equal(s.app.numSubscribers('x'), 1);
  assert.equal(s.app.numSubscribers('y'), 1);
  for (const ws of s.closes) {
    assert.equal(ws.closed, true);
    assert.equal(ws.isSubscribed('x'), false);
    assert.deepEqual(ws.getTopics(), []);
  }
  assert.equal(s.app.publish('x', 'to the one left'), true);
  assert.equal((await stay.next()).text, 'to the one left');

  await stay.close(1000);
  await waitUntil(() => s.closes.length === 3, { what: 'the last close handler call' });
  assert.equal(s.app.numSubscribers('x'), 0);
  assert.equal(s.app.publish('x', 'nobody'), false);
});

// Why the 10,000-subscriber test cannot run here, or false: both processes need SWARM descriptors
// (node raises its soft limit to the hard one at start, which a child `sh` then reports).
function fdLimitSkip() {
  let limit;
  try {
    limit = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  } catch (err) {
    return `cannot read the descriptor limit (sh -c 'ulimit -n' failed: ${err.message})`;
  }
  if (limit === 'unlimited') return false;
  if (Number(limit) >= SWARM + FD_MARGIN) return false;
  return `the open-file limit is ${limit}: ${SWARM} subscribers need ${SWARM + FD_MARGIN} descriptors per process (raise it with ulimit -n)`;
}
const swarmSkip = fdLimitSkip();
if (swarmSkip) console.log(`# 10,000 subscribers test skipped: ${swarmSkip}`);

test(`one publish reaches ${SWARM} subscribers, each exactly once`, { timeout: 120000, skip: swarmSkip }, async (t) => {
  let app;
  let opened = 0;
  const s = await serveWs(t, (a) => {
    app = a;
    a.ws('/swarm', {
      open(ws) {
        opened++;
        ws.subscribe('all');
      },
    });
  });
  const child = fork(path.join(__dirname, 'support', 'ws-swarm.js'), [String(s.port), '/swarm', String(SWARM)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  t.after(async () => {
    if (child.connected) child.send({ exit: true });
    else child.kill();
    await exited;
  });
  const next = (what) =>
    withTimeout(
      Promise.race([
        once(child, 'message').then(([m]) => m),
        exited.then(([code, signal]) => {
          throw new Error(`the swarm process exited (${code ?? signal}) while waiting for ${what}`);
        }),
      ]),
      90000,
      what,
    );

  const ready = await next('every client to be upgraded');
  assert.equal(ready.error, undefined, ready.error);
  assert.equal(ready.ready, SWARM);
  await waitUntil(() => app.numSubscribers('all') === SWARM, { timeout: 30000, what: `${SWARM} subscribers` });
  assert.equal(opened, SWARM);

  // One message, then a second: a client that got the first twice sees it before the second.
  const first = `broadcast ${'x'.repeat(100)}`;
  const second = 'end';
  assert.equal(app.publish('all', first), true);
  assert.equal(app.publish('all', second), true);
  child.send({ expect: [first, second] });
  const { report } = await next('every client to get both messages');
  assert.deepEqual(report.bad, [], `clients that did not get exactly the two messages (first ${report.bad.length} shown)`);
  assert.equal(report.exact, SWARM);
  assert.equal(s.server.stats().ws.open, SWARM);

  // The clients go first: server.close() would otherwise wait for 10,000 close handshakes that
  // raw clients never answer.
  child.send({ exit: true });
  await exited;
  await waitUntil(() => app.numSubscribers('all') === 0, { timeout: 30000, what: 'every subscriber gone' });
});
