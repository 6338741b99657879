'use strict';
// Express's response helpers (js/response-helpers.js): location, vary, attachment, links, type,
// json under 'json spaces' / 'json replacer', jsonp, format. The same raw requests go to an
// Express 5 app and an http-native app with the same routes, and the answers must agree, odd
// inputs included.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { twins, assertSame } = require('./support/express-twin');
const { serve, request } = require('./helpers');

const q = (value) => encodeURIComponent(value);

function routes(app) {
  app.get('/location', (req, res) => {
    res.location(req.query.u);
    res.end('moved');
  });
  app.get('/vary', (req, res) => {
    if (req.query.pre) res.set('Vary', req.query.pre);
    for (const field of [].concat(req.query.f ?? [])) res.vary(field.includes('|') ? field.split('|') : field);
    res.end('v');
  });
  app.get('/attachment', (req, res) => {
    res.attachment(req.query.f);
    res.end('a');
  });
  app.get('/links', (req, res) => {
    if (req.query.pre) res.set('Link', req.query.pre);
    res.links({ next: 'http://api.example.com/users?page=2', last: ['http://api.example.com/users?page=5', '/users?page=5'] });
    res.links({ prev: '/p' });
    res.end('l');
  });
  app.get('/type', (req, res) => {
    res.type(req.query.t);
    res.end('t');
  });
  app.get('/json', (req, res) => {
    res.json({ a: 1, nested: { secret: 's', list: [1, 'two', null] }, text: 'line\u2028sep' });
  });
  app.get('/jsonp', (req, res) => {
    if (req.query.v === 'undefined') return res.jsonp(undefined);
    if (req.query.v === 'string') return res.jsonp('a\u2028b\u2029c');
    res.jsonp({ user: 'tobi', n: [1, 2] });
  });
  app.get('/jsonp-typed', (req, res) => {
    res.type('txt');
    res.jsonp({ user: 'tobi' });
  });
  app.get('/format', (req, res) => {
    res.format({
      text: () => res.send('text'),
      html: () => res.send('<p>html</p>'),
      'application/json': () => res.send({ json: true }),
    });
  });
  app.get('/format-default', (req, res) => {
    res.format({
      // res.end: Express's send() would add a charset to any type for a string body.
      'image/png': () => res.end('png'),
      default: () => res.status(200).send('default'),
    });
  });
}

test('res.location() encodes as Express does', async (t) => {
  const { both } = await twins(t, routes);
  const urls = [
    'http://example.com/a b', '/ünï/€', '/%20already%2Fencoded', '/100%', '/100%zz', '/<script>"\'',
    '/a?b=c d&e=ü#frag ment', '//evil.example/x', 'javascript:alert(1)', '/\\back', '/tab\there',
    'http://[::1]:8080/x', 'mailto:tobi@example.com', '../up', '', '/\u{1F600}',
  ];
  for (const u of urls) {
    assertSame(await both('GET', `/location?u=${q(u)}`), { what: JSON.stringify(u), headers: ['location'] });
  }
});

test('res.vary() merges as Express does', async (t) => {
  const { both } = await twins(t, routes);
  const cases = [
    '?f=Accept',
    '?f=Accept&f=accept',
    `?f=${q('Accept, Accept-Encoding')}&f=Origin`,
    '?f=Origin|User-Agent|origin',
    '?f=*&f=Accept',
    '?f=Accept&f=*',
    '?pre=Cookie&f=Accept',
    '?pre=*&f=Accept',
    `?pre=${q('cookie, ACCEPT')}&f=Accept`,
  ];
  for (const c of cases) assertSame(await both('GET', `/vary${c}`), { what: c, headers: ['vary'] });
  // A field that is not a token: the vary package throws, so both answer 500.
  assertSame(await both('GET', `/vary?f=${q('a b')}`), { what: 'bad field', body: false });
  assertSame(await both('GET', '/vary?f='), { what: 'empty field', body: false });
  assert.equal((await both('GET', '/vary?f=')).native.status, 500);
});

test('res.attachment() sets Content-Disposition and the type as Express does', async (t) => {
  const { both } = await twins(t, routes);
  const names = [
    'report.pdf', 'dir/sub/ünï €.txt', 'quote"and\\slash.txt', 'no-extension', 'IMAGE.PNG', '../../etc/passwd',
    'file.unknownext', 'archive.tar.gz', 'page.html', 'data.json', 'style.css', 'app.js', '%E2%82%AC.txt', 'tab\tname.txt',
  ];
  for (const name of names) {
    assertSame(await both('GET', `/attachment?f=${q(name)}`), { what: name, headers: ['content-disposition', 'content-type'] });
  }
  assertSame(await both('GET', '/attachment'), { what: 'no name', headers: ['content-disposition', 'content-type'] });
});

test('res.links() appends as Express 5 does', async (t) => {
  const { both } = await twins(t, routes);
  assertSame(await both('GET', '/links'), { headers: ['link'] });
  assertSame(await both('GET', `/links?pre=${q('</a>; rel="up"')}`), { headers: ['link'] });
});

test('res.type() takes mime-types names as Express does, keeping the short names', async (t) => {
  const { both } = await twins(t, routes);
  const same = [
    'png', '.png', 'a.pdf', 'html', '.html', 'json', 'text', 'txt', 'css', 'js', 'md', 'csv', 'svg', 'wasm',
    'application/x-foo', 'nope', '', 'archive.tar.gz', 'HTML', 'image/png',
  ];
  for (const type of same) {
    assertSame(await both('GET', `/type?t=${q(type)}`), { what: JSON.stringify(type), headers: ['content-type'] });
  }
  // Where the short names differ from mime-types', the short names stay (http-native's since
  // before): 'xml' is text-like, so it says its charset; 'bin' is octet-stream.
  const s = await serve(t, routes);
  assert.equal((await request(s.base, '/type?t=xml')).headers.get('content-type'), 'application/xml; charset=utf-8');
  assert.equal((await request(s.base, '/type?t=bin')).headers.get('content-type'), 'application/octet-stream');
  // A full type is set as given, as res.set() sets it (Express's res.set() adds a charset to text
  // types: 'text/plain; charset=utf-8').
  assert.equal((await request(s.base, `/type?t=${q('text/plain')}`)).headers.get('content-type'), 'text/plain');
});

test("res.json() and res.jsonp() follow 'json spaces', 'json replacer', 'jsonp callback name'", async (t) => {
  const settings = (app) => {
    app.set('json spaces', 2);
    app.set('json replacer', (key, value) => (key === 'secret' ? undefined : value));
    app.set('jsonp callback name', 'cb');
    routes(app);
  };
  const { both } = await twins(t, settings);
  for (const target of ['/json', '/jsonp', '/jsonp?cb=fn', '/jsonp?callback=fn']) {
    assertSame(await both('GET', target), { what: target, headers: ['content-type', 'x-content-type-options'] });
  }
  const json = (await both('GET', '/json')).native;
  assert.ok(json.text.includes('\n  "a": 1'), json.text);
  assert.ok(!json.text.includes('secret'), json.text);
  // Unsetting them goes back to the compact form.
  const { both: plain } = await twins(t, (app) => {
    app.set('json spaces', 2);
    app.set('json spaces', undefined);
    routes(app);
  });
  const compact = await plain('GET', '/json');
  assertSame(compact, { headers: ['content-type'] });
  assert.ok(compact.native.text.startsWith('{"a":1,'));
});

test('res.jsonp() agrees with Express on callbacks, odd ones included', async (t) => {
  const { both } = await twins(t, routes);
  const targets = [
    '/jsonp', '/jsonp?callback=', '/jsonp?callback=cb', '/jsonp?callback=a.b[0].c$_', `/jsonp?callback=${q('<script>alert(1)</script>')}`,
    `/jsonp?callback=${q('cb();evil')}`, '/jsonp?callback=first&callback=second', '/jsonp?callback[x]=1',
    '/jsonp?callback=cb&v=undefined', '/jsonp?v=undefined', '/jsonp?callback=cb&v=string', '/jsonp?v=string',
    '/jsonp-typed', '/jsonp-typed?callback=cb',
  ];
  for (const target of targets) {
    assertSame(await both('GET', target), { what: target, headers: ['content-type', 'x-content-type-options'] });
  }
});

test('res.format() negotiates as Express does', async (t) => {
  const { both } = await twins(t, routes);
  const accepts = [
    undefined, '*/*', 'text/html', 'application/json', 'text/plain;q=0.5, text/html;q=0.4', 'text/*',
    'application/json;q=0, */*;q=0.1', 'image/png', '', 'garbage',
  ];
  for (const accept of accepts) {
    const headers = accept === undefined ? {} : { Accept: accept };
    const res = await both('GET', '/format', { headers });
    // Express's 406 page is its final handler's HTML; the status and Vary are what must agree.
    assertSame(res, { what: String(accept), headers: ['vary', ...(res.express.status === 406 ? [] : ['content-type'])], body: res.express.status !== 406 });
    assertSame(await both('GET', '/format-default', { headers }), { what: `default ${accept}`, headers: ['vary', 'content-type'] });
  }
  const none = await both('GET', '/format', { headers: { Accept: 'image/png' } });
  assert.equal(none.native.status, 406);
});

test('res.format() without a match raises HN_ERR_NOT_ACCEPTABLE listing the types offered', async (t) => {
  let caught;
  const s = await serve(t, (app) => {
    routes(app);
    app.error((err, req, res) => {
      caught = err;
      res.status(err.status).json({ code: err.code, types: err.types });
    });
  });
  const res = await request(s.base, '/format', { headers: { Accept: 'image/png' } });
  assert.equal(res.status, 406);
  assert.deepEqual(await res.json(), { code: 'HN_ERR_NOT_ACCEPTABLE', types: ['text/plain', 'text/html', 'application/json'] });
  assert.equal(caught.status, 406);
  assert.equal(res.headers.get('vary'), 'Accept');
});
