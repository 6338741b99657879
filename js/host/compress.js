'use strict';
// The JavaScript backend's response compression: what src/compress/ does for the native one, with
// node:zlib. One `compression` spec (js/options.js `compression()`, Rust's CompressionSpec:
// `{ enabled, threshold?, encodings?, gzipLevel?, brotliLevel?, zstdLevel?, types? }`) decides
// which codings are offered (in the app's order), above which size, for which media types.
//
//   negotiate(spec, acceptEncoding, status, headers, { head, length }?) → 'br' | 'zstd' | 'gzip' | null
//       the coding this answer goes out in: null when the spec is off, the client accepts none of
//       the codings (q-values, `*`, `identity` ranked above them), or the answer is not one to
//       compress (status 1xx/204/206/304, HEAD, a Content-Encoding of its own, Cache-Control:
//       no-transform, a type outside the list, a `length` under the threshold; `length`
//       undefined is a stream, compressed whatever its size)
//   varies(spec, status, headers) → bool: the answer carries `Vary: Accept-Encoding` (it would be
//       compressed for some client), whether or not this request gets it compressed
//   rewriteHeaders(headers, encoding, vary) → headers as they go out: Content-Length dropped and
//       a strong ETag weakened when encoded, Content-Encoding set, Accept-Encoding merged into Vary
//   compressWhole(encoding, spec, buf) → Buffer, or a Promise<Buffer> for a body over
//       SYNC_LIMIT (await either)
//   compressStream(encoding, spec, { flush = true }?) → a Transform that flushes after every
//       write, so each piece of a streamed answer (an SSE event) reaches the client decodable
//       at once
//   acceptedCoding(spec, acceptEncoding) → the coding the client's header picks among the spec's
//       (Rust's `Policy::negotiate` alone), for callers that decide the rest themselves
//   pickCoding(encodings, acceptEncoding) → the same among any list of codings (precompressed
//       siblings are chosen among all three, whatever node:zlib can make)
//
// `headers` are [name, value] pairs, names in any case. Differences from Rust: zstd is offered
// only where node:zlib has it (node ≥ 22.15 / 23.8); elsewhere a spec's 'zstd' is skipped as if
// not listed. The bytes differ from Rust's encoders' (same formats, levels and windows).
const zlib = require('node:zlib');

// Bodies shorter than this go out as they are (src/compress/policy.rs DEFAULT_THRESHOLD).
const DEFAULT_THRESHOLD = 1024;
// Levels (src/compress/policy.rs Levels): zlib's default 6, brotli quality 4 (dynamic content),
// zstd's default 3.
const DEFAULT_LEVELS = { gzip: 6, br: 4, zstd: 3 };
// Whole bodies up to this size are compressed synchronously: about a millisecond of CPU at the
// default levels, less than a trip to the thread pool costs in latency; larger ones go to it so
// the event loop keeps serving.
const SYNC_LIMIT = 64 * 1024;
// Brotli/zstd history of a stream (src/compress/codec.rs STREAM_WINDOW_LOG): a stream's encoder
// lives as long as the answer (an SSE stream: hours), so each is kept small.
const STREAM_WINDOW_LOG = 16;
// Brotli's window bounds for whole bodies (codec.rs): sized to the body, at most 2^22.
const BROTLI_MIN_WINDOW_LOG = 10;
const BROTLI_MAX_WINDOW_LOG = 22;
// The server's order when the spec gives none: brotli and zstd compress text better than gzip
// at a comparable cost, brotli is the one every browser decodes.
const DEFAULT_ENCODINGS = ['br', 'zstd', 'gzip'];
const HAS_ZSTD = typeof zlib.createZstdCompress === 'function';
// Types outside text/*, +json and +xml worth compressing (src/compress/types.rs DEFAULT_TYPES).
const DEFAULT_TYPES = new Set([
  'application/json',
  'application/x-ndjson',
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/xml',
  'application/wasm',
  'application/graphql',
  'application/yaml',
  'application/x-yaml',
  'application/toml',
  'application/rtf',
  'application/x-sh',
  'application/x-tar',
  'application/x-www-form-urlencoded',
  'application/vnd.ms-fontobject',
  'application/x-font-ttf',
  'application/x-font-otf',
  'font/ttf',
  'font/otf',
  'image/bmp',
  'image/x-icon',
  'image/vnd.microsoft.icon',
]);
// q-values in thousandths, the precision RFC 9110 §12.4.2 allows.
const FULL = 1000;
const QVALUE = /^(?:0(?:\.(\d{0,3}))?|1(?:\.0{0,3})?)$/;

// The policy a spec describes (null: off), made once per spec object.
const policies = new WeakMap();

function policyOf(spec) {
  if (spec === undefined || spec === null || spec.enabled === false) return null;
  let policy = policies.get(spec);
  if (policy === undefined) {
    const encodings = [];
    for (const name of spec.encodings ?? DEFAULT_ENCODINGS) {
      const coding = codingOf(name);
      if (coding === null || coding === 'identity' || encodings.includes(coding)) continue;
      if (coding === 'zstd' && !HAS_ZSTD) continue;
      encodings.push(coding);
    }
    policy = {
      encodings,
      threshold: spec.threshold ?? DEFAULT_THRESHOLD,
      levels: {
        gzip: clamp(spec.gzipLevel ?? DEFAULT_LEVELS.gzip, 1, 9),
        br: clamp(spec.brotliLevel ?? DEFAULT_LEVELS.br, 0, 11),
        zstd: clamp(spec.zstdLevel ?? DEFAULT_LEVELS.zstd, 1, 19),
      },
      types: spec.types === undefined ? null : spec.types.map((t) => t.trim().toLowerCase()),
    };
    policies.set(spec, policy);
  }
  return policy;
}

function clamp(n, min, max) {
  return Math.min(max, Math.max(min, n));
}

// The coding a token names (case-insensitive; x-gzip is gzip, RFC 9110 §8.4.1.3).
function codingOf(token) {
  switch (token.toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return 'gzip';
    case 'br':
      return 'br';
    case 'zstd':
      return 'zstd';
    case 'identity':
      return 'identity';
    default:
      return null;
  }
}

// src/compress/negotiate.rs: the best coding among `encodings` (server order) for the header.
// Acceptable: listed, or covered by `*`, with q > 0; the highest q wins, ties go to the server's
// order; identity wins only when ranked strictly above every acceptable coding. No header, or
// nothing acceptable → null (identity), even after `identity;q=0`.
function pick(encodings, header) {
  if (typeof header !== 'string') return null;
  const listed = new Map();
  let star;
  for (const entry of header.split(',')) {
    const params = entry.split(';');
    const token = params[0].trim();
    if (token === '') continue;
    const weight = weightOf(params);
    if (weight === null) continue;
    if (token === '*') {
      star = star === undefined ? weight : Math.max(star, weight);
      continue;
    }
    const coding = codingOf(token);
    if (coding === null) continue;
    const had = listed.get(coding);
    listed.set(coding, had === undefined ? weight : Math.max(had, weight));
  }
  let best = null;
  let bestWeight = 0;
  for (const coding of encodings) {
    const w = listed.get(coding) ?? star ?? 0;
    if (w > bestWeight) {
      best = coding;
      bestWeight = w;
    }
  }
  const identity = listed.get('identity') ?? star;
  if (identity !== undefined && identity > bestWeight) return null;
  return best;
}

// The q of one entry (`;q=0.8`, default 1); null when malformed, which drops the entry.
function weightOf(params) {
  let weight = FULL;
  for (let i = 1; i < params.length; i++) {
    const param = params[i].trim();
    const eq = param.indexOf('=');
    if (eq === -1) continue;
    if (param.slice(0, eq).trim().toLowerCase() !== 'q') continue;
    const match = QVALUE.exec(param.slice(eq + 1).trim());
    if (match === null) return null;
    weight = param.slice(eq + 1).trim()[0] === '1' ? FULL : Number((match[1] ?? '').padEnd(3, '0'));
  }
  return weight;
}

function acceptedCoding(spec, acceptEncoding) {
  const policy = policyOf(spec);
  return policy === null ? null : pick(policy.encodings, acceptEncoding);
}

// What an answer's headers say about compressing it (src/compress/headers.rs Facts).
function factsOf(headers) {
  let contentType;
  let encoded = false;
  let noTransform = false;
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === 'content-type') contentType = value;
    else if (lower === 'content-encoding') {
      const v = value.trim();
      encoded ||= v !== '' && v.toLowerCase() !== 'identity';
    } else if (lower === 'cache-control') noTransform ||= listHas(value, 'no-transform');
  }
  return { contentType, encoded, noTransform };
}

// Whether a comma-separated value lists `token` (directives with arguments compared by name).
function listHas(value, token) {
  for (const item of value.split(',')) {
    const trimmed = item.trim();
    const eq = trimmed.indexOf('=');
    if ((eq === -1 ? trimmed : trimmed.slice(0, eq).trim()).toLowerCase() === token) return true;
  }
  return false;
}

function essence(contentType) {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

// src/compress/types.rs: the default list, or the app's patterns (`type/subtype`, `type/*`,
// `*/*+suffix`); no Content-Type is never compressed.
function typeMatches(policy, contentType) {
  if (contentType === undefined) return false;
  const type = essence(contentType);
  if (policy.types === null) return compressible(type);
  return policy.types.some((pattern) => {
    if (pattern.startsWith('*/*')) return pattern.length > 3 && type.endsWith(pattern.slice(3));
    if (pattern.endsWith('/*')) {
      const top = pattern.slice(0, -1);
      return type.length > top.length && type.startsWith(top);
    }
    return type === pattern;
  });
}

function compressible(type) {
  const slash = type.indexOf('/');
  if (slash === -1) return false;
  return type.slice(0, slash) === 'text' || type.endsWith('+json') || type.endsWith('+xml') || DEFAULT_TYPES.has(type);
}

function variesBy(policy, status, facts) {
  return (
    policy.encodings.length > 0 &&
    status >= 200 &&
    status !== 204 &&
    status !== 206 &&
    status !== 304 &&
    !facts.encoded &&
    !facts.noTransform &&
    typeMatches(policy, facts.contentType)
  );
}

function varies(spec, status, headers) {
  const policy = policyOf(spec);
  return policy !== null && variesBy(policy, status, factsOf(headers));
}

function negotiate(spec, acceptEncoding, status, headers, { head = false, length } = {}) {
  const policy = policyOf(spec);
  if (policy === null || head) return null;
  const coding = pick(policy.encodings, acceptEncoding);
  if (coding === null) return null;
  if (length !== undefined && length < policy.threshold) return null;
  return variesBy(policy, status, factsOf(headers)) ? coding : null;
}

// src/compress/headers.rs rewrite_headers.
function rewriteHeaders(headers, encoding, vary) {
  const out = [];
  let varyDone = !vary;
  for (const pair of headers) {
    const lower = pair[0].toLowerCase();
    if (encoding !== null && (lower === 'content-length' || lower === 'content-encoding')) continue;
    if (encoding !== null && lower === 'etag') out.push([pair[0], weakenEtag(pair[1])]);
    else if (!varyDone && lower === 'vary') {
      varyDone = true;
      out.push([pair[0], varyAcceptEncoding(pair[1]) ?? pair[1]]);
    } else out.push(pair);
  }
  if (!varyDone) out.push(['vary', 'Accept-Encoding']);
  if (encoding !== null) out.push(['content-encoding', encoding]);
  return out;
}

// A Vary value with Accept-Encoding added; null when it already lists it or is `*`.
function varyAcceptEncoding(existing) {
  if (listHas(existing, 'accept-encoding') || listHas(existing, '*')) return null;
  const trimmed = existing.trim();
  return trimmed === '' ? 'Accept-Encoding' : `${trimmed}, Accept-Encoding`;
}

// The ETag of an encoded variant: `"x"` becomes `W/"x"` (strong comparison must fail, weak
// revalidation still matches); a weak tag is kept.
function weakenEtag(etag) {
  const trimmed = etag.trim();
  return trimmed.startsWith('W/') ? trimmed : `W/${trimmed}`;
}

// The smallest brotli window holding `len` bytes (16 bytes of slack, RFC 7932 §9.1).
function windowFor(len) {
  let lg = BROTLI_MIN_WINDOW_LOG;
  while (lg < BROTLI_MAX_WINDOW_LOG && (1 << lg) - 16 < len) lg++;
  return lg;
}

function wholeOptions(encoding, policy, len) {
  const level = policy.levels[encoding];
  if (encoding === 'gzip') return { level };
  if (encoding === 'br') {
    const { BROTLI_PARAM_QUALITY, BROTLI_PARAM_LGWIN, BROTLI_PARAM_SIZE_HINT } = zlib.constants;
    return { params: { [BROTLI_PARAM_QUALITY]: level, [BROTLI_PARAM_LGWIN]: windowFor(len), [BROTLI_PARAM_SIZE_HINT]: len } };
  }
  return { params: { [zlib.constants.ZSTD_c_compressionLevel]: level } };
}

const SYNC = { gzip: zlib.gzipSync, br: zlib.brotliCompressSync, zstd: zlib.zstdCompressSync };
const ASYNC = { gzip: zlib.gzip, br: zlib.brotliCompress, zstd: zlib.zstdCompress };

function compressWhole(encoding, spec, buf) {
  const policy = policyOf(spec) ?? policyOf({ enabled: true });
  const options = wholeOptions(encoding, policy, buf.length);
  if (buf.length <= SYNC_LIMIT) return SYNC[encoding](buf, options);
  return new Promise((resolve, reject) => {
    ASYNC[encoding](buf, options, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

// `flush: false` (a file's bytes, which nobody waits for piece by piece) lets the encoder fill
// its blocks instead.
function compressStream(encoding, spec, { flush = true } = {}) {
  const policy = policyOf(spec) ?? policyOf({ enabled: true });
  const level = policy.levels[encoding];
  const c = zlib.constants;
  if (encoding === 'gzip') return zlib.createGzip({ level, flush: flush ? c.Z_SYNC_FLUSH : c.Z_NO_FLUSH });
  if (encoding === 'br') {
    return zlib.createBrotliCompress({
      flush: flush ? c.BROTLI_OPERATION_FLUSH : c.BROTLI_OPERATION_PROCESS,
      params: { [c.BROTLI_PARAM_QUALITY]: level, [c.BROTLI_PARAM_LGWIN]: STREAM_WINDOW_LOG },
    });
  }
  return zlib.createZstdCompress({
    flush: flush ? c.ZSTD_e_flush : c.ZSTD_e_continue,
    params: { [c.ZSTD_c_compressionLevel]: level, [c.ZSTD_c_windowLog]: STREAM_WINDOW_LOG },
  });
}

module.exports = {
  negotiate,
  varies,
  rewriteHeaders,
  compressWhole,
  compressStream,
  acceptedCoding,
  pickCoding: pick,
  weakenEtag,
  policyOf,
  typeMatches,
  HAS_ZSTD,
  SYNC_LIMIT,
};
