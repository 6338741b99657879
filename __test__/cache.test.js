'use strict';
// res.ncache(): responses stored and answered by Rust without running JS. Every test counts how
// often the JS handler ran; a cache that does not work makes those counts grow.
const { test, describe } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const {
  serve,
  start,
  closeServer,
  get,
  concurrent,
  buildRequest,
  RawClient,
  sleep,
  assertDateHeader,
} = require('./helpers');

const T = { timeout: 30000 };
const STRONG_ETAG = /^"[\x21\x23-\x7e\x80-\xff]*"$/;

// Handler runs per request target.
function counter() {
  const calls = new Map();
  return {
    run(req) {
      const n = (calls.get(req.url) || 0) + 1;
      calls.set(req.url, n);
      return n;
    },
    of(url) {
      return calls.get(url) || 0;
    },
    get total() {
      let n = 0;
      for (const v of calls.values()) n += v;
      return n;
    },
  };
}

// One keep-alive connection for sequential requests; closed after the test.
async function connection(t, port) {
  const c = await RawClient.connect(port);
  t.after(() => c.destroy());
  return {
    async get(target, { method = 'GET', headers = [] } = {}) {
      await c.write(buildRequest(method, target, { headers }));
      return c.readResponse({ head: method === 'HEAD' });
    },
    client: c,
  };
}

function assertSameResponse(res, first, what) {
  assert.equal(res.status, first.status, `${what}: status`);
  assert.equal(res.headers['content-type'], first.headers['content-type'], `${what}: content-type`);
  assert.deepEqual(res.body, first.body, `${what}: body`);
}

describe('res.ncache()', () => {
  test('N sequential requests: the handler runs once, every response is the same', T, async (t) => {
    const count = counter();
    const s = await serve(t, (app) => {
      app.get('/page', (req, res) => {
        count.run(req);
        res.status(201).set('x-custom', 'yes').ncache({ hello: 'wörld' }, 60, { headers: { 'x-extra': '1' } });
      });
    });
    const c = await connection(t, s.port);
    const responses = [];
    for (let i = 0; i < 20; i++) responses.push(await c.get('/page'));

    assert.equal(count.of('/page'), 1, 'handler runs');
    const first = responses[0];
    assert.equal(first.status, 201);
    assert.match(first.headers['content-type'], /^application\/json/);
    assert.deepEqual(first.json(), { hello: 'wörld' });
    for (const [i, res] of responses.entries()) {
      assertSameResponse(res, first, `response ${i}`);
      assert.equal(res.headers['x-custom'], 'yes', `response ${i}: x-custom`);
      assert.equal(res.headers['x-extra'], '1', `response ${i}: x-extra from options.headers`);
      assert.equal(res.headers['content-length'], String(first.body.length), `response ${i}: content-length`);
      assertDateHeader(assert, res);
    }
    // Hits all carry the ETag of the stored response.
    const etag = responses[1].headers.etag;
    assert.match(etag, STRONG_ETAG);
    for (const res of responses.slice(1)) assert.equal(res.headers.etag, etag);

    const stats = s.server.stats();
    assert.equal(stats.requests.js, 1, 'requests dispatched to JS');
    assert.equal(stats.cache.hits, 19, 'cache hits');
    assert.ok(stats.requests.native >= 19, `requests answered natively: ${stats.requests.native}`);
  });

  test('concurrent requests for a cached key: the handler does not run again; hits do not reach JS', T, async (t) => {
    const count = counter();
    const s = await serve(t, (app) => {
      app.get('/page', (req, res) => {
        count.run(req);
        res.ncache(`<p>run ${count.of('/page')}</p>`, 60);
      });
    });
    const first = await get(s.port, '/page');
    assert.equal(first.status, 200);
    assert.match(first.headers['content-type'], /^text\/html/);
    assert.equal(first.text, '<p>run 1</p>');
    const before = s.server.stats();

    const responses = await concurrent(s.port, 20, buildRequest('GET', '/page'));
    assert.equal(count.of('/page'), 1, 'handler runs');
    for (const [i, res] of responses.entries()) assertSameResponse(res, first, `concurrent response ${i}`);

    const after = s.server.stats();
    assert.equal(after.requests.js, before.requests.js, 'requests.js does not grow on hits');
    assert.equal(after.cache.hits, before.cache.hits + 20, 'cache.hits grows by one per hit');
  });

  test('the key is the path and query as received: other queries are other entries', T, async (t) => {
    const count = counter();
    const s = await serve(t, (app) => {
      app.get('/q', (req, res) => {
        const n = count.run(req);
        res.ncache({ url: req.url, n }, 60);
      });
    });
    const c = await connection(t, s.port);
    for (const target of ['/q?a=1', '/q?a=2', '/q', '/q?', '/q?a=1&b=2', '/q?b=2&a=1']) {
      for (let i = 0; i < 3; i++) {
        const res = await c.get(target);
        assert.equal(res.status, 200);
        assert.deepEqual(res.json(), { url: target, n: 1 }, `${target}, request ${i}`);
      }
      assert.equal(count.of(target), 1, `handler runs for ${target}`);
    }
    assert.equal(count.total, 6);
  });

  test('an entry expires after its TTL and the handler runs again', T, async (t) => {
    const count = counter();
    const s = await serve(t, (app) => {
      app.get('/short', (req, res) => res.ncache({ n: count.run(req) }, 0.5));
    });
    // Two requests in a row; the second is a hit unless the machine stalled past the TTL.
    const twice = async (n, what) => {
      assert.deepEqual((await get(s.port, '/short')).json(), { n }, what);
      const stored = Date.now();
      const again = (await get(s.port, '/short')).json();
      if (Date.now() - stored < 400) assert.deepEqual(again, { n }, `${what}, then from the cache`);
    };
    await twice(1, 'first request');
    assert.equal(count.of('/short'), 1);
    await sleep(1200);
    const before = count.of('/short');
    await twice(before + 1, 'expired: the handler answers');
    assert.equal(count.of('/short'), before + 1);
  });

  test('cache options are checked', async () => {
    const { createApp } = require('..');
    for (const cache of [{ maxBytes: 0 }, { maxBytes: 2 ** 32 }, { maxBytes: 1.5 }, { maxEntries: '10' }, { max: 1 }, 5, []]) {
      assert.throws(() => createApp({ cache }), { code: 'HN_ERR_BAD_OPTION' }, JSON.stringify(cache));
    }
    await assert.rejects(createApp().listen({ port: 0, cache: { maxEntries: -1 } }), { code: 'HN_ERR_BAD_OPTION' });
    createApp({ cache: { maxBytes: 2 ** 32 - 1, maxEntries: 1 } });
  });

  test('cache.maxBytes: the least recently used entry is evicted', T, async (t) => {
    const body = (target) => `${target}:`.padEnd(1024, 'x');
    const setup = (count) => (app) => {
      app.get('/e/:id', (req, res) => {
        count.run(req);
        res.ncache(body(req.url), 60);
      });
    };
    // How much one entry weighs in the cache's own accounting, measured on a first server.
    const probe = await start(setup(counter()));
    let entryBytes;
    try {
      await get(probe.port, '/e/0');
      const stats = probe.server.stats();
      assert.equal(stats.cache.entries, 1);
      entryBytes = stats.cache.bytes;
      assert.ok(entryBytes >= 1024, `an entry holds at least its body: ${entryBytes} bytes`);
    } finally {
      await closeServer(probe.server);
    }

    // Room for two entries, not three.
    const count = counter();
    const s = await serve(t, setup(count), { appOptions: { cache: { maxBytes: Math.floor(entryBytes * 2.5) } } });
    const c = await connection(t, s.port);
    await c.get('/e/1');
    await c.get('/e/2');
    assert.equal(s.server.stats().cache.entries, 2, 'two entries fit');
    await c.get('/e/1'); // /e/1 is now more recently used than /e/2
    assert.equal(count.of('/e/1'), 1);
    await c.get('/e/3'); // evicts /e/2
    const stats = s.server.stats();
    assert.equal(stats.cache.entries, 2);
    assert.ok(stats.cache.bytes <= Math.floor(entryBytes * 2.5), `cache.bytes ${stats.cache.bytes} within maxBytes`);
    assert.ok(stats.cache.evictions >= 1, 'an eviction is counted');

    assert.equal((await c.get('/e/1')).text, body('/e/1'));
    assert.equal((await c.get('/e/3')).text, body('/e/3'));
    assert.equal(count.of('/e/1'), 1, '/e/1 stayed cached');
    assert.equal(count.of('/e/3'), 1, '/e/3 stayed cached');
    assert.equal((await c.get('/e/2')).text, body('/e/2'));
    assert.equal(count.of('/e/2'), 2, '/e/2 was evicted: its handler ran again');
  });

  test('cache.maxEntries bounds the number of entries', T, async (t) => {
    const count = counter();
    const s = await serve(t, (app) => app.get('/m/:id', (req, res) => res.ncache({ n: count.run(req) }, 60)), {
      listenOptions: { cache: { maxEntries: 2 } },
    });
    const c = await connection(t, s.port);
    for (const target of ['/m/1', '/m/2', '/m/3']) await c.get(target);
    const stats = s.server.stats();
    assert.equal(stats.cache.entries, 2);
    assert.ok(stats.cache.evictions >= 1);
    await c.get('/m/3');
    await c.get('/m/2');
    assert.equal(count.of('/m/3'), 1);
    assert.equal(count.of('/m/2'), 1);
    await c.get('/m/1');
    assert.equal(count.of('/m/1'), 2, 'the oldest entry was evicted');
  });

  test('app.cache.invalidate(path), invalidate(prefix*) and clear() work while serving', T, async (t) => {
    const count = counter();
    const s = await serve(t, (app) => {
      app.get('/inv/*', (req, res) => res.ncache({ url: req.url, n: count.run(req) }, 60));
      app.get('/invx', (req, res) => res.ncache({ url: req.url, n: count.run(req) }, 60));
    });
    const targets = ['/inv/a', '/inv/a?x=1', '/inv/ab', '/inv/b/c', '/invx'];
    // One connection kept open across the invalidations: they apply to a server that is serving.
    const c = await connection(t, s.port);
    const fetchAll = async () => {
      for (const target of targets) {
        const res = await c.get(target);
        assert.equal(res.status, 200);
        assert.equal(res.json().url, target);
      }
    };
    const runs = () => targets.map((target) => count.of(target));

    await fetchAll();
    await fetchAll();
    assert.deepEqual(runs(), [1, 1, 1, 1, 1]);

    s.app.cache.invalidate('/inv/a'); // that path, with any query; not /inv/ab
    await fetchAll();
    assert.deepEqual(runs(), [2, 2, 1, 1, 1]);

    s.app.cache.invalidate('/inv/*'); // every key under /inv/, not /invx
    await fetchAll();
    assert.deepEqual(runs(), [3, 3, 2, 2, 1]);

    s.app.cache.clear();
    await fetchAll();
    assert.deepEqual(runs(), [4, 4, 3, 3, 2]);
    await fetchAll();
    assert.deepEqual(runs(), [4, 4, 3, 3, 2], 'cached again after clear()');

    assert.throws(() => s.app.cache.invalidate('no-slash'), { code: 'HN_ERR_INVALID_ARG' });
  });

  // Regression: Rust applied cache operations before responses that reached its mailbox earlier,
  // so an invalidation could be undone by a response cached just before it. JS hands its
  // buffered responses over before invalidating (js/app.js); Rust keeps that order.
  test('an invalidation drops a response cached just before it, in the same turn', T, async (t) => {
    const count = counter();
    const s = await serve(t, (app) => {
      app.get('/same-turn/:i', (req, res) => {
        count.run(req);
        res.ncache('v', 60);
        app.cache.invalidate(req.path);
      });
    });
    for (let i = 0; i < 20; i++) {
      await get(s.port, `/same-turn/${i}`);
      await get(s.port, `/same-turn/${i}`);
      assert.equal(count.of(`/same-turn/${i}`), 2, `/same-turn/${i}: the invalidated entry was not served`);
    }
  });

  test('app.cache before listen() and after close() does nothing', T, async () => {
    const { createApp } = require('..');
    const app = createApp();
    app.get('/x', (req, res) => res.ncache('x', 60));
    app.cache.invalidate('/x');
    app.cache.clear();
    const server = await app.listen(0);
    await closeServer(server);
    app.cache.invalidate('/x');
    app.cache.clear();
  });

  test('a strong ETag; If-None-Match gets 304 from Rust', T, async (t) => {
    const count = counter();
    const s = await serve(t, (app) => app.get('/tag', (req, res) => res.ncache('tagged body', 60)));
    const s2 = await serve(t, (app) => {
      app.get('/own', (req, res) => {
        count.run(req);
        res.set('ETag', '"mine"').ncache('own tag', 60);
      });
    });

    const first = await get(s.port, '/tag');
    const hit = await get(s.port, '/tag');
    const etag = hit.headers.etag;
    assert.match(etag, STRONG_ETAG, `strong ETag, got ${etag}`);
    if (first.headers.etag !== undefined) assert.equal(first.headers.etag, etag, 'the first response has the same ETag');

    for (const condition of [etag, `"nope", ${etag}`, `W/${etag}`, '*']) {
      const c = await RawClient.connect(s.port);
      try {
        await c.write(buildRequest('GET', '/tag', { headers: { 'If-None-Match': condition } }));
        const res = await c.readResponse();
        assert.equal(res.status, 304, `If-None-Match: ${condition}`);
        assert.equal(res.body.length, 0);
        assert.equal(res.headers.etag, etag);
        assertDateHeader(assert, res);
        // Nothing after the 304's head: a body would be read as the next response.
        await c.write(buildRequest('GET', '/tag'));
        const next = await c.readResponse();
        assert.equal(next.status, 200);
        assert.equal(next.text, 'tagged body');
        assert.equal(c.leftover.length, 0);
      } finally {
        c.destroy();
      }
    }

    const other = await get(s.port, '/tag', { headers: { 'If-None-Match': '"something-else"' } });
    assert.equal(other.status, 200);
    assert.equal(other.text, 'tagged body');
    assert.equal(other.headers.etag, etag);

    const stats = s.server.stats();
    assert.equal(stats.requests.js, 1);
    assert.ok(stats.cache.notModified >= 4, `cache.notModified ${stats.cache.notModified}`);

    // An ETag set by the handler is kept, and matched.
    await get(s2.port, '/own');
    assert.equal((await get(s2.port, '/own')).headers.etag, '"mine"');
    const mine = await get(s2.port, '/own', { headers: { 'If-None-Match': '"mine"' } });
    assert.equal(mine.status, 304);
    assert.equal(count.of('/own'), 1);
  });

  test('HEAD on a cached key: the headers with the content-length of the body, no body, no JS', T, async (t) => {
    const count = counter();
    const body = 'a body of some length'.repeat(10);
    const s = await serve(t, (app) => {
      app.get('/h', (req, res) => {
        count.run(req);
        res.type('text').ncache(body, 60);
      });
    });
    const c = await connection(t, s.port);
    // The first request is a HEAD: JS answers it through the GET route, and the full response is
    // stored, so a later GET gets the body.
    const head1 = await c.get('/h', { method: 'HEAD' });
    assert.equal(head1.status, 200);
    const get1 = await c.get('/h');
    assert.equal(get1.text, body);
    const head2 = await c.get('/h', { method: 'HEAD' });
    assert.equal(head2.status, 200);
    assert.equal(head2.headers['content-length'], String(Buffer.byteLength(body)));
    assert.match(head2.headers['content-type'], /^text\/plain/);
    assert.equal(head2.headers.etag, get1.headers.etag);
    assert.equal(head2.body.length, 0);
    // Still in sync: no body came after the HEAD responses.
    const get2 = await c.get('/h');
    assert.equal(get2.text, body);
    assert.equal(c.client.leftover.length, 0);
    assert.equal(count.of('/h'), 1, 'the handler ran for the first HEAD only');
  });

  test('Date is current on hits and Age grows', T, async (t) => {
    const s = await serve(t, (app) => app.get('/d', (req, res) => res.ncache('d', 60)));
    const first = await get(s.port, '/d');
    assertDateHeader(assert, first);
    const hit = await get(s.port, '/d');
    assert.match(hit.headers.age || '', /^\d+$/, `Age on a hit: ${hit.headers.age}`);
    await sleep(1600);
    const later = await get(s.port, '/d');
    assertDateHeader(assert, later);
    assert.notEqual(later.headers.date, first.headers.date, 'Date is not frozen at the time of caching');
    assert.ok(Date.parse(later.headers.date) > Date.parse(first.headers.date));
    assert.match(later.headers.age || '', /^\d+$/);
    assert.ok(Number(later.headers.age) >= 1, `Age after 1.6 s: ${later.headers.age}`);
    assert.ok(Number(later.headers.age) > Number(hit.headers.age), 'Age increases');
  });

  test('pipelined behind a JS response, a cached answer keeps its place in line', T, async (t) => {
    const s = await serve(t, (app) => {
      app.get('/slow', async (req, res) => {
        await sleep(200);
        res.send('slow');
      });
      app.get('/fast', (req, res) => res.ncache('fast', 60));
    });
    await get(s.port, '/fast');
    const c = await RawClient.connect(s.port);
    try {
      await c.write(Buffer.concat(['/slow', '/fast', '/slow', '/fast', '/fast'].map((p) => buildRequest('GET', p))));
      const responses = await c.readResponses(5);
      assert.deepEqual(responses.map((r) => r.text), ['slow', 'fast', 'slow', 'fast', 'fast']);
    } finally {
      c.destroy();
    }
    assert.equal(s.server.stats().cache.hits, 3);
  });

  test('Connection: close on a hit closes the connection after the cached response', T, async (t) => {
    const s = await serve(t, (app) => app.get('/cc', (req, res) => res.ncache('cc', 60)));
    await get(s.port, '/cc');
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/cc', { headers: { Connection: 'close' } }));
      const res = await c.readResponse();
      assert.equal(res.text, 'cc');
      assert.equal(res.headers.connection, 'close');
      await c.waitForClose();
    } finally {
      c.destroy();
    }
    // HTTP/1.0 without keep-alive closes as well.
    const c10 = await RawClient.connect(s.port);
    try {
      await c10.write(buildRequest('GET', '/cc', { version: '1.0' }));
      const res = await c10.readResponse();
      assert.equal(res.text, 'cc');
      await c10.waitForClose();
    } finally {
      c10.destroy();
    }
    assert.equal(s.server.stats().requests.js, 1);
  });

  // Regression: the answer that fills the cache was written from the stored entry, which drops
  // the handler's `Connection: close`.
  test('Connection: close set by the handler of an ncache() response closes that connection', T, async (t) => {
    const s = await serve(t, (app) => app.get('/bye', (req, res) => res.set('Connection', 'close').ncache('bye', 60)));
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('GET', '/bye'));
      const res = await c.readResponse();
      assert.equal(res.text, 'bye');
      assert.equal(res.headers.connection, 'close');
      await c.waitForClose(2000);
    } finally {
      c.destroy();
    }
  });

  test('a response that sets cookies is refused (500) and not cached', T, async (t) => {
    const count = counter();
    const codes = [];
    const s = await serve(t, (app) => {
      const refuse = (fn) => (req, res) => {
        count.run(req);
        try {
          fn(res);
        } catch (err) {
          codes.push([err.code, err.message]);
          throw err;
        }
      };
      app.get('/cookie', refuse((res) => res.set('Set-Cookie', 'id=1').ncache('secret', 60)));
      app.get('/cookie-option', refuse((res) => res.ncache('secret', 60, { headers: { 'set-cookie': ['a=1'] } })));
    });
    for (const target of ['/cookie', '/cookie-option']) {
      for (let i = 1; i <= 2; i++) {
        const res = await get(s.port, target);
        assert.equal(res.status, 500);
        assert.deepEqual(res.json(), { error: 'Internal Server Error' });
        assert.equal(count.of(target), i, `${target}: nothing was cached, the handler runs again`);
      }
    }
    assert.equal(codes.length, 4);
    for (const [code, message] of codes) {
      assert.equal(code, 'HN_ERR_CACHE_COOKIE');
      assert.match(message, /cannot cache a response that sets cookies/);
    }
    assert.equal(s.server.stats().cache.entries, 0);
  });

  test('ncache on a POST goes to the error handler and caches nothing', T, async (t) => {
    const errors = [];
    const count = counter();
    const s = await serve(t, (app) => {
      app.all('/p', (req, res) => {
        count.run(req);
        res.ncache(`method ${req.method}`, 60);
      });
      app.error((err, req, res) => {
        errors.push(err.code);
        res.status(409).json({ code: err.code });
      });
    });
    const posted = await get(s.port, '/p', { method: 'POST' });
    assert.equal(posted.status, 409);
    assert.deepEqual(posted.json(), { code: 'HN_ERR_CACHE_METHOD' });
    assert.deepEqual(errors, ['HN_ERR_CACHE_METHOD']);
    assert.equal(s.server.stats().cache.entries, 0);
    const got = await get(s.port, '/p');
    assert.equal(got.text, 'method GET');
    assert.equal(count.of('/p'), 2, 'the GET was not answered from a cache filled by the POST');
  });

  test('ncache in a HEAD route is refused: its answer would be replayed to GET requests', T, async (t) => {
    const codes = [];
    const s = await serve(t, (app) => {
      app.head('/hr', (req, res) => {
        try {
          res.ncache('', 60);
        } catch (err) {
          codes.push(err.code);
          throw err;
        }
      });
      app.get('/hr', (req, res) => res.send('from GET'));
    });
    const head = await get(s.port, '/hr', { method: 'HEAD' });
    assert.equal(head.status, 500);
    assert.deepEqual(codes, ['HN_ERR_CACHE_METHOD']);
    assert.equal((await get(s.port, '/hr')).text, 'from GET');
    assert.equal(s.server.stats().cache.entries, 0);
  });

  test('an invalid TTL is a TypeError (HN_ERR_INVALID_ARG) before anything is sent', T, async (t) => {
    const codes = [];
    const bad = [0, -1, NaN, Infinity, '5', undefined, 5e9];
    const s = await serve(t, (app) => {
      app.get('/ttl/:i', (req, res) => {
        try {
          res.ncache('x', bad[Number(req.params.i)]);
        } catch (err) {
          codes.push(err instanceof TypeError ? err.code : 'not a TypeError');
          throw err;
        }
      });
    });
    for (let i = 0; i < bad.length; i++) {
      const res = await get(s.port, `/ttl/${i}`);
      assert.equal(res.status, 500, `ttl ${String(bad[i])}`);
    }
    assert.deepEqual(codes, bad.map(() => 'HN_ERR_INVALID_ARG'));
    assert.equal(s.server.stats().cache.entries, 0);
  });
});

describe('single-flight', () => {
  // The handler takes a while, so every concurrent request arrives while the first is in JS.
  function slowApp(count, ttl) {
    return (app) => {
      app.get('/sf/:id', async (req, res) => {
        const n = count.run(req);
        await sleep(300);
        res.ncache({ url: req.url, n }, ttl);
      });
    };
  }

  test('50 concurrent misses for a new key run the handler once', T, async (t) => {
    const count = counter();
    const s = await serve(t, slowApp(count, 60));
    // The route's first ncache() tells Rust it is cacheable.
    assert.deepEqual((await get(s.port, '/sf/warm')).json(), { url: '/sf/warm', n: 1 });

    const responses = await concurrent(s.port, 50, buildRequest('GET', '/sf/new'));
    assert.equal(count.of('/sf/new'), 1, 'the handler ran once for /sf/new');
    for (const [i, res] of responses.entries()) {
      assert.equal(res.status, 200, `response ${i}`);
      assert.deepEqual(res.json(), { url: '/sf/new', n: 1 }, `response ${i}`);
    }
  });

  test('50 concurrent misses for an expired key run the handler once more', T, async (t) => {
    const count = counter();
    const s = await serve(t, slowApp(count, 0.4));
    assert.deepEqual((await get(s.port, '/sf/k')).json(), { url: '/sf/k', n: 1 });
    await sleep(1000);
    const responses = await concurrent(s.port, 50, buildRequest('GET', '/sf/k'));
    assert.equal(count.of('/sf/k'), 2, 'the handler ran once after expiry');
    for (const [i, res] of responses.entries()) {
      assert.equal(res.status, 200, `response ${i}`);
      assert.deepEqual(res.json(), { url: '/sf/k', n: 2 }, `response ${i}`);
    }
  });

  test('waiting requests whose answer was not cached are dispatched to JS themselves', T, async (t) => {
    const count = counter();
    const s = await serve(t, (app) => {
      app.get('/maybe/:id', async (req, res) => {
        const n = count.run(req);
        await sleep(200);
        if (req.params.id === 'warm') res.ncache('warm', 60);
        else res.send(`uncached ${n}`);
      });
    });
    await get(s.port, '/maybe/warm');
    const responses = await concurrent(s.port, 10, buildRequest('GET', '/maybe/no'));
    for (const [i, res] of responses.entries()) {
      assert.equal(res.status, 200, `response ${i}`);
      assert.match(res.text, /^uncached \d+$/);
    }
    assert.equal(count.of('/maybe/no'), 10, 'every request got its own answer from JS');
    assert.equal(new Set(responses.map((r) => r.text)).size, 10);
  });

  test('a leader whose client left and whose handler honours req.signal hands its flight to a waiter at once', T, async (t) => {
    const count = counter();
    let leaderStarted = false;
    const s = await serve(
      t,
      (app) => {
        app.get('/f/:id', (req, res) => {
          const n = count.run(req);
          if (req.params.id === 'warm') return res.ncache('warm', 60);
          if (n === 1) {
            // The first request for the key waits for its client; leaving aborts it, unanswered.
            leaderStarted = true;
            return;
          }
          res.ncache(`answer ${n}`, 60);
        });
      },
      // Long enough that waiting it out fails the test below.
      { listenOptions: { handlerTimeout: 30000 } },
    );
    await get(s.port, '/f/warm');
    const leader = await RawClient.connect(s.port);
    await leader.write(buildRequest('GET', '/f/k'));
    await waitFor(() => leaderStarted);
    const waiters = await Promise.all(Array.from({ length: 3 }, () => RawClient.connect(s.port)));
    t.after(() => waiters.forEach((c) => c.destroy()));
    for (const c of waiters) await c.write(buildRequest('GET', '/f/k'));
    // The leader and its three waiters (the warm-up came before the route was known to cache).
    await waitFor(() => s.server.stats().cache.misses >= 4);
    leader.socket.resetAndDestroy();
    const answers = await Promise.all(waiters.map((c) => c.readResponse({ timeout: 5000 })));
    assert.deepEqual(answers.map((r) => [r.status, r.text]), Array(3).fill([200, 'answer 2']));
    assert.equal(count.of('/f/k'), 2, 'one waiter ran the handler; the others got its answer');
  });

  async function waitFor(check) {
    for (let i = 0; i < 250 && !check(); i++) await sleep(20);
    assert.ok(check(), 'the condition held in time');
  }
});

test('invalidation reaches every spelling of a path: /x/%31 with /x/1, raw UTF-8 with its escapes', T, async (t) => {
  const count = counter();
  const s = await serve(t, (app) => {
    app.get('/x/:id', (req, res) => res.ncache(`${req.params.id} #${count.run(req)}`, 60));
  });
  const body = async (target) => (await get(s.port, target)).text;
  for (const target of ['/x/1', '/x/%31', '/x/%31?q=1', '/x/%C3%A9', '/x/%2F']) await body(target);
  assert.equal(await body('/x/%31'), '1 #1', 'cached');
  s.app.cache.invalidate('/x/1');
  assert.equal(await body('/x/%31'), '1 #2', '/x/%31 was invalidated with /x/1');
  assert.equal(await body('/x/%31?q=1'), '1 #2');
  assert.equal(await body('/x/%2F'), '/ #1', 'an escaped slash is another path');
  s.app.cache.invalidate('/x/é');
  assert.equal(await body('/x/%C3%A9'), 'é #2');
  s.app.cache.invalidate('/x/%2f*');
  assert.equal(await body('/x/%2F'), '/ #2');
});
