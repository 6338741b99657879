'use strict';
// The JavaScript backend's file answers: what src/files/ does for the native one, on node:http's
// req (IncomingMessage) and res (ServerResponse, nothing written to it yet).
//
//   serveFile(req, res, path, headers, { status, compression }?) → Promise<void>
//       a FLAG_FILE response record (docs/bridge.md "File answers"): `path` is the record's body
//       (absolute, or relative to `:root`), `headers` its [name, value] pairs, the app's and the
//       pseudo ones (`:range`, `:root`, `:download`, ...); `status` the record's (not 200: the
//       whole file with that status, as `res.status(404).sendFile(page)`), `compression` the
//       route's compression spec (js/options.js; undefined: off)
//   serveMount(req, res, mount, rest, { compression }?) → Promise<boolean>
//       a directory mount (the DirSpec js/static.js builds); `rest` the request path below the
//       prefix, still percent-encoded, without its leading slash, or null for the prefix itself
//       without its slash; `compression` the app's spec. false: nothing there and the mount falls
//       through, so the request goes on to JS; the response is untouched then
//
// Both answer as Rust does: the file's type from its extension, a strong ETag
// `"<size hex>-<mtime ms hex>"` and Last-Modified, preconditions in RFC 9110 order (412, 304),
// ranges (206 single or multipart/byteranges, 416), precompressed siblings (.br/.zst/.gz) and
// compression under the policy (small files whole with a Content-Length, larger ones streamed,
// both with a weak ETag), index files, extensions, the 301 of a directory without its slash, and
// Rust's short JSON answers for 400/403/404/412/500. Every open stays beneath the root unless
// followSymlinks: the opened descriptor's real path (/proc/self/fd) must be under the root's.
// The promises never reject: a failure before the head is a 500, after it a cut connection; a
// client that leaves stops the reads, and the descriptor is closed once the answer is over.
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const nodePath = require('node:path');
const { STATUS_CODES } = require('node:http');
const rules = require('./file-rules');
const compress = require('./compress');

// Files up to this size are compressed whole, with a Content-Length: what Rust does for the files
// its hot cache keeps (src/files/hot.rs DEFAULT_MAX_FILE). Larger ones are compressed as they are
// read, in a chunked body.
const WHOLE_MAX = 256 * 1024;
// Bytes read from a file at a time: large enough to keep syscalls few, small enough that many
// concurrent downloads stay cheap.
const CHUNK = 64 * 1024;
// O_NONBLOCK: opening a FIFO for reading would wait for a writer (path.rs open_nonblocking).
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);
const CODINGS = ['br', 'zstd', 'gzip'];
const SUFFIX = { br: '.br', zstd: '.zst', gzip: '.gz' };
// Headers that are the server's to write (src/h1/encode.rs keeps_app_header).
const SERVER_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'date']);
const TCHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const UNSAFE_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const NO_FILE = Symbol('no file');

async function serveMount(req, res, mount, rest, { compression } = {}) {
  try {
    const r = requestOf(req, req.headers, mount.compression === false ? undefined : compression);
    const answer = await mountAnswer(req, mount, mountOptions(mount), rest, r);
    if (answer === NO_FILE) {
      if (mount.fallthrough) return false;
      simple(res, 404);
      return true;
    }
    await answer(res);
  } catch {
    failed(res);
  }
  return true;
}

async function serveFile(req, res, path, headers, options) {
  try {
    await fileRecord(req, res, path, headers, options);
  } catch {
    failed(res);
  }
}

// What Rust does when reading a file fails: 500 before the head, a cut answer after it.
function failed(res) {
  if (res.headersSent) res.destroy();
  else simple(res, 500);
}

async function fileRecord(req, res, path, headers, { status = 200, compression } = {}) {
  const opts = defaultOptions();
  if (status !== 200) opts.status = status;
  const facts = {};
  let root;
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower[0] !== ':') {
      if (SERVER_HEADERS.has(lower) || !TCHARS.test(name) || UNSAFE_VALUE.test(value)) continue;
      // The app's validators replace ours, as Express keeps them.
      if (lower === 'etag') {
        opts.etagValue = value;
        continue;
      }
      if (lower === 'last-modified') {
        const date = rules.parseDate(value);
        if (date !== null) {
          opts.lastModifiedValue = date;
          continue;
        }
        // Not a date we can compare: sent as it is, with no If-Modified-Since.
        opts.lastModified = false;
      }
      if (lower === 'content-type') {
        opts.contentType = value;
        continue;
      }
      opts.extra.push([name, value]);
      continue;
    }
    const key = lower.slice(1);
    switch (key) {
      case 'root':
        root = value;
        break;
      case 'dotfiles':
        if (value === 'deny' || value === 'allow' || value === 'ignore') opts.dotfiles = value;
        break;
      case 'etag':
        opts.etag = value !== '0';
        break;
      case 'last-modified':
        opts.lastModified = value !== '0';
        break;
      case 'accept-ranges':
        opts.acceptRanges = value !== '0';
        break;
      case 'download':
        opts.download = value;
        break;
      default:
        facts[key] = value;
    }
  }
  const r = requestOf(req, facts, compression);
  const answer = await pathAnswer(path, root, opts, r);
  await answer(res);
}

function defaultOptions() {
  return {
    dotfiles: 'ignore',
    etag: true,
    lastModified: true,
    acceptRanges: true,
    followSymlinks: false,
    extra: [],
    contentType: undefined,
    download: undefined,
    compress: true,
    status: undefined,
    etagValue: undefined,
    lastModifiedValue: undefined,
  };
}

function mountOptions(mount) {
  const opts = defaultOptions();
  opts.dotfiles = mount.dotfiles ?? 'ignore';
  opts.etag = mount.etag !== false;
  opts.lastModified = mount.lastModified !== false;
  opts.acceptRanges = mount.acceptRanges !== false;
  opts.followSymlinks = mount.followSymlinks === true;
  opts.extra = mount.headers ?? [];
  opts.compress = mount.compression !== false;
  return opts;
}

// The request facts file serving reads (conditional.rs Conditions), from request headers or the
// pseudo headers of a file record, both keyed by lower-case name.
function requestOf(req, h, compression) {
  return {
    cond: {
      ifMatch: h['if-match'],
      ifNoneMatch: h['if-none-match'],
      ifModifiedSince: h['if-modified-since'],
      ifUnmodifiedSince: h['if-unmodified-since'],
      ifRange: h['if-range'],
      range: h.range,
      acceptEncoding: h['accept-encoding'],
    },
    head: req.method === 'HEAD',
    http10: req.httpVersion === '1.0',
    compression,
  };
}

// src/files/mod.rs serve_mount: the answer (a function writing it to res), or NO_FILE.
async function mountAnswer(req, mount, opts, rest, r) {
  if (rest === null || rest === undefined) return mount.redirect ? redirect(req) : NO_FILE;
  const found = rules.relative(rest, opts.dotfiles);
  if (found === rules.BAD) return status(400);
  if (found === rules.DENIED) return status(403);
  if (found === rules.MISSING) return NO_FILE;
  const { rel, trailing } = found;
  const join = (name) => (rel === '' ? name : `${rel}/${name}`);
  const candidates = trailing ? mount.index.map(join) : [rel, ...mount.extensions.map((ext) => `${rel}.${ext}`)];
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i];
    const enc = { coding: null, vary: false };
    if (mount.precompressed) {
      enc.vary = true;
      const answer = await sibling(mount.root, candidate, opts, r);
      if (answer !== null) return answer;
    }
    let file;
    try {
      file = await openBeneath(mount.root, candidate, opts.followSymlinks);
    } catch (err) {
      if (err.code === 'EACCES') return status(403);
      continue;
    }
    if (file.stat.isDirectory()) {
      await file.handle.close();
      // Only the path itself can be a directory worth redirecting to.
      if (i === 0 && !trailing && mount.redirect) return redirect(req);
      continue;
    }
    if (!file.stat.isFile()) {
      await file.handle.close();
      continue;
    }
    return fileAnswer(file, candidate, opts, r, enc);
  }
  return NO_FILE;
}

// A precompressed sibling of `rel` in the best coding the client accepts that exists (q-values
// first, then brotli, zstd, gzip), served with the original's type; null when none.
async function sibling(root, rel, opts, r) {
  const accept = r.cond.acceptEncoding;
  if (accept === undefined) return null;
  const own = { ...opts, contentType: opts.contentType ?? rules.contentTypeOf(rel) };
  const left = [...CODINGS];
  for (;;) {
    const coding = compress.pickCoding(left, accept);
    if (coding === null) return null;
    left.splice(left.indexOf(coding), 1);
    const path = rel + SUFFIX[coding];
    let file;
    try {
      file = await openBeneath(root, path, opts.followSymlinks);
    } catch {
      continue;
    }
    if (file.stat.isFile()) return fileAnswer(file, path, own, r, { coding, vary: true });
    await file.handle.close();
  }
}

// src/files/mod.rs serve_path: res.sendFile's file.
async function pathAnswer(path, root, opts, r) {
  let file;
  try {
    if (root !== undefined) {
      const found = rules.relative(path.replace(/^\/+/, ''), opts.dotfiles);
      if (found === rules.BAD) return status(400);
      if (found === rules.DENIED) return status(403);
      if (found === rules.MISSING) return status(404);
      file = await openBeneath(await fsp.realpath(root), found.rel, opts.followSymlinks);
    } else {
      if (!path.startsWith('/') || path.includes('\0')) return status(400);
      if (rules.hasDotSegment(path) && opts.dotfiles !== 'allow') return status(opts.dotfiles === 'deny' ? 403 : 404);
      file = await openFile(path);
    }
  } catch (err) {
    return status(err.code === 'EACCES' ? 403 : 404);
  }
  if (!file.stat.isFile()) {
    await file.handle.close();
    return status(404);
  }
  return fileAnswer(file, path, opts, r, { coding: null, vary: false });
}

async function openFile(path) {
  const handle = await fsp.open(path, OPEN_FLAGS);
  try {
    return { handle, stat: await handle.stat({ bigint: true }) };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

// Opens `rel` (checked by rules.relative) under `root` (absolute, symlink-free). Without
// followSymlinks, a file whose real path is outside the root is as good as missing.
async function openBeneath(root, rel, followSymlinks) {
  const full = rel === '' ? root : nodePath.join(root, rel);
  const file = await openFile(full);
  if (followSymlinks) return file;
  let real;
  try {
    // The descriptor's own path, so no rename after the open can fool the check.
    real = await fsp.readlink(`/proc/self/fd/${file.handle.fd}`);
  } catch {
    real = await fsp.realpath(full).catch(() => null);
  }
  if (real !== null && (real === root || real.startsWith(root.endsWith('/') ? root : `${root}/`))) return file;
  await file.handle.close();
  const err = new Error(`${full} leads outside the root`);
  err.code = 'ENOENT';
  throw err;
}

// The answer for an opened file (src/files/mod.rs answer): compressed when the policy says so.
async function fileAnswer(file, name, opts, r, enc) {
  const size = Number(file.stat.size);
  const ctype = opts.contentType ?? rules.contentTypeOf(name);
  let v = rules.validatorsOf(file.stat);
  let source = { kind: 'disk', handle: file.handle };
  let len = size;
  const coding = compressionOf(enc, ctype, size, opts, r);
  if (coding !== null) {
    if (size <= WHOLE_MAX) {
      let bytes;
      try {
        bytes = await readWhole(file.handle, size);
      } finally {
        await file.handle.close();
      }
      if (bytes === null) return status(500);
      const body = await compress.compressWhole(coding, r.compression, bytes);
      source = { kind: 'memory', body };
      len = body.length;
      enc.coding = coding;
      v = weak(v);
    } else if (!r.http10) {
      // HTTP/1.0 has no chunked framing: a file too large to compress whole goes out as it is.
      source = { kind: 'encoded', handle: file.handle, coding };
      enc.coding = coding;
      v = weak(v);
    }
  }
  return respond(ctype, source, len, v, opts, r, enc);
}

async function readWhole(handle, size) {
  const bytes = Buffer.allocUnsafe(size);
  let at = 0;
  while (at < size) {
    const { bytesRead } = await handle.read(bytes, at, size - at, at);
    if (bytesRead === 0) return null;
    at += bytesRead;
  }
  return bytes;
}

// The coding this file answer is compressed in here (null: not), setting enc.vary when the
// answer depends on Accept-Encoding at all. A precompressed sibling and a Range request (ranges
// are of the unencoded bytes) are not compressed; a HEAD gets the head the GET would.
function compressionOf(enc, ctype, len, opts, r) {
  const spec = r.compression;
  if (spec === undefined || spec === null || enc.coding !== null || !opts.compress) return null;
  const noTransform = opts.extra.some(([, value]) => /no-transform/i.test(value));
  const headers = [['content-type', ctype]];
  if (noTransform) headers.push(['cache-control', 'no-transform']);
  const answerStatus = opts.status ?? 200;
  if (!compress.varies(spec, answerStatus, headers)) return null;
  enc.vary = true;
  if (opts.status === undefined && opts.acceptRanges && r.cond.range !== undefined) return null;
  return compress.negotiate(spec, r.cond.acceptEncoding, answerStatus, headers, { length: len });
}

function weak(v) {
  return { etag: v.etag === '' ? '' : compress.weakenEtag(v.etag), modified: v.modified };
}

// src/files/mod.rs respond: 412 or 304 by the preconditions, else 200, 206 or 416 by the ranges.
// Returns the function that writes it.
function respond(ctype, source, len, fileV, opts, r, enc) {
  const v = {
    etag: opts.etag ? (opts.etagValue ?? fileV.etag) : '',
    modified: opts.lastModified ? (opts.lastModifiedValue ?? fileV.modified) : null,
  };
  const verdict = opts.status === undefined ? rules.evaluate(r.cond, v) : 'proceed';
  if (verdict === 'failed') return withoutBody(source, status(412));
  if (verdict === 'not-modified') {
    const head = [];
    validatorLines(head, v);
    encodingLines(head, enc);
    head.push(...opts.extra);
    return withoutBody(source, (res) => writeHead(res, 304, head).end());
  }
  const ranges =
    opts.status === undefined && opts.acceptRanges && rules.rangeApplies(r.cond, v) ? rules.parseRanges(r.cond.range, len) : 'whole';
  const code = ranges === 'whole' ? (opts.status ?? 200) : ranges === 'unsatisfiable' ? 416 : 206;
  const head = [];
  if (opts.acceptRanges) head.push(['accept-ranges', 'bytes']);
  validatorLines(head, v);
  encodingLines(head, enc);
  head.push(...opts.extra);
  if (opts.download !== undefined) head.push(['content-disposition', rules.attachment(opts.download)]);
  const pieces = [];
  if (ranges === 'unsatisfiable') {
    head.push(['content-range', `bytes */${len}`], ['content-length', '0']);
  } else if (ranges === 'whole') {
    head.push(['content-type', ctype]);
    head.push(source.kind === 'encoded' ? ['transfer-encoding', 'chunked'] : ['content-length', String(len)]);
    if (len > 0) pieces.push([0, len - 1]);
  } else if (ranges.length === 1) {
    const [a, b] = ranges[0];
    head.push(['content-type', ctype], ['content-range', `bytes ${a}-${b}/${len}`], ['content-length', String(b - a + 1)]);
    pieces.push([a, b]);
  } else {
    const boundary = rules.boundary();
    head.push(['content-type', `multipart/byteranges; boundary=${boundary}`]);
    let total = 0;
    ranges.forEach(([a, b], i) => {
      let part = rules.partHeader(boundary, ctype, [a, b], len);
      // The first delimiter needs no CRLF before it.
      if (i === 0) part = part.slice(2);
      const bytes = Buffer.from(part);
      total += bytes.length + (b - a + 1);
      pieces.push(bytes, [a, b]);
    });
    const end = Buffer.from(rules.closing(boundary));
    total += end.length;
    pieces.push(end);
    head.push(['content-length', String(total)]);
  }
  return async (res) => {
    writeHead(res, code, head);
    try {
      if (r.head || pieces.length === 0) res.end();
      else if (source.kind === 'memory') res.end(source.body);
      else if (source.kind === 'encoded') await writeEncoded(res, source, len, r.compression);
      else await writeDisk(res, source.handle, pieces);
    } catch {
      // A file that shrank or failed under us, or a client that left: the answer is cut off.
      res.destroy();
    } finally {
      if (source.handle !== undefined && source.kind !== 'memory') await source.handle.close().catch(() => {});
    }
  };
}

// An answer that needs no bytes of the file: the descriptor is closed first.
function withoutBody(source, write) {
  if (source.kind === 'memory') return write;
  return async (res) => {
    await source.handle.close().catch(() => {});
    write(res);
  };
}

function validatorLines(head, v) {
  if (v.etag !== '') head.push(['etag', v.etag]);
  if (v.modified !== null) head.push(['last-modified', rules.httpDate(v.modified)]);
}

function encodingLines(head, enc) {
  if (enc.coding !== null) head.push(['content-encoding', enc.coding]);
  if (enc.vary) head.push(['vary', 'Accept-Encoding']);
}

function writeHead(res, code, head) {
  const flat = [];
  for (const [name, value] of head) flat.push(name, value);
  res.writeHead(code, flat);
  return res;
}

// The pieces (buffers, and inclusive byte ranges of the file) in order, with backpressure.
async function writeDisk(res, handle, pieces) {
  for (const piece of pieces) {
    if (Buffer.isBuffer(piece)) await write(res, piece);
    else await copyRange(res, handle, piece[0], piece[1]);
  }
  await finish(res);
}

async function writeEncoded(res, source, len, spec) {
  const encoder = compress.compressStream(source.coding, spec, { flush: false });
  encoder.on('error', () => res.destroy());
  // A client that leaves unpipes the encoder; destroyed too, it stops the reads feeding it.
  res.once('close', () => encoder.destroy());
  encoder.pipe(res);
  if (len > 0) await copyRange(encoder, source.handle, 0, len - 1);
  encoder.end();
  await ended(res);
}

async function copyRange(sink, handle, first, last) {
  let at = first;
  while (at <= last) {
    if (sink.destroyed) throw closed();
    const n = Math.min(CHUNK, last - at + 1);
    const chunk = Buffer.allocUnsafe(n);
    const { bytesRead } = await handle.read(chunk, 0, n, at);
    if (bytesRead === 0) throw new Error('the file ended before its length');
    at += bytesRead;
    await write(sink, bytesRead === n ? chunk : chunk.subarray(0, bytesRead));
  }
}

// Writes a chunk, waiting for 'drain' when the sink's buffer is full; fails once the sink is
// destroyed (its 'close' may have come and gone, so that is checked first).
function write(sink, chunk) {
  if (sink.destroyed) return Promise.reject(closed());
  if (sink.write(chunk)) return undefined;
  if (sink.destroyed) return Promise.reject(closed());
  return new Promise((resolve, reject) => {
    const done = (err) => {
      sink.off('drain', onDrain);
      sink.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(closed());
    sink.on('drain', onDrain);
    sink.on('close', onClose);
  });
}

function closed() {
  return new Error('the response was closed');
}

function finish(res) {
  res.end();
  return ended(res);
}

// Settles once the response is out (or gone), so the descriptor closes after its last read.
function ended(res) {
  if (res.writableFinished || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('finish', done);
      res.off('close', done);
      resolve();
    };
    res.on('finish', done);
    res.on('close', done);
  });
}

// 301 to the directory's URL with its trailing slash, query kept. Leading slashes are collapsed,
// so `//evil.example` can never become a protocol-relative Location.
function redirect(req) {
  const url = req.url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const location = `/${path.replace(/^\/+/, '')}/${q === -1 ? '' : url.slice(q)}`;
  const text = Buffer.from(`Redirecting to ${location}`);
  return (res) => {
    writeHead(res, 301, [
      ['location', location],
      ['content-type', 'text/plain; charset=utf-8'],
      ['content-length', String(text.length)],
    ]).end(text);
  };
}

// The server's own short answer for a status, as Rust writes every error it answers itself
// (src/h1/encode.rs simple_with).
function status(code) {
  return (res) => simple(res, code);
}

function simple(res, code) {
  const reason = (STATUS_CODES[code] ?? 'Unknown').replaceAll("'", '\\u0027');
  const body = Buffer.from(`{"error":"${reason}"}`);
  writeHead(res, code, [
    ['content-type', 'application/json; charset=utf-8'],
    ['content-length', String(body.length)],
  ]).end(body);
}

module.exports = { serveFile, serveMount };
