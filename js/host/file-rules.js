'use strict';
// The pure rules of file serving, as src/files/ states them, for the JavaScript backend
// (js/host/files.js): the request path below a mount to a relative file path (path.rs
// `relative`), validators and preconditions in RFC 9110 §13.2.2's order (conditional.rs), the
// Range header (range.rs), and the header values a file answer computes (headers.rs). No I/O.
const crypto = require('node:crypto');

// Longest decoded path looked up (path.rs MAX_PATH): PATH_MAX is 4096 and longer names only cost
// syscalls that fail with ENAMETOOLONG.
const MAX_PATH = 4096;
// Ranges beyond this many in one request make it a whole-file answer (range.rs MAX_RANGES): many
// small ranges are a known way to make a server do much work per request (CVE-2011-3192).
const MAX_RANGES = 32;
// What `relative` refuses: 400, 403, or nothing there (404 / fall through).
const BAD = 'bad';
const DENIED = 'denied';
const MISSING = 'missing';

// `rest` (still percent-encoded, no leading slash) → { rel, trailing } | BAD | DENIED | MISSING.
// Decoded once and checked lexically: no `..`, NUL, backslash or encoded slash, no dotfile unless
// allowed; `trailing` is whether the request named a directory.
function relative(rest, dotfiles) {
  const bytes = percentDecode(rest);
  if (bytes === null) return BAD;
  if (bytes.length > MAX_PATH) return MISSING;
  const decoded = utf8(bytes);
  if (decoded === null || decoded.includes('\0')) return BAD;
  // A backslash is a separator on Windows, and `%2f` a slash the router did not see: neither
  // names a file here, whatever the platform.
  if (decoded.includes('\\') || /%2f/i.test(rest)) return MISSING;
  const trailing = decoded === '' || decoded.endsWith('/');
  const out = [];
  let dot = false;
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') return BAD;
    dot ||= segment[0] === '.';
    out.push(segment);
  }
  if (dot && dotfiles !== 'allow') return dotfiles === 'deny' ? DENIED : MISSING;
  return { rel: out.join('/'), trailing };
}

// Whether any segment of an absolute path (res.sendFile without root) is a dotfile.
function hasDotSegment(path) {
  return path.split('/').some((s) => s[0] === '.' && s !== '.' && s !== '..');
}

function percentDecode(input) {
  if (!input.includes('%')) return Buffer.from(input);
  const out = [];
  const raw = Buffer.from(input);
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x25) {
      out.push(raw[i]);
      continue;
    }
    const hi = hex(raw[i + 1]);
    const lo = hex(raw[i + 2]);
    if (hi < 0 || lo < 0) return null;
    out.push(hi * 16 + lo);
    i += 2;
  }
  return Buffer.from(out);
}

function hex(b) {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}

// ignoreBOM: a leading U+FEFF is part of the name, as in Rust's from_utf8, not a mark to strip.
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function utf8(bytes) {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return null;
  }
}

// A file's validators (a `{ bigint: true }` stat, so a nanosecond mtime truncates to the same
// millisecond as in Rust): `"<size hex>-<mtime ms hex>"` (strong), the mtime in whole seconds.
function validatorsOf(stat) {
  const ns = stat.mtimeNs > 0n ? stat.mtimeNs : 0n;
  const ms = ns / 1_000_000n;
  return { etag: `"${stat.size.toString(16)}-${ms.toString(16)}"`, modified: Number(ns / 1_000_000_000n) };
}

// An HTTP date as seconds since the epoch, or null when it is not one (the header is then
// ignored), as Rust's httpdate reads it: IMF-fixdate, RFC 850 (a two-digit year under 70 is
// 20xx) or asctime, with the weekday that date really has, 1970 to 9999.
const IMF = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850 = /^(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, (\d{2})-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ( \d|\d{2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function parseDate(value) {
  if (typeof value !== 'string') return null;
  const text = value.trim();
  let m = IMF.exec(text);
  if (m !== null) return seconds(m[1], +m[4], m[3], +m[2], +m[5], +m[6], +m[7]);
  m = RFC850.exec(text);
  if (m !== null) {
    const yy = +m[4];
    return seconds(m[1].slice(0, 3), yy < 70 ? 2000 + yy : 1900 + yy, m[3], +m[2], +m[5], +m[6], +m[7]);
  }
  m = ASCTIME.exec(text);
  if (m !== null) return seconds(m[1], +m[7], m[2], +m[3].trim(), +m[4], +m[5], +m[6]);
  return null;
}

function seconds(weekday, year, month, day, h, min, s) {
  if (day < 1 || day > 31 || h > 23 || min > 59 || s > 59 || year < 1970 || year > 9999) return null;
  const date = new Date(Date.UTC(year, MONTHS.indexOf(month), day, h, min, s));
  // No day 31 in a 30-day month, and the weekday the date really has.
  if (date.getUTCDate() !== day || WEEKDAYS[date.getUTCDay()] !== weekday) return null;
  return Math.floor(date.getTime() / 1000);
}

function httpDate(secs) {
  return new Date(secs * 1000).toUTCString();
}

// `*`, or any listed tag equal to ours: strongly (If-Match: neither weak) or weakly (the opaque
// parts equal, W/ or not on either side; ours is weak for an encoded variant).
function matches(list, etag, strong) {
  if (list.trim() === '*') return true;
  if (etag === '') return false;
  const oursWeak = etag.startsWith('W/');
  const ours = oursWeak ? etag.slice(2) : etag;
  return list.split(',').some((item) => {
    const tag = item.trim();
    const weak = tag.startsWith('W/');
    return (weak ? tag.slice(2) : tag) === ours && !(strong && (weak || oursWeak));
  });
}

// 'proceed' | 'not-modified' | 'failed' (conditional.rs evaluate). `cond` holds the request's
// if-match, if-none-match, if-modified-since, if-unmodified-since (strings or undefined);
// `v` { etag ('' when off), modified (seconds, or null when off) }.
function evaluate(cond, v) {
  if (cond.ifMatch !== undefined) {
    if (!matches(cond.ifMatch, v.etag, true)) return 'failed';
  } else if (cond.ifUnmodifiedSince !== undefined && v.modified !== null) {
    const date = parseDate(cond.ifUnmodifiedSince);
    if (date !== null && v.modified > date) return 'failed';
  }
  if (cond.ifNoneMatch !== undefined) {
    if (matches(cond.ifNoneMatch, v.etag, false)) return 'not-modified';
  } else if (cond.ifModifiedSince !== undefined && v.modified !== null) {
    const date = parseDate(cond.ifModifiedSince);
    if (date !== null && v.modified <= date) return 'not-modified';
  }
  return 'proceed';
}

// Whether a Range is honoured: no If-Range, or one naming this version (an ETag compared
// strongly, or a date equal to Last-Modified).
function rangeApplies(cond, v) {
  if (cond.ifRange === undefined) return true;
  const value = cond.ifRange.trim();
  if (value.startsWith('"')) return v.etag !== '' && value === v.etag;
  if (value.startsWith('W/')) return false;
  const date = parseDate(value);
  return date !== null && v.modified !== null && date === v.modified;
}

// The Range header against a length: 'whole', 'unsatisfiable', or [[first, last], ...]
// (inclusive, request order, overlapping or adjacent ones merged).
function parseRanges(header, len) {
  if (header === undefined) return 'whole';
  const trimmed = header.trim();
  if (!trimmed.startsWith('bytes=')) return 'whole';
  const ranges = [];
  let any = false;
  for (const raw of trimmed.slice(6).split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    any = true;
    const dash = part.indexOf('-');
    if (dash === -1) return 'whole';
    const firstText = part.slice(0, dash);
    const lastText = part.slice(dash + 1);
    const first = number(firstText);
    const last = number(lastText);
    let range = null;
    if (first === null && last !== null && firstText === '') {
      if (last !== 0 && len !== 0) range = [Math.max(0, len - last), len - 1];
    } else if (first !== null && last === null && lastText === '') {
      if (first < len) range = [first, len - 1];
    } else if (first !== null && last !== null && first <= last) {
      if (first < len) range = [first, Math.min(last, len - 1)];
    } else return 'whole';
    if (range !== null) ranges.push(range);
    if (ranges.length > MAX_RANGES) return 'whole';
  }
  if (!any) return 'whole';
  if (ranges.length === 0) return 'unsatisfiable';
  return merge(ranges);
}

// Up to 19 digits, as Rust's u64 parse takes them (beyond 2^53 a number only loses precision in
// a range that is clamped to the file's length anyway).
function number(digits) {
  if (digits === '' || digits.length > 19 || !/^\d+$/.test(digits)) return null;
  return Number(digits);
}

function merge(ranges) {
  for (;;) {
    const out = [];
    for (const [a, b] of ranges) {
      const m = out.find(([x, y]) => a <= y + 1 && x <= b + 1);
      if (m === undefined) out.push([a, b]);
      else {
        m[0] = Math.min(m[0], a);
        m[1] = Math.max(m[1], b);
      }
    }
    if (out.length === ranges.length) return out;
    ranges = out;
  }
}

// A boundary that will not occur in the file: random hex, as Rust's.
function boundary() {
  return `hn${crypto.randomBytes(12).toString('hex')}`;
}

function partHeader(boundaryText, contentType, [a, b], len) {
  const type = contentType === '' ? '' : `\r\ncontent-type: ${contentType}`;
  return `\r\n--${boundaryText}${type}\r\ncontent-range: bytes ${a}-${b}/${len}\r\n\r\n`;
}

function closing(boundaryText) {
  return `\r\n--${boundaryText}--\r\n`;
}

// Rust's extension → type table (mime_guess's, written by scripts/mime-table.js), loaded with the
// first file answer.
let mimeTable;

// The Content-Type of a file from its extension (Rust's Path::extension: after the last dot of
// the name, none for `.env`), with a charset for text (headers.rs content_type);
// application/octet-stream when unknown.
function contentTypeOf(path) {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  const ext = dot <= 0 ? '' : name.slice(dot + 1).toLowerCase();
  mimeTable ??= require('./mime-table.json').types;
  if (!Object.hasOwn(mimeTable, ext)) return 'application/octet-stream';
  const mime = mimeTable[ext];
  if (mime.startsWith('text/') || mime === 'application/javascript' || mime === 'application/json' || mime === 'image/svg+xml') {
    return `${mime}; charset=utf-8`;
  }
  return mime;
}

// `attachment; filename="report.pdf"`, plus `filename*=UTF-8''…` when the name is not printable
// ASCII or had to be changed (headers.rs attachment). Only the final path segment is used.
function attachment(name) {
  const base = name.split(/[/\\]/).pop();
  let fallback = '';
  let plain = true;
  for (const ch of base) {
    const code = ch.codePointAt(0);
    if (code < 0x20 || code >= 0x7f) plain = false;
    if (ch === '"' || ch === '\\') fallback += '_';
    else fallback += code >= 0x20 && code <= 0x7e ? ch : '?';
  }
  let out = `attachment; filename="${fallback}"`;
  if (!plain || fallback !== base) {
    out += "; filename*=UTF-8''";
    for (const b of Buffer.from(base)) {
      const c = String.fromCharCode(b);
      out += /[A-Za-z0-9!#$&+\-.^_`|~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

module.exports = {
  relative,
  hasDotSegment,
  validatorsOf,
  parseDate,
  httpDate,
  evaluate,
  rangeApplies,
  parseRanges,
  boundary,
  partHeader,
  closing,
  contentTypeOf,
  attachment,
  BAD,
  DENIED,
  MISSING,
  MAX_RANGES,
};
