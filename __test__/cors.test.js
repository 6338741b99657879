'use strict';
// cors(): the `cors` package's answers for the same options (compared with the package itself,
// run on node:http), preflights answered by Rust without a request reaching JS when the options
// are static and nothing runs before the middleware, and the same bytes from JS otherwise.
const { test, describe } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const http = require('node:http');
const corsPackage = require('cors');
const { cors } = require('..');
const { serve, exchange, buildRequest } = require('./helpers');

const T = { timeout: 20000 };
const ORIGIN = 'https://app.example';

// Requests to ask: preflights (with and without asked headers, allowed and refused origins, a
// Private Network Access one) and actual requests.
const ASKS = [
  ['OPTIONS', { origin: ORIGIN, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-a, content-type' }],
  ['OPTIONS', { origin: ORIGIN, 'access-control-request-method': 'DELETE' }],
  ['OPTIONS', { origin: 'https://evil.example', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-a' }],
  ['OPTIONS', { origin: ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-private-network': 'true' }],
  ['GET', { origin: ORIGIN }],
  ['GET', { origin: 'https://evil.example' }],
  ['POST', {}],
];
// Compared too, but answered by JS: node joins a repeated Origin into the one value the
// middleware decides on.
const COMPARED = [
  ...ASKS,
  ['OPTIONS', [['origin', ORIGIN], ['origin', 'https://b.example'], ['access-control-request-method', 'PUT']]],
];

// Option sets Rust answers natively (static ones).
const STATIC_OPTIONS = [
  {},
  { origin: ORIGIN },
  { origin: true, credentials: true },
  { origin: [ORIGIN, 'https://b.example'], maxAge: 600, exposedHeaders: ['x-total', 'x-page'] },
  { origin: '*', allowedHeaders: ['content-type', 'authorization'], methods: ['GET', 'POST'] },
  { origin: ORIGIN, allowedHeaders: [], optionsSuccessStatus: 200, maxAge: 0 },
  { origin: ORIGIN, privateNetworkAccess: true, allowedHeaders: 'x-a' },
];

// The CORS part of an answer: its status and the headers the middleware decides, lower-cased.
function corsPart(res) {
  const headers = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (name.startsWith('access-control-') || name === 'vary') headers[name] = value;
  }
  return { status: res.status, headers };
}

// The whole head but the Date, as sent: names in their spelling, in order.
function head(res) {
  return { status: res.status, headers: res.rawHeaders.filter(([name]) => name.toLowerCase() !== 'date') };
}

function ask(port, [method, headers], path = '/api/items') {
  return exchange(port, buildRequest(method, path, { headers }));
}

// The `cors` package itself, on node:http, with an app answering 200 'next' after it.
async function packageServer(t, options) {
  const mw = corsPackage(options);
  const server = http.createServer((req, res) => mw(req, res, () => res.end('next')));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return server.address().port;
}

function app(options, { before } = {}) {
  return (a) => {
    if (before) a.use(before);
    a.use(cors(options));
    a.get('/api/items', (req, res) => res.send('next'));
    a.post('/api/items', (req, res) => res.send('next'));
  };
}

const passThrough = (req, res, next) => next();

describe('cors()', () => {
  test('answers as the cors package does for the same options (preflights and actual requests)', T, async (t) => {
    // Private Network Access is ours: the package knows nothing of it.
    const options = [...STATIC_OPTIONS.filter((o) => !o.privateNetworkAccess), { origin: /\.example$/ }];
    for (const o of options) {
      const ours = await serve(t, app(o));
      const theirs = await packageServer(t, o);
      for (const asked of COMPARED) {
        const a = await ask(ours.port, asked);
        const b = await ask(theirs, asked);
        assert.deepEqual(corsPart(a), corsPart(b), `${JSON.stringify(o)} ${JSON.stringify(asked)}`);
      }
    }
  });

  test('static options: Rust answers preflights, no request reaches JS', T, async (t) => {
    for (const o of STATIC_OPTIONS) {
      const s = await serve(t, app(o));
      const before = s.server.stats().requests.js;
      for (const asked of ASKS.filter(([method]) => method === 'OPTIONS')) {
        const res = await ask(s.port, asked);
        assert.equal(res.status, o.optionsSuccessStatus ?? 204);
      }
      assert.equal(s.server.stats().requests.js - before, 0, `JS ran for a preflight with ${JSON.stringify(o)}`);
      // An actual request still goes to JS (its handler answers) with its CORS headers.
      const res = await ask(s.port, ['GET', { origin: ORIGIN }]);
      assert.equal(res.text, 'next');
      assert.equal(s.server.stats().requests.js - before, 1);
    }
  });

  test('the same bytes from Rust and from JS (middleware before cors() keeps it in JS)', T, async (t) => {
    for (const o of STATIC_OPTIONS) {
      const native = await serve(t, app(o));
      const js = await serve(t, app(o, { before: passThrough }));
      for (const asked of COMPARED) {
        const jsBefore = js.server.stats().requests.js;
        assert.deepEqual(head(await ask(native.port, asked)), head(await ask(js.port, asked)), `${JSON.stringify(o)} ${JSON.stringify(asked)}`);
        assert.equal(js.server.stats().requests.js - jsBefore, 1, 'the JS side really ran');
      }
    }
  });

  test('Private Network Access: allowed only when asked for and enabled', T, async (t) => {
    const on = await serve(t, app({ origin: ORIGIN, privateNetworkAccess: true }));
    const off = await serve(t, app({ origin: ORIGIN }));
    const pna = ASKS[3];
    assert.equal((await ask(on.port, pna)).headers['access-control-allow-private-network'], 'true');
    assert.equal((await ask(off.port, pna)).headers['access-control-allow-private-network'], undefined);
    assert.equal((await ask(on.port, ASKS[1])).headers['access-control-allow-private-network'], undefined);
  });

  test('requests no route matches: preflights answered natively under the middleware prefix', T, async (t) => {
    const s = await serve(t, (a) => {
      a.use('/other', passThrough);
      a.use('/api', cors({ origin: ORIGIN }));
      a.get('/api/items', (req, res) => res.send('next'));
    });
    const before = s.server.stats().requests.js;
    const res = await ask(s.port, ASKS[0], '/api/anything/else');
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
    assert.equal(s.server.stats().requests.js - before, 0);
    // Outside the prefix cors() does not apply: the app's 404.
    assert.equal((await ask(s.port, ASKS[0], '/elsewhere')).status, 404);
  });

  test('JS answers where the chain says so: an OPTIONS route registered first, origin functions', T, async (t) => {
    const s = await serve(t, (a) => {
      a.options('/own', (req, res) => res.status(200).send('own'));
      a.use(cors({ origin: ORIGIN }));
      a.use('/fn', cors({ origin: (origin, cb) => cb(null, origin === ORIGIN ? origin : false) }));
      a.get('/own', (req, res) => res.send('get'));
      a.get('/fn', (req, res) => res.send('fn'));
    });
    const own = await ask(s.port, ASKS[0], '/own');
    assert.equal(own.status, 200);
    assert.equal(own.text, 'own');
    assert.equal(own.headers['access-control-allow-origin'], undefined);
    const fn = await ask(s.port, ['GET', { origin: ORIGIN }], '/fn');
    assert.equal(fn.headers['access-control-allow-origin'], ORIGIN);
  });

  test('a plain OPTIONS (no Origin) is answered by the JS middleware, as by the package', T, async (t) => {
    const s = await serve(t, app({ origin: ORIGIN }));
    const before = s.server.stats().requests.js;
    const res = await ask(s.port, ['OPTIONS', {}]);
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
    assert.equal(s.server.stats().requests.js - before, 1);
  });

  test('per-request options (a function) work as the package\'s', T, async (t) => {
    const s = await serve(t, (a) => {
      a.use(cors((req, cb) => cb(null, { origin: req.headers['x-tenant'] === 'a' ? ORIGIN : false })));
      a.get('/api/items', (req, res) => res.send('next'));
    });
    const yes = await exchange(s.port, buildRequest('GET', '/api/items', { headers: { origin: ORIGIN, 'x-tenant': 'a' } }));
    assert.equal(yes.headers['access-control-allow-origin'], ORIGIN);
    const no = await exchange(s.port, buildRequest('GET', '/api/items', { headers: { origin: ORIGIN } }));
    assert.equal(no.headers['access-control-allow-origin'], undefined);
    assert.equal(no.text, 'next');
  });

  test('a cached answer (res.ncache) is not replayed to another origin: Vary: Origin keeps it out of the cache', T, async (t) => {
    let runs = 0;
    const s = await serve(t, (a) => {
      a.use(cors({ origin: [ORIGIN, 'https://b.example'] }));
      a.get('/feed', (req, res) => {
        runs++;
        res.ncache({ items: [1] }, 60);
      });
    });
    const first = await exchange(s.port, buildRequest('GET', '/feed', { headers: { origin: ORIGIN } }));
    assert.equal(first.headers['access-control-allow-origin'], ORIGIN);
    const other = await exchange(s.port, buildRequest('GET', '/feed', { headers: { origin: 'https://b.example' } }));
    assert.equal(other.headers['access-control-allow-origin'], 'https://b.example');
    assert.equal(runs, 2);
  });
});
