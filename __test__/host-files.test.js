'use strict';
// js/host/files.js, the node backend's file answers, against Rust's: the same tree is served by a
// native app (app.static mounts, res.sendFile routes) and by a node:http server calling
// serveMount()/serveFile() with the same DirSpecs and the records js/files.js would send, and each
// request (raw sockets, then fetch and curl) must get the same status, headers and body from both:
// serving, index/extensions/redirects, dotfiles, fallthrough, traversal and symlinks, validators
// and preconditions, ranges (multipart, 416, If-Range), precompressed siblings, compression under
// the app's policy, downloads. Absolute checks beside the comparison keep a shared mistake from
// passing.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const nodePath = require('node:path');
const zlib = require('node:zlib');
const { execFileSync, execFile } = require('node:child_process');
const { promisify } = require('node:util');
const { start, get, buildRequest, RawClient, curlMissing, waitUntil } = require('./helpers');
const { makeTree, pattern, rangesOf, zstdFrame, assertNoSecret } = require('./support/files');
const { staticDirectory } = require('../js/static');
const { serveFile, serveMount } = require('../js/host/files');

const T = { timeout: 30000 };
const MTIME = new Date('2024-03-04T05:06:07Z');
const BIN = pattern(100000, 7);
const BIG_CSS = Buffer.from('.rule { color: red; margin: 0 auto; }\n'.repeat(9000)); // ~340 KiB: compressed as a stream
const SMALL_JSON = Buffer.from(JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` }))));
const APP_JS = Buffer.from('console.log("app");\n'.repeat(200));
const CSS = Buffer.from('body { color: blue }\n'.repeat(100));
const INDEX = Buffer.from('<h1>index</h1>\n'.repeat(100));

const FILES = {
  'a.txt': 'hello world\n',
  'a b.txt': 'spaced\n',
  'bom.txt': 'no mark',
  '\uFEFFbom.txt': 'a name that starts with U+FEFF',
  'page.html': '<p>page</p>',
  'about.html': '<p>about</p>',
  'sub/index.html': INDEX,
  'sub/index.html.br': zlib.brotliCompressSync(INDEX),
  'nodir/x.txt': 'x',
  '.env': 'DOTFILE=1',
  '.well/x.txt': 'well',
  'bin.dat': BIN,
  'empty.txt': '',
  'big.css': BIG_CSS,
  'small.json': SMALL_JSON,
  'logo.png': pattern(5000, 3),
  'app.js': APP_JS,
  'app.js.br': zlib.brotliCompressSync(APP_JS),
  'app.js.gz': zlib.gzipSync(APP_JS),
  'app.js.zst': zstdFrame(APP_JS),
  'style.css': CSS,
  'style.css.gz': zlib.gzipSync(CSS),
};
// Files typed by extension: Rust's table (mime_guess) differs from mime-db's for many of these.
const TYPED = ['x.html', 'x.htm', 'x.css', 'x.js', 'x.mjs', 'x.json', 'x.xml', 'x.svg', 'x.png', 'x.JPG', 'x.webp', 'x.avif', 'x.ico', 'x.woff',
  'x.woff2', 'x.otf', 'x.pdf', 'x.wasm', 'x.map', 'x.md', 'x.yaml', 'x.ts', 'x.m4a', 'x.rar', 'x.tar.gz', 'x.unknownext', 'noext', 'x.', 'x.constructor'];
for (const name of TYPED) FILES[`types/${name}`] = 'typed';

// The directory mounts both servers have (prefix → options besides root).
const MOUNTS = {
  '/assets': {},
  '/ext': { extensions: ['html'] },
  '/deny': { dotfiles: 'deny' },
  '/allow': { dotfiles: 'allow' },
  '/strict': { fallthrough: false, redirect: false, index: false },
  '/pre': { precompressed: true },
  '/follow': { followSymlinks: true },
  '/off': { etag: false, lastModified: false, acceptRanges: false, maxAge: '1h', immutable: true, headers: { 'x-extra': 'yes' } },
  '/nocomp': { compression: false },
};

// res.sendFile()/res.download() calls both servers make: the native route runs it, the node server
// sends the record js/files.js builds for it.
function sendCases(tree) {
  const abs = (name) => nodePath.join(tree.root, name);
  return {
    abs: { path: abs('bin.dat') },
    root: { path: 'a.txt', options: { root: tree.root } },
    rootsub: { path: '/sub/index.html', options: { root: tree.root } },
    json: { path: abs('small.json') },
    download: { path: abs('a.txt'), download: 'résumé "final".txt' },
    novalidators: { path: abs('bin.dat'), options: { etag: false, lastModified: false, acceptRanges: false } },
    own: { path: abs('a.txt'), headers: [['ETag', '"mine"'], ['Last-Modified', MTIME.toUTCString()], ['Content-Type', 'text/x-custom']] },
    status: { path: abs('page.html'), status: 404 },
    maxage: { path: abs('a.txt'), options: { maxAge: 60000, immutable: true } },
    dotallow: { path: '.env', options: { root: tree.root, dotfiles: 'allow' } },
  };
}

// The request headers js/files.js copies into pseudo headers.
const FACTS = ['range', 'if-range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'accept-encoding'];

// The record js/files.js sends for a case: its body (the path) and headers.
function recordOf(req, c) {
  const options = c.options ?? {};
  const headers = (c.headers ?? []).map(([name, value]) => [name.toLowerCase(), value]);
  if (!headers.some(([name]) => name === 'cache-control')) {
    const secs = Math.floor((options.maxAge ?? 0) / 1000);
    headers.push(['cache-control', `public, max-age=${secs}${options.immutable ? ', immutable' : ''}`]);
  }
  for (const name of FACTS) if (typeof req.headers[name] === 'string') headers.push([`:${name}`, req.headers[name]]);
  let body = c.path;
  if (options.root !== undefined) {
    headers.push([':root', options.root]);
    body = nodePath.normalize(`./${c.path}`);
  }
  if (options.dotfiles !== undefined && options.dotfiles !== 'ignore') headers.push([':dotfiles', options.dotfiles]);
  if (options.etag === false) headers.push([':etag', '0']);
  if (options.lastModified === false) headers.push([':last-modified', '0']);
  if (options.acceptRanges === false) headers.push([':accept-ranges', '0']);
  if (c.download !== undefined) headers.push([':download', c.download]);
  return { body, headers };
}

// The native app and the node:http server, serving the same tree the same way.
async function pair(t, tree, { compression } = {}) {
  const cases = sendCases(tree);
  const native = await start(
    (app) => {
      for (const [name, c] of Object.entries(cases)) {
        app.get(`/send/${name}`, (req, res) => {
          if (c.headers) for (const [k, v] of c.headers) res.set(k, v);
          if (c.status) res.status(c.status);
          if (c.download !== undefined) res.download(c.path, c.download);
          else res.sendFile(c.path, c.options);
        });
      }
      for (const [prefix, options] of Object.entries(MOUNTS)) app.static(prefix, { root: tree.root, ...options });
      app.use((req, res) => res.status(404).send('JS 404'));
    },
    compression ? { appOptions: { compression } } : undefined,
  );
  t.after(() => native.close());
  const spec = compression === undefined ? undefined : compression === true ? { enabled: true } : { enabled: true, ...compression };
  const mounts = Object.entries(MOUNTS).map(([prefix, options]) => staticDirectory(prefix, { root: tree.root, ...options }));
  const srv = http.createServer(async (req, res) => {
    const q = req.url.indexOf('?');
    const path = q === -1 ? req.url : req.url.slice(0, q);
    if (req.method === 'GET' || req.method === 'HEAD') {
      const sent = /^\/send\/([a-z]+)$/.exec(path);
      if (sent !== null && cases[sent[1]] !== undefined) {
        const c = cases[sent[1]];
        const record = recordOf(req, c);
        await serveFile(req, res, record.body, record.headers, { status: c.status ?? 200, compression: spec });
        return;
      }
      for (const mount of mounts) {
        let rest;
        if (path === mount.prefix) rest = null;
        else if (path.startsWith(`${mount.prefix}/`)) rest = path.slice(mount.prefix.length + 1);
        else continue;
        if (await serveMount(req, res, mount, rest, { compression: spec })) return;
        break;
      }
    }
    res.statusCode = 404;
    res.end('JS 404');
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => srv.close(resolve)));
  return { native: native.port, node: srv.address().port };
}

const COMPARED = [
  'accept-ranges',
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-length',
  'content-range',
  'content-type',
  'etag',
  'last-modified',
  'location',
  'transfer-encoding',
  'vary',
  'x-extra',
];

// What must be equal between the two answers: status, the file headers, the body. Multipart
// boundaries are random; bodies compressed here are compared decoded (the encoders differ), and
// then without their lengths.
function shape(res) {
  const body = res.body;
  if (body.toString('latin1') === 'JS 404') return { status: res.status, body: 'JS 404 (fell through to JS)' };
  const headers = {};
  for (const name of COMPARED) if (res.headers[name] !== undefined) headers[name] = res.headers[name];
  const boundary = /boundary=([^;\s]+)/.exec(headers['content-type'] ?? '')?.[1];
  let text = body.toString('latin1');
  if (boundary !== undefined) {
    headers['content-type'] = headers['content-type'].replace(boundary, 'BOUNDARY');
    text = text.replaceAll(boundary, 'BOUNDARY');
  }
  const coding = headers['content-encoding'];
  if (coding !== undefined && /^W\//.test(headers.etag ?? 'W/') && body.length > 0) {
    text = decode(coding, body).toString('latin1');
    delete headers['content-length'];
    delete headers['transfer-encoding'];
  } else if (coding !== undefined && body.length === 0) {
    delete headers['content-length'];
  }
  return { status: res.status, headers, body: text };
}

function decode(coding, body) {
  if (coding === 'gzip') return zlib.gunzipSync(body);
  if (coding === 'br') return zlib.brotliDecompressSync(body);
  return zlib.zstdDecompressSync(body);
}

// Sends the same request to both and asserts equal answers; returns the node backend's.
async function same(ports, target, { method = 'GET', headers = [], version = '1.1', outside = false } = {}) {
  const data = buildRequest(method, target, { headers, version });
  const ask = async (port) => {
    const c = await RawClient.connect(port);
    try {
      await c.write(data);
      return await c.readResponse({ head: method === 'HEAD' });
    } finally {
      c.destroy();
    }
  };
  const [native, node] = [await ask(ports.native), await ask(ports.node)];
  const what = `${method} ${target} ${JSON.stringify(headers)}`;
  assert.deepEqual(shape(node), shape(native), what);
  if (!outside) assertNoSecret(node, what);
  return node;
}

function etagOf(file) {
  const st = fs.statSync(file, { bigint: true });
  return `"${st.size.toString(16)}-${(st.mtimeNs / 1_000_000n).toString(16)}"`;
}

describe('file answers on node:http, beside Rust\'s', () => {
  let tree;
  let ports;
  let plain;
  const tmp = [];

  before(async () => {
    tree = makeTree((fn) => tmp.push(fn), FILES, {
      out: '../secret.txt',
      alias: 'a.txt',
      outdir: '../root-evil',
    });
    fs.symlinkSync(nodePath.join(tree.root, 'a.txt'), nodePath.join(tree.root, 'abs'));
    for (const name of ['bin.dat', 'a.txt', 'app.js.br', 'page.html']) fs.utimesSync(nodePath.join(tree.root, name), MTIME, MTIME);
    try {
      execFileSync('mkfifo', [nodePath.join(tree.root, 'fifo')]);
    } catch {
      // No mkfifo here: the FIFO case is then a plain miss on both.
    }
    const ctx = { after: (fn) => tmp.push(fn) };
    plain = await pair(ctx, tree);
    ports = await pair(ctx, tree, { compression: true });
  });
  after(async () => {
    for (const fn of tmp.reverse()) await fn();
  });

  test('serving: types, validators, HEAD, queries, encoded names, index, redirects, extensions', T, async () => {
    const res = await same(plain, '/assets/a.txt');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'hello world\n');
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(res.headers.etag, etagOf(nodePath.join(tree.root, 'a.txt')));
    assert.equal(res.headers['last-modified'], MTIME.toUTCString());
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.equal(res.headers['cache-control'], 'public, max-age=0');
    const head = await same(plain, '/assets/a.txt', { method: 'HEAD' });
    assert.equal(head.headers['content-length'], '12');
    for (const target of [
      '/assets/a.txt?x=1',
      '/assets/a%20b.txt',
      '/assets/%EF%BB%BFbom.txt',
      '/assets/sub/',
      '/assets/page.html',
      '/assets/logo.png',
      '/assets/app.js',
      '/assets/empty.txt',
      '/assets/nodir/',
      '/assets/nosuch',
      '/assets/',
      '/ext/about',
      '/assets/about',
      '/off/a.txt',
      '/assets/alias',
      '/assets/abs',
    ]) {
      await same(plain, target);
    }
    for (const name of TYPED) await same(plain, `/assets/types/${name}`);
    assert.equal((await same(plain, '/assets/types/x.xml')).headers['content-type'], 'text/xml; charset=utf-8');
    for (const target of ['/assets/sub', '/assets/sub?q=1&r=2', '/assets', '/assets//sub']) {
      const redirect = await same(plain, target);
      if (target !== '/assets//sub') assert.equal(redirect.status, 301, target);
    }
    assert.equal((await same(plain, '/assets/sub?q=1&r=2')).headers.location, '/assets/sub/?q=1&r=2');
    assert.equal((await same(plain, '/assets/%EF%BB%BFbom.txt')).text, 'a name that starts with U+FEFF');
    assert.equal((await same(plain, '/assets/sub/')).text, INDEX.toString());
    assert.equal((await same(plain, '/ext/about')).text, '<p>about</p>');
    assert.equal((await same(plain, '/off/a.txt')).headers['cache-control'], 'public, max-age=3600, immutable');
  });

  test('dotfiles, fallthrough: false, redirect: false, index: false', T, async () => {
    for (const target of ['/assets/.env', '/deny/.env', '/allow/.env', '/assets/.well/x.txt', '/deny/.well/x.txt', '/allow/.well/x.txt']) {
      await same(plain, target);
    }
    assert.equal((await same(plain, '/deny/.env')).status, 403);
    assert.equal((await same(plain, '/allow/.env')).text, 'DOTFILE=1');
    for (const target of ['/strict/nosuch', '/strict/sub', '/strict/sub/', '/strict/a.txt']) await same(plain, target);
    const miss = await same(plain, '/strict/nosuch');
    assert.equal(miss.status, 404);
    assert.deepEqual(miss.json(), { error: 'Not Found' });
  });

  test('traversal and symlinks: nothing outside the root, the same refusals as Rust', T, async () => {
    for (const target of [
      '/assets/../secret.txt',
      '/assets/..%2fsecret.txt',
      '/assets/%2e%2e/secret.txt',
      '/assets/%2E%2E%2Fsecret.txt',
      '/assets/sub/..%2f..%2fsecret.txt',
      '/assets/..%5csecret.txt',
      '/assets/a%00b',
      '/assets/%zz',
      '/assets/%ff',
      '/assets/%c0%ae%c0%ae/secret.txt',
      '/assets/%252e%252e/secret.txt',
      '/assets/out',
      '/assets/outdir/secret.txt',
      '/assets/fifo',
      `/assets/${'a/'.repeat(2500)}x`,
      `/assets/${'x'.repeat(5000)}`,
    ]) {
      await same(plain, target);
    }
    assert.equal((await same(plain, '/assets/%2e%2e/secret.txt')).status, 400);
    const out = await same(plain, '/follow/out', { outside: true });
    assert.equal(out.status, 200, 'followSymlinks: true serves a link out of the root');
    assert.match(out.text, /TOP-SECRET/);
    assert.equal((await same(plain, '/assets/out')).status, 404);
  });

  test('preconditions in RFC 9110 order: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since', T, async () => {
    const etag = etagOf(nodePath.join(tree.root, 'bin.dat'));
    const at = MTIME.toUTCString();
    const earlier = new Date(MTIME.getTime() - 1000).toUTCString();
    const rfc850 = 'Monday, 04-Mar-24 05:06:07 GMT';
    const asctime = 'Mon Mar  4 05:06:07 2024';
    const cases = [
      [['If-None-Match', etag]],
      [['If-None-Match', `W/${etag}`]],
      [['If-None-Match', `"other", ${etag}`]],
      [['If-None-Match', '*']],
      [['If-None-Match', '"other"']],
      [['If-None-Match', 'garbage']],
      [['If-Modified-Since', at]],
      [['If-Modified-Since', rfc850]],
      [['If-Modified-Since', asctime]],
      [['If-Modified-Since', earlier]],
      [['If-Modified-Since', 'not a date']],
      [['If-Modified-Since', at.replace('Mon', 'Tue')]],
      [['If-Unmodified-Since', earlier.replace('Mon', 'Sun')]],
      [['If-None-Match', '"other"'], ['If-Modified-Since', at]],
      [['If-Match', '*']],
      [['If-Match', etag]],
      [['If-Match', '"other"']],
      [['If-Match', `W/${etag}`]],
      [['If-Unmodified-Since', earlier]],
      [['If-Unmodified-Since', at]],
      [['If-Unmodified-Since', 'nope']],
      [['If-Match', etag], ['If-Unmodified-Since', earlier]],
      [['If-Match', '"z"'], ['If-None-Match', '*']],
      [['If-None-Match', etag], ['Range', 'bytes=0-9']],
    ];
    const statuses = [];
    for (const headers of cases) statuses.push((await same(plain, '/assets/bin.dat', { headers })).status);
    // A date with the wrong weekday is no date (ignored), as Rust's httpdate reads it.
    assert.deepEqual(statuses, [304, 304, 304, 304, 200, 200, 304, 304, 304, 200, 200, 200, 200, 200, 200, 200, 412, 412, 412, 200, 200, 200, 412, 304]);
    const notModified = await same(plain, '/assets/bin.dat', { headers: [['If-None-Match', etag]] });
    assert.equal(notModified.headers.etag, etag);
    assert.equal(notModified.body.length, 0);
  });

  test('ranges: single, suffix, open, multipart, 416, ignored ones, If-Range, HEAD, too many', T, async () => {
    const etag = etagOf(nodePath.join(tree.root, 'bin.dat'));
    const ranges = [
      'bytes=0-99',
      'bytes=-100',
      'bytes=-500000',
      'bytes=99990-',
      'bytes=99990-200000',
      ' bytes=5-5 ',
      'bytes=0-9,100-199',
      'bytes=500-599, 0-99',
      'bytes=0-99,50-150,151-160',
      'bytes=0-9,200000-300000',
      'bytes=100000-',
      'bytes=-0',
      'bytes=9-5',
      'items=0-1',
      'bytes=a-b',
      'bytes=',
      `bytes=${Array.from({ length: 32 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',')}`,
      `bytes=${Array.from({ length: 33 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',')}`,
    ];
    for (const range of ranges) await same(plain, '/assets/bin.dat', { headers: [['Range', range]] });
    const multi = await same(plain, '/assets/bin.dat', { headers: [['Range', 'bytes=0-9,100-199']] });
    assert.deepEqual(
      rangesOf(multi).map((p) => [p.start, p.end, p.body.equals(BIN.subarray(p.start, p.end + 1)), p.headers['content-type']]),
      [
        [0, 9, true, 'application/octet-stream'],
        [100, 199, true, 'application/octet-stream'],
      ],
    );
    const suffix = await same(plain, '/assets/bin.dat', { headers: [['Range', 'bytes=-100']] });
    assert.equal(suffix.headers['content-range'], 'bytes 99900-99999/100000');
    assert.ok(suffix.body.equals(BIN.subarray(99900)));
    assert.equal((await same(plain, '/assets/bin.dat', { headers: [['Range', 'bytes=100000-']] })).headers['content-range'], 'bytes */100000');
    for (const ifRange of [etag, '"other"', `W/${etag}`, MTIME.toUTCString(), new Date(MTIME.getTime() - 1000).toUTCString(), 'junk']) {
      await same(plain, '/assets/bin.dat', { headers: [['Range', 'bytes=10-19'], ['If-Range', ifRange]] });
    }
    assert.equal((await same(plain, '/assets/bin.dat', { headers: [['Range', 'bytes=10-19'], ['If-Range', etag]] })).status, 206);
    await same(plain, '/assets/bin.dat', { method: 'HEAD', headers: [['Range', 'bytes=0-9']] });
    await same(plain, '/assets/empty.txt', { headers: [['Range', 'bytes=0-9']] });
    await same(plain, '/off/a.txt', { headers: [['Range', 'bytes=0-1']] });
  });

  test('ranges pipelined on one keep-alive connection, then the connection still serves', T, async () => {
    const c = await RawClient.connect(plain.node);
    try {
      const reqs = ['bytes=0-9', 'bytes=10-19,30-39', 'bytes=99999-'].map((r) => buildRequest('GET', '/assets/bin.dat', { headers: [['Range', r]] }));
      await c.write(Buffer.concat([...reqs, buildRequest('GET', '/assets/a.txt')]));
      const got = [];
      for (let i = 0; i < 4; i++) got.push(await c.readResponse());
      assert.deepEqual(got.map((r) => r.status), [206, 206, 206, 200]);
      assert.ok(got[0].body.equals(BIN.subarray(0, 10)));
      assert.equal(rangesOf(got[1]).length, 2);
      assert.ok(got[2].body.equals(BIN.subarray(99999)));
      assert.equal(got[3].text, 'hello world\n');
    } finally {
      c.destroy();
    }
  });

  test('precompressed siblings: the best accepted that exists, q-values first, with Vary and their own validators', T, async () => {
    const codings = ['br', 'gzip', 'zstd', 'br, gzip, zstd', 'gzip;q=1, br;q=0.5', 'br;q=0, gzip', 'br;q=0, gzip;q=0, zstd;q=0', 'deflate', '*', 'identity'];
    for (const accept of codings) {
      for (const target of ['/pre/app.js', '/pre/style.css', '/pre/a.txt', '/pre/sub/']) await same(plain, target, { headers: [['Accept-Encoding', accept]] });
    }
    await same(plain, '/pre/app.js');
    const br = await same(plain, '/pre/app.js', { headers: [['Accept-Encoding', 'br']] });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(br.headers.vary, 'Accept-Encoding');
    assert.ok(br.body.equals(FILES['app.js.br']), 'the sibling\'s bytes');
    const etag = br.headers.etag;
    assert.equal(etag, etagOf(nodePath.join(tree.root, 'app.js.br')));
    const revalidated = await same(plain, '/pre/app.js', { headers: [['Accept-Encoding', 'br'], ['If-None-Match', etag]] });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.headers.vary, 'Accept-Encoding');
    await same(plain, '/pre/app.js', { method: 'HEAD', headers: [['Accept-Encoding', 'gzip']] });
    await same(plain, '/pre/app.js', { headers: [['Accept-Encoding', 'gzip'], ['Range', 'bytes=0-9']] });
    await same(plain, '/assets/app.js', { headers: [['Accept-Encoding', 'br']] });
    assert.equal((await same(plain, '/pre/style.css', { headers: [['Accept-Encoding', 'br']] })).headers['content-encoding'], undefined);
  });

  test('compression under the app\'s policy: small files whole, large ones streamed, never ranges, types or small bodies', T, async () => {
    const accepts = ['br', 'gzip', 'gzip;q=0', 'br;q=0.5, gzip', undefined];
    for (const accept of accepts) {
      const headers = accept === undefined ? [] : [['Accept-Encoding', accept]];
      for (const target of ['/assets/small.json', '/assets/big.css', '/assets/logo.png', '/assets/a.txt', '/nocomp/small.json', '/pre/app.js', '/assets/sub/']) {
        await same(ports, target, { headers });
      }
    }
    const small = await same(ports, '/assets/small.json', { headers: [['Accept-Encoding', 'br']] });
    assert.equal(small.headers['content-encoding'], 'br');
    assert.ok(small.headers['content-length'], 'compressed whole: a Content-Length');
    assert.equal(small.headers.etag, `W/${etagOf(nodePath.join(tree.root, 'small.json'))}`);
    assert.ok(zlib.brotliDecompressSync(small.body).equals(SMALL_JSON));
    const big = await same(ports, '/assets/big.css', { headers: [['Accept-Encoding', 'gzip']] });
    assert.equal(big.headers['transfer-encoding'], 'chunked');
    assert.ok(zlib.gunzipSync(big.body).equals(BIG_CSS));
    const png = await same(ports, '/assets/logo.png', { headers: [['Accept-Encoding', 'br']] });
    assert.equal(png.headers.vary, undefined);
    const ranged = await same(ports, '/assets/small.json', { headers: [['Accept-Encoding', 'br'], ['Range', 'bytes=0-9']] });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers['content-encoding'], undefined);
    assert.equal(ranged.headers.vary, 'Accept-Encoding');
    await same(ports, '/assets/small.json', { method: 'HEAD', headers: [['Accept-Encoding', 'br']] });
    await same(ports, '/assets/big.css', { method: 'HEAD', headers: [['Accept-Encoding', 'br']] });
    await same(ports, '/assets/big.css', { headers: [['Accept-Encoding', 'br']], version: '1.0' });
    const weak = small.headers.etag;
    assert.equal((await same(ports, '/assets/small.json', { headers: [['Accept-Encoding', 'br'], ['If-None-Match', weak]] })).status, 304);
    assert.equal((await same(ports, '/assets/small.json', { headers: [['Accept-Encoding', 'br'], ['If-Match', weak]] })).status, 412);
  });

  test('res.sendFile and res.download records: root, validators off or the app\'s own, status, download names, ranges', T, async () => {
    for (const name of Object.keys(sendCases(tree))) {
      for (const headers of [[], [['Range', 'bytes=0-4']], [['If-None-Match', '*']], [['If-Match', '"mine"']], [['Accept-Encoding', 'gzip']]]) {
        await same(plain, `/send/${name}`, { headers });
        await same(ports, `/send/${name}`, { headers });
      }
      await same(plain, `/send/${name}`, { method: 'HEAD' });
    }
    const download = await same(plain, '/send/download');
    assert.equal(download.headers['content-disposition'], 'attachment; filename="r?sum? _final_.txt"; filename*=UTF-8\'\'r%C3%A9sum%C3%A9%20%22final%22.txt');
    const own = await same(plain, '/send/own', { headers: [['If-None-Match', '"mine"']] });
    assert.equal(own.status, 304);
    const status = await same(plain, '/send/status', { headers: [['Range', 'bytes=0-1']] });
    assert.equal(status.status, 404);
    assert.equal(status.text, '<p>page</p>');
  });

  test('a record for a file that is gone, a path that leaves its root, a link out of it: Rust\'s short answers', T, async (t) => {
    const srv = http.createServer((req, res) => {
      const [body, root] = JSON.parse(decodeURIComponent(req.url.slice(1)));
      serveFile(req, res, body, root === null ? [] : [[':root', root]]);
    });
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => srv.close(resolve)));
    const ask = async (body, root = null) => {
      const res = await get(srv.address().port, `/${encodeURIComponent(JSON.stringify([body, root]))}`);
      assertNoSecret(res, body);
      return [res.status, res.text];
    };
    assert.deepEqual(await ask(nodePath.join(tree.root, 'gone.txt')), [404, '{"error":"Not Found"}']);
    assert.deepEqual(await ask('../secret.txt', tree.root), [400, '{"error":"Bad Request"}']);
    assert.deepEqual(await ask('out', tree.root), [404, '{"error":"Not Found"}']);
    assert.deepEqual(await ask('relative.txt'), [400, '{"error":"Bad Request"}']);
    assert.deepEqual(await ask(nodePath.join(tree.root, '.env')), [404, '{"error":"Not Found"}']);
    assert.deepEqual(await ask(tree.root), [404, '{"error":"Not Found"}']);
    assert.deepEqual(await ask('a.txt', tree.root), [200, 'hello world\n']);
  });

  test('a client that leaves mid-answer: the reads stop, every descriptor is closed, the server goes on', T, async (t) => {
    fs.writeFileSync(nodePath.join(tree.root, 'huge.bin'), Buffer.alloc(32 << 20, 1));
    fs.writeFileSync(nodePath.join(tree.root, 'huge.txt'), Buffer.from('all work and no play '.repeat(800000)));
    const mount = staticDirectory('/', { root: tree.root });
    const spec = { enabled: true };
    const srv = http.createServer((req, res) => serveMount(req, res, mount, req.url.slice(1), { compression: spec }));
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => srv.close(resolve)));
    const port = srv.address().port;
    const open = () => fs.readdirSync('/proc/self/fd').length;
    const baseline = open();
    for (const [target, headers] of [
      ['/huge.bin', []],
      ['/huge.bin', [['Range', 'bytes=0-9,100-30000000']]],
      ['/huge.txt', [['Accept-Encoding', 'gzip']]],
      ['/huge.txt', [['Accept-Encoding', 'br']]],
    ]) {
      const c = await RawClient.connect(port);
      await c.write(buildRequest('GET', target, { headers }));
      await waitUntil(() => c.buf.includes('\r\n\r\n'), { what: `the head of ${target}` });
      c.destroy();
    }
    await waitUntil(() => open() <= baseline, { what: `descriptors back to ${baseline} (now ${open()})` });
    const after = await get(port, '/a.txt');
    assert.equal(after.text, 'hello world\n');
  });

  test('real clients: fetch decodes what it negotiated, curl resumes a download with a range', T, async (t) => {
    for (const target of ['/pre/app.js', '/assets/small.json', '/assets/big.css']) {
      const port = target === '/pre/app.js' ? plain.node : ports.node;
      const res = await fetch(`http://127.0.0.1:${port}${target}`, { signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 200);
      const body = Buffer.from(await res.arrayBuffer());
      assert.ok(body.equals(target === '/pre/app.js' ? APP_JS : target === '/assets/small.json' ? SMALL_JSON : BIG_CSS), target);
    }
    if (curlMissing()) {
      t.diagnostic(curlMissing());
      return;
    }
    const out = nodePath.join(tree.dir, 'partial.dat');
    fs.writeFileSync(out, BIN.subarray(0, 40000));
    // Asynchronously: the server answering curl runs in this process.
    const curl = (args) => promisify(execFile)('curl', ['-sS', '--max-time', '10', ...args]).then(({ stdout }) => stdout);
    await curl(['-C', '-', '-o', out, `http://127.0.0.1:${plain.node}/assets/bin.dat`]);
    assert.ok(fs.readFileSync(out).equals(BIN), 'curl -C - completed the file from its range');
    const headers = await curl(['-D', '-', '-o', '/dev/null', '--compressed', `http://127.0.0.1:${ports.node}/assets/small.json`]);
    assert.match(headers, /content-encoding: (br|gzip|zstd)/i);
  });
});

test('the type table (js/host/mime-table.json) is that of the mime_guess Cargo.lock builds the addon with', () => {
  const lock = fs.readFileSync(nodePath.join(__dirname, '..', 'Cargo.lock'), 'utf8');
  const version = /name = "mime_guess"\nversion = "([^"]+)"/.exec(lock)?.[1];
  assert.ok(version, 'Cargo.lock names mime_guess');
  assert.equal(require('../js/host/mime-table.json').source, `mime_guess ${version}`, 'run node scripts/mime-table.js');
});
