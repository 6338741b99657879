'use strict';
// app.static()'s two forms from the JS side: a body (a string, Buffer, JSON value) and a directory
// mount ({ root, ...options }) can never be taken for one another, every directory option is
// checked at registration with a coded error, and the options reach Rust with their effect
// (served through a real server). The conformance of directory serving itself (ranges,
// conditionals, traversal, real clients) is __test__/files-*.test.js's.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const nodePath = require('node:path');
const { createApp } = require('..');
const { start, serve, get } = require('./helpers');

const T = { timeout: 20000 };
const routeError = { code: 'HN_ERR_ROUTE' };
const optionError = { code: 'HN_ERR_BAD_OPTION' };
const rootError = { code: 'HN_ERR_STATIC_ROOT' };

let dir;
let file;
before(() => {
  dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'hn-static-dir-'));
  fs.writeFileSync(nodePath.join(dir, 'index.html'), '<h1>index</h1>');
  fs.writeFileSync(nodePath.join(dir, 'app.js'), 'console.log(1)');
  fs.writeFileSync(nodePath.join(dir, 'about.html'), '<h1>about</h1>');
  fs.writeFileSync(nodePath.join(dir, '.secret'), 'secret');
  fs.mkdirSync(nodePath.join(dir, 'sub'));
  fs.writeFileSync(nodePath.join(dir, 'sub', 'home.htm'), '<h1>sub home</h1>');
  file = nodePath.join(dir, 'app.js');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

// The same directory as a relative path ('../../tmp/...'), as an app would write './public'.
const relative = (p) => {
  const rel = nodePath.relative(process.cwd(), p);
  return rel.startsWith('.') ? rel : `./${rel}`;
};

describe('app.static(): the body form and the directory form cannot be confused', () => {
  test('a string body naming a directory throws and shows the directory form', () => {
    for (const body of [dir, relative(dir), `${dir}/`]) {
      assert.throws(
        () => createApp().static('/assets', body),
        (err) => err.code === 'HN_ERR_ROUTE' && err.message.includes('names a directory') && err.message.includes('{ root:'),
        body,
      );
    }
  });

  test('a string body naming a file throws: it would be served as the path text', () => {
    assert.throws(() => createApp().static('/app.js', file), (err) => err.code === 'HN_ERR_ROUTE' && /names a file/.test(err.message));
    assert.throws(() => createApp().static('/app.js', relative(file), { type: 'js' }), routeError);
  });

  test('directory options after a string body throw (the issue\'s `app.static(prefix, dir, { maxAge })`)', () => {
    for (const key of ['maxAge', 'immutable', 'index', 'dotfiles', 'fallthrough', 'root', 'extensions', 'setHeaders']) {
      assert.throws(
        () => createApp().static('/assets', './public-that-does-not-exist', { [key]: 1 }),
        (err) => err.code === 'HN_ERR_ROUTE' && err.message.includes(`"${key}" is an option of a directory mount`) && err.message.includes('root:'),
        key,
      );
    }
  });

  test('a directory mount takes its options in its own object, never a third argument', () => {
    assert.throws(() => createApp().static('/assets', { root: dir }, { maxAge: 1000 }), routeError);
  });

  test('strings that do not name anything on disk, and objects without root, stay bodies', T, async (t) => {
    const s = await serve(t, (app) => {
      app.static('/not-a-dir', './no/such/dir');
      app.static('/text', 'public');
      app.static('/json', { dir, maxAge: 5 });
      app.static('/class', new (class Root { constructor() { this.root = dir; } })());
    });
    const notDir = await get(s.port, '/not-a-dir');
    assert.equal(notDir.status, 200);
    assert.equal(notDir.text, './no/such/dir');
    assert.match(notDir.headers['content-type'], /^text\/html/);
    assert.equal((await get(s.port, '/text')).text, 'public');
    const json = await get(s.port, '/json');
    assert.match(json.headers['content-type'], /^application\/json/);
    assert.deepEqual(json.json(), { dir, maxAge: 5 });
    // Only a plain object with `root` is a mount: a class instance is a JSON body.
    assert.deepEqual((await get(s.port, '/class')).json(), { root: dir });
  });
});

describe('app.static(prefix, { root }): registration errors', () => {
  const mount = (options, prefix = '/assets') => () => createApp().static(prefix, { root: dir, ...options });

  test('a root that is missing, a file, or the filesystem root: HN_ERR_STATIC_ROOT', () => {
    assert.throws(() => createApp().static('/a', { root: nodePath.join(dir, 'missing') }), (err) => err.code === 'HN_ERR_STATIC_ROOT' && /ENOENT/.test(err.message));
    assert.throws(() => createApp().static('/a', { root: './definitely-not-here' }), rootError);
    assert.throws(() => createApp().static('/a', { root: file }), (err) => err.code === 'HN_ERR_STATIC_ROOT' && /not a directory/.test(err.message));
    assert.throws(() => createApp().static('/a', { root: '/' }), (err) => err.code === 'HN_ERR_STATIC_ROOT' && /filesystem's root/.test(err.message));
  });

  test('a root that is not a path: HN_ERR_BAD_OPTION', () => {
    for (const root of ['', 5, null, ['/tmp'], new URL('https://example.com/')]) {
      assert.throws(() => createApp().static('/a', { root }), optionError, String(root));
    }
  });

  test('bad prefixes: parameters, wildcards, dot or empty segments, no leading slash', () => {
    for (const prefix of ['/assets/:id', '/assets/*', '/a/../b', '/a/./b', '/a//b', 'assets']) {
      assert.throws(mount({}, prefix), routeError, prefix);
    }
  });

  test('the same prefix twice is refused (also through a group or a trailing slash)', () => {
    assert.throws(() => createApp().static('/a', { root: dir }).static('/a/', { root: dir }), routeError);
    assert.throws(() => createApp().static('/g/a', { root: dir }).group('/g', (g) => g.static('/a', { root: dir })), routeError);
  });

  test('every option is checked: wrong types and values throw HN_ERR_BAD_OPTION', () => {
    const bad = {
      maxAge: [-1, 'soon', '1 fortnight', Number.NaN, Infinity, {}, true, '-5s'],
      immutable: ['yes', 1],
      index: [5, ['a/b'], [''], ['..'], [true], 'sub/index.html', true],
      dotfiles: ['hide', true, 'Deny'],
      fallthrough: ['false', 0],
      redirect: [1, 'yes'],
      etag: ['strong', 1],
      lastModified: [null, 'no'],
      acceptRanges: ['bytes'],
      cacheControl: ['no-cache', 0],
      extensions: ['html', [5], ['ht ml'], [''], true],
      precompressed: ['br', ['gzip']],
      followSymlinks: [1],
      headers: [
        'x',
        ['x-a', 'b'],
        { 'bad name': 'x' },
        { 'x-a': 'line\r\nbreak' },
        { 'x-a': {} },
        { 'Content-Length': '5' },
        { 'content-type': 'text/plain' },
        { ETag: '"x"' },
        { 'Last-Modified': 'Thu, 01 Jan 1970 00:00:00 GMT' },
        { 'Content-Encoding': 'gzip' },
      ],
    };
    for (const [key, values] of Object.entries(bad)) {
      for (const value of values) assert.throws(mount({ [key]: value }), optionError, `${key}: ${JSON.stringify(value)}`);
    }
  });

  test('unknown options throw, with a hint for serve-static / @fastify/static names', () => {
    assert.throws(mount({ maxage: 1000 }), (err) => err.code === 'HN_ERR_BAD_OPTION' && /unknown option "maxage"/.test(err.message));
    assert.throws(mount({ setHeaders: () => {} }), (err) => err.code === 'HN_ERR_BAD_OPTION' && /without JS/.test(err.message));
    assert.throws(mount({ preCompressed: true }), (err) => err.code === 'HN_ERR_BAD_OPTION' && /precompressed/.test(err.message));
  });

  test('valid options are accepted: durations in every form, index lists, file: URLs', () => {
    const ok = [
      { maxAge: 0 },
      { maxAge: 86400000 },
      { maxAge: '1y' },
      { maxAge: '2d' },
      { maxAge: '10m' },
      { maxAge: '1.5h' },
      { maxAge: '30 seconds' },
      { maxAge: '500ms' },
      { maxAge: '3600000' },
      { index: false },
      { index: 'home.htm' },
      { index: ['index.html', 'index.htm'] },
      { extensions: ['html', '.htm'] },
      { extensions: false },
      { dotfiles: 'deny' },
      { headers: { 'X-Frame-Options': 'DENY', Vary: ['Origin', 'Accept'] } },
      { cacheControl: false, etag: false, lastModified: false, acceptRanges: false, redirect: false, fallthrough: false },
      { precompressed: true, followSymlinks: true, immutable: true },
    ];
    for (const options of ok) mount(options)();
    createApp().static('/u', { root: new URL(`file://${dir}/`) });
    createApp().static('/', { root: relative(dir) });
  });
});

// What each option does, seen through a real server: the options reach Rust and Rust applies them.
describe('app.static(prefix, { root }): options take effect', () => {
  let s;
  let jsRuns = 0;
  before(async () => {
    s = await start((app) => {
      app.use((req, res, next) => {
        jsRuns++;
        next();
      });
      app.static('/default', { root: dir });
      app.static('/year', { root: dir, maxAge: '1y', immutable: true });
      app.static('/ten-minutes', { root: dir, maxAge: '10m' });
      app.static('/no-cc', { root: dir, maxAge: '1d', cacheControl: false });
      app.static('/own-cc', { root: dir, maxAge: '1d', headers: { 'Cache-Control': 'no-store', 'X-Extra': 'yes' } });
      app.static('/no-validators', { root: dir, etag: false, lastModified: false, acceptRanges: false });
      app.static('/no-index', { root: dir, index: false, fallthrough: false });
      app.static('/home-index', { root: dir, index: ['missing.html', 'home.htm'] });
      app.static('/ext', { root: dir, extensions: ['html'] });
      app.static('/deny', { root: dir, dotfiles: 'deny' });
      app.static('/allow', { root: dir, dotfiles: 'allow' });
      app.static('/strict', { root: dir, fallthrough: false });
      app.group('/g', (g) => g.static('/files', { root: dir }));
      app.get('/default/from-js', (req, res) => res.send('route under a mount'));
    });
  });
  after(() => s.close());

  test('files are served by Rust with a content type from the extension, no JS run', T, async () => {
    const runs = jsRuns;
    const res = await get(s.port, '/default/app.js');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'console.log(1)');
    assert.match(res.headers['content-type'], /javascript/);
    const index = await get(s.port, '/default/');
    assert.equal(index.status, 200);
    assert.equal(index.text, '<h1>index</h1>');
    assert.equal(jsRuns, runs, 'middleware never ran');
  });

  test('Cache-Control from maxAge and immutable; public, max-age=0 by default; cacheControl: false; an explicit header wins', T, async () => {
    assert.equal((await get(s.port, '/default/app.js')).headers['cache-control'], 'public, max-age=0');
    assert.equal((await get(s.port, '/year/app.js')).headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal((await get(s.port, '/ten-minutes/app.js')).headers['cache-control'], 'public, max-age=600');
    assert.equal((await get(s.port, '/no-cc/app.js')).headers['cache-control'], undefined);
    const own = await get(s.port, '/own-cc/app.js');
    assert.equal(own.headers['cache-control'], 'no-store');
    assert.equal(own.headers['x-extra'], 'yes');
  });

  test('etag, lastModified and acceptRanges: on by default, off when false', T, async () => {
    const on = await get(s.port, '/default/app.js');
    assert.ok(on.headers.etag, 'an ETag');
    assert.ok(on.headers['last-modified'], 'a Last-Modified');
    assert.equal(on.headers['accept-ranges'], 'bytes');
    const off = await get(s.port, '/no-validators/app.js');
    assert.equal(off.status, 200);
    assert.equal(off.headers.etag, undefined);
    assert.equal(off.headers['last-modified'], undefined);
    assert.notEqual(off.headers['accept-ranges'], 'bytes');
    const ranged = await get(s.port, '/no-validators/app.js', { headers: { Range: 'bytes=0-3' } });
    assert.equal(ranged.status, 200, 'Range ignored with acceptRanges: false');
    assert.equal(ranged.text, 'console.log(1)');
  });

  test('index: false serves no index; a list is tried in order', T, async () => {
    assert.equal((await get(s.port, '/no-index/')).status, 404);
    const home = await get(s.port, '/home-index/sub/');
    assert.equal(home.status, 200);
    assert.equal(home.text, '<h1>sub home</h1>');
  });

  test('extensions: /about finds about.html', T, async () => {
    const res = await get(s.port, '/ext/about');
    assert.equal(res.status, 200);
    assert.equal(res.text, '<h1>about</h1>');
    assert.equal((await get(s.port, '/default/about')).status, 404);
  });

  test('dotfiles: ignored (404) by default, 403 with deny, served with allow', T, async () => {
    assert.equal((await get(s.port, '/strict/.secret')).status, 404);
    assert.equal((await get(s.port, '/deny/.secret')).status, 403);
    const allowed = await get(s.port, '/allow/.secret');
    assert.equal(allowed.status, 200);
    assert.equal(allowed.text, 'secret');
  });

  test('fallthrough: a miss reaches JS routes and middleware; fallthrough: false answers 404 itself', T, async () => {
    const runs = jsRuns;
    const routed = await get(s.port, '/default/from-js');
    assert.equal(routed.text, 'route under a mount');
    assert.equal(jsRuns, runs + 1);
    assert.equal((await get(s.port, '/default/missing.txt')).status, 404);
    assert.equal(jsRuns, runs + 2, 'the miss went through the middleware to the app 404');
    assert.equal((await get(s.port, '/strict/missing.txt')).status, 404);
    assert.equal(jsRuns, runs + 2, 'fallthrough: false answered without JS');
  });

  test('inside group(): the prefix applies', T, async () => {
    assert.equal((await get(s.port, '/g/files/app.js')).text, 'console.log(1)');
  });
});
