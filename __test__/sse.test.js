'use strict';
// res.sse(): the event-stream wire format and headers as a raw socket and fetch() see them, the
// heartbeat, coded errors for fields that would break their line, a client leaving mid-stream, and
// a real EventSource in headless Chromium reconnecting with Last-Event-ID.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const helpers = require('./helpers');
const { serve, get, buildRequest, RawClient, request, waitUntil, withTimeout } = helpers;
const chromium = require('./support/chromium');

const WAIT_MS = 10000;

function deferred() {
  let resolve;
  const promise = new Promise((r) => (resolve = r));
  return { promise, resolve };
}

// helpers.chunkedSoFar with the body as text (events are UTF-8).
function chunkedSoFar(buf) {
  const got = helpers.chunkedSoFar(buf);
  return { ...got, body: got.body.toString('utf8') };
}

test('res.sse() sends the event-stream headers, chunked on HTTP/1.1, and each field in the wire format', async (t) => {
  const s = await serve(t, (app) => {
    app.get('/events', (req, res) => {
      const sse = res.sse({ retry: 2500, heartbeat: 0 });
      sse.send('plain text');
      sse.send({ id: 1, event: 'update', data: 'one line' });
      sse.send({ id: 'b-2', data: 'crlf\r\ncr\rlf\nend' });
      sse.send({ data: { n: 1, s: 'a\nb' } });
      sse.send({ data: '' });
      sse.send({ data: ' leading space' });
      sse.send({ id: 'only-an-id' });
      sse.send({ retry: 100, data: 'x' });
      sse.comment('two\nlines');
      sse.comment();
      sse.retry(3000);
      sse.close();
    });
  });
  const res = await get(s.port, '/events');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
  assert.equal(res.headers['cache-control'], 'no-cache');
  assert.equal(res.headers['x-accel-buffering'], 'no');
  assert.equal(res.headers['transfer-encoding'], 'chunked');
  assert.equal(res.headers['content-length'], undefined);
  assert.equal(
    res.text,
    'retry: 2500\n\n' +
      'data: plain text\n\n' +
      'id: 1\nevent: update\ndata: one line\n\n' +
      'id: b-2\ndata: crlf\ndata: cr\ndata: lf\ndata: end\n\n' +
      'data: {"n":1,"s":"a\\nb"}\n\n' +
      'data: \n\n' +
      'data:  leading space\n\n' +
      'id: only-an-id\n\n' +
      'retry: 100\ndata: x\n\n' +
      ': two\n: lines\n\n' +
      ':\n\n' +
      'retry: 3000\n\n',
  );
});

test('res.sse() sends the headers at once, before any event, and each event as it is sent', async (t) => {
  const first = deferred();
  const second = deferred();
  const s = await serve(t, (app) => {
    app.get('/events', async (req, res) => {
      const sse = res.sse({ heartbeat: 0 });
      await first.promise;
      sse.send({ id: '1', data: 'first' });
      await second.promise;
      sse.send({ id: '2', data: 'second' });
      sse.close();
    });
  });
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  await c.write(buildRequest('GET', '/events'));
  const head = await waitUntil(() => chunkedSoFar(c.buf).head, { timeout: WAIT_MS, what: 'the response head' });
  assert.match(head, /^HTTP\/1\.1 200 /);
  assert.match(head, /\r\ncontent-type: text\/event-stream; charset=utf-8(\r\n|$)/i);
  assert.equal(chunkedSoFar(c.buf).body, '', 'nothing but the head before the first event');
  first.resolve();
  await waitUntil(() => chunkedSoFar(c.buf).body === 'id: 1\ndata: first\n\n', { timeout: WAIT_MS, what: 'the first event' });
  second.resolve();
  await waitUntil(() => chunkedSoFar(c.buf).ended, { timeout: WAIT_MS, what: 'the end of the stream' });
  assert.equal(chunkedSoFar(c.buf).body, 'id: 1\ndata: first\n\nid: 2\ndata: second\n\n');
});

test('fetch() reads each event while the stream is open, and the whole stream once it ends', async (t) => {
  const seenByClient = deferred();
  const s = await serve(t, (app) => {
    app.get('/events', async (req, res) => {
      const sse = res.sse({ heartbeat: 0 });
      sse.send({ event: 'hello', data: 'world' });
      // Nothing more until the client has read the first event: a server that held it back until
      // the end would never get here.
      await seenByClient.promise;
      sse.send('bye');
      sse.close();
    });
  });
  const res = await fetch(`${s.base}/events`, { signal: AbortSignal.timeout(WAIT_MS) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  assert.equal(res.headers.get('content-length'), null);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  while (!text.includes('\n\n')) {
    const { value, done } = await reader.read();
    assert.equal(done, false, `the stream ended before its first event; got ${JSON.stringify(text)}`);
    text += value;
  }
  assert.equal(text, 'event: hello\ndata: world\n\n');
  seenByClient.resolve();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  assert.equal(text, 'event: hello\ndata: world\n\ndata: bye\n\n');
});

test('an HTTP/1.0 client gets the stream close-delimited, without chunked framing', async (t) => {
  const s = await serve(t, (app) => {
    app.get('/events', (req, res) => {
      const sse = res.sse({ heartbeat: 0 });
      sse.send({ id: 7, data: 'over 1.0' });
      sse.close();
    });
  });
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  await c.write(buildRequest('GET', '/events', { version: '1.0' }));
  await c.waitForClose(WAIT_MS);
  const res = await c.readResponse();
  assert.equal(res.status, 200);
  assert.equal(res.headers['transfer-encoding'], undefined);
  assert.equal(res.headers['content-length'], undefined);
  assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
  assert.equal(res.text, 'id: 7\ndata: over 1.0\n\n');
});

test('a quiet stream gets a heartbeat comment every `heartbeat` ms, and an app header wins over the defaults', async (t) => {
  const s = await serve(t, (app) => {
    app.get('/events', (req, res) => {
      res.set('cache-control', 'no-store').set('x-accel-buffering', 'yes').type('text/plain');
      const sse = res.sse({ heartbeat: 20 });
      sse.send('start');
      req.signal.addEventListener('abort', () => sse.close());
    });
  });
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  await c.write(buildRequest('GET', '/events'));
  // Three beats after the event: the timer keeps firing while nothing else is sent.
  const body = await waitUntil(
    () => {
      const { body } = chunkedSoFar(c.buf);
      return body.startsWith('data: start\n\n:\n\n:\n\n:\n\n') ? body : undefined;
    },
    { timeout: WAIT_MS, what: 'three heartbeats' },
  );
  assert.match(body, /^data: start\n\n(:\n\n)+$/);
  // Gone before the server closes: close() lets an open stream run until its timeout.
  c.destroy();
  const { head } = chunkedSoFar(c.buf);
  assert.match(head, /\r\ncache-control: no-store\r\n/i);
  assert.match(head, /\r\nx-accel-buffering: yes\r\n/i);
  // The content type is the format's own, whatever was set before.
  assert.match(head, /\r\ncontent-type: text\/event-stream; charset=utf-8\r\n/i);
});

test('Last-Event-ID is sse.lastEventId and req.get("last-event-id"); undefined when absent', async (t) => {
  const s = await serve(t, (app) => {
    app.get('/events', (req, res) => {
      const sse = res.sse({ heartbeat: 0 });
      sse.send({ data: { lastEventId: sse.lastEventId ?? null, header: req.get('last-event-id') ?? null } });
      sse.close();
    });
  });
  const withId = await get(s.port, '/events', { headers: { 'Last-Event-ID': 'evt-41' } });
  assert.equal(withId.text, 'data: {"lastEventId":"evt-41","header":"evt-41"}\n\n');
  const without = await get(s.port, '/events');
  assert.equal(without.text, 'data: {"lastEventId":null,"header":null}\n\n');
});

test('an id or event name that would end its line throws HN_ERR_SSE_INVALID_FIELD and writes nothing', async (t) => {
  const codes = [];
  const s = await serve(t, (app) => {
    app.get('/events', (req, res) => {
      const sse = res.sse({ heartbeat: 0 });
      const attempts = [
        () => sse.send({ id: 'a\nb', data: 'x' }),
        () => sse.send({ id: 'a\rb', data: 'x' }),
        () => sse.send({ id: 'a\0b', data: 'x' }),
        () => sse.send({ event: 'a\nb', data: 'x' }),
        () => sse.send({ event: 'a\r', data: 'x' }),
        () => sse.send({}),
        () => sse.send({ retry: -1 }),
        () => sse.send({ id: {}, data: 'x' }),
        () => sse.send(42),
        () => sse.comment(42),
        () => sse.retry(1.5),
      ];
      for (const attempt of attempts) {
        try {
          attempt();
          codes.push('no error');
        } catch (err) {
          codes.push(err.code);
        }
      }
      sse.send({ id: 'ok', data: 'still streaming' });
      sse.close();
    });
  });
  const res = await get(s.port, '/events');
  assert.equal(res.text, 'id: ok\ndata: still streaming\n\n');
  assert.deepEqual(codes, [
    'HN_ERR_SSE_INVALID_FIELD',
    'HN_ERR_SSE_INVALID_FIELD',
    'HN_ERR_SSE_INVALID_FIELD',
    'HN_ERR_SSE_INVALID_FIELD',
    'HN_ERR_SSE_INVALID_FIELD',
    'HN_ERR_INVALID_ARG',
    'HN_ERR_INVALID_ARG',
    'HN_ERR_INVALID_ARG',
    'HN_ERR_INVALID_ARG',
    'HN_ERR_INVALID_ARG',
    'HN_ERR_INVALID_ARG',
  ]);
});

test('bad res.sse() options and a call after the headers were sent throw coded errors, answered by the error path', async (t) => {
  const errors = [];
  const s = await serve(t, (app) => {
    app.get('/bad/:which', (req, res) => {
      const options = { unknown: { foo: 1 }, heartbeat: { heartbeat: -5 }, retry: { retry: 'soon' }, type: 'fast' }[req.params.which];
      res.sse(options);
    });
    app.get('/late', (req, res) => {
      res.flushHeaders();
      try {
        res.sse();
      } catch (err) {
        errors.push(err.code);
      }
      res.end('late');
    });
    app.error((err, req, res) => {
      errors.push(err.code);
      res.status(err.status).text(err.code);
    });
  });
  for (const which of ['unknown', 'heartbeat', 'retry', 'type']) {
    const res = await get(s.port, `/bad/${which}`);
    assert.equal(res.status, 500, which);
    assert.equal(res.text, 'HN_ERR_INVALID_ARG', which);
    assert.notEqual(res.headers['content-type'], 'text/event-stream; charset=utf-8', which);
  }
  const late = await get(s.port, '/late');
  assert.equal(late.text, 'late');
  assert.deepEqual(errors, ['HN_ERR_INVALID_ARG', 'HN_ERR_INVALID_ARG', 'HN_ERR_INVALID_ARG', 'HN_ERR_INVALID_ARG', 'HN_ERR_HEADERS_SENT']);
});

test('send() returns what res.write() returned: false past the high-water mark, then drain lets the stream go on', async (t) => {
  const EVENTS = 64;
  const data = 'x'.repeat(16 * 1024);
  let waits = 0;
  const s = await serve(t, (app) => {
    app.get('/events', async (req, res) => {
      const sse = res.sse({ heartbeat: 0 });
      for (let id = 1; id <= EVENTS; id++) {
        if (!sse.send({ id, data })) {
          waits++;
          await once(res, 'drain');
        }
      }
      sse.close();
    });
  });
  const res = await get(s.port, '/events');
  const events = res.text.split('\n\n').filter((e) => e !== '');
  assert.equal(events.length, EVENTS);
  events.forEach((e, i) => assert.equal(e, `id: ${i + 1}\ndata: ${data}`));
  // 1 MiB sent in 16 KiB events with nothing credited back in between: write() says wait.
  assert.ok(waits >= 1, `send() never returned false over ${EVENTS} events of 16 KiB`);
});

test('heartbeats keep a quiet stream open past streamTimeout; without them the server ends it', async (t) => {
  const STREAM_TIMEOUT_MS = 1000;
  const HEARTBEAT_MS = 50;
  // Timers never fire early: this many beats take at least twice streamTimeout.
  const BEATS = (2 * STREAM_TIMEOUT_MS) / HEARTBEAT_MS;
  const silentEnded = deferred();
  const s = await serve(
    t,
    (app) => {
      app.get('/beating', (req, res) => {
        const sse = res.sse({ heartbeat: HEARTBEAT_MS });
        sse.send('start');
        req.signal.addEventListener('abort', () => sse.close());
      });
      app.get('/silent', (req, res) => {
        const sse = res.sse({ heartbeat: 0 });
        sse.send('start');
        sse.on('close', () => silentEnded.resolve(req.signal.reason && req.signal.reason.code));
      });
    },
    { appOptions: { streamTimeout: STREAM_TIMEOUT_MS } },
  );
  const beating = await RawClient.connect(s.port);
  const silent = await RawClient.connect(s.port);
  t.after(() => beating.destroy());
  t.after(() => silent.destroy());
  await beating.write(buildRequest('GET', '/beating'));
  await silent.write(buildRequest('GET', '/silent'));

  assert.equal(await withTimeout(silentEnded.promise, WAIT_MS, 'streamTimeout to end the silent stream'), 'HN_ERR_STREAM_TIMEOUT');
  await silent.waitForClose(WAIT_MS);
  assert.equal(chunkedSoFar(silent.buf).body, 'data: start\n\n');

  await waitUntil(() => chunkedSoFar(beating.buf).body.split(':\n\n').length > BEATS, { timeout: WAIT_MS, what: `${BEATS} heartbeats` });
  assert.equal(beating.isClosedByPeer, false, 'the beating stream is still open');
  assert.equal(chunkedSoFar(beating.buf).ended, false);
  beating.destroy();
});

test('a HEAD request gets the event-stream headers and an ended response: requests behind it are answered', async (t) => {
  const seen = deferred();
  const s = await serve(t, (app) => {
    app.get('/events', (req, res) => {
      const sse = res.sse({ heartbeat: 20 });
      const sent = sse.send('not for HEAD');
      sse.on('close', () => seen.resolve({ sent, closed: sse.closed, sendAfter: sse.send('late') }));
    });
    app.get('/ping', (req, res) => res.send('pong'));
  });
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  await c.write(Buffer.concat([buildRequest('HEAD', '/events'), buildRequest('GET', '/ping')]));
  const [head, ping] = await c.readResponses(2, { heads: [true, false], timeout: WAIT_MS });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-type'], 'text/event-stream; charset=utf-8');
  assert.equal(ping.text, 'pong');
  assert.deepEqual(await withTimeout(seen.promise, WAIT_MS, "sse 'close' for the HEAD request"), { sent: false, closed: true, sendAfter: false });
});

// What the server saw of a stream whose client leaves after its first event.
function leavingRoute(app, heartbeat, keepSending) {
  const seen = { closeEvents: deferred(), sendsAfterClose: [] };
  app.get('/events', (req, res) => {
    const sse = res.sse({ heartbeat });
    const events = { res: false, sse: false, signal: false };
    let timer;
    const check = () => {
      if (events.res && events.sse && events.signal) {
        clearInterval(timer);
        seen.sendsAfterClose.push(sse.send('after close'));
        seen.closeEvents.resolve({
          events,
          closed: sse.closed,
          sseSignal: sse.signal.aborted,
          reason: req.signal.reason && req.signal.reason.code,
        });
      }
    };
    res.on('close', () => ((events.res = true), check()));
    sse.on('close', () => ((events.sse = true), check()));
    req.signal.addEventListener('abort', () => ((events.signal = true), check()));
    sse.send({ id: '1', data: 'first' });
    if (keepSending) timer = setInterval(() => sse.send('tick'), 10);
  });
  return seen;
}

async function leaveAfterFirstEvent(t, heartbeat, keepSending) {
  let seen;
  const s = await serve(t, (app) => {
    seen = leavingRoute(app, heartbeat, keepSending);
    app.get('/ping', (req, res) => res.send('pong'));
  });
  const c = await RawClient.connect(s.port);
  await c.write(buildRequest('GET', '/events'));
  await waitUntil(() => chunkedSoFar(c.buf).body.startsWith('id: 1\ndata: first\n\n'), { timeout: WAIT_MS, what: 'the first event' });
  c.destroy();
  const result = await withTimeout(seen.closeEvents.promise, WAIT_MS, "'close' on res and the sse stream, and req.signal aborting");
  assert.deepEqual(result, {
    events: { res: true, sse: true, signal: true },
    closed: true,
    sseSignal: true,
    reason: 'HN_ERR_CLIENT_GONE',
  });
  assert.deepEqual(seen.sendsAfterClose, [false], 'send() after the client left is a no-op returning false');
  // The server still serves, on a new connection and on this stream's route.
  const pong = await request(s.base, '/ping');
  assert.equal(await pong.text(), 'pong');
}

// A client closing its socket sends a FIN; once a streamed response has begun, that ends it (as in
// node:http), so even a stream that sends nothing at all (no heartbeat) learns its client left.
test('a client leaving a silent stream (no heartbeat) makes res emit close, req.signal abort and sse close', async (t) => {
  await leaveAfterFirstEvent(t, 0, false);
});

test('a client leaving a stream that only sends heartbeats makes res emit close, req.signal abort and sse close', async (t) => {
  await leaveAfterFirstEvent(t, 20, false);
});

test('a client leaving while events keep coming makes res emit close, req.signal abort and sse close', async (t) => {
  await leaveAfterFirstEvent(t, 15000, true);
});

test('sse.close() ends the response: the stream ends, sse emits close once and its signal aborts', async (t) => {
  const seen = deferred();
  const s = await serve(t, (app) => {
    app.get('/events', (req, res) => {
      const sse = res.sse({ heartbeat: 10 });
      let closes = 0;
      sse.on('close', () => closes++);
      sse.send('only');
      sse.close();
      sse.close();
      res.on('close', () => seen.resolve({ closes, closed: sse.closed, aborted: sse.signal.aborted, sendAfter: sse.send('late') }));
    });
  });
  const res = await get(s.port, '/events');
  assert.equal(res.text, 'data: only\n\n');
  assert.deepEqual(await withTimeout(seen.promise, WAIT_MS, "res 'close'"), { closes: 1, closed: true, aborted: true, sendAfter: false });
});

test('EventSource in headless Chromium receives events, reconnects after the server ends the stream, and resumes from Last-Event-ID', { skip: chromium.skip, timeout: 120000 }, async (t) => {
  const lastIds = [];
  const secondStreamClosed = deferred();
  let report;
  const s = await serve(t, (app) => {
    app.get('/', (req, res) =>
      res.html(
        chromium.page(`
          const es = new EventSource('/events');
          const events = [];
          let opens = 0;
          await new Promise((resolve, reject) => {
            es.onopen = () => opens++;
            es.onmessage = (e) => events.push({ type: e.type, data: e.data, lastEventId: e.lastEventId });
            es.addEventListener('note', (e) => events.push({ type: e.type, data: e.data, lastEventId: e.lastEventId }));
            es.addEventListener('done', () => {
              es.close();
              resolve();
            });
            es.onerror = () => {
              if (es.readyState === EventSource.CLOSED) reject(new Error('EventSource gave up after ' + opens + ' opens'));
            };
          });
          return { events, opens };
        `),
      ),
    );
    app.get('/events', (req, res) => {
      const sse = res.sse({ retry: 50, heartbeat: 20 });
      const last = sse.lastEventId;
      lastIds.push(last ?? null);
      if (last === undefined) {
        sse.send({ id: 1, data: 'event 1' });
        sse.send({ id: 2, data: 'two\nlines' });
        sse.send({ id: 3, event: 'note', data: { n: 3 } });
        // The server ends the stream: the EventSource reconnects after `retry` ms.
        sse.close();
        return;
      }
      for (let id = Number(last) + 1; id <= 5; id++) sse.send({ id, data: `event ${id}` });
      sse.send({ event: 'done', data: '' });
      // The page closes its EventSource on 'done': the server sees the client leave (at the next
      // heartbeat's write, the stream having nothing else to send).
      sse.on('close', () => secondStreamClosed.resolve(req.signal.aborted));
    });
    report = chromium.reports(app);
  });
  const { events, opens } = await chromium.run(t, `${s.base}/`, report);
  assert.deepEqual(events, [
    { type: 'message', data: 'event 1', lastEventId: '1' },
    { type: 'message', data: 'two\nlines', lastEventId: '2' },
    { type: 'note', data: '{"n":3}', lastEventId: '3' },
    { type: 'message', data: 'event 4', lastEventId: '4' },
    { type: 'message', data: 'event 5', lastEventId: '5' },
  ]);
  assert.equal(opens, 2);
  assert.deepEqual(lastIds, [null, '3']);
  assert.equal(await withTimeout(secondStreamClosed.promise, WAIT_MS, 'the server to see the EventSource close'), true);
});
