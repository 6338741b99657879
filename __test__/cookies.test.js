'use strict';
// Cookies (js/cookies.js): req.cookies and req.signedCookies against Express 5 + cookie-parser on
// the same Cookie headers, res.cookie()/res.clearCookie() against Express's Set-Cookie, signing
// with a secret list (rotation), and cookie-parser itself running unmodified.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const cookieParser = require('cookie-parser');
const { sign, unsign } = require('cookie-signature');
const { twins, assertSame } = require('./support/express-twin');
const { serve, request, get } = require('./helpers');

const SECRETS = ['k1', 'k0'];
const signed = (value, secret = 'k1') => encodeURIComponent(`s:${sign(value, secret)}`);

// The same routes on both apps; Express gets its cookies from cookie-parser with the secrets.
function routes(app, kind) {
  if (kind === 'express') app.use(cookieParser(SECRETS));
  else app.set('cookie secret', SECRETS);
  app.get('/read', (req, res) => {
    res.end(JSON.stringify({ cookies: req.cookies, signed: req.signedCookies, secret: req.secret }));
  });
  app.get('/set/:n', (req, res) => {
    for (const [name, value, options] of SET_CASES[Number(req.params.n)]) res.cookie(name, value, options);
    res.end('set');
  });
  app.get('/clear/:n', (req, res) => {
    res.clearCookie(...CLEAR_CASES[Number(req.params.n)]);
    res.end('cleared');
  });
}

const COOKIE_HEADERS = [
  'a=1; b=2',
  'a=1; a=2',
  'a=%E2%82%AC; b=%zz; c=%; d=%2',
  'noequals; a=1; =value; b=c=d',
  '  a  =  1  ;b=  2  ;  c=3 ',
  'a=1;;b=2;',
  ';;',
  ' ',
  'j=j:{"x":[1,"y"]}; k=j%3A%7B%22z%22%3Atrue%7D',
  'bad=j:{nope; zero=j:0; nil=j:null; str=j:"text"',
  `s1=${signed('one')}; s0=${signed('old', 'k0')}`,
  `bad=${signed('x', 'other')}; tampered=${signed('v').replace('s%3Av', 's%3Aw')}`,
  `js=${signed('j:{"a":1}')}; empty=s%3A; plain=s:nodot`,
  'constructor=y; toString=z; hasOwnProperty=1',
  // (Bytes past ASCII are left out: node:http reads header values as latin1, http-native as UTF-8.)
  'tab=a\tb; sym=!#$&()*+-./:<>?@[]^_`{|}~',
  `${'x'.repeat(100)}=${'y'.repeat(2000)}`,
];

test('req.cookies and req.signedCookies agree with Express + cookie-parser', async (t) => {
  const { both } = await twins(t, routes);
  assertSame(await both('GET', '/read'), { what: 'no Cookie header' });
  for (const header of COOKIE_HEADERS) {
    assertSame(await both('GET', '/read', { headers: [['Cookie', header]] }), { what: header.slice(0, 80) });
  }
  // Quoted values: the one place cookie@1 (RFC 6265 §4.1.1: the quotes are part of the value)
  // parts from the cookie@0.7 that cookie-parser uses, which strips them.
  const quoted = 'a="quoted"; b="unterminated; c=""';
  const native = await both('GET', '/read', { headers: [['Cookie', quoted]] });
  assert.deepEqual(JSON.parse(native.native.text).cookies, { ...require('cookie').parse(quoted) });
  assert.deepEqual(JSON.parse(native.native.text).cookies, { a: '"quoted"', b: '"unterminated', c: '""' });
  // A cookie named __proto__ is an ordinary entry of a null-prototype object for cookie@1 (cookie@0.7
  // drops it); nothing is polluted either way.
  const proto = JSON.parse((await both('GET', '/read', { headers: [['Cookie', '__proto__=x; a=1']] })).native.text);
  assert.deepEqual(Object.entries(proto.cookies), [['__proto__', 'x'], ['a', '1']]);
  assert.equal({}.x, undefined);
  // Cookie headers sent on several lines are one list.
  assertSame(await both('GET', '/read', { headers: [['Cookie', 'a=1'], ['Cookie', `s=${signed('v')}`]] }), { what: 'two lines' });
  const res = await both('GET', '/read', { headers: [['Cookie', `s1=${signed('one')}; s0=${signed('old', 'k0')}; p=1`]] });
  assert.deepEqual(JSON.parse(res.native.text), { cookies: { p: '1' }, signed: { s1: 'one', s0: 'old' }, secret: 'k1' });
});

const future = new Date(Date.UTC(2030, 0, 1, 12, 0, 0));
const SET_CASES = [
  [['a', '1']],
  [['obj', { x: [1, 'y'] }]],
  [['n', 42], ['bool', false], ['nil', null]],
  [['s', 'secret', { signed: true }], ['sobj', { a: 1 }, { signed: true }]],
  [['full', 'v', { domain: 'example.com', path: '/p', secure: true, httpOnly: true, sameSite: 'strict', partitioned: true, priority: 'high', expires: future }]],
  [['t', 'v', { sameSite: true }], ['l', 'v', { sameSite: 'lax' }], ['n', 'v', { sameSite: 'none', secure: true }], ['L', 'v', { sameSite: 'Lax' }]],
  [['lo', 'v', { priority: 'low' }], ['me', 'v', { priority: 'medium' }], ['HI', 'v', { priority: 'High' }]],
  [['enc', 'a b;c=d,é"\\']],
  [['p', 'v', { path: null }], ['q', 'v', { path: '/' }], ['r', 'v', { domain: '.example.com' }]],
  [['bad name', 'v']],
  [['d', 'v', { domain: 'exa mple.com' }]],
  [['p', 'v', { path: '/a;b' }]],
  [['s', 'v', { sameSite: 'sideways' }]],
  [['e', 'v', { expires: new Date('nope') }]],
  [['m', 'v', { maxAge: 'abc' }]],
  [['z', 'v', { maxAge: 0 }]],
];

test('res.cookie() writes what Express writes, for every attribute', async (t) => {
  const { both } = await twins(t, routes);
  for (let n = 0; n < SET_CASES.length; n++) {
    const res = await both('GET', `/set/${n}`);
    assertSame(res, { what: JSON.stringify(SET_CASES[n]), headers: ['set-cookie'], body: res.express.status === 200 });
  }
});

// maxAge is milliseconds: Max-Age is whole seconds, Expires is now + maxAge (read around the
// request, since the clock moves: asserted between the two readings, at a second's precision).
test('res.cookie({ maxAge }) sets Max-Age in seconds and Expires from it', async (t) => {
  const s = await serve(t, (app) => {
    app.get('/m/:ms', (req, res) => res.cookie('m', 'v', { maxAge: Number(req.params.ms) }).end());
  });
  for (const ms of [60000, 1500, 0, -5000]) {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const res = await get(s.port, `/m/${ms}`);
    const after = Date.now();
    const header = res.headers['set-cookie'];
    assert.match(header, new RegExp(`^m=v; Max-Age=${Math.floor(ms / 1000)}; Path=/; Expires=`), header);
    const expires = Date.parse(/Expires=([^;]+)/.exec(header)[1]);
    assert.ok(expires >= before + ms - 1000 && expires <= after + ms, `${header} (${before}..${after})`);
  }
});

const CLEAR_CASES = [
  ['a'],
  ['a', { path: '/x', domain: 'example.com', secure: true, sameSite: 'none' }],
  ['a', { maxAge: 1000, httpOnly: true }],
  ['a', { expires: future, path: null }],
  ['a', { signed: true }],
];

test('res.clearCookie() writes what Express writes', async (t) => {
  const { both } = await twins(t, routes);
  for (let n = 0; n < CLEAR_CASES.length; n++) {
    assertSame(await both('GET', `/clear/${n}`), { what: JSON.stringify(CLEAR_CASES[n]), headers: ['set-cookie'] });
  }
});

test('signed cookies: signed with the first secret, any secret verifies (rotation)', async (t) => {
  const s = await serve(t, (app) => {
    app.get('/set', (req, res) => res.cookie('sid', 'abc', { signed: true }).cookie('plain', 'p').end());
    app.get('/read', (req, res) => res.json({ cookies: req.cookies, signed: req.signedCookies }));
  }, { appOptions: { cookieSecret: ['new', 'old'] } });

  const set = await request(s.base, '/set');
  const [sid, plain] = set.headers.getSetCookie().map((c) => c.split(';')[0]);
  const value = decodeURIComponent(sid.slice('sid='.length));
  assert.equal(unsign(value.slice(2), 'new'), 'abc');
  assert.equal(unsign(value.slice(2), 'old'), false);

  let read = await (await request(s.base, '/read', { headers: { cookie: `${sid}; ${plain}` } })).json();
  assert.deepEqual(read, { cookies: { plain: 'p' }, signed: { sid: 'abc' } });
  // A cookie signed before the rotation still reads; one signed by anyone else reads as false.
  read = await (await request(s.base, '/read', { headers: { cookie: `a=${signed('was', 'old')}; b=${signed('x', 'evil')}` } })).json();
  assert.deepEqual(read, { cookies: {}, signed: { a: 'was', b: false } });
});

test('without a secret: s: cookies stay in req.cookies, and signing is an error', async (t) => {
  let failure;
  const s = await serve(t, (app) => {
    app.get('/read', (req, res) => res.json({ cookies: req.cookies, signed: req.signedCookies, secret: req.secret ?? null }));
    app.get('/sign', (req, res) => res.cookie('a', 'b', { signed: true }).end('signed'));
    app.error((err, req, res) => {
      failure = err;
      res.status(500).json({ code: err.code });
    });
  });
  const read = await (await request(s.base, '/read', { headers: { cookie: `a=${signed('v')}` } })).json();
  assert.deepEqual(read, { cookies: { a: `s:${sign('v', 'k1')}` }, signed: {}, secret: null });
  const res = await request(s.base, '/sign');
  assert.equal(res.status, 500);
  assert.deepEqual(await res.json(), { code: 'HN_ERR_NO_COOKIE_SECRET' });
  assert.equal(res.headers.get('set-cookie'), null);
  assert.match(failure.message, /cookieSecret/);
});

test('cookie-parser runs unmodified: its secret signs and verifies', async (t) => {
  const s = await serve(t, (app) => {
    app.use(cookieParser('parser-secret'));
    app.get('/read', (req, res) => res.json({ cookies: req.cookies, signed: req.signedCookies, secret: req.secret }));
    app.get('/sign', (req, res) => res.cookie('a', 'b', { signed: true }).end());
  }, { appOptions: { cookieSecret: 'app-secret' } });
  const read = await (await request(s.base, '/read', {
    headers: { cookie: `x=1; j=j%3A%5B1%5D; p=${signed('ok', 'parser-secret')}; q=${signed('no', 'app-secret')}` },
  })).json();
  assert.deepEqual(read, { cookies: { x: '1', j: [1] }, signed: { p: 'ok', q: false }, secret: 'parser-secret' });
  const set = (await request(s.base, '/sign')).headers.get('set-cookie');
  assert.equal(set, `a=${signed('b', 'parser-secret')}; Path=/`);
});

test('req.cookies can be assigned, and a middleware may set req.secret', async (t) => {
  const s = await serve(t, (app) => {
    app.use((req, res, next) => {
      req.secret = 'per-request';
      if (req.path === '/assigned') req.cookies = { mine: 'yes' };
      next();
    });
    app.get('/assigned', (req, res) => res.json({ cookies: req.cookies, signed: req.signedCookies }));
    app.get('/sign', (req, res) => res.cookie('a', 'b', { signed: true }).json(req.signedCookies));
  });
  const assigned = await (await request(s.base, '/assigned', { headers: { cookie: 'a=1' } })).json();
  assert.deepEqual(assigned, { cookies: { mine: 'yes' }, signed: {} });
  const res = await request(s.base, '/sign', { headers: { cookie: `v=${signed('ok', 'per-request')}` } });
  assert.equal(res.headers.get('set-cookie'), `a=${signed('b', 'per-request')}; Path=/`);
  assert.deepEqual(await res.json(), { v: 'ok' });
});
