'use strict';
// The session store interface session() talks to, and MemorySessionStore, the default store:
// sessions as JSON in the native SessionStore (src/session_store.rs), bounded in sessions and in
// bytes, each expiring after its TTL. Native memory keeps many sessions out of V8's heap.
//
// A store is any object with
//   get(id)               → data | null                (or a Promise of it)
//   set(id, data, ttlMs)  → void                       (or a Promise)
//   destroy(id)           → void                       (or a Promise)
//   touch(id, data, ttlMs) → void  (optional)           (or a Promise)
// `data` is the session as a plain JSON-able object, its cookie under `cookie` (express-session's
// shape). A store that answers synchronously costs no wait: the response is not held for it.
const { sharedName } = require('./shared-scope');
const { HN_ERR_BAD_OPTION, HN_ERR_SESSION_TOO_LARGE } = require('./errors');

// A session's lifetime when its cookie has no maxAge (a browser-session cookie), as connect-redis
// and express-session's MemoryStore use: one day.
const DEFAULT_TTL_MS = 24 * 60 * 60 * 1000;

class MemorySessionStore {
  // { maxSessions = 10,000, maxBytes = 64 MiB, ttlMs = one day }: past a bound the sessions
  // closest to expiring give way (src/session_store.rs says why those defaults). The native map
  // keeps each bound per one of its 16 shards (a 16th each), so maxSessions is best a multiple
  // of 16, and one session may take at most a 16th of maxBytes.
  constructor(options = {}) {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new HN_ERR_BAD_OPTION('MemorySessionStore: options must be an object');
    }
    for (const key of Object.keys(options)) {
      if (key !== 'maxSessions' && key !== 'maxBytes' && key !== 'ttlMs') {
        throw new HN_ERR_BAD_OPTION(`MemorySessionStore: unknown option "${key}" (known: maxSessions, maxBytes, ttlMs)`);
      }
    }
    const { maxSessions, maxBytes, ttlMs = DEFAULT_TTL_MS } = options;
    if (maxSessions !== undefined && !(Number.isInteger(maxSessions) && maxSessions > 0 && maxSessions <= 0xffffffff)) {
      throw new HN_ERR_BAD_OPTION(`MemorySessionStore: maxSessions must be a positive integer, got ${String(maxSessions)}`);
    }
    if (maxBytes !== undefined && !(typeof maxBytes === 'number' && Number.isFinite(maxBytes) && maxBytes >= 1)) {
      throw new HN_ERR_BAD_OPTION(`MemorySessionStore: maxBytes must be a positive number, got ${String(maxBytes)}`);
    }
    if (!(typeof ttlMs === 'number' && Number.isFinite(ttlMs) && ttlMs > 0)) {
      throw new HN_ERR_BAD_OPTION(`MemorySessionStore: ttlMs must be a positive number of milliseconds, got ${String(ttlMs)}`);
    }
    const { SessionStore } = require('./native');
    // One store for every worker of serve() (js/shared-scope.js): a session lives wherever it was made.
    this._native = new SessionStore({ maxSessions, maxBytes, shared: sharedName('session') });
    this.ttlMs = ttlMs;
  }

  get(id) {
    const json = this._native.get(id);
    return json === null ? null : JSON.parse(json);
  }

  set(id, data, ttlMs = this.ttlMs) {
    if (!this._native.set(id, JSON.stringify(data), ttlMs)) {
      throw new HN_ERR_SESSION_TOO_LARGE(
        `MemorySessionStore: session ${id} alone is over the store's byte bound (maxBytes / 16 per shard): not kept`,
      );
    }
  }

  touch(id, data, ttlMs = this.ttlMs) {
    this._native.touch(id, ttlMs);
  }

  destroy(id) {
    this._native.destroy(id);
  }

  get length() {
    return this._native.length;
  }

  clear() {
    this._native.clear();
  }
}

module.exports = { MemorySessionStore, DEFAULT_TTL_MS };
