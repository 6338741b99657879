'use strict';
// Redis-backed stores, so that several app instances (processes, machines) share sessions and
// rate-limit counters: RedisSessionStore for session() and RedisRateLimitStore for rateLimit().
// Each takes a client the app created and connected, node-redis v4+ or ioredis, told apart by
// what they have (duck typing): this package depends on neither. Commands go through the client's
// generic command call, so no client-version-specific option syntax is involved.
//
// RedisSessionStore keeps connect-redis's format (key `sess:<id>`, the session as JSON, the key
// expiring with the session), so sessions written by express-session + connect-redis and by
// session() can be read by either.
const { HN_ERR_BAD_OPTION } = require('./errors');
const { DEFAULT_TTL_MS } = require('./session-stores');

// One fixed window per key, atomically: the count goes up, and the first hit of a window starts
// its expiry. A key whose expiry was lost (PTTL -1: set by something else) gets one too, so it
// cannot count forever. Returns the count and the milliseconds left in the window.
const INCREMENT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { count, ttl }`;

// Gives one hit back (a skipped or successful request under the limiter's options), never below
// zero and never creating a key whose window is gone.
const DECREMENT_SCRIPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then redis.call('DECR', KEYS[1]) end
return 0`;

// The client's generic command: ioredis's call(name, ...args), node-redis's sendCommand([...]).
function commandOf(client, who) {
  if (client !== null && typeof client === 'object') {
    if (typeof client.call === 'function') return (args) => client.call(...args);
    if (typeof client.sendCommand === 'function') return (args) => client.sendCommand(args);
  }
  throw new HN_ERR_BAD_OPTION(
    `${who}: options.client must be a connected node-redis (v4+) or ioredis client, got ${describe(client)}`,
  );
}

function describe(value) {
  if (value === null) return 'null';
  return typeof value === 'object' ? `an object without call() or sendCommand()` : typeof value;
}

function checkOptions(options, who, known) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new HN_ERR_BAD_OPTION(`${who}: expects an options object with a Redis client ({ client })`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new HN_ERR_BAD_OPTION(`${who}: unknown option "${key}" (known: ${known.join(', ')})`);
  }
  if (options.prefix !== undefined && typeof options.prefix !== 'string') {
    throw new HN_ERR_BAD_OPTION(`${who}: options.prefix must be a string`);
  }
}

function positiveMs(value, name, who) {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new HN_ERR_BAD_OPTION(`${who}: ${name} must be a positive number of milliseconds, got ${String(value)}`);
  }
  return Math.ceil(value);
}

class RedisSessionStore {
  // { client, prefix = 'sess:', ttlMs }: ttlMs is the lifetime of a session whose cookie has no
  // maxAge (session() passes one for every other).
  constructor(options) {
    const who = 'RedisSessionStore';
    checkOptions(options, who, ['client', 'prefix', 'ttlMs']);
    this._command = commandOf(options.client, who);
    this.client = options.client;
    this.prefix = options.prefix === undefined ? 'sess:' : options.prefix;
    this.ttlMs = options.ttlMs === undefined ? DEFAULT_TTL_MS : positiveMs(options.ttlMs, 'ttlMs', who);
  }

  async get(id) {
    const raw = await this._command(['GET', this.prefix + id]);
    if (raw === null || raw === undefined) return null;
    return JSON.parse(String(raw));
  }

  async set(id, data, ttlMs = this.ttlMs) {
    await this._command(['SET', this.prefix + id, JSON.stringify(data), 'PX', String(Math.max(1, Math.ceil(ttlMs)))]);
  }

  async touch(id, data, ttlMs = this.ttlMs) {
    await this._command(['PEXPIRE', this.prefix + id, String(Math.max(1, Math.ceil(ttlMs)))]);
  }

  async destroy(id) {
    await this._command(['DEL', this.prefix + id]);
  }
}

class RedisRateLimitStore {
  // { client, prefix = 'rl:' }
  constructor(options) {
    const who = 'RedisRateLimitStore';
    checkOptions(options, who, ['client', 'prefix']);
    this._command = commandOf(options.client, who);
    this.client = options.client;
    this.prefix = options.prefix === undefined ? 'rl:' : options.prefix;
  }

  // The hit's count in its window and the milliseconds until the window resets.
  async increment(key, windowMs) {
    const ms = positiveMs(windowMs, 'windowMs', 'RedisRateLimitStore.increment()');
    const [count, resetMs] = await this._command(['EVAL', INCREMENT_SCRIPT, '1', this.prefix + key, String(ms)]);
    return { count: Number(count), resetMs: Number(resetMs) };
  }

  async decrement(key) {
    await this._command(['EVAL', DECREMENT_SCRIPT, '1', this.prefix + key]);
  }

  async resetKey(key) {
    await this._command(['DEL', this.prefix + key]);
  }
}

module.exports = { RedisSessionStore, RedisRateLimitStore };
