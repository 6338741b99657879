'use strict';
// The JavaScript backend's route table: for a request's method and path, what src/router.rs (and
// the dispatch around it, src/dispatch.rs) decides for the native backend — a JS route and its
// decoded parameters, an `app.static` answer, a directory mount, a 400 for a parameter that does
// not decode, a 426 for a path only a WebSocket route has, or nothing (404, or JS's unmatched
// chain). Built from the very arrays js/app.js hands to NativeServer.start (docs/bridge.md,
// "Native surface"), so one app routes the same on every backend; __test__/fixtures/
// routing-cases.json is the table of cases every backend must pass.
//
// The rules, as Rust's:
// - A path with no parameter is looked up whole in a Map first. An exact entry without a route
//   for the method falls through to the parameter routes.
// - Else the parameter routes, one segment at a time: a literal segment first, then a `:param`
//   (one whole, non-empty segment), then a `*wildcard` (the non-empty rest), backtracking to the
//   next choice when a branch ends without a route (matchit's order). The first route found is
//   the answer even when it has nothing for the request's method: the search does not go on to
//   another pattern that has (Rust's tree returns one value per path).
// - For the route found: its own method's handler, else HEAD falls back to GET (RFC 9110
//   §9.3.2), else an ALL route.
// - Parameters are percent-decoded as Express decodes them (decodeURIComponent: '+' stays, a
//   malformed escape or one that is not UTF-8 makes the request a 400).
//
// Routes reach here as js/router.js writes them: parameters are whole segments and a wildcard is
// the last one. Rust's own syntax is wider (`/img:id.png`, `/a*` mid-segment); a path of that kind
// is refused here with HN_ERR_ROUTE rather than routed some other way. Braces are literal text, as
// in Rust.
const { HN_ERR_ROUTE } = require('../errors');

// The route id Rust sends JS for a request no route matched (`dispatchUnmatched`).
const NO_ROUTE = 0xffffffff;
// Rust keeps static answers and directory mounts in the id space of JS routes with these bits,
// and refuses JS ids that use them; the same ids are refused here.
const STATIC_BIT = 0x80000000;
const DIR_BIT = 0x40000000;

// Method codes as h1::parse::method_code gives them (docs/bridge.md, envelope `methodCode`); 0 is
// any other method. WS is a slot no request method reaches: only lookupWs reads it.
const METHOD_CODES = { GET: 1, HEAD: 2, POST: 3, PUT: 4, DELETE: 5, PATCH: 6, OPTIONS: 7 };
const GET = 1;
const HEAD = 2;
const WS = 8;
const METHOD_SLOTS = 9;

// matchit normalizes parameter names to the letters a..z and panics past them: Rust cannot
// start a route with more parameters, so neither can this table.
const MAX_PARAMS = 26;

// What each lookup that found nothing routable for a JS handler returns; frozen, so shared.
const BAD_ENCODING = Object.freeze({ kind: 'bad', status: 400 });
const WS_ONLY = Object.freeze({ kind: 'upgrade', status: 426 });

function methodCode(method) {
  return METHOD_CODES[method] ?? 0;
}

// What one path (or one pattern) answers, by method: a target per method slot, and ALL's.
class Entry {
  constructor() {
    this.byMethod = new Array(METHOD_SLOTS).fill(null);
    this.all = null;
  }

  pick(code) {
    const own = code === 0 ? null : this.byMethod[code] ?? null;
    if (own !== null) return own;
    if (code === HEAD && this.byMethod[GET] !== null) return this.byMethod[GET];
    return this.all;
  }
}

// One position in the parameter routes: literal children by segment text, at most one parameter
// child and one wildcard (never both: matchit refuses the pair), and the entry of the patterns
// that end here.
class Node {
  constructor() {
    this.statics = null;
    this.param = null;
    this.wildcard = null;
    this.entry = null;
  }
}

class RouteTable {
  // `routes`: [{ id, method, path, ws? }]; `statics`: [{ path }]; `dirs`: [{ prefix }] — the
  // arrays NativeServer.start takes (other fields are ignored here). Throws HN_ERR_ROUTE for what
  // Rust's start refuses, with Rust's words.
  constructor(routes = [], statics = [], dirs = []) {
    this._exact = new Map();
    this._root = new Node();
    this._hasTree = false;
    this._hasWs = false;
    // matchit owns one value per pattern: routes of one pattern (other methods) share its entry.
    const patternEntry = new Map();
    const all = [];
    for (const route of routes) all.push({ id: route.id, method: route.method, path: route.path, target: null, ws: route.ws });
    statics.forEach((s, index) => all.push({ id: null, method: 'GET', path: s.path, target: Object.freeze({ kind: 'static', index }) }));
    for (const { id, method, path, target: staticTarget, ws } of all) {
      const where = JSON.stringify(path);
      if (staticTarget === null && (!Number.isInteger(id) || id < 0 || id >= NO_ROUTE || (id & (STATIC_BIT | DIR_BIT)) !== 0)) {
        throw new HN_ERR_ROUTE(`route id ${id} is reserved`);
      }
      if (typeof path !== 'string') throw new HN_ERR_ROUTE(`route path ${where} must be a string`);
      if (staticTarget !== null && /[:*]/.test(path)) throw new HN_ERR_ROUTE(`static path ${where} cannot have parameters`);
      const slot = methodSlot(method);
      if (slot === undefined) throw new HN_ERR_ROUTE(`unsupported method ${JSON.stringify(method)} for route ${where}`);
      if (!path.startsWith('/')) throw new HN_ERR_ROUTE(`route path ${where} must start with '/'`);
      if (method === 'WS') {
        if (ws === undefined || ws === null) throw new HN_ERR_ROUTE(`WebSocket route ${where} without its options`);
        this._hasWs = true;
      } else if (ws !== undefined && ws !== null) {
        throw new HN_ERR_ROUTE(`route ${where}: ws options on a ${method} route`);
      }
      // napi hands Rust the path as UTF-8: a lone surrogate arrives as U+FFFD.
      const key = path.toWellFormed();
      let entry;
      if (!/[:*]/.test(key)) {
        entry = this._exactEntry(key);
      } else {
        entry = patternEntry.get(key);
        if (entry === undefined) {
          entry = new Entry();
          this._insert(parsePattern(key), entry, `route ${where} conflicts with another route`);
          patternEntry.set(key, entry);
        }
      }
      const target = staticTarget ?? { kind: 'route', id };
      const current = slot === null ? entry.all : entry.byMethod[slot];
      if (current !== null && !(current.kind === 'route' && target.kind === 'route' && current.id === target.id)) {
        throw new HN_ERR_ROUTE(`route ${method} ${where} is registered twice`);
      }
      if (slot === null) entry.all = target;
      else entry.byMethod[slot] = target;
    }
    dirs.forEach((dir, index) => this._mount(index, dir.prefix));
  }

  // What answers `method` (its code: methodCode()) on `rawPath`, the request's path as sent (not
  // decoded; anything from a '?' on is ignored):
  //   { kind: 'route', id, params }  a JS route; params decoded, in path order
  //   { kind: 'static', index }      statics[index]
  //   { kind: 'dir', index, rest }   dirs[index]; rest is the raw path below the mount ('' for
  //                                  the mount with its slash), null for the mount point without
  //                                  its slash (a directory to redirect to)
  //   { kind: 'bad', status: 400 }   a JS route whose parameter does not decode
  //   { kind: 'upgrade', status: 426 } GET or HEAD on a path only a WebSocket route has
  //   null                           nothing: 404, or JS's unmatched chain (dispatchUnmatched)
  // `method` (the name) is not needed: Rust routes by code, and any other method only reaches
  // ALL routes.
  lookup(code, method, rawPath) {
    const path = pathOf(rawPath);
    const found = this._find(path, code);
    if (found !== null) return found;
    if ((code === GET || code === HEAD) && this._hasWs && this._find(path, WS) !== null) return WS_ONLY;
    return null;
  }

  // The WebSocket route for an upgrade request's path: { kind: 'route', id, params } (or the 400
  // answer, or null), as lookup() gives them.
  lookupWs(rawPath) {
    if (!this._hasWs) return null;
    return this._find(pathOf(rawPath), WS);
  }

  get hasWs() {
    return this._hasWs;
  }

  _find(path, slot) {
    const exact = this._exact.get(path);
    if (exact !== undefined) {
      const target = slot === WS ? exact.byMethod[WS] : exact.pick(slot);
      if (target !== null) return answer(target, null, path, null);
    }
    if (!this._hasTree || path.charCodeAt(0) !== 0x2f) return null;
    const spans = [];
    const node = match(this._root, path, 0, spans);
    if (node === null) return null;
    const target = slot === WS ? node.entry.byMethod[WS] : node.entry.pick(slot);
    if (target === null) return null;
    return answer(target, spans, path, node);
  }

  _exactEntry(path) {
    let entry = this._exact.get(path);
    if (entry === undefined) {
      entry = new Entry();
      this._exact.set(path, entry);
    }
    return entry;
  }

  // Adds a pattern's segments to the tree, refusing what matchit refuses: a wildcard where a
  // parameter or another wildcard already is, a parameter where a wildcard is, and the same shape
  // twice (other parameter names included: matchit sees `{a}` for both).
  _insert(segments, entry, conflict) {
    let node = this._root;
    for (const segment of segments) {
      if (segment.kind === 'static') {
        if (node.statics === null) node.statics = new Map();
        let next = node.statics.get(segment.text);
        if (next === undefined) {
          next = new Node();
          node.statics.set(segment.text, next);
        }
        node = next;
      } else if (segment.kind === 'param') {
        if (node.wildcard !== null) throw new HN_ERR_ROUTE(conflict);
        if (node.param === null) node.param = new Node();
        node = node.param;
      } else {
        if (node.wildcard !== null || node.param !== null) throw new HN_ERR_ROUTE(conflict);
        node.wildcard = new Node();
        node = node.wildcard;
      }
    }
    if (node.entry !== null) throw new HN_ERR_ROUTE(conflict);
    node.entry = entry;
    this._hasTree = true;
  }

  // A directory mount (src/router.rs `mount`): GET (and HEAD through it) on the prefix, the prefix
  // with its slash, and every path below it. Routes on more specific paths below still win.
  _mount(index, prefix) {
    if (typeof prefix !== 'string' || !prefix.startsWith('/') || /[:*{}]/.test(prefix)) {
      throw new HN_ERR_ROUTE(`mount path ${JSON.stringify(prefix)} must start with '/' and have no parameters`);
    }
    const target = { kind: 'dir', index };
    const base = prefix.replace(/\/+$/, '');
    const entries = [];
    for (const path of [base, `${base}/`]) {
      if (path !== '') entries.push([path, this._exactEntry(path)]);
    }
    const rest = new Entry();
    this._insert([...parsePattern(base), { kind: 'wildcard' }], rest, `static directory ${JSON.stringify(prefix)} conflicts with a route`);
    entries.push([prefix, rest]);
    for (const [path, entry] of entries) {
      if (entry.byMethod[GET] !== null) {
        throw new HN_ERR_ROUTE(`static directory ${JSON.stringify(prefix)} overlaps route GET ${JSON.stringify(path)}`);
      }
      entry.byMethod[GET] = target;
    }
  }
}

// The path of a request target: what Rust routes on (the parser splits the query off first).
function pathOf(rawPath) {
  const q = rawPath.indexOf('?');
  return q === -1 ? rawPath : rawPath.slice(0, q);
}

// Depth-first over the tree from `node`, the path consumed up to `pos` (at a '/' or the end):
// literal, then parameter, then wildcard. `spans` collects [start, end) of each parameter value;
// the node whose entry matched, or null.
function match(node, path, pos, spans) {
  if (pos === path.length) return node.entry === null ? null : node;
  // Only a '/' follows a consumed segment (the tree starts each segment after one).
  const start = pos + 1;
  let end = path.indexOf('/', start);
  if (end === -1) end = path.length;
  if (node.statics !== null) {
    const next = node.statics.get(path.slice(start, end));
    if (next !== undefined) {
      const found = match(next, path, end, spans);
      if (found !== null) return found;
    }
  }
  if (node.param !== null && end > start) {
    spans.push(start, end);
    const found = match(node.param, path, end, spans);
    if (found !== null) return found;
    spans.length -= 2;
  }
  if (node.wildcard !== null && path.length > start && node.wildcard.entry !== null) {
    spans.push(start, path.length);
    return node.wildcard;
  }
  return null;
}

function answer(target, spans, path, node) {
  if (target.kind === 'static') return target;
  if (target.kind === 'dir') {
    // Below the mount: its wildcard's raw value. At the mount itself: '' with the slash, null
    // without (src/dispatch.rs). Decoding it is the file server's business.
    let rest;
    if (node !== null) rest = path.slice(spans[spans.length - 2]);
    else rest = path.endsWith('/') ? '' : null;
    return { kind: 'dir', index: target.index, rest };
  }
  const params = [];
  if (spans !== null) {
    for (let i = 0; i < spans.length; i += 2) {
      const value = decodeParam(path.slice(spans[i], spans[i + 1]));
      if (value === null) return BAD_ENCODING;
      params.push(value);
    }
  }
  return { kind: 'route', id: target.id, params };
}

// A parameter value percent-decoded as Rust's percent_decode_into and Express's decode_param do
// it, or null when an escape is malformed or the bytes are not UTF-8 (the request is then a 400).
function decodeParam(raw) {
  if (raw.indexOf('%') === -1) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

// `null` for ALL, the method's slot, or undefined for a method Rust cannot route.
function methodSlot(method) {
  if (method === 'ALL') return null;
  if (method === 'WS') return WS;
  const code = methodCode(method);
  return code === 0 ? undefined : code;
}

// A route path's segments after the leading '/': { kind: 'static', text } | { kind: 'param' } |
// { kind: 'wildcard' }. Rust's naming rules (src/router.rs to_matchit): a name is [A-Za-z0-9_]*,
// ':' needs one, a bare '*' is a wildcard named 'wildcard'; js/router.js's rule on top: a
// parameter is a whole segment, and a wildcard the last one.
function parsePattern(path) {
  const segments = [];
  const parts = path.split('/');
  let params = 0;
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i];
    if (!/[:*]/.test(part)) {
      segments.push({ kind: 'static', text: part });
      continue;
    }
    const where = JSON.stringify(path);
    if (part.startsWith('*') && /^\*\w*$/.test(part)) {
      if (i !== parts.length - 1) throw new HN_ERR_ROUTE(`route ${where}: a wildcard must end the path`);
      segments.push({ kind: 'wildcard' });
      continue;
    }
    if (part === ':') throw new HN_ERR_ROUTE(`route ${where}: ':' must be followed by a parameter name`);
    if (!/^:\w+$/.test(part)) {
      throw new HN_ERR_ROUTE(`route ${where}: the JavaScript backend's router takes parameters as whole segments (':name', '*name' last)`);
    }
    if (++params > MAX_PARAMS) throw new HN_ERR_ROUTE(`route ${where}: more than ${MAX_PARAMS} parameters`);
    segments.push({ kind: 'param' });
  }
  return segments;
}

// One spelling for every way of writing the same request target, for matching cache keys
// against invalidation patterns (src/router.rs `canonical_target`): in the path, escapes the
// router would decode to the same parameter are decoded (`/x/%31` and `/x/1`), except those of
// '/', '?', '#' and '%', which change what the target means and keep their escape (upper case).
// The query is kept as sent. A target whose decoding is not UTF-8 is its own canonical form.
function canonicalTarget(target) {
  const q = target.indexOf('?');
  const pathEnd = q === -1 ? target.length : q;
  const path = target.slice(0, pathEnd);
  if (path.indexOf('%') === -1) return target;
  const bytes = utf8Encoder.encode(path);
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i] === 0x25 && i + 2 < bytes.length ? escapedByte(bytes[i + 1], bytes[i + 2]) : -1;
    if (b === 0x2f || b === 0x3f || b === 0x23 || b === 0x25) {
      out[n++] = 0x25;
      out[n++] = HEX_UPPER.charCodeAt(b >> 4);
      out[n++] = HEX_UPPER.charCodeAt(b & 15);
      i += 3;
    } else if (b !== -1) {
      out[n++] = b;
      i += 3;
    } else {
      out[n++] = bytes[i++];
    }
  }
  let decoded;
  try {
    decoded = strictUtf8.decode(out.subarray(0, n));
  } catch {
    return target;
  }
  return decoded + target.slice(pathEnd);
}

const HEX_UPPER = '0123456789ABCDEF';
const utf8Encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is part of the text, as it is to Rust's from_utf8.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function hexValue(c) {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

// The byte `%hi lo` stands for, or -1 when they are not two hex digits.
function escapedByte(hi, lo) {
  const h = hexValue(hi);
  const l = hexValue(lo);
  return h === -1 || l === -1 ? -1 : h * 16 + l;
}

module.exports = { RouteTable, methodCode, decodeParam, canonicalTarget, NO_ROUTE };
