'use strict';
// A directory mount as real clients use it: curl (ranges, a resumed download with `-C -`,
// --compressed, -z), Python `requests` (ranges and conditionals), node fetch(), and headless
// Chromium loading a page with CSS, a script, an image and a <video> it seeks, which makes the
// browser ask for ranges — seen from the server's side through a recording proxy.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const crypto = require('node:crypto');
const { execFile, spawn, spawnSync } = require('node:child_process');
const { request, curlMissing, waitUntil } = require('./helpers');
const { makeTree, serveDir, pattern, parseByteranges } = require('./support/files');
const chromium = require('./support/chromium');
const { recordingProxy } = require('./support/recorder');
const { writeSpreadVideo } = require('./support/video');

const T = { timeout: 60000 };
const MiB = 2 ** 20;
const DATA = pattern(4 * MiB, 5);
const TEXT = Buffer.from(`${Array.from({ length: 3000 }, (_, i) => `line ${i}: the quick brown fox`).join('\n')}\n`);

function sha256(b) {
  return crypto.createHash('sha256').update(b).digest('hex');
}

function run(cmd, args, { encoding = 'utf8' } = {}) {
  return new Promise((resolve, reject) => {
    // Asynchronous: a synchronous child would block the JS thread of the server in this process.
    execFile(cmd, args, { encoding, maxBuffer: 64 * MiB }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

function clientTree(t) {
  return makeTree(t, {
    'data.bin': DATA,
    'text.txt': TEXT,
    'text.txt.gz': zlib.gzipSync(TEXT),
    'text.txt.br': zlib.brotliCompressSync(TEXT),
    'sub/index.html': '<p>sub</p>',
  });
}

// ---------------------------------------------------------------------------------------------
// curl

test('curl: a download cut short, resumed with -C -, is byte-identical', { ...T, skip: curlMissing() }, async (t) => {
  const tree = clientTree(t);
  const s = await serveDir(t, { root: tree.root });
  const url = `${s.base}/assets/data.bin`;
  const out = path.join(tree.dir, 'data.part');

  // The first part as a range, then the rest with -C - (curl sends Range: bytes=<size>-).
  await run('curl', ['-sS', '-r', '0-1000000', '-o', out, url]);
  assert.equal(fs.statSync(out).size, 1000001);
  const code = await run('curl', ['-sS', '-C', '-', '-o', out, '-w', '%{http_code}', url]);
  assert.equal(code, '206', 'the resume is a 206');
  assert.equal(sha256(fs.readFileSync(out)), sha256(DATA), 'the resumed file is the file');

  // A transfer really interrupted: curl is killed part way, then resumed.
  const cut = path.join(tree.dir, 'data.cut');
  const slow = spawn('curl', ['-sS', '--limit-rate', '512K', '-o', cut, url], { stdio: 'ignore' });
  const exited = new Promise((resolve) => slow.once('exit', resolve));
  t.after(() => slow.kill('SIGKILL'));
  await waitUntil(() => fs.existsSync(cut) && fs.statSync(cut).size >= 256 * 1024, { timeout: 30000, what: 'curl to write 256 KiB' });
  slow.kill('SIGKILL');
  await exited;
  const partial = fs.statSync(cut).size;
  assert.ok(partial > 0 && partial < DATA.length, `interrupted at ${partial} bytes`);
  await run('curl', ['-sS', '-C', '-', '-o', cut, url]);
  assert.equal(sha256(fs.readFileSync(cut)), sha256(DATA), `resumed from ${partial} bytes: byte-identical`);
});

test('curl: -r ranges (one and several), -I, -z (If-Modified-Since), --compressed', { ...T, skip: curlMissing() }, async (t) => {
  const tree = clientTree(t);
  const s = await serveDir(t, { root: tree.root, options: { precompressed: true } });
  const url = `${s.base}/assets/data.bin`;

  const one = await run('curl', ['-sS', '-r', '1000-1999', url], { encoding: 'buffer' });
  assert.ok(one.equals(DATA.subarray(1000, 2000)), 'curl -r 1000-1999');

  const headFile = path.join(tree.dir, 'multi.head');
  const multi = await run('curl', ['-sS', '-r', '0-9,100-109', '-D', headFile, url], { encoding: 'buffer' });
  const headers = Object.fromEntries(
    fs.readFileSync(headFile, 'latin1').split('\r\n').slice(1).filter(Boolean).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  );
  const parts = parseByteranges({ headers, body: multi });
  assert.deepEqual(parts.map((p) => [p.start, p.end]), [[0, 9], [100, 109]]);
  for (const p of parts) assert.ok(p.body.equals(DATA.subarray(p.start, p.end + 1)));

  const head = await run('curl', ['-sS', '-I', url]);
  assert.match(head, /^HTTP\/1\.1 200/);
  assert.match(head, new RegExp(`\r\ncontent-length: ${DATA.length}\r\n`, 'i'));
  assert.match(head, /\r\naccept-ranges: bytes\r\n/i);

  const lastModified = /\r\nlast-modified: ([^\r]+)\r\n/i.exec(head)[1];
  assert.equal(await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-z', lastModified, url]), '304');
  assert.equal(await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-z', 'Thu, 01 Jan 2015 00:00:00 GMT', url]), '200');

  const compressed = await run('curl', ['-sS', '--compressed', '-w', '\n%{content_type}', `${s.base}/assets/text.txt`]);
  const cut = compressed.lastIndexOf('\n');
  assert.equal(compressed.slice(0, cut), TEXT.toString(), 'curl --compressed decodes to the text');
  assert.match(compressed.slice(cut + 1), /^text\/plain/);
  const raw = await run('curl', ['-sS', '-H', 'Accept-Encoding: gzip', '-D', '-', '-o', '/dev/null', `${s.base}/assets/text.txt`]);
  assert.match(raw, /\r\ncontent-encoding: gzip\r\n/i);
  assert.match(raw, /\r\nvary: [^\r]*accept-encoding/i);
});

// ---------------------------------------------------------------------------------------------
// Python requests

// A python3 that can import requests (Debian's python3-requests, installed by .ci/run), or why not.
const python = (() => {
  for (const exe of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(exe, ['-c', 'import requests'], { stdio: 'ignore' });
    if (r.status === 0) return { exe };
  }
  return { skip: 'no python3 with the requests module (Debian package python3-requests, installed by .ci/run)' };
})();

const PYTHON_CLIENT = `
import json, sys, hashlib, requests
base = sys.argv[1]
url = base + '/assets/data.bin'
out = {}
s = requests.Session()
r = s.get(url)
out['full'] = [r.status_code, hashlib.sha256(r.content).hexdigest(), r.headers.get('Accept-Ranges')]
etag, lm = r.headers['ETag'], r.headers['Last-Modified']
r = s.get(url, headers={'Range': 'bytes=100-199'})
out['range'] = [r.status_code, r.headers.get('Content-Range'), r.content.hex()]
r = s.get(url, headers={'Range': 'bytes=-10'})
out['suffix'] = [r.status_code, r.headers.get('Content-Range'), r.content.hex()]
r = s.get(url, headers={'Range': 'bytes=%d-' % (4 * 1024 * 1024)})
out['unsatisfiable'] = [r.status_code, r.headers.get('Content-Range')]
r = s.get(url, headers={'If-None-Match': etag})
out['inm'] = [r.status_code, len(r.content), r.headers.get('ETag')]
r = s.get(url, headers={'If-Modified-Since': lm})
out['ims'] = [r.status_code, len(r.content)]
r = s.get(url, headers={'If-Match': '"nope"'})
out['ifmatch'] = [r.status_code]
r = s.get(url, headers={'Range': 'bytes=0-9', 'If-Range': lm})
out['ifrange'] = [r.status_code, r.headers.get('Content-Range')]
r = s.get(url, headers={'Range': 'bytes=0-9', 'If-Range': 'Thu, 01 Jan 2015 00:00:00 GMT'})
out['ifrange_old'] = [r.status_code, len(r.content)]
r = s.head(url)
out['head'] = [r.status_code, r.headers.get('Content-Length'), len(r.content)]
h = hashlib.sha256()
with s.get(url, stream=True) as r:
    for chunk in r.iter_content(65536):
        h.update(chunk)
out['stream'] = h.hexdigest()
r = s.get(base + '/assets/text.txt')
out['text'] = [r.status_code, hashlib.sha256(r.content).hexdigest(), r.headers.get('Content-Encoding')]
r = s.get(base + '/assets/sub', allow_redirects=True)
out['redirect'] = [r.status_code, r.url, r.text, [h.status_code for h in r.history]]
print(json.dumps(out))
`;

test('Python requests: ranges, conditionals, HEAD, a streamed download, gzip, a redirect', { ...T, skip: python.skip || false }, async (t) => {
  const tree = clientTree(t);
  const s = await serveDir(t, { root: tree.root, options: { precompressed: true } });
  const out = JSON.parse(await run(python.exe, ['-c', PYTHON_CLIENT, s.base]));
  const hex = (b) => b.toString('hex');
  assert.deepEqual(out.full, [200, sha256(DATA), 'bytes']);
  assert.deepEqual(out.range, [206, `bytes 100-199/${DATA.length}`, hex(DATA.subarray(100, 200))]);
  assert.deepEqual(out.suffix, [206, `bytes ${DATA.length - 10}-${DATA.length - 1}/${DATA.length}`, hex(DATA.subarray(DATA.length - 10))]);
  assert.deepEqual(out.unsatisfiable, [416, `bytes */${DATA.length}`]);
  assert.equal(out.inm[0], 304);
  assert.equal(out.inm[1], 0);
  assert.ok(out.inm[2], 'the 304 has the ETag');
  assert.deepEqual(out.ims, [304, 0]);
  assert.deepEqual(out.ifmatch, [412]);
  assert.deepEqual(out.ifrange, [206, `bytes 0-9/${DATA.length}`]);
  assert.deepEqual(out.ifrange_old, [200, DATA.length]);
  assert.deepEqual(out.head, [200, String(DATA.length), 0]);
  assert.equal(out.stream, sha256(DATA));
  // requests asks for gzip and decodes it: the text arrives whole either way.
  assert.equal(out.text[0], 200);
  assert.equal(out.text[1], sha256(TEXT));
  assert.deepEqual(out.redirect, [200, `${s.base}/assets/sub/`, '<p>sub</p>', [301]]);
});

// ---------------------------------------------------------------------------------------------
// node fetch

test('node fetch(): a range, a conditional GET, HEAD, a followed redirect', T, async (t) => {
  const tree = clientTree(t);
  const s = await serveDir(t, { root: tree.root });
  const full = await request(s.base, '/assets/data.bin');
  assert.equal(full.status, 200);
  assert.ok(Buffer.from(await full.arrayBuffer()).equals(DATA));
  const etag = full.headers.get('etag');

  const part = await request(s.base, '/assets/data.bin', { headers: { Range: 'bytes=4096-8191' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 4096-8191/${DATA.length}`);
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(DATA.subarray(4096, 8192)));

  const cached = await request(s.base, '/assets/data.bin', { headers: { 'If-None-Match': etag } });
  assert.equal(cached.status, 304);
  assert.equal(cached.headers.get('etag'), etag);
  assert.equal((await cached.arrayBuffer()).byteLength, 0);

  const head = await request(s.base, '/assets/data.bin', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(DATA.length));

  const followed = await request(s.base, '/assets/sub');
  assert.equal(followed.status, 200);
  assert.equal(followed.url, `${s.base}/assets/sub/`);
  assert.equal(await followed.text(), '<p>sub</p>');
});

// ---------------------------------------------------------------------------------------------
// Chromium

const PAGE_SCRIPT = `
  const once = (el, name) => new Promise((resolve, reject) => {
    el.addEventListener(name, resolve, { once: true });
    el.addEventListener('error', () => reject(new Error(name + ': ' + (el.error ? el.error.code + ' ' + el.error.message : 'error event'))), { once: true });
  });
  if (document.readyState !== 'complete') await new Promise((r) => window.addEventListener('load', r, { once: true }));
  const img = document.getElementById('img');
  const probe = getComputedStyle(document.getElementById('probe'));
  const video = document.getElementById('video');
  if (video.readyState < 1) await once(video, 'loadedmetadata');
  const metadata = { duration: video.duration, width: video.videoWidth, height: video.videoHeight };
  // Seek near the end: those frames lie megabytes into the file, past what the browser loaded.
  video.currentTime = 8;
  await once(video, 'seeked');
  if (video.readyState < 2) await once(video, 'loadeddata');
  const ranged = await fetch('data.bin', { headers: { Range: 'bytes=10-19' } });
  const bytes = Array.from(new Uint8Array(await ranged.arrayBuffer()));
  return {
    script: window.appLoaded,
    css: probe.width,
    image: [img.complete, img.naturalWidth, img.naturalHeight],
    metadata,
    seeked: { currentTime: video.currentTime, readyState: video.readyState },
    fetchRange: { status: ranged.status, contentRange: ranged.headers.get('content-range'), bytes },
  };
`;

test('Chromium: a page with CSS, a script, an image and a <video> seek, all from the mount; the seek asks for a Range', { ...T, timeout: 120000, skip: chromium.skip }, async (t) => {
  // A 1x1 PNG.
  const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000' + '1f15c4890000000d49444154789c6300010000050001' + '0d0a2db40000000049454e44ae426082', 'hex');
  const tree = makeTree(t, {
    'style.css': '#probe { width: 123px; height: 1px }\n',
    'app.js': 'window.appLoaded = "yes";\n',
    'pixel.png': png,
    'data.bin': DATA.subarray(0, 1024),
    'index.html': chromium.page(PAGE_SCRIPT, {
      head: `<link rel="stylesheet" href="style.css"><script src="app.js"></script>
        <div id="probe"></div><img id="img" src="pixel.png" alt="">
        <video id="video" src="clip.mp4" preload="metadata" muted playsinline></video>`,
    }),
  });
  const video = writeSpreadVideo(path.join(tree.root, 'clip.mp4'));
  let report;
  const s = await serveDir(t, {
    prefix: '/site',
    root: tree.root,
    setup: (app) => {
      report = chromium.reports(app);
    },
  });
  const proxy = await recordingProxy(s.port);
  t.after(() => proxy.close());

  const value = await chromium.run(t, `http://127.0.0.1:${proxy.port}/site/`, report);
  // What the page saw.
  assert.equal(value.script, 'yes', 'the script ran');
  assert.equal(value.css, '123px', 'the stylesheet applied');
  assert.deepEqual(value.image, [true, 1, 1], 'the image decoded');
  assert.deepEqual(value.metadata, { duration: 10, width: 64, height: 48 }, 'the video\'s metadata');
  assert.equal(value.seeked.currentTime, 8);
  assert.ok(value.seeked.readyState >= 2, `the frame at 8 s is there (readyState ${value.seeked.readyState})`);
  assert.deepEqual(value.fetchRange, { status: 206, contentRange: 'bytes 10-19/1024', bytes: [...DATA.subarray(10, 20)] });

  // What the server answered, seen on the wire.
  const answered = (target) => proxy.exchanges.filter((e) => e.target === target && e.status !== undefined);
  for (const [target, type] of [['/site/', /^text\/html/], ['/site/style.css', /^text\/css/], ['/site/app.js', /^text\/javascript/], ['/site/pixel.png', /^image\/png$/]]) {
    const [first] = answered(target);
    assert.ok(first, `${target} was requested and answered`);
    assert.equal(first.status, 200, target);
    assert.match(first.responseHeaders['content-type'], type, target);
  }
  const media = answered('/site/clip.mp4');
  assert.ok(media.length >= 2, `the video was fetched in several requests (${media.length})`);
  for (const e of media) {
    assert.ok(e.headers.range, 'Chromium asks for media with a Range');
    assert.equal(e.status, 206, `${e.headers.range} → 206`);
    const want = /^bytes=(\d+)-/.exec(e.headers.range);
    assert.ok(want, e.headers.range);
    assert.match(e.responseHeaders['content-range'], new RegExp(`^bytes ${want[1]}-\\d+/${video.size}$`), e.headers.range);
  }
  // The seek: a range starting where the frames at 8 s lie, not at the start of the file.
  const seekStart = 8 * 5 * video.stride; // 5 frames a second, one sample every `stride` bytes
  const seeks = media.filter((e) => Number(/^bytes=(\d+)-/.exec(e.headers.range)[1]) >= seekStart - video.stride);
  assert.ok(seeks.length >= 1, `a Range request for the seek (ranges asked: ${media.map((e) => e.headers.range).join(', ')})`);
  assert.ok(answered('/site/data.bin').some((e) => e.headers.range === 'bytes=10-19' && e.status === 206), 'the page\'s fetch() with a Range');
});
