'use strict';
// 'trust proxy' (js/trust-proxy.js, js/settings.js): req.ip, req.ips, req.protocol, req.secure,
// req.host, req.hostname behind proxies. Every Express setting form is checked against Express 5
// itself, the same raw requests sent to both; RFC 7239's Forwarded, which Express does not read,
// is checked on its own.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const { twins, assertSame } = require('./support/express-twin');
const { serve, get } = require('./helpers');
const { createApp } = require('..');

function who(app) {
  app.get('/who', (req, res) => {
    res.end(JSON.stringify({
      ip: req.ip,
      ips: req.ips,
      protocol: req.protocol,
      secure: req.secure,
      host: req.host,
      hostname: req.hostname,
      subdomains: req.subdomains,
    }));
  });
}

const SETTINGS = [
  false,
  true,
  0,
  1,
  2,
  3,
  'loopback',
  '127.0.0.1',
  '127.0.0.1, 10.0.0.2',
  '10.0.0.0/8, loopback',
  ['uniquelocal', 'loopback'],
  ['127.0.0.1/32', '10.0.0.2/255.255.255.255'],
  'linklocal',
  '::1, ::ffff:127.0.0.1',
  (address, hop) => address === '127.0.0.1' || (hop < 2 && address.startsWith('10.')),
];

const REQUESTS = [
  [],
  [['X-Forwarded-For', '1.2.3.4']],
  [['X-Forwarded-For', '1.2.3.4, 10.0.0.2']],
  [['X-Forwarded-For', '5.6.7.8, 1.2.3.4, 10.0.0.2, 10.0.0.3']],
  [['X-Forwarded-For', '  1.2.3.4 ,10.0.0.2,  ']],
  [['X-Forwarded-For', 'garbage, 10.0.0.2']],
  [['X-Forwarded-For', '2001:db8::1, ::ffff:10.0.0.2']],
  [['X-Forwarded-For', '']],
  [['X-Forwarded-For', '1.2.3.4'], ['X-Forwarded-For', '10.0.0.2']],
  [['X-Forwarded-Proto', 'https']],
  [['X-Forwarded-Proto', 'https, http'], ['X-Forwarded-For', '1.2.3.4']],
  [['X-Forwarded-Proto', ' HTTPS ']],
  [['X-Forwarded-Proto', '']],
  [['X-Forwarded-Host', 'shop.example.com:8443']],
  [['X-Forwarded-Host', 'a.example.com, b.example.com']],
  [['X-Forwarded-Host', '[::1]:8080']],
  [['X-Forwarded-Host', '']],
  [['X-Forwarded-For', '1.2.3.4'], ['X-Forwarded-Proto', 'https'], ['X-Forwarded-Host', 'api.example.org']],
];

test('every trust proxy form gives what Express gives for ip, ips, protocol, host', async (t) => {
  for (const setting of SETTINGS) {
    const { both } = await twins(t, (app) => {
      app.set('trust proxy', setting);
      who(app);
    });
    for (const headers of REQUESTS) {
      const what = `trust proxy ${typeof setting === 'function' ? 'fn' : JSON.stringify(setting)} with ${JSON.stringify(headers)}`;
      assertSame(await both('GET', '/who', { headers, host: 'www.example.com' }), { what });
    }
  }
});

async function ask(port, headers) {
  const res = await get(port, '/who', { headers: [['Host', 'www.example.com'], ...headers] });
  assert.equal(res.status, 200, res.text);
  return res.json();
}

test('without trust proxy, forwarded headers change nothing', async (t) => {
  const s = await serve(t, who);
  const info = await ask(s.port, [
    ['X-Forwarded-For', '1.2.3.4'],
    ['X-Forwarded-Proto', 'https'],
    ['X-Forwarded-Host', 'evil.example'],
    ['Forwarded', 'for=5.6.7.8;proto=https;host=evil.example'],
  ]);
  assert.deepEqual(info, {
    ip: '127.0.0.1', ips: [], protocol: 'http', secure: false, host: 'www.example.com', hostname: 'www.example.com', subdomains: ['www'],
  });
});

test('Forwarded (RFC 7239) is read when X-Forwarded-* do not say', async (t) => {
  const s = await serve(t, (app) => {
    app.set('trust proxy', '10.0.0.0/8, loopback');
    who(app);
  });
  let info = await ask(s.port, [['Forwarded', 'for=1.2.3.4;proto=https;host=shop.example.com']]);
  assert.equal(info.ip, '1.2.3.4');
  assert.deepEqual(info.ips, ['1.2.3.4']);
  assert.equal(info.protocol, 'https');
  assert.equal(info.secure, true);
  assert.equal(info.host, 'shop.example.com');
  assert.deepEqual(info.subdomains, ['shop']);

  // Quoted IPv6 with a port, a port on IPv4, several hops (one per element or per header line),
  // case-insensitive names, spaces around separators.
  info = await ask(s.port, [['Forwarded', 'For="[2001:db8:cafe::17]:4711", for=10.0.0.2:8080 ; PROTO=https']]);
  assert.equal(info.ip, '2001:db8:cafe::17');
  assert.deepEqual(info.ips, ['2001:db8:cafe::17', '10.0.0.2']);
  info = await ask(s.port, [['Forwarded', 'for=9.9.9.9'], ['Forwarded', 'for=1.2.3.4, for=10.0.0.2']]);
  assert.equal(info.ip, '1.2.3.4');
  assert.deepEqual(info.ips, ['1.2.3.4', '10.0.0.2']);
  // Only trusted hops are walked: 1.2.3.4 is not trusted, so 5.6.7.8 before it is not the client.
  info = await ask(s.port, [['Forwarded', 'for=5.6.7.8, for=1.2.3.4']]);
  assert.equal(info.ip, '1.2.3.4');
  // 'unknown' and obfuscated identifiers are what they say: not an address, never trusted.
  info = await ask(s.port, [['Forwarded', 'for=1.2.3.4, for=unknown']]);
  assert.equal(info.ip, 'unknown');
  info = await ask(s.port, [['Forwarded', 'for=_hidden']]);
  assert.equal(info.ip, '_hidden');
  // A quoted value with an escaped quote and separators inside it.
  info = await ask(s.port, [['Forwarded', 'for=1.2.3.4;host="a.example.com";ext="x\\";,y"']]);
  assert.equal(info.ip, '1.2.3.4');
  assert.equal(info.hostname, 'a.example.com');
});

test('X-Forwarded-* win over Forwarded, each for what it says', async (t) => {
  const s = await serve(t, (app) => {
    app.set('trust proxy', 'loopback');
    who(app);
  });
  const info = await ask(s.port, [
    ['X-Forwarded-For', '1.2.3.4'],
    ['Forwarded', 'for=5.6.7.8;proto=https;host=forwarded.example'],
    ['X-Forwarded-Host', 'x.example'],
  ]);
  assert.equal(info.ip, '1.2.3.4');
  assert.equal(info.host, 'x.example');
  assert.equal(info.protocol, 'https');
});

test('a malformed Forwarded header is ignored whole, never half-read', async (t) => {
  const s = await serve(t, (app) => {
    app.set('trust proxy', true);
    who(app);
  });
  const malformed = [
    'for="1.2.3.4',
    'for=1.2.3.4;for=5.6.7.8',
    'for',
    '=1.2.3.4',
    'for=1.2.3.4 junk',
    'for=1.2.3.4;;proto=https extra',
    'for=@@',
    `for=1.2.3.4, ${'for=5.6.7.8, '.repeat(800)}for=9.9.9.9`,
  ];
  for (const header of malformed) {
    const info = await ask(s.port, [['Forwarded', header]]);
    assert.equal(info.ip, '127.0.0.1', header.slice(0, 60));
    assert.equal(info.protocol, 'http', header.slice(0, 60));
    assert.equal(info.host, 'www.example.com', header.slice(0, 60));
  }
  // Empty elements are not malformed (a comma list may have them).
  const info = await ask(s.port, [['Forwarded', ', for=1.2.3.4 ,, ']]);
  assert.equal(info.ip, '1.2.3.4');
});

test('the setting applies to the next request when changed while serving', async (t) => {
  const s = await serve(t, who);
  const headers = [['X-Forwarded-For', '1.2.3.4'], ['X-Forwarded-Proto', 'https']];
  assert.equal((await ask(s.port, headers)).ip, '127.0.0.1');
  s.app.enable('trust proxy');
  assert.equal(s.app.get('trust proxy'), true);
  let info = await ask(s.port, headers);
  assert.equal(info.ip, '1.2.3.4');
  assert.equal(info.protocol, 'https');
  s.app.set('trust proxy', '10.0.0.1');
  info = await ask(s.port, headers);
  assert.equal(info.ip, '127.0.0.1');
  assert.equal(info.protocol, 'http');
});

test('createApp({ trustProxy }) is the same setting; bad values are refused at once', async (t) => {
  const s = await serve(t, who, { appOptions: { trustProxy: 1 } });
  assert.equal(s.app.get('trust proxy'), 1);
  assert.equal((await ask(s.port, [['X-Forwarded-For', '5.6.7.8, 1.2.3.4']])).ip, '1.2.3.4');

  assert.throws(() => createApp({ trustProxy: 'not-an-address' }), { code: 'HN_ERR_BAD_OPTION' });
  assert.throws(() => createApp({ trustProxy: -1 }), { code: 'HN_ERR_BAD_OPTION' });
  assert.throws(() => createApp({ trustProxy: 1.5 }), { code: 'HN_ERR_BAD_OPTION' });
  assert.throws(() => createApp({ trustProxy: { a: 1 } }), { code: 'HN_ERR_BAD_OPTION' });
  assert.throws(() => createApp({ trustProxy: '10.0.0.0/33' }), { code: 'HN_ERR_BAD_OPTION' });
  const app = createApp();
  app.set('trust proxy', 'loopback');
  assert.throws(() => app.set('trust proxy', ['loopback', 42]), { code: 'HN_ERR_BAD_OPTION' });
  // A refused value leaves the previous one in place.
  assert.equal(app.get('trust proxy'), 'loopback');
});

test('a middleware may still assign req.ip and req.protocol', async (t) => {
  const s = await serve(t, (app) => {
    app.set('trust proxy', true);
    app.use((req, res, next) => {
      req.ip = '203.0.113.9';
      req.protocol = 'https';
      next();
    });
    who(app);
  });
  const info = await ask(s.port, [['X-Forwarded-For', '1.2.3.4']]);
  assert.equal(info.ip, '203.0.113.9');
  assert.equal(info.protocol, 'https');
  assert.equal(info.secure, true);
});

test('over TLS: https without a proxy; a trusted proxy says what the client used', { skip: require('./support/tls-certs').skip }, async (t) => {
  const { serveTls, h1Request, h2Connect, h2Request } = require('./support/tls-client');
  const s = await serveTls(t, (app) => {
    app.set('trust proxy', (address) => address === '127.0.0.1');
    who(app);
    app.get('/untrusting', (req, res) => {
      req.app.set('trust proxy', false);
      res.json({ protocol: req.protocol, secure: req.secure });
    });
  });
  let info = (await h1Request(s.origin, '/who')).json();
  assert.equal(info.protocol, 'https');
  assert.equal(info.secure, true);
  assert.equal(info.host, `127.0.0.1:${s.port}`);
  info = (await h1Request(s.origin, '/who', { headers: { 'x-forwarded-proto': 'http', 'x-forwarded-for': '1.2.3.4' } })).json();
  assert.equal(info.protocol, 'http');
  assert.equal(info.secure, false);
  assert.equal(info.ip, '1.2.3.4');
  // HTTP/2: the host is :authority's.
  const session = await h2Connect(t, s.origin);
  info = (await h2Request(session, { ':path': '/who', ':authority': `shop.example.com:${s.port}` })).json();
  assert.equal(info.host, `shop.example.com:${s.port}`);
  assert.equal(info.hostname, 'shop.example.com');
  assert.deepEqual(info.subdomains, ['shop']);
  assert.equal(info.protocol, 'https');
  info = (await h1Request(s.origin, '/untrusting', { headers: { 'x-forwarded-proto': 'http' } })).json();
  assert.deepEqual(info, { protocol: 'https', secure: true });
});
