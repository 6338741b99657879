'use strict';
// The JavaScript backend's `RateLimitCounter` and `SessionStore`: the addon's two stateful classes
// (docs/bridge.md "Native surface"; src/guard/napi.rs, src/session_store.rs, src/ttl_map.rs) with
// the same API, arguments, errors and semantics, for when no addon loads.
//
//   const counter = new RateLimitCounter(windowMs, maxKeys?, maxBytes?, shared?)
//   counter.hit(key) → [count in this window, ms until it ends]   (fixed windows)
//   counter.decrement(key); counter.resetKey(key); counter.resetAll()
//   counter.handle() → an opaque object (the JS backend runs no native guards)
//   const store = new SessionStore({ maxSessions?, maxBytes?, shared? })
//   store.get(id) → string | null; store.set(id, json, ttlMs) → bool; store.touch(id, ttlMs) → bool
//   store.destroy(id) → bool; store.length; store.clear()
//
// Both keep their entries in one `TtlMap`: bounded in entries and bytes (each entry weighs
// ENTRY_OVERHEAD + its key's and value's UTF-8 bytes, as in Rust), evicting expired entries first,
// then the one that expires soonest. Differences from the addon, each deliberate:
// - Rust splits a map into 16 shards, each holding 1/16 of the bounds, for threads; JS has one
//   thread, so one map holds the whole bounds (it never evicts earlier than the addon would). An
//   entry alone over 1/16 of `maxBytes` is still refused, so `set()` answers as the addon does.
// - `shared` names a map within this thread only: worker threads cannot share JS memory.
const { performance } = require('node:perf_hooks');

// The addon's defaults and limits (src/guard/napi.rs, src/session_store.rs, src/ttl_map.rs): see
// there for their reasons.
const DEFAULT_MAX_KEYS = 100_000;
const DEFAULT_MAX_COUNTER_BYTES = 32 * 1024 * 1024;
const DEFAULT_MAX_SESSIONS = 10_000;
const DEFAULT_MAX_SESSION_BYTES = 64 * 1024 * 1024;
const MAX_TTL_MS = 400 * 24 * 3600 * 1000;
const ENTRY_OVERHEAD = 192;
// Rust's shard count: an entry over one shard's share of the byte bound is never kept.
const SHARDS = 16;
const U32_MAX = 0xffff_ffff;
// The expiry heap keeps stale nodes (touched or removed entries) until they surface; past this
// many per live entry it is rebuilt, so touches cannot grow it without end.
const HEAP_SLACK = 2;

// Errors shaped as napi-rs throws them (`code` is the napi status), so callers that look at them
// see the same thing on both backends.
function napiError(code, message, Type = Error) {
  const err = new Type(message);
  err.code = code;
  return err;
}

function str(value) {
  if (typeof value === 'string') return value;
  throw napiError('StringExpected', `Failed to convert JavaScript value \`${describe(value)}\` into rust type \`String\``);
}

function num(value) {
  if (typeof value === 'number') return value;
  throw napiError('NumberExpected', `Failed to convert napi value ${describe(value)} into rust type \`f64\``);
}

function describe(value) {
  if (value === undefined) return 'Undefined';
  if (value === null) return 'Null';
  if (typeof value === 'number') return `Number ${value} `;
  const type = typeof value;
  return type[0].toUpperCase() + type.slice(1) + (type === 'object' ? ' {}' : '');
}

// napi's u32 conversion of an optional argument (napi_get_value_uint32: truncates, wraps).
function u32(value, fallback) {
  if (value === undefined || value === null) return fallback;
  return num(value) >>> 0;
}

function optionalNumber(value, fallback) {
  return value === undefined || value === null ? fallback : num(value);
}

// A min-heap of [expires, seq, key] by (expires, seq); stale nodes are skipped where they surface.
class ExpiryHeap {
  constructor() {
    this.nodes = [];
  }

  push(node) {
    const nodes = this.nodes;
    nodes.push(node);
    let i = nodes.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(node, nodes[parent])) break;
      nodes[i] = nodes[parent];
      i = parent;
    }
    nodes[i] = node;
  }

  peek() {
    return this.nodes[0];
  }

  pop() {
    const nodes = this.nodes;
    const top = nodes[0];
    const last = nodes.pop();
    if (nodes.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= nodes.length) break;
        const r = l + 1;
        const child = r < nodes.length && before(nodes[r], nodes[l]) ? r : l;
        if (!before(nodes[child], last)) break;
        nodes[i] = nodes[child];
        i = child;
      }
      nodes[i] = last;
    }
    return top;
  }
}

function before(a, b) {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

// src/ttl_map.rs with one shard: entries { value, expires, seq, weight } by key.
class TtlMap {
  constructor(maxEntries, maxBytes) {
    this.maxEntries = maxEntries;
    this.maxBytes = maxBytes;
    this.entryBytes = Math.max(1, Math.ceil(maxBytes / SHARDS));
    this.clear();
  }

  clear() {
    this.map = new Map();
    this.heap = new ExpiryHeap();
    this.bytes = 0;
    this.seq = 0;
  }

  static weigh(key, value) {
    return ENTRY_OVERHEAD + Buffer.byteLength(key) + (typeof value === 'string' ? Buffer.byteLength(value) : 0);
  }

  // The live entry under `key`; an expired one is removed on the way.
  live(key, now) {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires <= now) {
      this.remove(key);
      return undefined;
    }
    return entry;
  }

  remove(key) {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    this.map.delete(key);
    this.bytes -= entry.weight;
    return entry;
  }

  // The heap's front node if it still names its entry as indexed (else it is dropped).
  front() {
    for (;;) {
      const node = this.heap.peek();
      if (node === undefined) return undefined;
      const entry = this.map.get(node[2]);
      if (entry !== undefined && entry.seq === node[1]) return node;
      this.heap.pop();
    }
  }

  purge(now) {
    for (let node = this.front(); node !== undefined && node[0] <= now; node = this.front()) {
      this.heap.pop();
      this.remove(node[2]);
    }
  }

  makeRoom(incoming) {
    while (this.map.size > 0 && (this.map.size + 1 > this.maxEntries || this.bytes + incoming > this.maxBytes)) {
      const node = this.front();
      if (node === undefined) break;
      this.heap.pop();
      this.remove(node[2]);
    }
  }

  index(key, entry) {
    entry.seq = ++this.seq;
    this.heap.push([entry.expires, entry.seq, key]);
    if (this.heap.nodes.length > HEAP_SLACK * this.map.size + 64) this.rebuild();
  }

  rebuild() {
    const heap = new ExpiryHeap();
    for (const [key, entry] of this.map) heap.push([entry.expires, entry.seq, key]);
    this.heap = heap;
  }

  put(key, value, weight, now, ttl) {
    this.purge(now);
    this.makeRoom(weight);
    const entry = { value, expires: now + ttl, seq: 0, weight };
    this.map.set(key, entry);
    this.bytes += weight;
    this.index(key, entry);
    return entry;
  }

  insert(key, value, ttl, now) {
    const weight = TtlMap.weigh(key, value);
    this.remove(key);
    if (weight > this.entryBytes) return false;
    this.put(key, value, weight, now, ttl);
    return true;
  }

  touch(key, ttl, now) {
    const entry = this.live(key, now);
    if (entry === undefined) return false;
    entry.expires = now + ttl;
    this.index(key, entry);
    return true;
  }

  size(now) {
    this.purge(now);
    return this.map.size;
  }
}

// Names bound to maps, as src/shared.rs binds them (per thread here). A name stays bound while an
// object made with it lives (a WeakRef to the first holder's map).
const sharedMaps = new Map();

function sharedMap(kind, name, make) {
  if (name === undefined || name === null) return make();
  const key = `${kind}\0${str(name)}`;
  const found = sharedMaps.get(key)?.deref();
  if (found !== undefined) return found;
  const map = make();
  // Names whose maps no one holds any more go now, so the registry is only as big as what lives.
  for (const [name, ref] of sharedMaps) if (ref.deref() === undefined) sharedMaps.delete(name);
  sharedMaps.set(key, new WeakRef(map));
  return map;
}

class RateLimitCounter {
  constructor(windowMs, maxKeys, maxBytes, shared) {
    windowMs = num(windowMs);
    maxKeys = u32(maxKeys, DEFAULT_MAX_KEYS);
    maxBytes = optionalNumber(maxBytes, DEFAULT_MAX_COUNTER_BYTES);
    if (!(windowMs >= 1 && windowMs <= U32_MAX) || maxKeys === 0 || !(maxBytes >= 1)) {
      throw napiError('InvalidArg', 'RateLimitCounter: bad windowMs, maxKeys or maxBytes');
    }
    const window = Math.trunc(windowMs);
    this._map = sharedMap('counter', shared, () => {
      const map = new TtlMap(maxKeys, Math.trunc(maxBytes));
      map.window = window;
      return map;
    });
  }

  // [count in this window, ms until it ends]; a new window starts when the last one ended.
  hit(key) {
    key = str(key);
    const map = this._map;
    const now = performance.now();
    let entry = map.live(key, now);
    if (entry === undefined) {
      const weight = TtlMap.weigh(key, 0);
      // A key too long to keep counts as its window's first, as in Rust.
      if (weight > map.entryBytes) return [1, map.window];
      entry = map.put(key, 0, weight, now, map.window);
    }
    if (entry.value < U32_MAX) entry.value++;
    return [entry.value, Math.min(U32_MAX, Math.floor(entry.expires - now))];
  }

  decrement(key) {
    const entry = this._map.live(str(key), performance.now());
    if (entry !== undefined && entry.value > 0) entry.value--;
  }

  resetKey(key) {
    this._map.remove(str(key));
  }

  resetAll() {
    this._map.clear();
  }

  // What a native guard's spec would carry; the JS backend runs no native guards.
  handle() {
    return Object.freeze({ counter: this });
  }
}

class SessionStore {
  constructor(options) {
    let maxSessions;
    let maxBytes;
    let shared;
    if (options !== undefined && options !== null && typeof options === 'object') {
      maxSessions = u32(options.maxSessions, DEFAULT_MAX_SESSIONS);
      maxBytes = optionalNumber(options.maxBytes, DEFAULT_MAX_SESSION_BYTES);
      shared = options.shared;
    } else {
      maxSessions = DEFAULT_MAX_SESSIONS;
      maxBytes = DEFAULT_MAX_SESSION_BYTES;
    }
    if (maxSessions === 0 || !Number.isFinite(maxBytes) || maxBytes < 1) {
      throw napiError('InvalidArg', 'SessionStore: maxSessions and maxBytes must be positive');
    }
    this._map = sharedMap('session', shared, () => new TtlMap(maxSessions, Math.trunc(maxBytes)));
  }

  get(id) {
    const entry = this._map.live(str(id), performance.now());
    return entry === undefined ? null : entry.value;
  }

  // False when the session alone is over a shard's share of the byte bound: not kept (and an
  // older value under the id is gone).
  set(id, json, ttlMs) {
    id = str(id);
    json = str(json);
    return this._map.insert(id, json, ttl(ttlMs), performance.now());
  }

  touch(id, ttlMs) {
    id = str(id);
    return this._map.touch(id, ttl(ttlMs), performance.now());
  }

  destroy(id) {
    const entry = this._map.remove(str(id));
    return entry !== undefined && entry.expires > performance.now();
  }

  get length() {
    return this._map.size(performance.now());
  }

  clear() {
    this._map.clear();
  }
}

function ttl(ms) {
  ms = num(ms);
  if (!Number.isFinite(ms) || ms <= 0) {
    throw napiError('InvalidArg', `SessionStore: ttlMs must be a positive number of milliseconds, got ${rustFloat(ms)}`);
  }
  return Math.trunc(Math.min(ms, MAX_TTL_MS));
}

// How Rust's Display prints an f64 in the message above (`inf`, `NaN`, `-5`, `0.5`).
function rustFloat(ms) {
  if (ms === Infinity) return 'inf';
  if (ms === -Infinity) return '-inf';
  return String(ms);
}

module.exports = { RateLimitCounter, SessionStore, ENTRY_OVERHEAD };
