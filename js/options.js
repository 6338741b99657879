'use strict';
// Option validation, done once when createApp()/listen() is called so that Rust only ever sees
// well-typed values. Unknown keys are rejected: a misspelt limit silently falling back to its
// default is worse than an error.
const { HN_ERR_BAD_OPTION } = require('./errors');

const U32_MAX = 0xffffffff;
// Limits shared by createApp() and listen(); their defaults live in Rust (docs/bridge.md).
// The number is each one's minimum; a timeout of 0 disables it.
const LIMITS = {
  maxHeaderSize: 1,
  maxHeaders: 1,
  maxUrlLength: 1,
  bodyLimit: 0,
  keepAliveTimeout: 0,
  headersTimeout: 0,
  requestTimeout: 0,
  handlerTimeout: 0,
  maxInFlight: 1,
  maxInFlightBytes: 1,
  maxPipelined: 1,
  busyPoll: 0,
};
// Limits with a ceiling of their own: busyPoll holds the JS thread, so never past a millisecond.
const MAXIMUMS = { busyPoll: 1000 };
// `cache: { maxBytes, maxEntries }`, given to Rust as cacheMaxBytes / cacheMaxEntries; their
// defaults (64 MiB, 100000 entries) live in Rust too.
const CACHE_OPTIONS = { maxBytes: 'cacheMaxBytes', maxEntries: 'cacheMaxEntries' };
const DRIVERS = ['auto', 'legacy'];
const DEFAULT_HOST = '127.0.0.1';

function appOptions(options) {
  const limits = {};
  for (const [key, value] of entries(options, 'createApp()')) {
    if (key === 'cache') Object.assign(limits, cache(value, 'createApp()'));
    else if (!Object.hasOwn(LIMITS, key)) throw unknown(key, 'createApp()', [...Object.keys(LIMITS), 'cache']);
    else if (value !== undefined) limits[key] = limit(key, value);
  }
  return limits;
}

// `arg` is a port or an options object; app-level limits are the base that listen() overrides.
function listenOptions(arg, appLimits) {
  const options = typeof arg === 'object' && arg !== null ? arg : { port: arg };
  const result = { port: 0, host: DEFAULT_HOST, driver: 'auto', debug: undefined, limits: { ...appLimits } };
  for (const [key, value] of entries(options, 'listen()')) {
    if (value === undefined) continue;
    if (key === 'port') result.port = port(value);
    else if (key === 'host') result.host = host(value);
    else if (key === 'driver') result.driver = driver(value);
    else if (key === 'debug') result.debug = bool(key, value);
    else if (key === 'cache') Object.assign(result.limits, cache(value, 'listen()'));
    else if (Object.hasOwn(LIMITS, key)) result.limits[key] = limit(key, value);
    else throw unknown(key, 'listen()', ['port', 'host', 'driver', 'debug', ...Object.keys(LIMITS), 'cache']);
  }
  return result;
}

function closeTimeout(options) {
  let timeout = 10000;
  for (const [key, value] of entries(options, 'close()')) {
    if (key !== 'timeout') throw unknown(key, 'close()', ['timeout']);
    if (value !== undefined) timeout = value;
  }
  if (!Number.isInteger(timeout) || timeout < 0 || timeout > U32_MAX) {
    throw new HN_ERR_BAD_OPTION(`close(): "timeout" must be a non-negative integer of milliseconds, got ${show(timeout)}`);
  }
  return timeout;
}

function entries(options, where) {
  if (options === undefined) return [];
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new HN_ERR_BAD_OPTION(`${where} options must be an object, got ${show(options)}`);
  }
  return Object.entries(options);
}

// A numeric string is accepted because ports usually come from process.env.PORT.
function port(value) {
  const n = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : value;
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new HN_ERR_BAD_OPTION(`listen(): "port" must be an integer from 0 to 65535, got ${show(value)}`);
  }
  return n;
}

function host(value) {
  if (typeof value !== 'string' || value === '') {
    throw new HN_ERR_BAD_OPTION(`listen(): "host" must be a non-empty string, got ${show(value)}`);
  }
  return value;
}

function driver(value) {
  if (!DRIVERS.includes(value)) {
    throw new HN_ERR_BAD_OPTION(`listen(): "driver" must be one of ${DRIVERS.join(', ')}, got ${show(value)}`);
  }
  return value;
}

function bool(key, value) {
  if (typeof value !== 'boolean') throw new HN_ERR_BAD_OPTION(`"${key}" must be a boolean, got ${show(value)}`);
  return value;
}

// Returns the native options it sets; a field left out keeps the app's (or Rust's) value.
function cache(value, where) {
  const result = {};
  for (const [key, n] of entries(value, `${where} "cache"`)) {
    if (!Object.hasOwn(CACHE_OPTIONS, key)) throw unknown(key, `${where} "cache"`, Object.keys(CACHE_OPTIONS));
    if (n === undefined) continue;
    if (!Number.isInteger(n) || n < 1 || n > U32_MAX) {
      throw new HN_ERR_BAD_OPTION(`"cache.${key}" must be an integer from 1 to ${U32_MAX}, got ${show(n)}`);
    }
    result[CACHE_OPTIONS[key]] = n;
  }
  return result;
}

function limit(key, value) {
  const min = LIMITS[key];
  const max = MAXIMUMS[key] ?? U32_MAX;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HN_ERR_BAD_OPTION(`"${key}" must be an integer from ${min} to ${max}, got ${show(value)}`);
  }
  return value;
}

function unknown(key, where, known) {
  return new HN_ERR_BAD_OPTION(`${where}: unknown option "${key}" (known: ${known.join(', ')})`);
}

function show(value) {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

module.exports = { appOptions, listenOptions, closeTimeout };
