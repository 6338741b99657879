'use strict';
// What the directory-serving tests (__test__/files-*.test.js) share: a temp tree per test with a
// secret file beside the served root (so a traversal that escapes is seen), the one place that
// knows how a directory mount is spelled in JS, a server with a mount, parsers for Range answers
// (Content-Range and multipart/byteranges), and a server in a child process for RSS readings.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');

const REPO = path.resolve(__dirname, '..', '..');
// Beside every served root: no answer may ever carry these bytes.
const SECRET = 'TOP-SECRET-4b1d9c: outside the served root\n';
const EVIL_SECRET = 'EVIL-SIBLING-7f3a: a directory whose name starts like the root\n';

// How `app.static` mounts a directory. The one line to change if the JS spelling changes.
function mount(app, prefix, root, options = {}) {
  app.static(prefix, { root, ...options });
}

// Creates <tmp>/root with `files` ({ 'sub/a.txt': string | Buffer }), <tmp>/secret.txt and
// <tmp>/root-evil/secret.txt beside it; `links` ({ 'root/relative/name': target }) are symlinks
// inside the root. Everything is removed after the test. Returns { dir, root, secretFile }.
function makeTree(t, files = {}, links = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-files-'));
  const after = typeof t === 'function' ? t : t.after.bind(t);
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'root');
  fs.mkdirSync(root);
  fs.writeFileSync(path.join(dir, 'secret.txt'), SECRET);
  fs.mkdirSync(path.join(dir, 'root-evil'));
  fs.writeFileSync(path.join(dir, 'root-evil', 'secret.txt'), EVIL_SECRET);
  for (const [name, content] of Object.entries(files)) writeFile(root, name, content);
  for (const [name, target] of Object.entries(links)) {
    const at = path.join(root, name);
    fs.mkdirSync(path.dirname(at), { recursive: true });
    fs.symlinkSync(target, at);
  }
  return { dir, root, secretFile: path.join(dir, 'secret.txt') };
}

function writeFile(root, name, content) {
  const file = path.join(root, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (content === null) fs.mkdirSync(file, { recursive: true });
  else fs.writeFileSync(file, content);
  return file;
}

// A server with `root` mounted at `prefix`; `setup(app)` adds routes (before the mount, so a JS
// route and a file never share a path by accident). Closed after the test.
function serveDir(t, { prefix = '/assets', root, options, setup, appOptions } = {}) {
  // Required here, not at the top: the child server below loads this file for mount() alone, and
  // helpers.js registers node:test hooks a plain process must not have.
  const { serve } = require('../helpers');
  return serve(
    t,
    (app) => {
      if (setup) setup(app);
      mount(app, prefix, root, options);
    },
    appOptions === undefined ? undefined : { appOptions },
  );
}

// Bytes that differ at every offset of a small window, so a wrong offset or length shows.
function pattern(n, seed = 0) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed + (i >> 8)) & 255;
  return b;
}

// Asserts that a response (a helpers.js raw response or { status, body }) shows nothing from
// outside the root.
function assertNoSecret(res, what) {
  const text = Buffer.from(res.body).toString('latin1');
  assert.ok(!text.includes('TOP-SECRET-4b1d9c'), `${what}: the answer carries the secret file (status ${res.status})`);
  assert.ok(!text.includes('EVIL-SIBLING-7f3a'), `${what}: the answer carries root-evil's secret (status ${res.status})`);
}

// `Content-Range: bytes a-b/size` → { start, end, size }; `bytes */size` → { size }.
function parseContentRange(value) {
  assert.ok(value, 'a Content-Range header');
  const m = /^bytes (?:(\d+)-(\d+)|\*)\/(\d+)$/.exec(value);
  assert.ok(m, `Content-Range syntax: ${value}`);
  if (m[1] === undefined) return { size: Number(m[3]) };
  return { start: Number(m[1]), end: Number(m[2]), size: Number(m[3]) };
}

// The parts of a multipart/byteranges body: [{ headers, start, end, size, body }].
function parseByteranges(res) {
  const type = res.headers['content-type'] || '';
  const m = /^multipart\/byteranges;\s*boundary=("?)([^";]+)\1\s*$/i.exec(type);
  assert.ok(m, `a multipart/byteranges content type with a boundary: ${type}`);
  const boundary = Buffer.from(`--${m[2]}`, 'latin1');
  const body = res.body;
  const parts = [];
  let at = body.indexOf(boundary);
  assert.ok(at !== -1, 'the body has the first boundary');
  for (;;) {
    at += boundary.length;
    if (body.subarray(at, at + 2).toString('latin1') === '--') break; // the closing boundary
    assert.equal(body.subarray(at, at + 2).toString('latin1'), '\r\n', 'CRLF after a boundary');
    const headEnd = body.indexOf('\r\n\r\n', at + 2);
    assert.ok(headEnd !== -1, 'a part has a head');
    const headers = {};
    for (const line of body.subarray(at + 2, headEnd).toString('latin1').split('\r\n')) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const range = parseContentRange(headers['content-range']);
    const start = headEnd + 4;
    const len = range.end - range.start + 1;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), boundary]), start + len);
    assert.equal(next, start + len, 'the part body has exactly the length its Content-Range says, then CRLF and the boundary');
    parts.push({ headers, ...range, body: body.subarray(start, start + len) });
    at = next + 2;
  }
  return parts;
}

// The ranges a 206 carries, whichever form the server chose: [{ start, end, size, body }].
function rangesOf(res) {
  assert.equal(res.status, 206);
  if (/^multipart\/byteranges/i.test(res.headers['content-type'] || '')) return parseByteranges(res);
  const range = parseContentRange(res.headers['content-range']);
  return [{ ...range, body: res.body }];
}

// A Date `seconds` away from the file's mtime, as an IMF-fixdate.
function httpDate(ms) {
  return new Date(ms).toUTCString();
}

// A valid zstd frame holding `data` uncompressed (raw blocks), for Nodes without
// zlib.zstdCompressSync: precompressed siblings only need to be valid, not small.
function zstdFrame(data) {
  if (typeof require('node:zlib').zstdCompressSync === 'function') return require('node:zlib').zstdCompressSync(data);
  const BLOCK = 128 * 1024; // the largest block a frame may hold
  const parts = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.from([0xa0])]; // single segment, 4-byte content size
  const size = Buffer.alloc(4);
  size.writeUInt32LE(data.length);
  parts.push(size);
  let at = 0;
  do {
    const chunk = data.subarray(at, at + BLOCK);
    at += chunk.length;
    const last = at >= data.length ? 1 : 0;
    const header = (chunk.length << 3) | last; // block type 0: raw
    parts.push(Buffer.from([header & 255, (header >> 8) & 255, (header >> 16) & 255]), chunk);
  } while (at < data.length);
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// A server in a child process, for readings of its own RSS: `mounts` is [{ prefix, root, options }].
// Resolves with { pid, port, base, stop() } once it listens; stopped after the test.
const CHILD = `
'use strict';
const { createApp } = require(process.env.HN_REPO);
const { mount } = require(process.env.HN_SUPPORT);
const app = createApp();
for (const m of JSON.parse(process.env.HN_MOUNTS)) mount(app, m.prefix, m.root, m.options);
app.listen({ port: 0, host: '127.0.0.1' }).then((server) => {
  process.stdout.write('READY ' + server.port + '\\n');
  process.once('SIGTERM', () => server.close({ timeout: 2000 }));
}, (err) => { console.error(err); process.exit(2); });
`;
const CHILD_READY_MS = 20000;

function spawnDirServer(t, mounts) {
  const child = spawn(process.execPath, ['-e', CHILD], {
    cwd: REPO,
    env: { ...process.env, HN_REPO: REPO, HN_SUPPORT: __filename, HN_MOUNTS: JSON.stringify(mounts) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the child server did not listen within ${CHILD_READY_MS} ms: ${stderr}`)), CHILD_READY_MS);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the child server exited (${code ?? signal}) before listening: ${stderr}`));
    });
    child.stdout.on('data', (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      const port = Number(m[1]);
      resolve({ pid: child.pid, port, base: `http://127.0.0.1:${port}`, stderr: () => stderr });
    });
  });
}

// The VmRSS of `pid` in bytes, or null without /proc.
function rssBytes(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

module.exports = {
  SECRET,
  mount,
  makeTree,
  writeFile,
  serveDir,
  pattern,
  assertNoSecret,
  parseContentRange,
  parseByteranges,
  rangesOf,
  httpDate,
  zstdFrame,
  spawnDirServer,
  rssBytes,
};
