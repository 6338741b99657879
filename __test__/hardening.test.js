'use strict';
// Protocol hardening (issue 3): framing, limits, timeouts and Expect, each tested with raw bytes.
//
// Every rejection is checked three ways: the exact status, that the server closes the connection
// after it, and the smuggling proof: a complete second request (`GET /secret`) written in the
// same packet right behind the bad one is never answered, and its handler never runs.
const { test, describe, before, after } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const { serve, start, buildRequest, chunked, RawClient, sleep } = require('./helpers');

const T = { timeout: 20000 };
const SMUGGLED = 'GET /secret HTTP/1.1\r\nHost: x\r\n\r\n';

// An app whose /secret route counts its calls: the smuggling detector.
function hardenedApp(counter) {
  return (app) => {
    app.get('/', (req, res) => res.send('ok'));
    app.post('/', (req, res) => res.json({ length: req.body ? req.body.length : 0 }));
    app.post('/upload', (req, res) => res.json({ length: req.body ? req.body.length : 0 }));
    app.get('/path', (req, res) => res.json({ path: req.path, query: req.query }));
    app.get('/headers', (req, res) => res.json({ count: Object.keys(req.headers).length, headers: req.headers }));
    app.get('/p/*rest', (req, res) => res.json({ len: req.path.length }));
    app.all('/secret', (req, res) => {
      counter.secret += 1;
      res.send('secret');
    });
  };
}

function show(raw) {
  return JSON.stringify(Buffer.isBuffer(raw) ? raw.toString('latin1') : raw).slice(0, 160);
}

// Sends `raw` followed by a smuggled request in one write. Asserts: exactly one response, whose
// status is one of `statuses`, carrying `connection: close`; the server then closes; nothing
// else ever arrives; /secret never ran.
async function expectRejected(s, counter, raw, statuses, { smuggle = true } = {}) {
  const expected = Array.isArray(statuses) ? statuses : [statuses];
  const bytes = Buffer.concat([
    Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'latin1'),
    Buffer.from(smuggle ? SMUGGLED : '', 'latin1'),
  ]);
  const secretBefore = counter.secret;
  const c = await RawClient.connect(s.port);
  try {
    await c.write(bytes);
    const res = await c.readResponse();
    assert.ok(
      expected.includes(res.status),
      `${show(raw)}: got ${res.status} ${res.statusText}, expected ${expected.join(' or ')}`,
    );
    assert.equal(res.headers.connection, 'close', `${show(raw)}: error response says connection: close`);
    await c.waitForClose();
    await sleep(50);
    assert.equal(c.leftover.length, 0, `${show(raw)}: bytes after the error response: ${show(c.leftover)}`);
    assert.equal(counter.secret, secretBefore, `${show(raw)}: the smuggled GET /secret reached its handler`);
    return res;
  } finally {
    c.destroy();
  }
}

async function expectOk(port, raw, { status = 200 } = {}) {
  const c = await RawClient.connect(port);
  try {
    await c.write(raw);
    const res = await c.readResponse();
    assert.equal(res.status, status, `${show(raw)}: got ${res.status}, body ${res.text.slice(0, 200)}`);
    return res;
  } finally {
    c.destroy();
  }
}

async function assertStillServing(port) {
  const res = await expectOk(port, buildRequest('GET', '/'));
  assert.equal(res.text, 'ok');
}

describe('framing (default limits)', () => {
  const counter = { secret: 0 };
  let s;
  before(async () => {
    s = await start(hardenedApp(counter));
  });
  after(() => s.close());

  test('control: a valid request followed by GET /secret gets both answered (the detector works)', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' + SMUGGLED);
      const [first, second] = await c.readResponses(2);
      assert.equal(first.status, 200);
      assert.deepEqual(first.json(), { length: 5 });
      assert.equal(second.status, 200);
      assert.equal(second.text, 'secret');
      assert.equal(counter.secret, 1);
    } finally {
      c.destroy();
    }
    counter.secret = 0;
  });

  test('Content-Length together with Transfer-Encoding: 400 and close, nothing smuggled', T, async () => {
    await expectRejected(
      s,
      counter,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
    );
    await expectRejected(
      s,
      counter,
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n',
      400,
    );
    // TE.CL the other way round: a chunked body that "contains" the smuggled request.
    await expectRejected(
      s,
      counter,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n5c\r\n',
      400,
    );
    await assertStillServing(s.port);
  });

  test('several Content-Length values that differ: 400 and close', T, async () => {
    await expectRejected(s, counter, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', 400);
    await expectRejected(s, counter, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nContent-Length: 5\r\n\r\nhello!', 400);
  });

  for (const value of ['+5', '-5', '5,5', '0x5', '5 5', '99999999999999999999', '', '5.0', '٥']) {
    test(`Content-Length ${JSON.stringify(value)} is not a plain decimal: 400 and close`, T, async () => {
      await expectRejected(
        s,
        counter,
        Buffer.from(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${value}\r\n\r\nhello`, 'utf8'),
        400,
      );
    });
  }

  for (const te of ['gzip', 'chunked, gzip', 'gzip, chunked', 'chunked, chunked', 'identity', 'xchunked']) {
    test(`Transfer-Encoding ${JSON.stringify(te)}: 400 or 501, and close`, T, async () => {
      await expectRejected(s, counter, `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ${te}\r\n\r\n0\r\n\r\n`, [400, 501]);
    });
  }

  test('Transfer-Encoding split over two fields, ending in a coding that is not chunked: 400/501 and close', T, async () => {
    await expectRejected(
      s,
      counter,
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n',
      [400, 501],
    );
  });

  test('Transfer-Encoding on an HTTP/1.0 request is faulty framing: 400 and close', T, async () => {
    await expectRejected(s, counter, 'POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400);
  });

  const TE_HEAD = 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n';
  for (const [what, body] of [
    ['zz', 'zz\r\nhello\r\n0\r\n\r\n'],
    ['-1', '-1\r\nhello\r\n0\r\n\r\n'],
    ['0x5', '0x5\r\nhello\r\n0\r\n\r\n'],
    ['empty', '\r\nhello\r\n0\r\n\r\n'],
    ['a space inside', '5 5\r\nhello\r\n0\r\n\r\n'],
    // chunk = chunk-size [ chunk-ext ] CRLF: whitespace is only allowed before a ";" (llhttp: 400).
    ['followed by whitespace and no extension', '5 \r\nhello\r\n0\r\n\r\n'],
    ['ended by a bare LF', '5\nhello\r\n0\r\n\r\n'],
  ]) {
    test(`chunk size ${what}: 400 and close`, T, async () => {
      await expectRejected(s, counter, TE_HEAD + body, 400);
    });
  }

  test('a chunk size of 17 hex digits (overflows 64 bits): refused and closed', T, async () => {
    // 0x10000000000000000 = 2^64. Refused as malformed (400), or as over the body limit (413),
    // which a decoder may notice first; never wrapped around to 0.
    await expectRejected(s, counter, TE_HEAD + '10000000000000000\r\nhello\r\n0\r\n\r\n', [400, 413]);
    await expectRejected(s, counter, TE_HEAD + 'fffffffffffffffff\r\nhello\r\n0\r\n\r\n', [400, 413]);
  });

  test('chunk data not followed by CRLF: 400 and close', T, async () => {
    await expectRejected(s, counter, TE_HEAD + '5\r\nhelloXX\r\n0\r\n\r\n', 400);
    await expectRejected(s, counter, TE_HEAD + '5\r\nhello0\r\n\r\n', 400);
    await expectRejected(s, counter, TE_HEAD + '3\r\nhello\r\n0\r\n\r\n', 400);
  });

  for (const [what, trailer] of [
    ['a trailer line with no colon', 'bad trailer'],
    ['an obs-folded trailer', 'X-T: a\r\n b'],
    ['whitespace before the colon of a trailer', 'X-T : a'],
    ['NUL in a trailer value', 'X-T: a\x00b'],
  ]) {
    test(`${what}: 400 and close (trailer fields follow the field syntax)`, T, async () => {
      await expectRejected(s, counter, TE_HEAD + `5\r\nhello\r\n0\r\n${trailer}\r\n\r\n`, 400);
    });
  }

  test('a valid trailer is accepted (control)', T, async () => {
    const res = await expectOk(s.port, Buffer.from(TE_HEAD + '5\r\nhello\r\n0\r\nX-T: a\r\n\r\n'));
    assert.deepEqual(res.json(), { length: 5 });
  });

  test('a chunked body with a valid layout is accepted (control for the cases above)', T, async () => {
    const res = await expectOk(s.port, Buffer.from(TE_HEAD + '5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n'));
    assert.deepEqual(res.json(), { length: 11 });
  });

  test('obs-fold (a header line starting with whitespace): 400 and close', T, async () => {
    await expectRejected(s, counter, 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n', 400);
    await expectRejected(s, counter, 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n', 400);
    // Folding used to hide a Transfer-Encoding from one parser and not another.
    await expectRejected(
      s,
      counter,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-A: a\r\n Transfer-Encoding: chunked\r\n\r\nhello',
      400,
    );
  });

  test('whitespace between a field name and the colon: 400 and close', T, async () => {
    await expectRejected(s, counter, 'GET / HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n', 400);
    await expectRejected(s, counter, 'GET / HTTP/1.1\r\nHost: x\r\nX-A\t: b\r\n\r\n', 400);
    await expectRejected(
      s,
      counter,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
      400,
    );
  });

  for (const [what, line] of [
    ['NUL in a field value', 'X-A: a\x00b'],
    ['CR in a field value', 'X-A: a\rb'],
    ['NUL in a field name', 'X-\x00A: b'],
    ['CR in a field name', 'X-\rA: b'],
    ['a control byte (0x01) in a field value', 'X-A: a\x01b'],
    ['DEL (0x7f) in a field value', 'X-A: a\x7fb'],
    ['"@" in a field name', 'X@A: b'],
    ['"(" in a field name', 'X(A): b'],
    ['a byte over 0x7f in a field name', 'X-\xffA: b'],
    ['an empty field name', ': b'],
    ['a line with no colon', 'X-A b'],
  ]) {
    test(`${what}: 400 and close`, T, async () => {
      await expectRejected(s, counter, `GET / HTTP/1.1\r\nHost: x\r\n${line}\r\n\r\n`, 400);
    });
  }

  test('a bare LF (LF without CR) ending a line of the head: 400 and close, as llhttp does', T, async () => {
    await expectRejected(s, counter, 'GET / HTTP/1.1\nHost: x\n\n', 400);
    await expectRejected(s, counter, 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\nX-B: b\r\n\r\n', 400);
    // The classic use: a header one parser sees inside another header's value.
    await expectRejected(
      s,
      counter,
      'POST / HTTP/1.1\r\nHost: x\r\nX-A: a\nContent-Length: 5\r\n\r\nhello',
      400,
    );
  });

  test('an HTTP/1.1 request without Host: 400 and close', T, async () => {
    await expectRejected(s, counter, 'GET / HTTP/1.1\r\nX-A: b\r\n\r\n', 400);
    await expectRejected(s, counter, 'POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello', 400);
  });

  test('two Host fields: 400 and close', T, async () => {
    await expectRejected(s, counter, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400);
    await expectRejected(s, counter, 'GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n', 400);
  });

  test('a Host field with an invalid value (RFC 9112 §3.2: MUST be 400): 400 and close', T, async () => {
    await expectRejected(s, counter, 'GET / HTTP/1.1\r\nHost: bad host\r\n\r\n', 400);
    await expectRejected(s, counter, 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n', 400);
  });

  test('HTTP/1.0 without Host is accepted (control)', T, async () => {
    const res = await expectOk(s.port, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
    assert.equal(res.text, 'ok');
  });

  test('versions other than 1.0 and 1.1: 505 and close', T, async () => {
    await expectRejected(s, counter, 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505);
    await expectRejected(s, counter, 'GET / HTTP/0.9\r\nHost: x\r\n\r\n', 505);
    await expectRejected(s, counter, 'GET / HTTP/3.0\r\nHost: x\r\n\r\n', 505);
  });

  test('a request line with no version (HTTP/0.9 style): 400 and close', T, async () => {
    await expectRejected(s, counter, 'GET /\r\n\r\n', 400);
    await expectRejected(s, counter, 'GET /\r\nHost: x\r\n\r\n', 400);
  });

  test('malformed request lines: 400 and close', T, async () => {
    await expectRejected(s, counter, 'GET / http/1.1\r\nHost: x\r\n\r\n', 400);
    await expectRejected(s, counter, 'G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n', 400);
    await expectRejected(s, counter, 'GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n', 400);
  });

  test('absolute-form target reaches the /path route with its query', T, async () => {
    const res = await expectOk(
      s.port,
      Buffer.from('GET http://example.com/path?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n'),
    );
    assert.deepEqual(res.json(), { path: '/path', query: { q: '1' } });
    const res2 = await expectOk(
      s.port,
      Buffer.from('GET http://example.com:8080/path?q=2&r=3 HTTP/1.1\r\nHost: other\r\n\r\n'),
    );
    assert.deepEqual(res2.json(), { path: '/path', query: { q: '2', r: '3' } });
  });

  test('a framing error after a good request on the same connection: the good one is answered, then 400 and close', T, async () => {
    const secretBefore = counter.secret;
    const c = await RawClient.connect(s.port);
    try {
      await c.write(
        'GET / HTTP/1.1\r\nHost: x\r\n\r\n' +
          'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' +
          SMUGGLED,
      );
      const first = await c.readResponse();
      assert.equal(first.status, 200);
      assert.equal(first.text, 'ok');
      const second = await c.readResponse();
      assert.equal(second.status, 400);
      await c.waitForClose();
      await sleep(50);
      assert.equal(c.leftover.length, 0, `unexpected bytes: ${show(c.leftover)}`);
      assert.equal(counter.secret, secretBefore);
    } finally {
      c.destroy();
    }
  });
});

describe('bodies of requests Rust answers itself are framed the same way', () => {
  // A body is consumed (or the connection closed) whoever answers the request: a static
  // response, a cache hit, a 404, a route's own body limit. A body that is a request must never
  // be read as one.
  const counter = { secret: 0 };
  let s;
  before(async () => {
    s = await start(
      (app) => {
        hardenedApp(counter)(app);
        app.get('/cached', (req, res) => res.ncache('cached', 60));
        app.static('/static', 'static');
        app.post('/small', { bodyLimit: 10 }, (req, res) => res.send('small'));
      },
      { appOptions: { bodyLimit: 100 } },
    );
    // Fill the cache.
    assert.equal((await expectOk(s.port, buildRequest('GET', '/cached'))).text, 'cached');
  });
  after(() => s.close());

  const L = SMUGGLED.length;
  const NEXT = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
  const cl = (m, p) => `${m} ${p} HTTP/1.1\r\nHost: x\r\nContent-Length: ${L}\r\n\r\n${SMUGGLED}`;
  const te = (m, p) =>
    `${m} ${p} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${L.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`;
  for (const [what, raw, status, body] of [
    ['GET of a static response, Content-Length body', cl('GET', '/static'), 200, 'static'],
    ['GET of a static response, chunked body', te('GET', '/static'), 200, 'static'],
    ['GET of a cached response, Content-Length body', cl('GET', '/cached'), 200, 'cached'],
    ['GET of a cached response, chunked body', te('GET', '/cached'), 200, 'cached'],
    ['POST to an unknown path (native 404), Content-Length body', cl('POST', '/nope'), 404, undefined],
    ['POST to an unknown path (native 404), chunked body', te('POST', '/nope'), 404, undefined],
  ]) {
    test(`${what}: the body is skipped, the next request is answered, nothing smuggled`, T, async () => {
      const before = counter.secret;
      const c = await RawClient.connect(s.port);
      try {
        await c.write(raw + NEXT);
        const [first, second] = await c.readResponses(2);
        assert.equal(first.status, status);
        if (body !== undefined) assert.equal(first.text, body);
        assert.equal(second.status, 200);
        assert.equal(second.text, 'ok', 'the second answer is for GET /, not for the body');
        await sleep(100);
        assert.equal(c.leftover.length, 0, `unexpected bytes: ${show(c.leftover)}`);
        assert.equal(counter.secret, before);
      } finally {
        c.destroy();
      }
    });
  }

  for (const [what, raw] of [
    ['a GET of a static response declaring a body over the limit', 'GET /static HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n'],
    ['a GET of a cached response declaring a body over the limit', 'GET /cached HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n'],
    ['a POST to an unknown path declaring a body over the limit', 'POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n'],
    ['a body over a route\'s own limit', cl('POST', '/small')],
    ['a chunked body over a route\'s own limit', te('POST', '/small')],
  ]) {
    test(`${what}: 413 and close, nothing smuggled`, T, async () => {
      await expectRejected(s, counter, raw, 413);
    });
  }
});

describe('size limits at and over the edge', () => {
  // The length of the head buildRequest makes for `target` with one X-Pad header of `pad` bytes.
  function padded(method, target, total, extra = {}) {
    const base = buildRequest(method, target, { headers: [['X-Pad', '']], ...extra });
    const head = base.toString('latin1');
    const headLen = head.indexOf('\r\n\r\n') + 4;
    const pad = total - headLen;
    assert.ok(pad >= 0, `head already ${headLen} bytes`);
    const req = buildRequest(method, target, { headers: [['X-Pad', 'p'.repeat(pad)]], ...extra });
    assert.equal(req.toString('latin1').indexOf('\r\n\r\n') + 4, total);
    return req;
  }

  test('maxHeaderSize 256: a head of exactly 256 bytes is served, 257 is 431 and close', T, async (t) => {
    const counter = { secret: 0 };
    const s = await serve(t, hardenedApp(counter), { appOptions: { maxHeaderSize: 256 } });
    await expectOk(s.port, padded('GET', '/', 256));
    await expectRejected(s, counter, padded('GET', '/', 257), 431);
    // A head that never ends is refused as soon as it is too long, without waiting for its end.
    const c = await RawClient.connect(s.port);
    try {
      await c.write('GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ' + 'p'.repeat(400));
      const res = await c.readResponse();
      assert.equal(res.status, 431);
      await c.waitForClose();
    } finally {
      c.destroy();
    }
    await assertStillServing(s.port);
  });

  test('maxUrlLength 100: a target of exactly 100 bytes is served, 101 is 414 and close', T, async (t) => {
    const counter = { secret: 0 };
    const s = await serve(t, hardenedApp(counter), { listenOptions: { maxUrlLength: 100 } });
    const ok = await expectOk(s.port, buildRequest('GET', '/p/' + 'x'.repeat(97)));
    assert.deepEqual(ok.json(), { len: 100 });
    await expectRejected(s, counter, buildRequest('GET', '/p/' + 'x'.repeat(98)), 414);
    await expectRejected(s, counter, buildRequest('GET', '/p/a?' + 'q'.repeat(200)), 414);
    await assertStillServing(s.port);
  });

  test('maxHeaders 10: exactly 10 fields all reach the handler, 11 is 431 and close', T, async (t) => {
    const counter = { secret: 0 };
    const s = await serve(t, hardenedApp(counter), { appOptions: { maxHeaders: 10 } });
    const nine = Array.from({ length: 9 }, (_, i) => [`X-N-${i}`, `v${i}`]); // + Host = 10
    const ok = await expectOk(s.port, buildRequest('GET', '/headers', { headers: nine }));
    const got = ok.json();
    assert.equal(got.count, 10, `no header silently dropped: ${JSON.stringify(got.headers)}`);
    assert.equal(got.headers['x-n-8'], 'v8');
    const ten = Array.from({ length: 10 }, (_, i) => [`X-N-${i}`, `v${i}`]); // + Host = 11
    await expectRejected(s, counter, buildRequest('GET', '/headers', { headers: ten }), 431);
    await assertStillServing(s.port);
  });

  test('default maxHeaders: 128 fields all reach the handler; 129 is 431, never a silent drop', T, async (t) => {
    const counter = { secret: 0 };
    const s = await serve(t, hardenedApp(counter));
    const many = Array.from({ length: 127 }, (_, i) => [`X-N-${i}`, 'v']);
    const ok = await expectOk(s.port, buildRequest('GET', '/headers', { headers: many }));
    assert.equal(ok.json().count, 128);
    const tooMany = Array.from({ length: 128 }, (_, i) => [`X-N-${i}`, 'v']);
    await expectRejected(s, counter, buildRequest('GET', '/headers', { headers: tooMany }), 431);
  });
});

describe('body limits', () => {
  const counter = { secret: 0 };
  // `s`: global bodyLimit 100 only. `r`: the same plus routes with their own { bodyLimit }
  // (started lazily so that the global-limit tests do not depend on route options).
  let s;
  let r;
  before(async () => {
    s = await start(hardenedApp(counter), { appOptions: { bodyLimit: 100 } });
  });
  after(async () => {
    await s.close();
    if (r) await r.close();
  });
  async function routed() {
    if (!r) {
      r = await start(
        (app) => {
          hardenedApp(counter)(app);
          const echo = (req, res) => res.json({ length: req.body ? req.body.length : 0 });
          app.post('/small', { bodyLimit: 10 }, echo);
          app.post('/big', { bodyLimit: 1000 }, echo);
        },
        { appOptions: { bodyLimit: 100 } },
      );
    }
    return r;
  }

  const post = (path, n, headers = []) =>
    buildRequest('POST', path, { headers: [['Content-Type', 'application/octet-stream'], ...headers], body: Buffer.alloc(n, 0x61) });

  // Sends only the head; the 413 must come without any body byte sent.
  async function expect413BeforeBody(path, declared, server = s) {
    const c = await RawClient.connect(server.port);
    try {
      await c.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`);
      const res = await c.readResponse();
      assert.equal(res.status, 413, `${path} with Content-Length ${declared}`);
      assert.equal(res.headers.connection, 'close');
      await c.waitForClose();
      assert.equal(c.leftover.length, 0);
    } finally {
      c.destroy();
    }
  }

  test('global bodyLimit 100: 100 bytes accepted, 101 is 413 from Content-Length alone, then close', T, async () => {
    assert.deepEqual((await expectOk(s.port, post('/upload', 100))).json(), { length: 100 });
    await expect413BeforeBody('/upload', 101);
    await expect413BeforeBody('/upload', 99999999999);
    // And with the body and a smuggled request behind it.
    await expectRejected(s, counter, post('/upload', 101), 413);
  });

  test('per-route { bodyLimit: 10 } (smaller than the global 100): 10 accepted, 11 is 413', T, async () => {
    const s = await routed();
    assert.deepEqual((await expectOk(s.port, post('/small', 10))).json(), { length: 10 });
    await expect413BeforeBody('/small', 11, s);
    await expectRejected(s, counter, post('/small', 50), 413);
    // Other routes keep the global limit.
    assert.deepEqual((await expectOk(s.port, post('/upload', 50))).json(), { length: 50 });
    await expect413BeforeBody('/upload', 101, s);
  });

  test('per-route { bodyLimit: 1000 } (larger than the global 100): 1000 accepted, 1001 is 413', T, async () => {
    const s = await routed();
    assert.deepEqual((await expectOk(s.port, post('/big', 1000))).json(), { length: 1000 });
    assert.deepEqual((await expectOk(s.port, post('/big', 500))).json(), { length: 500 });
    await expect413BeforeBody('/big', 1001, s);
    await expect413BeforeBody('/upload', 500, s);
  });

  test('per-route limits apply to chunked bodies too', T, async () => {
    const s = await routed();
    const head = (path) =>
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const ok = await expectOk(s.port, Buffer.concat([Buffer.from(head('/big')), chunked([Buffer.alloc(600, 1), Buffer.alloc(400, 2)])]));
    assert.deepEqual(ok.json(), { length: 1000 });
    await expectRejected(s, counter, Buffer.concat([Buffer.from(head('/small')), chunked([Buffer.alloc(6, 1), Buffer.alloc(5, 2)])]), 413);
    await expectRejected(s, counter, Buffer.concat([Buffer.from(head('/big')), chunked([Buffer.alloc(600, 1), Buffer.alloc(401, 2)])]), 413);
  });

  test('a chunked body over the limit is 413 while it is still streaming', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      // 60 bytes, then a chunk announcing 60 more (120 > 100); the body is never finished.
      await c.write(
        'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n' +
          '3c\r\n' + 'a'.repeat(60) + '\r\n3c\r\n',
      );
      const res = await c.readResponse();
      assert.equal(res.status, 413);
      assert.equal(res.headers.connection, 'close');
      await c.waitForClose();
    } finally {
      c.destroy();
    }
    // A single chunk announcing more than the limit is refused from its size line alone.
    const c2 = await RawClient.connect(s.port);
    try {
      await c2.write('POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n');
      const res = await c2.readResponse();
      assert.equal(res.status, 413);
      await c2.waitForClose();
    } finally {
      c2.destroy();
    }
    await assertStillServing(s.port);
  });
});

describe('timeouts', () => {
  test('headersTimeout 200 ms, slowloris (a byte every 50 ms): 408 about 200 ms after the first byte, then close', T, async (t) => {
    const s = await serve(t, hardenedApp({ secret: 0 }), { appOptions: { headersTimeout: 200 } });
    const head = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 's'.repeat(120) + '\r\n\r\n');
    const c = await RawClient.connect(s.port);
    let sent = 0;
    const started = Date.now();
    const trickle = (async () => {
      for (; sent < head.length && !c.isClosedByPeer; sent++) {
        await c.write(head.subarray(sent, sent + 1));
        await sleep(50);
      }
    })();
    try {
      const res = await c.readResponse({ timeout: 10000 });
      const elapsed = Date.now() - started;
      assert.equal(res.status, 408);
      assert.ok(sent < head.length, 'answered while the head was still arriving');
      // The deadline runs from the first byte and is not pushed back by each new byte (the whole
      // head would take ~7 s at this pace).
      assert.ok(elapsed < 3000, `408 after ${elapsed} ms`);
      await c.waitForClose();
    } finally {
      c.destroy();
      await trickle;
    }
    await assertStillServing(s.port);
  });

  test('headersTimeout also applies to the second request of a keep-alive connection', T, async (t) => {
    const s = await serve(t, hardenedApp({ secret: 0 }), { appOptions: { headersTimeout: 200, keepAliveTimeout: 5000 } });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/'));
      assert.equal((await c.readResponse()).status, 200);
      await c.write('GET / HTTP/1.1\r\nHost: x\r\n');
      const res = await c.readResponse({ timeout: 8000 });
      assert.equal(res.status, 408);
      await c.waitForClose();
    } finally {
      c.destroy();
    }
  });

  test('requestTimeout 200 ms: head complete, Content-Length body stalls: 408 and close', T, async (t) => {
    const s = await serve(t, hardenedApp({ secret: 0 }), { appOptions: { requestTimeout: 200 } });
    const c = await RawClient.connect(s.port);
    try {
      await c.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\nabc');
      const res = await c.readResponse({ timeout: 8000 });
      assert.equal(res.status, 408);
      assert.equal(res.headers.connection, 'close');
      await c.waitForClose();
    } finally {
      c.destroy();
    }
    await assertStillServing(s.port);
  });

  test('requestTimeout 200 ms from listen(): a chunked body that stalls: 408 and close', T, async (t) => {
    const s = await serve(t, hardenedApp({ secret: 0 }), { listenOptions: { requestTimeout: 200 } });
    const c = await RawClient.connect(s.port);
    try {
      await c.write('POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab');
      const res = await c.readResponse({ timeout: 8000 });
      assert.equal(res.status, 408);
      await c.waitForClose();
    } finally {
      c.destroy();
    }
  });

  test('requestTimeout 200 ms, a body trickled a byte every 50 ms: 408 about 200 ms after the head, then close', T, async (t) => {
    const s = await serve(t, hardenedApp({ secret: 0 }), { appOptions: { requestTimeout: 200 } });
    const c = await RawClient.connect(s.port);
    const body = Buffer.alloc(120, 0x62);
    let sent = 0;
    try {
      await c.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`);
      const started = Date.now();
      const trickle = (async () => {
        for (; sent < body.length && !c.isClosedByPeer; sent++) {
          await c.write(body.subarray(sent, sent + 1));
          await sleep(50);
        }
      })();
      const res = await c.readResponse({ timeout: 10000 });
      const elapsed = Date.now() - started;
      assert.equal(res.status, 408);
      assert.ok(sent < body.length, 'answered while the body was still arriving');
      assert.ok(elapsed < 3000, `408 after ${elapsed} ms (the deadline must not move with each byte)`);
      await c.waitForClose();
      c.destroy();
      await trickle;
    } finally {
      c.destroy();
    }
  });

  test('requestTimeout 200 ms does not cut a body that keeps arriving within it', T, async (t) => {
    const s = await serve(t, hardenedApp({ secret: 0 }), { appOptions: { requestTimeout: 2000 } });
    const c = await RawClient.connect(s.port);
    try {
      await c.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\nabc');
      await sleep(100);
      await c.write('defghij');
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      assert.deepEqual(res.json(), { length: 10 });
    } finally {
      c.destroy();
    }
  });

  test('keepAliveTimeout 200 ms: an idle connection is closed after its response, with no extra bytes', T, async (t) => {
    const s = await serve(t, hardenedApp({ secret: 0 }), { appOptions: { keepAliveTimeout: 200 } });
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/'));
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      assert.notEqual(res.headers.connection, 'close');
      await c.waitForClose(5000);
      assert.equal(c.leftover.length, 0, `unexpected bytes: ${show(c.leftover)}`);
    } finally {
      c.destroy();
    }
  });

  test('timeouts are validated like the other limits', T, () => {
    const { createApp } = require('..');
    assert.throws(() => createApp({ requestTimeout: -1 }), { code: 'HN_ERR_BAD_OPTION' });
    assert.throws(() => createApp({ handlerTimeout: 'soon' }), { code: 'HN_ERR_BAD_OPTION' });
    assert.throws(() => createApp({ maxInFlight: 0 }), { code: 'HN_ERR_BAD_OPTION' });
    assert.throws(() => createApp({ maxPipelined: 1.5 }), { code: 'HN_ERR_BAD_OPTION' });
    createApp({ requestTimeout: 1000, handlerTimeout: 1000, maxInFlight: 5, maxPipelined: 4 });
  });
});

describe('Expect', () => {
  const counter = { secret: 0 };
  let s;
  before(async () => {
    s = await start(hardenedApp(counter), { appOptions: { bodyLimit: 100 } });
  });
  after(() => s.close());

  test('Expect: 100-continue gets 100 Continue before the body is sent, then the answer', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
      const interim = await c.readResponse();
      assert.equal(interim.status, 100);
      await c.write('hello');
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      assert.deepEqual(res.json(), { length: 5 });
      // The connection stays usable.
      await c.write(buildRequest('GET', '/'));
      assert.equal((await c.readResponse()).text, 'ok');
    } finally {
      c.destroy();
    }
  });

  test('Expect: 100-continue with a chunked body', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write('POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n');
      assert.equal((await c.readResponse()).status, 100);
      await c.write(chunked(['hello', ' you']));
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      assert.deepEqual(res.json(), { length: 9 });
    } finally {
      c.destroy();
    }
  });

  async function expect413WithoutContinue(port, path, n) {
    const c = await RawClient.connect(port);
    try {
      await c.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${n}\r\nExpect: 100-continue\r\n\r\n`);
      const res = await c.readResponse();
      assert.equal(res.status, 413, `${path} with ${n} bytes: first response`);
      await c.waitForClose();
      assert.equal(c.leftover.length, 0);
    } finally {
      c.destroy();
    }
  }

  test('Expect: 100-continue over the limit: 413 at once, no 100 Continue, then close', T, async () => {
    await expect413WithoutContinue(s.port, '/upload', 101);
  });

  test('Expect: 100-continue over a per-route { bodyLimit }: 413 at once, no 100 Continue', T, async (t) => {
    const r = await serve(
      t,
      (app) => app.post('/small', { bodyLimit: 10 }, (req, res) => res.json({ length: req.body ? req.body.length : 0 })),
      { appOptions: { bodyLimit: 100 } },
    );
    await expect413WithoutContinue(r.port, '/small', 11);
  });

  test('an expectation other than 100-continue: 417, no 100', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: foo\r\n\r\n');
      const res = await c.readResponse();
      assert.equal(res.status, 417);
    } finally {
      c.destroy();
    }
    await assertStillServing(s.port);
  });
});
