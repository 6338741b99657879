'use strict';
// Express's request helpers (js/request-helpers.js): host, hostname, subdomains, protocol, xhr,
// accepts*, is, range, fresh/stale. Each case sends the same raw request to an Express 5 app and
// to an http-native app with the same route and asserts they agree, odd inputs included; then
// what only http-native has to prove (the helpers' packages load on first use).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { twins, assertSame } = require('./support/express-twin');
const { serve, request } = require('./helpers');

// What the route reports: every getter and method, as JSON (range results keep their `type`).
function describe(req) {
  const range = (size, options) => {
    const r = req.range(size, options);
    return Array.isArray(r) ? { ranges: [...r], type: r.type } : r;
  };
  return {
    host: req.host,
    hostname: req.hostname,
    subdomains: req.subdomains,
    protocol: req.protocol,
    secure: req.secure,
    xhr: req.xhr,
    accepts: req.accepts(),
    acceptsJsonHtml: req.accepts(['json', 'html']),
    acceptsText: req.accepts('text/plain', 'image/png'),
    encodings: req.acceptsEncodings(),
    gzip: req.acceptsEncodings('gzip', 'br'),
    charsets: req.acceptsCharsets(),
    utf8: req.acceptsCharsets('utf-8', 'iso-8859-1'),
    languages: req.acceptsLanguages(),
    en: req.acceptsLanguages('en', 'fr-CA'),
    isAny: req.is(),
    isJson: req.is('json'),
    isText: req.is(['text/*', 'urlencoded']),
    isSpread: req.is('html', 'application/*'),
    range: range(1000),
    rangeCombined: range(1000, { combine: true }),
    rangeEmpty: range(0),
  };
}

function routes(app) {
  app.all('/info', (req, res) => {
    res.end(JSON.stringify(describe(req)));
  });
  // Freshness against validators the route sets; res.end so that Express's send() does not turn
  // a fresh answer into a 304 by itself.
  app.all('/fresh', (req, res) => {
    if (req.query.status) res.status(Number(req.query.status));
    if (req.query.etag) res.set('ETag', req.query.etag);
    if (req.query.modified) res.set('Last-Modified', req.query.modified);
    res.end(JSON.stringify({ fresh: req.fresh, stale: req.stale }));
  });
}

const CASES = [
  ['plain', {}],
  ['no headers at all (HTTP/1.0, no Host)', { version: '1.0', host: null }],
  ['host with port and capitals', { host: 'Tobi.Ferrets.Example.COM:8080' }],
  ['IPv6 literal host', { host: '[::1]:3000' }],
  ['IPv6 literal host without port', { host: '[2001:db8::1]' }],
  ['IPv4 host', { host: '127.0.0.1:80' }],
  ['single-label host', { host: 'localhost' }],
  ['deep subdomains', { host: 'a.b.c.d.example.co.uk' }],
  ['xhr', { headers: { 'X-Requested-With': 'XMLHttpRequest' } }],
  ['xhr other case', { headers: { 'X-Requested-With': 'xmlhttprequest' } }],
  ['xhr other value', { headers: { 'X-Requested-With': 'fetch' } }],
  ['accept browser', { headers: { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } }],
  ['accept json only', { headers: { Accept: 'application/json' } }],
  ['accept q=0 everywhere', { headers: { Accept: 'text/html;q=0, application/json;q=0' } }],
  ['accept wildcard subtype', { headers: { Accept: 'text/*;q=0.5, image/*' } }],
  ['accept garbage', { headers: { Accept: ';;;,,=q, /,text' } }],
  ['accept empty', { headers: { Accept: '' } }],
  ['accept bad q', { headers: { Accept: 'text/plain;q=abc, image/png;q=2' } }],
  ['accept-encoding', { headers: { 'Accept-Encoding': 'gzip;q=0.5, br, identity;q=0' } }],
  ['accept-encoding star', { headers: { 'Accept-Encoding': '*;q=0.1' } }],
  ['accept-encoding empty', { headers: { 'Accept-Encoding': '' } }],
  ['accept-charset', { headers: { 'Accept-Charset': 'iso-8859-1;q=0.9, utf-8' } }],
  ['accept-language', { headers: { 'Accept-Language': 'fr-CA, fr;q=0.9, en;q=0.8, *;q=0.1' } }],
  ['accept-language odd', { headers: { 'Accept-Language': 'en-US-x-private;q=0.7, ;q=1, EN' } }],
  ['range one', { headers: { Range: 'bytes=0-99' } }],
  ['range open and suffix', { headers: { Range: 'bytes=900-, -50' } }],
  ['range overlapping', { headers: { Range: 'bytes=0-10, 5-20, 100-200' } }],
  ['range past the end', { headers: { Range: 'bytes=2000-3000' } }],
  ['range reversed', { headers: { Range: 'bytes=50-10' } }],
  ['range malformed', { headers: { Range: 'bytes=abc' } }],
  ['range other unit', { headers: { Range: 'items=0-5' } }],
  ['range no equals', { headers: { Range: 'bytes' } }],
  ['range empty', { headers: { Range: '' } }],
];

test('request helpers agree with Express 5 on the same request', async (t) => {
  const { both } = await twins(t, routes);
  for (const [what, options] of CASES) {
    assertSame(await both('GET', '/info', options), { what });
  }
});

test('req.is() agrees with Express for request bodies', async (t) => {
  const { both } = await twins(t, routes);
  const bodies = [
    ['json', { 'Content-Type': 'application/json; charset=utf-8' }, '{}'],
    ['vendor json', { 'Content-Type': 'application/vnd.api+json' }, '{}'],
    ['form', { 'Content-Type': 'application/x-www-form-urlencoded' }, 'a=1'],
    ['text', { 'Content-Type': 'text/plain' }, 'hi'],
    ['no content type', {}, 'hi'],
    ['bad content type', { 'Content-Type': 'not a type' }, 'hi'],
    ['empty body with a length', { 'Content-Type': 'application/json', 'Content-Length': '0' }, undefined],
  ];
  for (const [what, headers, body] of bodies) {
    assertSame(await both('POST', '/info', { headers, body }), { what });
  }
  // A chunked body: a body without a length.
  const chunked = await both('POST', '/info', {
    headers: { 'Content-Type': 'text/html', 'Transfer-Encoding': 'chunked' },
    body: '2\r\nhi\r\n0\r\n\r\n',
  });
  assertSame(chunked, { what: 'chunked' });
  assert.equal(JSON.parse(chunked.native.text).isJson, false);
  assert.equal(JSON.parse(chunked.native.text).isSpread, 'html');
});

test('req.fresh and req.stale agree with Express', async (t) => {
  const { both } = await twins(t, routes);
  const modified = encodeURIComponent('Tue, 01 Dec 2026 10:00:00 GMT');
  const cases = [
    ['no validators', '/fresh', {}],
    ['matching etag', '/fresh?etag="abc"', { 'If-None-Match': '"abc"' }],
    ['weak etag against strong', '/fresh?etag="abc"', { 'If-None-Match': 'W/"abc"' }],
    ['one of a list', '/fresh?etag="abc"', { 'If-None-Match': '"x", "abc"' }],
    ['star', '/fresh?etag="abc"', { 'If-None-Match': '*' }],
    ['other etag', '/fresh?etag="abc"', { 'If-None-Match': '"x"' }],
    ['no-cache', '/fresh?etag="abc"', { 'If-None-Match': '"abc"', 'Cache-Control': 'no-cache' }],
    ['not modified since', `/fresh?modified=${modified}`, { 'If-Modified-Since': 'Tue, 01 Dec 2026 11:00:00 GMT' }],
    ['modified since', `/fresh?modified=${modified}`, { 'If-Modified-Since': 'Tue, 01 Dec 2026 09:00:00 GMT' }],
    ['bad date', `/fresh?modified=${modified}`, { 'If-Modified-Since': 'yesterday' }],
    ['etag wins over date', `/fresh?etag="abc"&modified=${modified}`, { 'If-None-Match': '"x"', 'If-Modified-Since': 'Tue, 01 Dec 2026 11:00:00 GMT' }],
    ['error status', '/fresh?etag="abc"&status=404', { 'If-None-Match': '"abc"' }],
    ['304 status', '/fresh?etag="abc"&status=304', { 'If-None-Match': '"abc"' }],
  ];
  for (const [what, target, headers] of cases) {
    // A 304's body is not sent: compare the route's answer on a status that carries one.
    const res = await both('GET', target.replace('status=304', 'status=200'), { headers });
    assertSame(res, { what, headers: ['etag', 'last-modified'] });
  }
  // Only GET and HEAD can be fresh.
  const post = await both('POST', '/fresh?etag="abc"', { headers: { 'If-None-Match': '"abc"' } });
  assertSame(post, { what: 'POST' });
  assert.deepEqual(JSON.parse(post.native.text), { fresh: false, stale: true });
  const matched = await both('GET', '/fresh?etag="abc"', { headers: { 'If-None-Match': '"abc"' } });
  assert.deepEqual(JSON.parse(matched.native.text), { fresh: true, stale: false });
});

test("'subdomain offset' changes req.subdomains as in Express", async (t) => {
  const { both } = await twins(t, (app) => {
    app.set('subdomain offset', 1);
    routes(app);
  });
  for (const host of ['a.b.example.com', 'example.com', 'localhost', '10.0.0.1']) {
    const res = await both('GET', '/info', { host });
    assertSame(res, { what: host });
  }
  const res = await both('GET', '/info', { host: 'a.b.example.com' });
  assert.deepEqual(JSON.parse(res.native.text).subdomains, ['example', 'b', 'a']);
});

test('app settings: set/get/enable/disable, Express semantics, bad values refused', async (t) => {
  const { createApp } = require('..');
  const app = createApp();
  assert.equal(app.get('subdomain offset'), 2);
  assert.equal(app.get('jsonp callback name'), 'callback');
  assert.equal(app.get('trust proxy'), false);
  assert.equal(app.set('custom', 'x'), app);
  assert.equal(app.get('custom'), 'x');
  assert.equal(app.set('custom'), 'x');
  app.enable('flag');
  assert.equal(app.enabled('flag'), true);
  assert.equal(app.disabled('flag'), false);
  app.disable('flag');
  assert.equal(app.enabled('flag'), false);
  assert.equal(app.settings.custom, 'x');
  assert.equal(app.get('constructor'), undefined);
  app.set('__proto__', 'plain');
  assert.equal(app.get('__proto__'), 'plain');
  assert.equal(app.get('subdomain offset'), 2);
  assert.throws(() => app.set('subdomain offset', -1), { code: 'HN_ERR_BAD_OPTION' });
  assert.throws(() => app.set('cookie secret', ''), { code: 'HN_ERR_BAD_OPTION' });
  // app.get(path, handler) still registers a route.
  app.get('/r', (req, res) => res.send(`${req.app === app} ${res.app === app} ${req.app.get('custom')}`));
  const s = await serve(t, (a) => a.get('/r', (req, res) => res.send(String(req.app.get('subdomain offset')))));
  assert.equal(await (await request(s.base, '/r')).text(), '2');
  const own = await serve(t, () => {}, {});
  assert.equal(own.app.get('custom'), undefined);
});

test('a request that uses no helper loads none of their packages; the first use loads one', () => {
  const script = `
    const { createApp } = require(${JSON.stringify(path.join(__dirname, '..'))});
    const loaded = () => Object.keys(require.cache)
      .map((f) => /node_modules[\\\\/](accepts|type-is|fresh|range-parser|proxy-addr|mime-types|vary|content-disposition|cookie|cookie-signature|encodeurl|negotiator)[\\\\/]/.exec(f))
      .filter(Boolean).map((m) => m[1]);
    const app = createApp();
    app.get('/', (req, res) => res.json({ path: req.path, ip: req.ip, protocol: req.protocol, h: req.get('host') }));
    app.get('/c', (req, res) => res.json(req.cookies));
    app.listen({ port: 0, host: '127.0.0.1' }).then(async (server) => {
      await (await fetch(server.url + '/', { headers: { cookie: 'a=1', accept: 'text/html' } })).text();
      const before = [...new Set(loaded())];
      await (await fetch(server.url + '/c', { headers: { cookie: 'a=1' } })).text();
      const after = [...new Set(loaded())];
      console.log(JSON.stringify({ before, after }));
      await server.close();
    });
  `;
  const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 }));
  assert.deepEqual(out.before, []);
  assert.deepEqual(out.after, ['cookie']);
});
