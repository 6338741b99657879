'use strict';
// app.static(prefix, directory): what a directory mount answers for a hit and a miss, over raw
// sockets. Content-Type from the extension (charset for text), index files, the trailing-slash
// redirect, dotfiles, extensions, cache headers, HEAD, fallthrough to JS on a miss, hits answered
// without JS, and a file changed on disk served with its new bytes and validators.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { get, buildRequest, RawClient, assertDateHeader } = require('./helpers');
const { makeTree, writeFile, serveDir, pattern } = require('./support/files');

const T = { timeout: 30000 };
// A 1x1 transparent PNG.
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000' + '1f15c4890000000d49444154789c6300010000050001' + '0d0a2db40000000049454e44ae426082', 'hex');

const TYPES = {
  'index.html': ['<!doctype html><title>home</title>', /^text\/html; ?charset=utf-8$/i],
  'a.txt': ['hello, file\n', /^text\/plain; ?charset=utf-8$/i],
  'UPPER.TXT': ['upper case extension\n', /^text\/plain; ?charset=utf-8$/i],
  'style.css': ['body { color: red }\n', /^text\/css; ?charset=utf-8$/i],
  'app.js': ['window.loaded = true;\n', /^text\/javascript; ?charset=utf-8$/i],
  'data.json': ['{"ok":true}\n', /^application\/json(; ?charset=utf-8)?$/i],
  'pixel.png': [PNG, /^image\/png$/],
  'icon.svg': ['<svg xmlns="http://www.w3.org/2000/svg"/>', /^image\/svg\+xml(; ?charset=utf-8)?$/i],
  'font.woff2': [pattern(64, 1), /^font\/woff2$/],
  'clip.webm': [pattern(64, 2), /^video\/webm$/],
  'mod.wasm': [Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), /^application\/wasm$/],
  'blob.zzzunknown': [pattern(32, 3), /^application\/octet-stream$/],
  'empty.txt': ['', /^text\/plain; ?charset=utf-8$/i],
};

function typedTree(t) {
  const files = {};
  for (const [name, [content]] of Object.entries(TYPES)) files[name] = content;
  return makeTree(t, files);
}

test('Content-Type from the extension (charset=utf-8 on text), Content-Length, Last-Modified, ETag, Accept-Ranges, Date', T, async (t) => {
  const tree = typedTree(t);
  const s = await serveDir(t, { root: tree.root });
  for (const [name, [content, type]] of Object.entries(TYPES)) {
    const res = await get(s.port, `/assets/${name}`);
    assert.equal(res.status, 200, name);
    assert.match(res.headers['content-type'] || '(none)', type, name);
    assert.deepEqual(res.body, Buffer.from(content), name);
    assert.equal(res.headers['content-length'], String(Buffer.byteLength(content)), name);
    assert.equal(res.headers['accept-ranges'], 'bytes', name);
    assert.match(res.headers.etag || '(none)', /^(W\/)?"[\x21\x23-\x7e]+"$/, `${name}: an ETag`);
    // Whole seconds from the nanoseconds: node rounds `mtime` to the millisecond, which puts a
    // file written in the last half millisecond of a second in the next one.
    const seconds = fs.statSync(path.join(tree.root, name), { bigint: true }).mtimeNs / 1_000_000_000n;
    assert.equal(res.headers['last-modified'], new Date(Number(seconds) * 1000).toUTCString(), `${name}: Last-Modified is the mtime`);
    assertDateHeader(assert, res);
  }
});

test('HEAD: the GET headers, no body', T, async (t) => {
  const tree = typedTree(t);
  const s = await serveDir(t, { root: tree.root });
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  await c.write(Buffer.concat([buildRequest('HEAD', '/assets/style.css'), buildRequest('GET', '/assets/style.css')]));
  const head = await c.readResponse({ head: true });
  const full = await c.readResponse();
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  for (const h of ['content-type', 'content-length', 'etag', 'last-modified', 'accept-ranges']) {
    assert.equal(head.headers[h], full.headers[h], `HEAD has the GET's ${h}`);
  }
  assert.equal(full.text, TYPES['style.css'][0], 'the next answer on the connection starts right after the HEAD head');
  assert.equal(c.leftover.length, 0);
});

test('hits are answered by Rust: no middleware, no JS request', T, async (t) => {
  const tree = typedTree(t);
  let middleware = 0;
  const s = await serveDir(t, {
    root: tree.root,
    setup: (app) => {
      app.use((req, res, next) => {
        middleware++;
        next();
      });
      app.get('/js', (req, res) => res.send('js'));
    },
  });
  const before = s.server.stats();
  for (const name of ['a.txt', 'app.js', 'pixel.png', '', 'a.txt?v=2']) {
    assert.equal((await get(s.port, `/assets/${name}`)).status, 200, name);
  }
  assert.equal((await get(s.port, '/assets/a.txt', { method: 'HEAD' })).status, 200);
  const after = s.server.stats();
  assert.equal(middleware, 0, 'the middleware never ran for a file');
  assert.equal(after.requests.js, before.requests.js, 'requests.js unchanged');
  assert.ok(after.requests.native >= before.requests.native + 6, 'the hits count as native');
  assert.equal((await get(s.port, '/js')).text, 'js');
  assert.equal(middleware, 1, 'the same middleware runs for a JS route');
});

test('a query string is not part of the file name; percent-encoded names are decoded', T, async (t) => {
  const tree = makeTree(t, { 'hello world.txt': 'spaced\n', 'ünï ✓.txt': 'unicode\n', 'a+b.txt': 'plus\n', 'a.txt': 'a\n' });
  const s = await serveDir(t, { root: tree.root });
  const cases = [
    ['/assets/a.txt?x=1&y=../secret.txt', 'a\n'],
    ['/assets/hello%20world.txt', 'spaced\n'],
    ['/assets/%C3%BCn%C3%AF%20%E2%9C%93.txt', 'unicode\n'],
    ['/assets/a+b.txt', 'plus\n'],
    ['/assets/a%2Bb.txt', 'plus\n'],
    ['/assets/%61.txt', 'a\n'],
  ];
  for (const [target, body] of cases) {
    const res = await get(s.port, target);
    assert.equal(res.status, 200, target);
    assert.equal(res.text, body, target);
  }
});

test('a directory answers its index.html; a directory without one, or index: [], is a miss', T, async (t) => {
  const tree = makeTree(t, {
    'index.html': '<p>root index</p>',
    'sub/index.html': '<p>sub index</p>',
    'noindex/c.txt': 'c\n',
    'custom/default.htm': '<p>custom</p>',
  });
  const s = await serveDir(t, { root: tree.root });
  for (const [target, body] of [['/assets/', '<p>root index</p>'], ['/assets/sub/', '<p>sub index</p>'], ['/assets/sub/index.html', '<p>sub index</p>']]) {
    const res = await get(s.port, target);
    assert.equal(res.status, 200, target);
    assert.equal(res.text, body, target);
    assert.match(res.headers['content-type'], /^text\/html; ?charset=utf-8$/i, target);
  }
  assert.equal((await get(s.port, '/assets/noindex/')).status, 404, 'no directory listing');

  const none = await serveDir(t, { root: tree.root, options: { index: [] } });
  assert.equal((await get(none.port, '/assets/')).status, 404, 'index: [] serves no index');
  assert.equal((await get(none.port, '/assets/sub/index.html')).text, '<p>sub index</p>', 'the file itself still is');

  const custom = await serveDir(t, { root: tree.root, options: { index: ['default.htm', 'index.html'] } });
  assert.equal((await get(custom.port, '/assets/custom/')).text, '<p>custom</p>');
  assert.equal((await get(custom.port, '/assets/sub/')).text, '<p>sub index</p>', 'the next name in the list');
});

test('a directory without its trailing slash: 301 to the slashed path, query kept; redirect: false is a miss', T, async (t) => {
  const tree = makeTree(t, { 'index.html': 'root', 'sub/index.html': 'sub', 'sub/deeper/index.html': 'deeper' });
  const s = await serveDir(t, {
    root: tree.root,
    setup: (app) => app.notFound((req, res) => res.status(404).send(`js 404 ${req.path}`)),
  });
  const cases = [
    ['/assets/sub', '/assets/sub/'],
    ['/assets/sub?a=1&b=%2F', '/assets/sub/?a=1&b=%2F'],
    ['/assets/sub/deeper', '/assets/sub/deeper/'],
    ['/assets', '/assets/'],
  ];
  for (const [target, location] of cases) {
    const res = await get(s.port, target);
    assert.equal(res.status, 301, target);
    const url = new URL(res.headers.location, s.base);
    assert.equal(url.pathname + url.search, location, `${target}: Location ${res.headers.location}`);
    if (/^https?:/.test(res.headers.location)) assert.equal(url.host, `127.0.0.1:${s.port}`);
    // Following it gets the index.
    const next = await get(s.port, location);
    assert.equal(next.status, 200, location);
  }

  const off = await serveDir(t, {
    root: tree.root,
    options: { redirect: false },
    setup: (app) => app.notFound((req, res) => res.status(404).send(`js 404 ${req.path}`)),
  });
  const res = await get(off.port, '/assets/sub');
  assert.equal(res.status, 404);
  assert.equal(res.text, 'js 404 /assets/sub', 'the miss went on to the app');
  assert.equal((await get(off.port, '/assets/sub/')).text, 'sub');
});

test('dotfiles: ignored by default (a miss), deny → 403, allow → served; a dot directory counts too', T, async (t) => {
  const tree = makeTree(t, { '.env': 'SECRET=1\n', '.hidden/x.txt': 'hidden\n', 'sub/.config': 'cfg\n', 'ok.txt': 'ok\n' });
  const dotted = ['/assets/.env', '/assets/%2eenv', '/assets/.hidden/x.txt', '/assets/sub/.config'];
  const notFound = (app) => app.notFound((req, res) => res.status(404).send('js 404'));

  const ignore = await serveDir(t, { root: tree.root, setup: notFound });
  for (const target of dotted) {
    const res = await get(ignore.port, target);
    assert.equal(res.status, 404, `${target} (ignore)`);
    assert.equal(res.text, 'js 404', `${target}: an ignored dotfile is a miss that falls through`);
  }
  assert.equal((await get(ignore.port, '/assets/ok.txt')).text, 'ok\n');

  const deny = await serveDir(t, { root: tree.root, options: { dotfiles: 'deny' }, setup: notFound });
  for (const target of dotted) {
    const res = await get(deny.port, target);
    assert.equal(res.status, 403, `${target} (deny)`);
    assert.ok(!res.text.includes('SECRET=1') && !res.text.includes('hidden') && !res.text.includes('cfg'), `${target}: no content`);
  }

  const allow = await serveDir(t, { root: tree.root, options: { dotfiles: 'allow' } });
  const bodies = ['SECRET=1\n', 'SECRET=1\n', 'hidden\n', 'cfg\n'];
  for (const [i, target] of dotted.entries()) {
    const res = await get(allow.port, target);
    assert.equal(res.status, 200, `${target} (allow)`);
    assert.equal(res.text, bodies[i], target);
  }
});

test('extensions: ["html"] finds about.html for /about; without it /about is a miss', T, async (t) => {
  const tree = makeTree(t, { 'about.html': '<p>about</p>', 'about.txt': 'not this' });
  const s = await serveDir(t, { root: tree.root, options: { extensions: ['html'] } });
  const res = await get(s.port, '/assets/about');
  assert.equal(res.status, 200);
  assert.equal(res.text, '<p>about</p>');
  assert.match(res.headers['content-type'], /^text\/html/);
  assert.equal((await get(s.port, '/assets/about.txt')).text, 'not this', 'an exact name is still served as is');
  const plain = await serveDir(t, { root: tree.root });
  assert.equal((await get(plain.port, '/assets/about')).status, 404);
});

test('maxAge and immutable become Cache-Control', T, async (t) => {
  const tree = makeTree(t, { 'a.txt': 'a\n' });
  const s = await serveDir(t, { root: tree.root, options: { maxAge: '1y', immutable: true } });
  const res = await get(s.port, '/assets/a.txt');
  assert.equal(res.status, 200);
  const cc = res.headers['cache-control'] || '';
  assert.match(cc, /(^|,\s*)max-age=31536000(\s*,|$)/, `Cache-Control: ${cc}`);
  assert.match(cc, /(^|,\s*)immutable(\s*,|$)/, `Cache-Control: ${cc}`);

  const ms = await serveDir(t, { root: tree.root, options: { maxAge: 60000 } });
  assert.match((await get(ms.port, '/assets/a.txt')).headers['cache-control'] || '', /max-age=60(\s*,|$)/, 'a number is milliseconds, as in serve-static');
});

test('a miss falls through to JS: a route under the prefix, the app 404, another method', T, async (t) => {
  const tree = makeTree(t, { 'a.txt': 'file a\n', 'sub/b.txt': 'b\n' });
  const s = await serveDir(t, {
    root: tree.root,
    setup: (app) => {
      app.get('/assets/dynamic', (req, res) => res.send('from js'));
      app.get('/assets/users/:id', (req, res) => res.json({ id: req.params.id }));
      app.post('/assets/a.txt', (req, res) => res.send('posted'));
      app.notFound((req, res) => res.status(404).send(`js 404 ${req.method} ${req.path}`));
    },
  });
  assert.equal((await get(s.port, '/assets/a.txt')).text, 'file a\n');
  assert.equal((await get(s.port, '/assets/dynamic')).text, 'from js');
  assert.deepEqual((await get(s.port, '/assets/users/7')).json(), { id: '7' });
  const miss = await get(s.port, '/assets/nope.txt');
  assert.equal(miss.status, 404);
  assert.equal(miss.text, 'js 404 GET /assets/nope.txt');
  const deepMiss = await get(s.port, '/assets/sub/nope/x.txt');
  assert.equal(deepMiss.text, 'js 404 GET /assets/sub/nope/x.txt');
  // A file below a file is a miss, not an error.
  assert.equal((await get(s.port, '/assets/a.txt/x')).text, 'js 404 GET /assets/a.txt/x');

  const post = await get(s.port, '/assets/a.txt', { method: 'POST' });
  assert.equal(post.text, 'posted', 'another method on a file path reaches its JS route');
  const del = await get(s.port, '/assets/sub/b.txt', { method: 'DELETE' });
  assert.ok(del.status === 404 || del.status === 405, `a DELETE on a file: ${del.status}`);
  assert.notEqual(del.text, 'b\n', 'a DELETE never gets the file');
});

test('fallthrough: false answers a miss natively with 404, without the app 404', T, async (t) => {
  const tree = makeTree(t, { 'a.txt': 'a\n' });
  let jsRuns = 0;
  const s = await serveDir(t, {
    root: tree.root,
    options: { fallthrough: false },
    setup: (app) =>
      app.notFound((req, res) => {
        jsRuns++;
        res.status(404).send('js 404');
      }),
  });
  const res = await get(s.port, '/assets/nope.txt');
  assert.equal(res.status, 404);
  assert.notEqual(res.text, 'js 404');
  assert.equal(jsRuns, 0);
  assert.equal((await get(s.port, '/assets/a.txt')).text, 'a\n');
  assert.equal((await get(s.port, '/elsewhere')).text, 'js 404', 'outside the prefix the app 404 still answers');
});

test('mounted at /: files and JS routes side by side', T, async (t) => {
  const tree = makeTree(t, { 'index.html': 'home', 'robots.txt': 'User-agent: *\n' });
  const s = await serveDir(t, {
    prefix: '/',
    root: tree.root,
    setup: (app) => app.get('/api/ping', (req, res) => res.json({ pong: true })),
  });
  assert.equal((await get(s.port, '/')).text, 'home');
  assert.equal((await get(s.port, '/robots.txt')).text, 'User-agent: *\n');
  assert.deepEqual((await get(s.port, '/api/ping')).json(), { pong: true });
  assert.equal((await get(s.port, '/missing')).status, 404);
});

test('a prefix matches whole segments: /assetsx is not under /assets', T, async (t) => {
  const tree = makeTree(t, { 'x.txt': 'x\n' });
  const s = await serveDir(t, { root: tree.root, setup: (app) => app.notFound((req, res) => res.status(404).send('js 404')) });
  assert.equal((await get(s.port, '/assetsx.txt')).text, 'js 404');
  assert.equal((await get(s.port, '/assets/x.txt')).text, 'x\n');
});

test('a file changed on disk is served with its new bytes and a new ETag; a removed file is a miss; a new one is served', T, async (t) => {
  const tree = makeTree(t, { 'hot.txt': 'version one\n', 'same.txt': 'AAAA\n' });
  const s = await serveDir(t, { root: tree.root });
  // Several reads first, so a hot-file cache holds it.
  let first;
  for (let i = 0; i < 5; i++) first = await get(s.port, '/assets/hot.txt');
  assert.equal(first.text, 'version one\n');

  writeFile(tree.root, 'hot.txt', 'version two, longer\n');
  const second = await get(s.port, '/assets/hot.txt');
  assert.equal(second.text, 'version two, longer\n');
  assert.equal(second.headers['content-length'], String(Buffer.byteLength('version two, longer\n')));
  assert.notEqual(second.headers.etag, first.headers.etag, 'a new ETag');
  const stale = await get(s.port, '/assets/hot.txt', { headers: { 'If-None-Match': first.headers.etag } });
  assert.equal(stale.status, 200, 'the old ETag no longer matches');
  assert.equal(stale.text, 'version two, longer\n');

  // Same size, the mtime moved on (a deploy): new bytes and a new ETag too.
  const sameFile = path.join(tree.root, 'same.txt');
  let same1;
  for (let i = 0; i < 5; i++) same1 = await get(s.port, '/assets/same.txt');
  fs.writeFileSync(sameFile, 'BBBB\n');
  const later = new Date(fs.statSync(sameFile).mtimeMs + 10000);
  fs.utimesSync(sameFile, later, later);
  const same2 = await get(s.port, '/assets/same.txt');
  assert.equal(same2.text, 'BBBB\n');
  assert.notEqual(same2.headers.etag, same1.headers.etag);
  assert.equal(same2.headers['last-modified'], new Date(Math.floor(later.getTime() / 1000) * 1000).toUTCString());

  // Same size and the old mtime put back (`cp -p`, `rsync -t`): the validators cannot tell, but
  // the bytes sent must be the file's, never a kept copy.
  const mtime = fs.statSync(sameFile).mtime;
  for (let i = 0; i < 5; i++) await get(s.port, '/assets/same.txt');
  fs.writeFileSync(sameFile, 'CCCC\n');
  fs.utimesSync(sameFile, mtime, mtime);
  assert.equal((await get(s.port, '/assets/same.txt')).text, 'CCCC\n', 'rewritten in place, mtime kept');
  // Replaced by a rename (an atomic deploy), same size and mtime again.
  const staged = path.join(tree.dir, 'staged.txt');
  fs.writeFileSync(staged, 'DDDD\n');
  fs.utimesSync(staged, mtime, mtime);
  fs.renameSync(staged, sameFile);
  assert.equal((await get(s.port, '/assets/same.txt')).text, 'DDDD\n', 'renamed over, mtime kept');

  fs.unlinkSync(path.join(tree.root, 'hot.txt'));
  assert.equal((await get(s.port, '/assets/hot.txt')).status, 404, 'a removed file');
  writeFile(tree.root, 'new/born.txt', 'born\n');
  assert.equal((await get(s.port, '/assets/new/born.txt')).text, 'born\n', 'a file made after listen()');
});

test('a FIFO in the root is not a file: answered at once (no hang on open), and the server goes on', T, async (t) => {
  const tree = makeTree(t, { 'ok.txt': 'ok\n' });
  try {
    execFileSync('mkfifo', [path.join(tree.root, 'pipe.txt')]);
  } catch (err) {
    t.skip(`mkfifo failed: ${err.message}`);
    return;
  }
  const s = await serveDir(t, { root: tree.root });
  // Nobody ever writes to the FIFO: opening it for reading without O_NONBLOCK would block forever.
  const res = await get(s.port, '/assets/pipe.txt', { timeout: 10000 });
  assert.ok([403, 404].includes(res.status), `status ${res.status}`);
  assert.equal((await get(s.port, '/assets/ok.txt')).text, 'ok\n');
});
