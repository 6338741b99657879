'use strict';
// One table of routing cases (fixtures/routing-cases.json) that every backend must answer alike:
// the native server over a real socket (the target sent byte for byte), the JavaScript route
// table (js/host/router.js) given the arrays the app hands to NativeServer.start, the node backend
// (`listen({ backend: 'node' })`) and `app.fetch` once they exist.
//
// The expectations were recorded from the native server, today's behaviour being the reference:
// `ROUTING_CASES_RECORD=1 node --test __test__/routing-table.test.js` rewrites them from what it
// answers (and the native loop then checks nothing: read the diff before committing it).
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const nodePath = require('node:path');
const { createApp } = require('..');
const { get, closeServer } = require('./helpers');
const { RouteTable, methodCode } = require('../js/host/router');

const FIXTURE = nodePath.join(__dirname, 'fixtures', 'routing-cases.json');
const table = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
const RECORD = process.env.ROUTING_CASES_RECORD === '1';
const T = { timeout: 10000 };

// The helpers write request heads as latin1: this gives them the target's UTF-8 bytes.
const wire = (target) => Buffer.from(target, 'utf8').toString('latin1');

// A case's target as sent: `repeat: [text, times]` appends a long run (kept out of the JSON).
function targetOf(c) {
  return c.repeat === undefined ? c.target : c.target + c.repeat[0].repeat(c.repeat[1]);
}

// Builds the app of route set `name`: every route answers its own name and req.params in headers
// (so HEAD shows them too; percent-encoded, header values being bytes), statics and mounts name
// themselves in a header.
function buildApp(set) {
  const app = createApp();
  const handler = (label) => (req, res) => {
    res.set('x-route', encodeURIComponent(label)).set('x-params', encodeURIComponent(JSON.stringify(req.params))).send(label);
  };
  const add = (scope, prefix, [method, path]) => {
    const label = `${method} ${prefix === '' ? path : path === '/' ? prefix : prefix + path}`;
    scope[method === 'ALL' ? 'all' : method.toLowerCase()](path, handler(label));
  };
  for (const prefix of set.middleware ?? []) {
    app.use(prefix, (req, res, next) => {
      res.set('x-middleware', prefix);
      next();
    });
  }
  for (const route of set.routes ?? []) add(app, '', route);
  for (const group of set.groups ?? []) app.group(group.prefix, (scope) => group.routes.forEach((r) => add(scope, group.prefix, r)));
  for (const path of set.statics ?? []) app.static(path, `static ${path}`, { headers: { 'x-static': encodeURIComponent(path) } });
  for (const path of set.ws ?? []) app.ws(path, { open() {} });
  const roots = [];
  for (const dir of set.dirs ?? []) {
    const root = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'hn-routing-'));
    for (const file of dir.files) {
      fs.mkdirSync(nodePath.dirname(nodePath.join(root, file)), { recursive: true });
      // Each file holds its own name: the answer says which file was served.
      fs.writeFileSync(nodePath.join(root, file), file);
    }
    roots.push(root);
    app.static(dir.prefix, { root, headers: { 'x-dir': encodeURIComponent(dir.prefix) } });
  }
  return { app, roots, cleanup: () => roots.forEach((root) => fs.rmSync(root, { recursive: true, force: true })) };
}

// What one answer says about routing, in the fixture's terms.
function observed(status, headers, body, method) {
  const seen = { status };
  if (headers['x-route'] !== undefined) {
    seen.route = decodeURIComponent(headers['x-route']);
    seen.params = JSON.parse(decodeURIComponent(headers['x-params']));
  }
  if (headers['x-static'] !== undefined) seen.static = decodeURIComponent(headers['x-static']);
  if (headers['x-dir'] !== undefined) {
    seen.dir = decodeURIComponent(headers['x-dir']);
    if (method !== 'HEAD' && status === 200) seen.file = body;
  }
  if (headers.location !== undefined) seen.location = headers.location;
  return seen;
}

const sets = Object.keys(table.sets);
const casesOf = (set) => table.cases.filter((c) => c.set === set);

// Runs every case of every set against a server started by `listen(app)`.
// node:http's parser refuses raw non-ASCII bytes in a request target (a 400 there; README
// "Backends", __test__/support/backends.js): those requests say so on the node backend.
const NON_ASCII = /[^\x00-\x7f]/;
const NODE_UTF8 = "node backend: node:http's parser refuses raw non-ASCII bytes in a request target (HPE_INVALID_URL: 400)";

// `skipCase(target)`: why this backend cannot be asked that target, or false.
function againstServer(label, listen, skip, skipCase = () => false) {
  describe(`routing table: ${label}`, () => {
    for (const set of sets) {
      describe(`set ${set}`, () => {
        let built;
        let server;
        // A backend that refuses a feature of the set by name (js/errors.js), a listed backend
        // difference rather than a routing one: its cases say so instead of failing.
        let unsupported;
        before(async () => {
          if (skip()) return;
          built = buildApp(table.sets[set]);
          try {
            server = await listen(built.app);
          } catch (err) {
            if (err.code !== 'HN_ERR_BACKEND_UNSUPPORTED') throw err;
            unsupported = err.message;
          }
        });
        after(async () => {
          if (server) await closeServer(server);
          built?.cleanup();
        });
        for (const c of casesOf(set)) {
          test(c.name, T, async (t) => {
            const why = skip() || unsupported || skipCase(targetOf(c));
            if (why) return t.skip(why);
            const res = await get(server.port, wire(targetOf(c)), { method: c.method });
            const seen = observed(res.status, res.headers, res.text, c.method);
            if (RECORD) c.expect = seen;
            else assert.deepEqual(seen, c.expect);
          });
        }
      });
    }
  });
}

againstServer('native backend', (app) => app.listen({ port: 0, host: '127.0.0.1', backend: 'native' }), () => false);

// The node backend (js/host/, helper H's branch): runs once listen() takes `backend: 'node'`;
// until then (listen() refuses the option as unknown) it resolves with undefined and `nodeMissing`
// says why. Any other failure, or a listen() that started another backend, fails the caller.
let nodeMissing;
async function listenNode(app) {
  let server;
  try {
    server = await app.listen({ port: 0, host: '127.0.0.1', backend: 'node' });
  } catch (err) {
    if (err.code === 'HN_ERR_BAD_OPTION' && /unknown option "backend"/.test(err.message)) {
      nodeMissing = `listen({ backend: 'node' }) is not available yet (${err.message.slice(0, 40)}…)`;
      return undefined;
    }
    throw err;
  }
  if (server.backend !== 'node') {
    await closeServer(server);
    throw new Error(`listen({ backend: 'node' }) started the ${server.backend} backend`);
  }
  return server;
}

againstServer('node backend', listenNode, () => (RECORD ? 'recording from the native backend only' : nodeMissing), (target) => NON_ASCII.test(target) && NODE_UTF8);

// app.fetch (helper F's branch). A Request's URL is parsed by WHATWG rules, which rewrite some
// targets (dot segments, raw non-ASCII, backslashes): those cases cannot be asked through it. Nor
// can a directory mount's (README, app.fetch: no file system, so a mount finds nothing and the
// request goes on to the app): the route table says which cases a mount decides.
describe('routing table: app.fetch', () => {
  for (const set of sets) {
    describe(`set ${set}`, () => {
      let built;
      let routeTable;
      before(() => {
        built = buildApp(table.sets[set]);
        const compiled = built.app._router.compile(built.app._limits.compression);
        routeTable = new RouteTable(compiled.routes, compiled.statics, compiled.dirs);
      });
      after(() => built.cleanup());
      for (const c of casesOf(set)) {
        test(c.name, T, async (t) => {
          if (RECORD) return t.skip('recording from the native backend only');
          if (typeof built.app.fetch !== 'function') return t.skip('app.fetch is not available yet');
          const target = targetOf(c);
          if (target === '*') return t.skip("a Request's URL cannot carry the asterisk-form target (OPTIONS *)");
          // Concatenated, not resolved against a base: '//users/42' is a path here, not a host.
          const url = new URL(target.startsWith('/') ? `http://localhost${target}` : target);
          const asSent = target.startsWith('/') ? url.pathname + url.search : url.href;
          if (asSent !== target) return t.skip(`Request's URL parser rewrites ${JSON.stringify(target.slice(0, 60))} as ${JSON.stringify(asSent.slice(0, 60))}`);
          if (c.expect.status === 414) return t.skip('maxUrlLength is checked by the HTTP parser of a server, not by app.fetch');
          if (routeTable.lookup(methodCode(c.method), c.method, originForm(target))?.kind === 'dir') {
            return t.skip('a directory mount decides it, and app.fetch reads no files (README, app.fetch)');
          }
          const res = await built.app.fetch(new Request(url, { method: c.method }));
          const headers = Object.fromEntries(res.headers);
          const body = c.method === 'HEAD' ? '' : await res.text();
          assert.deepEqual(observed(res.status, headers, body, c.method), c.expect);
        });
      }
    });
  }
});

// The JavaScript route table alone, built from the arrays the app hands to NativeServer.start:
// what it finds for each case must be what the native server answered.
describe('routing table: js/host/router.js', () => {
  for (const set of sets) {
    describe(`set ${set}`, () => {
      let built;
      let compiled;
      let routeTable;
      before(() => {
        built = buildApp(table.sets[set]);
        compiled = built.app._router.compile(built.app._limits.compression);
        routeTable = new RouteTable(compiled.routes, compiled.statics, compiled.dirs);
      });
      after(() => built.cleanup());
      for (const c of casesOf(set)) {
        test(c.name, T, (t) => {
          if (RECORD) return t.skip('recording from the native backend only');
          const target = targetOf(c);
          if (c.expect.status === 414) return t.skip('maxUrlLength is answered by the HTTP parser, before the route table');
          const found = routeTable.lookup(methodCode(c.method), c.method, originForm(target));
          assertSameDecision(found, c.expect, built, compiled);
        });
      }
    });
  }
});

// The target the route table sees: an absolute-form target reduced to its path, as the HTTP parser
// does (RFC 9112 §3.2.2; src/h1/parse.rs origin_form).
function originForm(target) {
  const absolute = /^https?:\/\/[^/?]*/i.exec(target);
  if (absolute === null) return target;
  const rest = target.slice(absolute[0].length);
  return rest.startsWith('/') ? rest : '/';
}

// The part of an expectation the route table decides.
function decided(expect) {
  const out = { status: expect.status };
  for (const key of ['route', 'params', 'static', 'dir']) if (expect[key] !== undefined) out[key] = expect[key];
  return out;
}

// Whether lookup's `found` is what the native server's answer `expect` shows it decided. What a
// mount makes of the path below it is the file server's business (dot segments, dotfiles, index,
// redirects, misses falling through to the 404 a path no route matches also gets): a mount must
// only be what the native server used, and a file it served the one the path names.
function assertSameDecision(found, expect, built, compiled) {
  if (found === null) return assert.deepEqual(decided(expect), { status: 404 });
  if (found.kind === 'bad' || found.kind === 'upgrade') return assert.deepEqual(decided(expect), { status: found.status });
  if (found.kind === 'static') return assert.deepEqual(decided(expect), { status: 200, static: compiled.statics[found.index].path });
  if (found.kind === 'route') {
    const route = built.app._router._routes[found.id];
    const params = {};
    route.paramNames.forEach((name, i) => {
      params[name] = found.params[i];
    });
    return assert.deepEqual(decided(expect), { status: 200, route: `${route.method} ${route.path}`, params });
  }
  assert.equal(found.kind, 'dir');
  const prefix = compiled.dirs[found.index].prefix;
  assert.equal(expect.route, undefined, 'a route answered, not the mount');
  assert.equal(expect.static, undefined, 'a static answered, not the mount');
  assert.ok([200, 301, 400, 404].includes(expect.status), `a mount does not answer ${expect.status}`);
  if (expect.dir !== undefined) assert.equal(expect.dir, prefix);
  if (found.rest === null) return assert.deepEqual(decided(expect), { status: 301 });
  if (expect.file !== undefined) {
    const named = nodePath.posix.normalize(`/${decodeURIComponent(found.rest)}`).slice(1);
    assert.ok(expect.file === named || expect.file === nodePath.posix.join(named, 'index.html'), `${found.rest} names ${expect.file}`);
  }
}

// A small deterministic generator (an LCG): the same sets on every run and machine.
function seeded(seed) {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

const RANDOM_LITERALS = ['a', 'b', 'ab', 'x', 'é', ''];
const RANDOM_VALUES = ['a', 'b', 'ab', 'x', 'é', '', 'zz', '%61', 'a%2Fb', '%zz', '%E9', '.', '..', 'a+b'];
const RANDOM_METHODS = ['GET', 'GET', 'POST', 'HEAD', 'ALL', 'PUT'];
const oneOf = (random, list) => list[Math.floor(random() * list.length)];

function randomPath(random, { params = true } = {}) {
  const segments = [];
  const length = 1 + Math.floor(random() * 4);
  let count = 0;
  for (let i = 0; i < length; i++) {
    const r = random();
    if (params && r < 0.3) segments.push(`:p${count++}`);
    else if (params && r < 0.4 && i === length - 1) segments.push(random() < 0.5 ? '*' : '*rest');
    else segments.push(oneOf(random, RANDOM_LITERALS));
  }
  return `/${segments.join('/')}`;
}

// A route set js/router.js takes (it refuses a static path that is also a GET route, among others):
// drawn again until one registers.
function randomSet(random) {
  for (;;) {
    const spec = { routes: [], ws: [], statics: [] };
    const count = 2 + Math.floor(random() * 8);
    for (let i = 0; i < count; i++) spec.routes.push([oneOf(random, RANDOM_METHODS), randomPath(random)]);
    if (random() < 0.5) spec.ws.push(randomPath(random));
    if (random() < 0.3) spec.statics.push(randomPath(random, { params: false }));
    try {
      buildApp(spec).cleanup();
      return spec;
    } catch {
      // Refused by js/router.js at registration: neither backend would see it.
    }
  }
}

// Most requests aim at a registered path (its parameters filled in), the rest anywhere.
function randomRequest(random, spec) {
  const method = oneOf(random, ['GET', 'HEAD', 'POST', 'PUT', 'DELETE']);
  const paths = [...spec.routes.map((r) => r[1]), ...spec.ws, ...spec.statics];
  if (random() < 0.3) return [method, randomPath(random, { params: false }).replace(/[^/]+/g, () => oneOf(random, RANDOM_VALUES))];
  const fill = (segment) => {
    if (segment.startsWith(':')) return oneOf(random, RANDOM_VALUES);
    if (segment.startsWith('*')) return `${oneOf(random, RANDOM_VALUES)}/${oneOf(random, RANDOM_VALUES)}`;
    return random() < 0.1 ? oneOf(random, RANDOM_VALUES) : segment;
  };
  const path = oneOf(random, paths).split('/').map((segment, i) => (i === 0 ? segment : fill(segment))).join('/');
  return [method, random() < 0.15 ? `${path}/` : path];
}

// Beyond the table: route sets and requests drawn at random from a fixed seed (every run asks the
// same), answered by the native server, js/host/router.js and, once it exists, the node backend.
// A set Rust refuses (a wildcard beside a parameter, one shape twice) must be refused by all.
describe('routing: seeded random route sets against the native server', () => {
  const SETS = 24;
  const REQUESTS = 25;
  const random = seeded(0x5eed14);
  for (let n = 0; n < SETS; n++) {
    const spec = randomSet(random);
    const requests = Array.from({ length: REQUESTS }, () => randomRequest(random, spec));
    const name = [...spec.routes.map((r) => r.join(' ')), ...spec.ws.map((p) => `WS ${p}`), ...spec.statics.map((p) => `static ${p}`)].join(', ');
    test(`random set ${n}: ${name}`, { timeout: 30000 }, async (t) => {
      if (RECORD) return t.skip('recording from the native backend only');
      const built = buildApp(spec);
      t.after(() => built.cleanup());
      const compiled = built.app._router.compile(built.app._limits.compression);
      let routeTable;
      let refused = null;
      try {
        routeTable = new RouteTable(compiled.routes, compiled.statics, compiled.dirs);
      } catch (err) {
        refused = err;
      }
      let native;
      try {
        native = await built.app.listen({ port: 0, host: '127.0.0.1', backend: 'native' });
      } catch (err) {
        assert.ok(refused !== null, `Rust refused the set (${err.message}) and js/host/router.js did not`);
        let node;
        try {
          node = await listenNode(built.app);
        } catch {
          return; // refused there too
        }
        if (node !== undefined) {
          await closeServer(node);
          assert.fail('the node backend took a set Rust refuses');
        }
        return;
      }
      t.after(() => closeServer(native));
      assert.equal(refused, null, 'js/host/router.js refused a set Rust took');
      let node;
      try {
        node = await listenNode(buildApp(spec).app);
      } catch (err) {
        // A feature of the set the node backend refuses by name (ws): a listed difference.
        if (err.code !== 'HN_ERR_BACKEND_UNSUPPORTED') throw err;
      }
      if (node !== undefined) t.after(() => closeServer(node));
      for (const [method, target] of requests) {
        const res = await get(native.port, wire(target), { method });
        const seen = observed(res.status, res.headers, res.text, method);
        const found = routeTable.lookup(methodCode(method), method, target);
        assert.doesNotThrow(() => assertSameDecision(found, seen, built, compiled), `${method} ${target}`);
        if (node !== undefined && !NON_ASCII.test(target)) {
          const other = await get(node.port, wire(target), { method });
          assert.deepEqual(observed(other.status, other.headers, other.text, method), seen, `node backend: ${method} ${target}`);
        }
      }
    });
  }
});

if (RECORD) {
  // Written once every case has run (node:test runs the suites above before this hook).
  after(() => fs.writeFileSync(FIXTURE, format(table)));
}

// The fixture's layout: one line per route, file and case, so a diff shows what changed.
function format(data) {
  const one = (value) => JSON.stringify(value);
  const field = (key, value, indent) => {
    if (!Array.isArray(value)) return `${indent}${one(key)}: ${one(value)}`;
    return `${indent}${one(key)}: [\n${value.map((v) => `${indent}  ${one(v)}`).join(',\n')}\n${indent}]`;
  };
  const sets = Object.entries(data.sets).map(([name, set]) => {
    const fields = Object.entries(set).map(([key, value]) => field(key, value, '      '));
    return `    ${one(name)}: {\n${fields.join(',\n')}\n    }`;
  });
  return `{\n  "about": ${one(data.about)},\n  "sets": {\n${sets.join(',\n')}\n  },\n${field('cases', data.cases, '  ')}\n}\n`;
}
