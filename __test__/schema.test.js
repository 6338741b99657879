'use strict';
// Route schemas (`{ schema: { params, query, headers, body } }`, js/schema.js, src/validate/):
// JSON Schemas and the JSON Schemas Standard Schemas expose are checked by Rust before JS runs
// (proven with the server's own count of requests that reached JS, and a handler counter), the
// rest by JS at the route boundary; both answer 400 (415) with the same shape.
const { test, describe, before, after } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const { z } = require('zod');
const v = require('valibot');
const { type } = require('arktype');
const { createApp } = require('..');
const { start, request, get, buildRequest, exchange } = require('./helpers');

const T = { timeout: 15000 };

const ITEM_PARAMS = { type: 'object', properties: { id: { type: 'integer', minimum: 1 } } };
const ITEM_QUERY = {
  type: 'object',
  properties: {
    limit: { type: 'integer', maximum: 50 },
    ratio: { type: 'number' },
    full: { type: 'boolean' },
    tags: { type: 'array', items: { type: 'string' } },
    ids: { type: 'array', items: { type: 'integer' } },
    name: { type: 'string' },
    since: { type: ['integer', 'null'] },
  },
  required: ['limit'],
};
const ITEM_BODY = {
  type: 'object',
  properties: { title: { type: 'string', minLength: 1 }, tags: { type: 'array', items: { type: 'string' } } },
  required: ['title'],
};
const HEADERS = { type: 'object', properties: { 'X-Count': { type: 'integer' } }, required: ['X-Count'] };

function post(base, path, body, contentType = 'application/json', headers = {}) {
  return request(base, path, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body });
}

function jsRequests(s) {
  return s.server.stats().requests.js;
}

describe('JSON Schema routes, checked by Rust', () => {
  let s;
  let runs = 0;
  before(async () => {
    s = await start((app) => {
      app.get('/items/:id', { schema: { params: ITEM_PARAMS, query: ITEM_QUERY } }, (req, res) => {
        runs++;
        res.json({ params: req.params, query: { ...req.query } });
      });
      app.post('/items', { schema: { body: ITEM_BODY } }, (req, res) => {
        runs++;
        res.json({ body: req.body });
      });
      app.post(
        '/contact',
        { schema: { body: { type: 'object', properties: { email: { type: 'string', format: 'email' } } } } },
        (req, res) => res.json({ ok: true }),
      );
      app.get('/headers', { schema: { headers: HEADERS } }, (req, res) => {
        runs++;
        res.json({ count: req.headers['x-count'], other: req.headers['x-other'] });
      });
    });
  });
  after(() => s.close());

  test('a request within its schemas reaches the handler with coerced params, query and headers', T, async () => {
    let r = await request(s.base, '/items/7?limit=10&ratio=0.5&full=true&tags=a&ids=1&ids=2&name=42');
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {
      params: { id: 7 },
      query: { limit: 10, ratio: 0.5, full: true, tags: ['a'], ids: [1, 2], name: '42' },
    });
    // Numbers as JSON writes them (what Rust checked is what the handler gets), '' as null.
    r = await request(s.base, '/items/1?limit=1e1&ratio=-0.25&since=');
    assert.deepEqual(await r.json(), { params: { id: 1 }, query: { limit: 10, ratio: -0.25, since: null } });
    r = await request(s.base, '/items/1?limit=0x10');
    assert.equal(r.status, 400, 'hex is not a JSON number');
    r = await request(s.base, '/items/%31%32?limit=1');
    assert.deepEqual(await r.json(), { params: { id: 12 }, query: { limit: 1 } }, 'params are checked percent-decoded');
    r = await request(s.base, '/items/%FF?limit=1');
    assert.equal(r.status, 400, 'a parameter that does not decode is refused as on any route');
    r = await request(s.base, '/headers', { headers: { 'x-count': '3', 'x-other': '4' } });
    assert.deepEqual(await r.json(), { count: 3, other: '4' });
  });

  test('a failing request is answered 400 by Rust with every issue, and no JS runs', T, async () => {
    const before = { runs, js: jsRequests(s) };
    const r = await request(s.base, '/items/0?limit=x&ids=1&ids=y&full=yes');
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
    const body = await r.json();
    assert.equal(body.error, 'Bad Request');
    // Parts in the order params, query, headers, body; within a part, the validator's order.
    assert.deepEqual(body.issues[0], { in: 'params', path: '/id', message: body.issues[0].message });
    assert.deepEqual(
      body.issues.slice(1).map((i) => `${i.in} ${i.path}`).sort(),
      ['query /full', 'query /ids/1', 'query /limit'],
    );
    for (const issue of body.issues) assert.equal(typeof issue.message, 'string');
    const missing = await request(s.base, '/items/3');
    assert.equal(missing.status, 400);
    assert.deepEqual((await missing.json()).issues.map((i) => i.in), ['query']);
    const header = await request(s.base, '/headers', { headers: { 'x-count': 'many' } });
    assert.equal(header.status, 400);
    assert.deepEqual((await header.json()).issues.map((i) => [i.in, i.path]), [['headers', '/x-count']]);
    assert.equal(runs, before.runs, 'no handler ran');
    assert.equal(jsRequests(s), before.js, 'no request reached JS');
  });

  test('a JSON Schema `format` is asserted', T, async () => {
    const before = jsRequests(s);
    const r = await post(s.base, '/contact', JSON.stringify({ email: 'nope' }));
    assert.equal(r.status, 400);
    assert.deepEqual((await r.json()).issues.map((i) => `${i.in} ${i.path}`), ['body /email']);
    assert.equal(jsRequests(s), before);
    const ok = await post(s.base, '/contact', JSON.stringify({ email: 'a@b.co' }));
    assert.equal(ok.status, 200);
  });

  test('bodies: wrong values get their JSON Pointer, a non-JSON type 415, bad or missing JSON 400; no JS runs', T, async () => {
    const before = { runs, js: jsRequests(s) };
    let r = await post(s.base, '/items', JSON.stringify({ title: '', tags: ['a', 2] }));
    assert.equal(r.status, 400);
    assert.deepEqual((await r.json()).issues.map((i) => `${i.in} ${i.path}`).sort(), ['body /tags/1', 'body /title']);
    r = await post(s.base, '/items', 'title=x', 'application/x-www-form-urlencoded');
    assert.equal(r.status, 415);
    assert.deepEqual(await r.json(), {
      error: 'Unsupported Media Type',
      issues: [{ in: 'body', path: '', message: 'the body must be application/json' }],
    });
    r = await post(s.base, '/items', '{"title":');
    assert.equal(r.status, 400);
    assert.match((await r.json()).issues[0].message, /^the body is not valid JSON/);
    r = await request(s.base, '/items', { method: 'POST' });
    assert.equal(r.status, 400);
    assert.deepEqual((await r.json()).issues, [{ in: 'body', path: '', message: 'a JSON body is required' }]);
    assert.equal(runs, before.runs);
    assert.equal(jsRequests(s), before.js);
    r = await post(s.base, '/items', JSON.stringify({ title: 't', tags: ['a'] }), 'application/vnd.api+json');
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { body: { title: 't', tags: ['a'] } });
  });

  test('HEAD on a GET route with a schema gets the 400 head without a body', T, async () => {
    const res = await get(s.port, '/items/0?limit=1', { method: 'HEAD' });
    assert.equal(res.status, 400);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.ok(Number(res.headers['content-length']) > 0);
    assert.equal(res.body.length, 0);
  });

  test('a pipelined bad request and good request are answered in order', T, async () => {
    const data = Buffer.concat([
      buildRequest('GET', '/items/0?limit=1'),
      buildRequest('GET', '/items/1?limit=1'),
    ]);
    const { res, client } = await exchange(s.port, data, { keep: true });
    try {
      assert.equal(res.status, 400);
      const second = await client.readResponse();
      assert.equal(second.status, 200);
      assert.deepEqual(JSON.parse(second.body), { params: { id: 1 }, query: { limit: 1 } });
    } finally {
      client.destroy();
    }
  });
});

describe('middleware before a route with a schema', () => {
  let s;
  let middleware = 0;
  let runs = 0;
  before(async () => {
    s = await start((app) => {
      app.get('/native/:id', { schema: { params: ITEM_PARAMS, query: ITEM_QUERY } }, (req, res) => res.json({}));
      app.use('/api', (req, res, next) => {
        middleware++;
        res.set('access-control-allow-origin', '*');
        next();
      });
      app.get('/api/:id', { schema: { params: ITEM_PARAMS, query: ITEM_QUERY } }, (req, res) => {
        runs++;
        res.json({ params: req.params, query: { ...req.query } });
      });
    });
  });
  after(() => s.close());

  test('runs first, then the request gets the same 400 Rust gives without middleware', T, async () => {
    const target = '?limit=x&ids=1&ids=y';
    const native = await request(s.base, `/native/0${target}`);
    const viaJs = await request(s.base, `/api/0${target}`);
    assert.equal(viaJs.status, 400);
    assert.equal(viaJs.headers.get('access-control-allow-origin'), '*', 'the middleware ran and its header is kept');
    assert.equal(viaJs.headers.get('content-type'), native.headers.get('content-type'));
    assert.equal(await viaJs.text(), await native.text(), 'byte for byte the same body');
    assert.equal(middleware, 1);
    assert.equal(runs, 0);
  });

  test('a valid request passes through the middleware to the handler, coerced', T, async () => {
    const r = await request(s.base, '/api/5?limit=2');
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { params: { id: 5 }, query: { limit: 2 } });
    assert.equal(runs, 1);
  });
});

describe('Standard Schemas', () => {
  let s;
  const runs = { zod: 0, valibot: 0, arktype: 0, refine: 0, async: 0 };
  before(async () => {
    s = await start((app) => {
      app.post(
        '/zod/:id',
        {
          schema: {
            params: z.object({ id: z.number().int().positive() }),
            query: z.object({ page: z.number().int().default(1) }),
            body: z.object({ name: z.string().min(2), role: z.enum(['admin', 'user']).default('user') }),
          },
        },
        (req, res) => {
          runs.zod++;
          res.json({ params: req.params, query: req.query, body: req.body });
        },
      );
      app.post(
        '/valibot',
        { schema: { body: v.object({ email: v.pipe(v.string(), v.email()), age: v.optional(v.number()) }) } },
        (req, res) => {
          runs.valibot++;
          res.json({ body: req.body });
        },
      );
      app.get('/arktype', { schema: { query: type({ n: 'number.integer > 0' }) } }, (req, res) => {
        runs.arktype++;
        res.json({ query: req.query });
      });
      // A Standard Schema whose JSON Schema says `format: email` but whose own check does not.
      const lenient = {
        '~standard': {
          version: 1,
          vendor: 'test',
          validate: (value) => ({ value }),
          jsonSchema: {
            input: () => ({
              type: 'object',
              properties: { email: { type: 'string', format: 'email' }, n: { type: 'integer' } },
            }),
          },
        },
      };
      app.post('/lenient', { schema: { body: lenient } }, (req, res) => res.json({ body: req.body }));
      app.post(
        '/refine',
        { schema: { body: z.object({ a: z.string() }).refine((b) => b.a !== 'forbidden', { message: 'a is forbidden', path: ['a'] }) } },
        (req, res) => {
          runs.refine++;
          res.json({ body: req.body });
        },
      );
      app.post(
        '/async',
        { schema: { body: z.object({ code: z.string().refine(async (c) => c === 'ok', 'bad code') }) } },
        (req, res) => {
          runs.async++;
          res.json({ body: req.body });
        },
      );
    });
  });
  after(() => s.close());

  test('zod: checked by Rust through its JSON Schema, then by zod, whose output the handler gets', T, async () => {
    const js = jsRequests(s);
    const bad = await post(s.base, '/zod/0?page=x', JSON.stringify({ name: 'a', role: 'root' }));
    assert.equal(bad.status, 400);
    const issues = (await bad.json()).issues.map((i) => [i.in, i.path]);
    assert.deepEqual(issues, [['params', '/id'], ['query', '/page'], ['body', '/name'], ['body', '/role']]);
    assert.equal(jsRequests(s), js, 'Rust answered');
    assert.equal(runs.zod, 0);
    const good = await post(s.base, '/zod/3', JSON.stringify({ name: 'ann' }));
    assert.equal(good.status, 200);
    assert.deepEqual(await good.json(), { params: { id: 3 }, query: { page: 1 }, body: { name: 'ann', role: 'user' } });
  });

  test('arktype: checked by Rust through its JSON Schema', T, async () => {
    const js = jsRequests(s);
    const bad = await request(s.base, '/arktype?n=-1');
    assert.equal(bad.status, 400);
    assert.deepEqual((await bad.json()).issues.map((i) => [i.in, i.path]), [['query', '/n']]);
    assert.equal(jsRequests(s), js);
    const good = await request(s.base, '/arktype?n=4');
    assert.deepEqual(await good.json(), { query: { n: 4 } });
    assert.equal(runs.arktype, 1);
  });

  test('valibot (no JSON Schema): checked in JS with the same answer shape; 415 and bad JSON as Rust gives them', T, async () => {
    let r = await post(s.base, '/valibot', JSON.stringify({ email: 'nope', age: 'x' }));
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
    const body = await r.json();
    assert.equal(body.error, 'Bad Request');
    assert.deepEqual(body.issues.map((i) => [i.in, i.path]), [['body', '/email'], ['body', '/age']]);
    assert.deepEqual(Object.keys(body.issues[0]), ['in', 'path', 'message']);
    r = await post(s.base, '/valibot', 'email=a', 'text/plain');
    assert.equal(r.status, 415);
    assert.deepEqual(await r.json(), {
      error: 'Unsupported Media Type',
      issues: [{ in: 'body', path: '', message: 'the body must be application/json' }],
    });
    r = await post(s.base, '/valibot', '{');
    assert.equal(r.status, 400);
    assert.match((await r.json()).issues[0].message, /^the body is not valid JSON/);
    r = await request(s.base, '/valibot', { method: 'POST' });
    assert.deepEqual((await r.json()).issues, [{ in: 'body', path: '', message: 'a JSON body is required' }]);
    assert.equal(runs.valibot, 0);
    r = await post(s.base, '/valibot', JSON.stringify({ email: 'a@b.co', extra: 1 }));
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { body: { email: 'a@b.co' } }, "valibot's output, unknown keys dropped");
  });

  test("a Standard Schema's `format` is left to the library (Rust never refuses more than it would)", T, async () => {
    const r = await post(s.base, '/lenient', JSON.stringify({ email: 'not-an-email', n: 'x' }));
    assert.equal(r.status, 400, 'the rest of its JSON Schema is still checked by Rust');
    assert.deepEqual((await r.json()).issues.map((i) => i.path), ['/n']);
    const ok = await post(s.base, '/lenient', JSON.stringify({ email: 'not-an-email', n: 1 }));
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { body: { email: 'not-an-email', n: 1 } });
  });

  test('a refinement JSON Schema cannot say is still enforced, by zod in JS', T, async () => {
    const r = await post(s.base, '/refine', JSON.stringify({ a: 'forbidden' }));
    assert.equal(r.status, 400);
    assert.deepEqual((await r.json()).issues, [{ in: 'body', path: '/a', message: 'a is forbidden' }]);
    assert.equal(runs.refine, 0);
  });

  test('an asynchronous Standard Schema is awaited', T, async () => {
    let r = await post(s.base, '/async', JSON.stringify({ code: 'no' }));
    assert.equal(r.status, 400);
    assert.deepEqual((await r.json()).issues, [{ in: 'body', path: '/code', message: 'bad code' }]);
    r = await post(s.base, '/async', JSON.stringify({ code: 'ok' }));
    assert.equal(r.status, 200);
    assert.equal(runs.async, 1);
  });
});

describe('schema options that cannot work are refused', () => {
  test('at registration: unknown parts, non-schemas, a body schema on a streamed body', () => {
    const app = createApp();
    const h = (req, res) => res.end();
    assert.throws(() => app.post('/a', { schema: { cookies: {} } }, h), { code: 'HN_ERR_SCHEMA', message: /unknown schema part "cookies"/ });
    assert.throws(() => app.post('/b', { schema: { body: 'string' } }, h), { code: 'HN_ERR_SCHEMA' });
    assert.throws(() => app.post('/c', { schema: { body: { '~standard': {} } } }, h), { code: 'HN_ERR_SCHEMA' });
    assert.throws(() => app.post('/d', { body: 'stream', schema: { body: { type: 'object' } } }, h), {
      code: 'HN_ERR_SCHEMA',
      message: /streamed body/,
    });
  });

  test('at listen(): a schema Rust cannot compile, and a remote $ref (never fetched)', T, async () => {
    for (const body of [{ type: 'nope' }, { $ref: 'https://example.com/schema.json' }]) {
      const app = createApp();
      app.post('/x', { schema: { body } }, (req, res) => res.end());
      await assert.rejects(app.listen({ port: 0, host: '127.0.0.1' }), /route POST "\/x": schema\.body is not a usable JSON Schema/);
    }
  });
});
