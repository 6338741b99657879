'use strict';
// res.sendFile() and res.download() as a JS API, through a real server: their arguments and
// options, where their errors go (the app's error path as with next(err), or the callback), and
// that what JS hands Rust (headers, request facts, options) shows in the answer: headers,
// Content-Disposition, HEAD, a Range, a conditional. The conformance of the native file answer
// itself is __test__/files-*.test.js's.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const nodePath = require('node:path');
const { start, get, request, buildRequest, RawClient, withRoot, assertStillServes } = require('./helpers');

const T = { timeout: 20000 };
const CONTENT = 'hello, file\n';
// A name with Latin-1, a non-Latin-1 character and a space: Content-Disposition needs RFC 5987.
const UNICODE_NAME = 'résumé ✓.txt';

let dir;
let outside;
const files = {};
before(() => {
  dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'hn-send-file-'));
  outside = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'hn-send-file-outside-'));
  files.text = nodePath.join(dir, 'hello.txt');
  fs.writeFileSync(files.text, CONTENT);
  files.css = nodePath.join(dir, 'style.css');
  fs.writeFileSync(files.css, 'body{}');
  files.dot = nodePath.join(dir, '.env');
  fs.writeFileSync(files.dot, 'SECRET=1');
  fs.mkdirSync(nodePath.join(dir, 'sub'));
  files.nested = nodePath.join(dir, 'sub', 'nested.txt');
  fs.writeFileSync(files.nested, 'nested');
  files.secret = nodePath.join(outside, 'secret.txt');
  fs.writeFileSync(files.secret, 'TOP SECRET');
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

// An app whose error handler reports what reached it (code, status, message) as JSON, so tests
// see the error the app saw; `errors` counts error handler calls.
function errorReportingApp(setup) {
  const state = { errors: 0 };
  return {
    state,
    setup(app) {
      withRoot(app);
      setup(app);
      app.error((err, req, res) => {
        state.errors++;
        res.status(err.status || 500).json({ code: err.code, status: err.status, name: err.name, message: err.message });
      });
    },
  };
}

describe('res.sendFile() / res.download(): errors reach the app', () => {
  let s;
  let state;
  let callbackErrors;
  before(async () => {
    callbackErrors = [];
    const app = errorReportingApp((a) => {
      a.get('/missing', (req, res) => res.sendFile(nodePath.join(dir, 'nope.txt')));
      a.get('/dir', (req, res) => res.sendFile(dir));
      a.get('/relative', (req, res) => res.sendFile('hello.txt'));
      a.get('/no-path', (req, res) => res.sendFile());
      a.get('/not-string', (req, res) => res.sendFile(42));
      a.get('/unknown-option', (req, res) => res.sendFile(files.text, { maxage: 10 }));
      a.get('/bad-max-age', (req, res) => res.sendFile(files.text, { maxAge: 'soon' }));
      a.get('/bad-dotfiles', (req, res) => res.sendFile(files.text, { dotfiles: 'hide' }));
      a.get('/bad-header', (req, res) => res.sendFile(files.text, { headers: { 'X-A': 'a\nb' } }));
      a.get('/bad-length-header', (req, res) => res.sendFile(files.text, { headers: { 'Content-Length': '3' } }));
      a.get('/bad-callback', (req, res) => res.sendFile(files.text, {}, 'not a function'));
      a.get('/bad-root', (req, res) => res.sendFile('x', { root: 5 }));
      a.get('/after-write', (req, res) => {
        res.write('started');
        try {
          res.sendFile(files.text);
        } catch (err) {
          res.end(` ${err.code}`);
        }
      });
      a.get('/root-escape/*path', (req, res) => res.sendFile(req.params.path, { root: dir }));
      a.get('/root-param/:name', (req, res) => res.sendFile(req.params.name, { root: dir }));
      a.get('/up-absolute', (req, res) => res.sendFile(`${dir}/sub/../hello.txt`));
      a.get('/dotfile', (req, res) => res.sendFile(files.dot));
      a.get('/dotfile-deny', (req, res) => res.sendFile(files.dot, { dotfiles: 'deny' }));
      a.get('/dotfile-root', (req, res) => res.sendFile('.env', { root: dir }));
      a.get('/nul', (req, res) => res.sendFile(`${files.text}\0.png`));
      a.get('/download-missing', (req, res) => res.download(nodePath.join(dir, 'nope.csv'), 'report.csv'));
      a.get('/callback-missing', (req, res) =>
        res.sendFile(nodePath.join(dir, 'nope.txt'), (err) => {
          callbackErrors.push(err);
          res.status(410).send(`callback: ${err.code} ${err.status}`);
        }),
      );
      a.get('/download-callback-missing', (req, res) =>
        res.download(nodePath.join(dir, 'nope.txt'), (err) => res.status(410).send(`download callback: ${err.code}`)),
      );
      a.get('/callback-throws', (req, res) =>
        res.sendFile(nodePath.join(dir, 'nope.txt'), () => {
          throw new Error('callback failed');
        }),
      );
      a.get('/callback-rejects', (req, res) =>
        res.sendFile(nodePath.join(dir, 'nope.txt'), async () => {
          throw Object.assign(new Error('async callback failed'), { status: 502 });
        }),
      );
      a.get('/awaited', async (req, res) => {
        await res.sendFile(nodePath.join(dir, 'nope.txt'));
      });
      // Error middleware after the route is reached as with next(err), before app.error.
      a.get('/next-err', (req, res) => res.sendFile(nodePath.join(dir, 'nope.txt')));
      a.use('/next-err', (err, req, res, next) => res.status(404).send(`error middleware: ${err.code}`));
    });
    state = app.state;
    s = await start(app.setup);
  });
  after(() => s.close());

  const report = async (target) => {
    const res = await get(s.port, target);
    return { status: res.status, body: res.json() };
  };

  test('a missing file: the error handler gets 404 with code ENOENT', T, async () => {
    const { status, body } = await report('/missing');
    assert.equal(status, 404);
    assert.equal(body.code, 'ENOENT');
    assert.equal(body.status, 404);
  });

  test('res.download() of a missing file: the same 404', T, async () => {
    const { status, body } = await report('/download-missing');
    assert.equal(status, 404);
    assert.equal(body.code, 'ENOENT');
  });

  test('a directory: 404 with code EISDIR', T, async () => {
    const { status, body } = await report('/dir');
    assert.equal(status, 404);
    assert.equal(body.code, 'EISDIR');
  });

  test('wrong arguments and options throw TypeError HN_ERR_INVALID_ARG from the handler', T, async () => {
    for (const target of [
      '/relative',
      '/no-path',
      '/not-string',
      '/unknown-option',
      '/bad-max-age',
      '/bad-dotfiles',
      '/bad-header',
      '/bad-length-header',
      '/bad-callback',
      '/bad-root',
    ]) {
      const { status, body } = await report(target);
      assert.equal(status, 500, target);
      assert.equal(body.code, 'HN_ERR_INVALID_ARG', target);
      assert.equal(body.name, 'TypeError', target);
    }
    assert.match((await report('/relative')).body.message, /must be absolute or specify root/);
  });

  test('after the headers were sent: HN_ERR_HEADERS_SENT', T, async () => {
    const res = await get(s.port, '/after-write');
    assert.equal(res.text, 'started HN_ERR_HEADERS_SENT');
  });

  test('root and a path leaving it: 403 HN_ERR_FILE_FORBIDDEN, never the file', T, async () => {
    // The router hands '..' segments to the handler as they came (raw, percent-decoded, or inside
    // one decoded parameter): sendFile must refuse every form.
    const rel = nodePath.relative(dir, files.secret);
    const escaped = `..%2F${nodePath.basename(outside)}%2Fsecret.txt`;
    for (const target of [
      `/root-escape/${rel}`,
      '/root-escape/sub/../../x',
      `/root-escape/%2e%2e/${nodePath.basename(outside)}/secret.txt`,
      `/root-escape/sub%2F..%2F${escaped}`,
      '/root-escape/..\\x',
      `/root-param/${escaped}`,
    ]) {
      const res = await get(s.port, target);
      assert.equal(res.status, 403, target);
      assert.ok(!res.text.includes('TOP SECRET'), target);
      assert.equal(res.json().code, 'HN_ERR_FILE_FORBIDDEN', target);
    }
    // An absolute path with a '..' segment is refused as send refuses it.
    assert.equal((await report('/up-absolute')).body.code, 'HN_ERR_FILE_FORBIDDEN');
  });

  test('dotfiles: ignored as missing (404) by default, 403 with deny, also below a root', T, async () => {
    const ignored = await report('/dotfile');
    assert.equal(ignored.status, 404);
    assert.equal(ignored.body.code, 'HN_ERR_FILE_NOT_FOUND');
    const denied = await report('/dotfile-deny');
    assert.equal(denied.status, 403);
    assert.equal(denied.body.code, 'HN_ERR_FILE_FORBIDDEN');
    assert.equal((await report('/dotfile-root')).status, 404);
  });

  test('a NUL byte in the path: 400', T, async () => {
    const { status, body } = await report('/nul');
    assert.equal(status, 400);
    assert.equal(body.code, 'HN_ERR_BAD_FILE_PATH');
  });

  test('with a callback the callback gets the error and the app answers', T, async () => {
    const errors = state.errors;
    const res = await get(s.port, '/callback-missing');
    assert.equal(res.status, 410);
    assert.equal(res.text, 'callback: ENOENT 404');
    assert.equal(callbackErrors.length, 1);
    assert.equal((await get(s.port, '/download-callback-missing')).text, 'download callback: ENOENT');
    assert.equal(state.errors, errors, 'the error handler was not called');
  });

  test('a callback that throws or rejects costs its request an error answer, never the process', T, async () => {
    const thrown = await report('/callback-throws');
    assert.equal(thrown.status, 500);
    assert.equal(thrown.body.message, 'callback failed');
    const rejected = await report('/callback-rejects');
    assert.equal(rejected.status, 502);
    await assertStillServes(s.port);
  });

  test('an awaited sendFile reaches the error handler once', T, async () => {
    const errors = state.errors;
    const { status, body } = await report('/awaited');
    assert.equal(status, 404);
    assert.equal(body.code, 'ENOENT');
    assert.equal(state.errors, errors + 1);
  });

  test('error middleware registered after the route sees the error first (next(err) semantics)', T, async () => {
    const res = await get(s.port, '/next-err');
    assert.equal(res.status, 404);
    assert.equal(res.text, 'error middleware: ENOENT');
  });

  test('without app.error the default answer carries the error status', T, async (t) => {
    const plain = await start((app) => app.get('/missing', (req, res) => res.sendFile(nodePath.join(dir, 'nope.txt'))));
    t.after(() => plain.close());
    const res = await get(plain.port, '/missing');
    assert.equal(res.status, 404);
    assert.deepEqual(res.json(), { error: 'Not Found' });
  });
});

describe('res.sendFile() / res.download(): the file answer', () => {
  let s;
  const done = [];
  before(async () => {
    s = await start((app) => {
      app.get('/text', (req, res) => res.set('X-App', 'set by the app').sendFile(files.text));
      app.get('/typed', (req, res) => res.type('text/x-custom').sendFile(files.text));
      app.get('/css', (req, res) => res.sendFile(files.css));
      app.get('/root/*path', (req, res) => res.sendFile(req.params.path, { root: dir }));
      app.get('/options', (req, res) =>
        res.sendFile(files.text, { maxAge: '2d', immutable: true, headers: { 'X-Option': 'from options', 'X-Multi': ['a', 'b'] } }),
      );
      app.get('/no-cache-control', (req, res) => res.sendFile(files.text, { maxAge: 1000, cacheControl: false }));
      app.get('/app-cache-control', (req, res) => res.set('Cache-Control', 'no-store').sendFile(files.text, { maxAge: '1y' }));
      app.get('/no-validators', (req, res) => res.sendFile(files.text, { etag: false, lastModified: false, acceptRanges: false }));
      app.get('/dotfile-allowed', (req, res) => res.sendFile(files.dot, { dotfiles: 'allow' }));
      app.get('/callback', (req, res) => res.sendFile(files.text, (err) => done.push(err === undefined ? 'ok' : err.code)));
      app.get('/download', (req, res) => res.download(files.text));
      app.get('/download-named', (req, res) => res.download(files.text, 'report.csv'));
      app.get('/download-unicode', (req, res) => res.download(files.text, UNICODE_NAME));
      app.get('/download-dir-name', (req, res) => res.download(files.text, '../../etc/passwd'));
      app.get('/download-options', (req, res) =>
        res.download(files.text, 'x.txt', { headers: { 'Content-Disposition': 'inline', 'X-Option': 'yes' } }),
      );
      app.get('/download-app-disposition', (req, res) => res.set('Content-Disposition', 'inline').download(files.text, 'a.txt'));
      app.get('/download-root', (req, res) => res.download('sub/nested.txt', { root: dir }));
      app.get('/download-relative', (req, res) => res.download(nodePath.relative(process.cwd(), files.text)));
      app.get('/after-error-handler', (req, res) => res.sendFile(nodePath.join(dir, 'nope.txt')));
      app.error((err, req, res) => res.status(err.status).sendFile(files.css));
      app.notFound((req, res) => res.sendFile(files.nested));
    });
  });
  after(() => s.close());

  test('the file, its type from the extension, the app\'s headers, Cache-Control public, max-age=0', T, async () => {
    const res = await request(s.base, '/text');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), CONTENT);
    assert.match(res.headers.get('content-type'), /^text\/plain/);
    assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(CONTENT)));
    assert.equal(res.headers.get('x-app'), 'set by the app');
    assert.equal(res.headers.get('cache-control'), 'public, max-age=0');
    assert.ok(res.headers.get('etag'));
    assert.ok(res.headers.get('last-modified'));
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    assert.match((await request(s.base, '/css')).headers.get('content-type'), /^text\/css/);
  });

  test('a Content-Type the app set wins over the extension', T, async () => {
    const res = await get(s.port, '/typed');
    assert.equal(res.headers['content-type'], 'text/x-custom');
    assert.equal(res.text, CONTENT);
  });

  test('root: the path is relative to it', T, async () => {
    const res = await get(s.port, '/root/sub/nested.txt');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'nested');
  });

  test('options: maxAge/immutable, headers; cacheControl: false; a Cache-Control the app set wins', T, async () => {
    const res = await get(s.port, '/options');
    assert.equal(res.headers['cache-control'], 'public, max-age=172800, immutable');
    assert.equal(res.headers['x-option'], 'from options');
    assert.deepEqual(res.rawHeaders.filter(([n]) => n.toLowerCase() === 'x-multi').map(([, v]) => v), ['a', 'b']);
    assert.equal((await get(s.port, '/no-cache-control')).headers['cache-control'], undefined);
    assert.equal((await get(s.port, '/app-cache-control')).headers['cache-control'], 'no-store');
  });

  test('etag, lastModified and acceptRanges: false turn each off', T, async () => {
    const res = await get(s.port, '/no-validators', { headers: { Range: 'bytes=0-1' } });
    assert.equal(res.status, 200);
    assert.equal(res.text, CONTENT);
    assert.equal(res.headers.etag, undefined);
    assert.equal(res.headers['last-modified'], undefined);
    assert.notEqual(res.headers['accept-ranges'], 'bytes');
  });

  test('dotfiles: allow serves a dotfile', T, async () => {
    assert.equal((await get(s.port, '/dotfile-allowed')).text, 'SECRET=1');
  });

  test('the callback is called without an error once the answer is handed over', T, async () => {
    const res = await get(s.port, '/callback');
    assert.equal(res.text, CONTENT);
    assert.deepEqual(done, ['ok']);
  });

  test('HEAD: the headers of the GET answer, no body', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(buildRequest('HEAD', '/text'));
      const head = await c.readResponse({ head: true });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], String(Buffer.byteLength(CONTENT)));
      assert.equal(head.headers['x-app'], 'set by the app');
      // A body after the HEAD answer would be read as the next response.
      await c.write(buildRequest('GET', '/css'));
      assert.equal((await c.readResponse()).text, 'body{}');
      assert.equal(c.leftover.length, 0);
    } finally {
      c.destroy();
    }
  });

  test('a Range reaches Rust: 206 with Content-Range', T, async () => {
    const res = await get(s.port, '/text', { headers: { Range: 'bytes=0-4' } });
    assert.equal(res.status, 206);
    assert.equal(res.text, 'hello');
    assert.equal(res.headers['content-range'], `bytes 0-4/${Buffer.byteLength(CONTENT)}`);
    assert.equal(res.headers['x-app'], 'set by the app');
  });

  test('If-None-Match reaches Rust: 304 with the ETag, no body', T, async () => {
    const { etag } = (await get(s.port, '/text')).headers;
    const res = await get(s.port, '/text', { headers: { 'If-None-Match': etag } });
    assert.equal(res.status, 304);
    assert.equal(res.body.length, 0);
    assert.equal(res.headers.etag, etag);
    const other = await get(s.port, '/text', { headers: { 'If-None-Match': '"something-else"' } });
    assert.equal(other.status, 200);
  });

  test('res.download(): Content-Disposition attachment with the file\'s name, or the one given', T, async () => {
    const plain = await get(s.port, '/download');
    assert.equal(plain.status, 200);
    assert.equal(plain.text, CONTENT);
    assert.equal(plain.headers['content-disposition'], 'attachment; filename="hello.txt"');
    const named = await get(s.port, '/download-named');
    assert.equal(named.headers['content-disposition'], 'attachment; filename="report.csv"');
    assert.match(named.headers['content-type'], /^text\/plain/, 'the type is the file\'s, not the name\'s');
  });

  test('res.download(): a non-ASCII name in filename*=UTF-8\'\'... (RFC 6266/5987) with an ASCII fallback', T, async () => {
    const res = await request(s.base, '/download-unicode');
    const disposition = res.headers.get('content-disposition');
    assert.match(disposition, /^attachment;/);
    const star = /filename\*=UTF-8''([^;\s]+)/i.exec(disposition);
    assert.ok(star, `filename* in ${disposition}`);
    assert.equal(decodeURIComponent(star[1]), UNICODE_NAME);
    const fallback = /filename="([^"]*)"/.exec(disposition);
    assert.ok(fallback, `an ASCII filename= fallback in ${disposition}`);
    assert.match(fallback[1], /^[\x20-\x7e]+$/);
    assert.equal(await res.text(), CONTENT);
  });

  test('res.download(): the name loses its directories; options.headers cannot replace the disposition', T, async () => {
    assert.equal((await get(s.port, '/download-dir-name')).headers['content-disposition'], 'attachment; filename="passwd"');
    const res = await get(s.port, '/download-options');
    assert.equal(res.headers['content-disposition'], 'attachment; filename="x.txt"');
    assert.equal(res.headers['x-option'], 'yes');
    const app = await get(s.port, '/download-app-disposition');
    assert.deepEqual(
      app.rawHeaders.filter(([n]) => n.toLowerCase() === 'content-disposition').map(([, v]) => v),
      ['attachment; filename="a.txt"'],
    );
  });

  test('res.download(): root, and a relative path resolved against the working directory', T, async () => {
    const rooted = await get(s.port, '/download-root');
    assert.equal(rooted.text, 'nested');
    assert.equal(rooted.headers['content-disposition'], 'attachment; filename="nested.txt"');
    const relative = await get(s.port, '/download-relative');
    assert.equal(relative.text, CONTENT);
  });

  test('from app.error and app.notFound too', T, async () => {
    const fromError = await get(s.port, '/after-error-handler');
    assert.equal(fromError.text, 'body{}');
    const fromNotFound = await get(s.port, '/nowhere');
    assert.equal(fromNotFound.text, 'nested');
  });
});
