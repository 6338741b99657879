'use strict';
// Option validation, done once when createApp()/listen() is called so that Rust only ever sees
// well-typed values. Unknown keys are rejected: a misspelt limit silently falling back to its
// default is worse than an error.
const { HN_ERR_BAD_OPTION } = require('./errors');
const { tlsOptions, http2Options } = require('./tls-options');
const { SETTING_OPTIONS } = require('./settings');

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
  streamTimeout: 0,
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
// `fileCache: false | { maxBytes, maxFileSize }`: small files served from directory mounts and
// res.sendFile kept in memory while unchanged on disk (src/files/hot.rs, defaults 32 MiB and
// 256 KiB there); false keeps none.
const FILE_CACHE_OPTIONS = { maxBytes: 'fileCacheMaxBytes', maxFileSize: 'fileCacheMaxFileSize' };
// The option objects that map their fields onto native options.
const GROUPS = { cache: CACHE_OPTIONS, fileCache: FILE_CACHE_OPTIONS };
const DRIVERS = ['auto', 'legacy'];
// listen(2) takes a C int; the kernel caps it further at net.core.somaxconn. The default (1024)
// lives in Rust.
const MAX_BACKLOG = 0x7fffffff;
const LISTEN_KEYS = ['port', 'host', 'backlog', 'reusePort', 'driver', 'debug', 'tls', 'http2', 'ioThreads', 'balance', 'backend'];
// Which server runs the app (js/backend.js): the Rust addon, or the JavaScript one on node:http
// (js/host/). Unset: js/backend.js decides (HTTP_NATIVE_BACKEND, else the addon when it loads).
const BACKENDS = ['native', 'node'];
// How connections reach several I/O threads: one thread accepts and hands each to the thread with
// the fewest open (src/acceptor.rs), the default; or each thread accepts on its own SO_REUSEPORT
// socket, where the kernel's hash left the busiest of 2 threads about 65 % of 8 long-lived
// connections on average (bench/balance.js), and a balancer's keep-alive pool is such a handful.
const BALANCES = ['acceptor', 'reuseport'];
// `ioThreads` / serve()'s `workers`: each is a thread (and a listening socket, its buffers and
// caches); more than a big machine's cores only costs memory and switches.
const MAX_THREADS = 256;
// `compression: true | false | { threshold, encodings, level, types }` (createApp() and route
// options); the defaults (1024 bytes, br > zstd > gzip, levels 4 / 3 / 6, the compressible-type
// list) live in Rust (src/compress/). Each level's range, and the name Rust takes it by.
const COMPRESSION_KEYS = ['threshold', 'encodings', 'level', 'types'];
const ENCODINGS = ['br', 'zstd', 'gzip'];
const LEVELS = { gzip: [1, 9, 'gzipLevel'], br: [0, 11, 'brotliLevel'], zstd: [1, 19, 'zstdLevel'] };
// `type/subtype`, `type/*` or `*/*+suffix` (src/compress/types.rs matches these three forms).
const TOKEN = "[A-Za-z0-9!#$&^_.+-]+";
const TYPE_PATTERN = new RegExp(`^(?:${TOKEN}/(?:${TOKEN}|\\*)|\\*/\\*\\+${TOKEN})$`);
const LISTEN_SIGNATURES = 'listen(port[, host][, backlog][, callback]) or listen(options[, callback])';

// The native options createApp() sets; `compression` among them only when it is on.
function appOptions(options) {
  const limits = {};
  for (const [key, value] of entries(options, 'createApp()')) {
    if (Object.hasOwn(GROUPS, key)) Object.assign(limits, group(key, value, 'createApp()'));
    else if (Object.hasOwn(SETTING_OPTIONS, key)) continue;
    else if (key === 'compression') {
      const spec = compression(value, 'createApp()');
      if (spec !== false) limits.compression = spec;
    } else if (!Object.hasOwn(LIMITS, key)) throw unknown(key, 'createApp()', [...Object.keys(LIMITS), ...Object.keys(GROUPS), 'compression', ...Object.keys(SETTING_OPTIONS)]);
    else if (value !== undefined) limits[key] = limit(key, value);
  }
  return limits;
}

// A `compression` option, checked: `false` (off; also undefined), or the spec Rust takes
// (config.rs CompressionSpec) with the fields given. `true` is every default.
function compression(value, where) {
  if (value === undefined || value === false) return false;
  if (value === true) return { enabled: true };
  const spec = { enabled: true };
  const at = `${where} "compression"`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HN_ERR_BAD_OPTION(`${at} must be true, false or an options object, got ${show(value)}`);
  }
  for (const [key, v] of Object.entries(value)) {
    if (!COMPRESSION_KEYS.includes(key)) throw unknown(key, at, COMPRESSION_KEYS);
    if (v === undefined) continue;
    if (key === 'threshold') {
      if (!Number.isInteger(v) || v < 0 || v > U32_MAX) {
        throw new HN_ERR_BAD_OPTION(`${at}: "threshold" must be an integer number of bytes from 0 to ${U32_MAX}, got ${show(v)}`);
      }
      spec.threshold = v;
    } else if (key === 'encodings') {
      if (!Array.isArray(v) || v.length === 0 || v.some((e) => !ENCODINGS.includes(e)) || new Set(v).size !== v.length) {
        throw new HN_ERR_BAD_OPTION(`${at}: "encodings" must list some of ${ENCODINGS.map((e) => `'${e}'`).join(', ')} once each, in order of preference, got ${show(v)}`);
      }
      spec.encodings = [...v];
    } else if (key === 'level') {
      for (const [coding, level] of entries(v, `${at} "level"`)) {
        if (!Object.hasOwn(LEVELS, coding)) throw unknown(coding, `${at} "level"`, Object.keys(LEVELS));
        if (level === undefined) continue;
        const [min, max, name] = LEVELS[coding];
        if (!Number.isInteger(level) || level < min || level > max) {
          throw new HN_ERR_BAD_OPTION(`${at}: "level.${coding}" must be an integer from ${min} to ${max}, got ${show(level)}`);
        }
        spec[name] = level;
      }
    } else {
      if (!Array.isArray(v) || v.some((t) => typeof t !== 'string' || !TYPE_PATTERN.test(t))) {
        throw new HN_ERR_BAD_OPTION(`${at}: "types" must be an array of media types ('text/html'), whole types ('text/*') or suffixes ('*/*+json'), got ${show(v)}`);
      }
      spec.types = [...v];
    }
  }
  return spec;
}

// What Rust takes for one route: nothing when the route has no `compression` option (it follows
// the app's), off, or its own spec, whose unset fields are the app's (as @fastify/compress
// merges route options over global ones) and else the defaults.
function routeCompression(routeSpec, appSpec) {
  if (routeSpec === undefined) return undefined;
  if (routeSpec === false) return { enabled: false };
  return { ...appSpec, ...routeSpec };
}

// listen()'s arguments without the callback (app.js takes it first, so that it hears of bad
// arguments too), as node's and Express's listen() take them: (options), or (port, host,
// backlog) where each may be left out from the end, and host may be skipped as in
// listen(port, backlog). A host of undefined or null means none (listen(PORT, process.env.HOST)).
function listenArguments(args) {
  if (args.length === 0) return {};
  const [first, ...rest] = args;
  if (typeof first === 'object' && first !== null) {
    if (rest.length > 0) throw new HN_ERR_BAD_OPTION(`${LISTEN_SIGNATURES}: unexpected argument after the options object`);
    return first;
  }
  const options = { port: first };
  if (typeof rest[0] === 'string' || rest[0] === undefined || rest[0] === null) options.host = rest.shift() ?? undefined;
  if (rest.length > 0) options.backlog = rest.shift();
  if (rest.length > 0) throw new HN_ERR_BAD_OPTION(`${LISTEN_SIGNATURES}: unexpected argument ${show(rest[0])}`);
  return options;
}

// `options` as listenArguments() gives it; app-level limits are the base that listen() overrides.
// No host (undefined, passed on as such) is every interface, decided in Rust (config.rs).
function listenOptions(options, appLimits) {
  const result = { port: 0, host: undefined, backlog: undefined, reusePort: undefined, driver: 'auto', debug: undefined, tls: undefined, http2: undefined, ioThreads: 1, balance: 'acceptor', backend: undefined, limits: { ...appLimits } };
  for (const [key, value] of entries(options, 'listen()')) {
    if (value === undefined) continue;
    if (key === 'port') result.port = port(value);
    else if (key === 'host') result.host = host(value);
    else if (key === 'backlog') result.backlog = backlog(value);
    else if (key === 'reusePort') result.reusePort = bool(key, value);
    else if (key === 'driver') result.driver = driver(value);
    else if (key === 'debug') result.debug = bool(key, value);
    else if (key === 'tls') result.tls = tlsOptions(value);
    else if (key === 'http2') result.http2 = value;
    else if (key === 'ioThreads') result.ioThreads = threads('listen()', key, value);
    else if (key === 'balance') result.balance = oneOf(key, value, BALANCES);
    else if (key === 'backend') result.backend = oneOf(key, value, BACKENDS);
    else if (Object.hasOwn(GROUPS, key)) Object.assign(result.limits, group(key, value, 'listen()'));
    else if (Object.hasOwn(LIMITS, key)) result.limits[key] = limit(key, value);
    else throw unknown(key, 'listen()', [...LISTEN_KEYS, ...Object.keys(LIMITS), ...Object.keys(GROUPS)]);
  }
  // node:cluster workers all listen on the port the app names, as they do with node:http (where
  // the primary shares one socket with them); here each worker binds it with SO_REUSEPORT.
  if (result.reusePort === undefined) result.reusePort = require('node:cluster').isWorker;
  result.http2 = http2Options(result.http2, result.tls !== undefined);
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

function backlog(value) {
  if (!Number.isInteger(value) || value < 1 || value > MAX_BACKLOG) {
    throw new HN_ERR_BAD_OPTION(`listen(): "backlog" must be an integer from 1 to ${MAX_BACKLOG}, got ${show(value)}`);
  }
  return value;
}

function driver(value) {
  if (!DRIVERS.includes(value)) {
    throw new HN_ERR_BAD_OPTION(`listen(): "driver" must be one of ${DRIVERS.join(', ')}, got ${show(value)}`);
  }
  return value;
}

// A count of threads: a positive integer, or 'auto' for one per core the process may use.
function threads(where, key, value) {
  if (value === 'auto') return require('node:os').availableParallelism();
  if (!Number.isInteger(value) || value < 1 || value > MAX_THREADS) {
    throw new HN_ERR_BAD_OPTION(`${where}: "${key}" must be 'auto' or an integer from 1 to ${MAX_THREADS}, got ${show(value)}`);
  }
  return value;
}

function oneOf(key, value, allowed) {
  if (!allowed.includes(value)) throw new HN_ERR_BAD_OPTION(`listen(): "${key}" must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${show(value)}`);
  return value;
}

function bool(key, value) {
  if (typeof value !== 'boolean') throw new HN_ERR_BAD_OPTION(`"${key}" must be a boolean, got ${show(value)}`);
  return value;
}

// `cache` or `fileCache` (`name`): returns the native options it sets; a field left out keeps the
// app's (or Rust's) value. `fileCache: false` keeps no file in memory (a size of 0).
function group(name, value, where) {
  const fields = GROUPS[name];
  if (name === 'fileCache' && value === false) return { fileCacheMaxBytes: 0, fileCacheMaxFileSize: 0 };
  const result = {};
  for (const [key, n] of entries(value, `${where} "${name}"`)) {
    if (!Object.hasOwn(fields, key)) throw unknown(key, `${where} "${name}"`, Object.keys(fields));
    if (n === undefined) continue;
    if (!Number.isInteger(n) || n < 1 || n > U32_MAX) {
      throw new HN_ERR_BAD_OPTION(`"${name}.${key}" must be an integer from 1 to ${U32_MAX}, got ${show(n)}`);
    }
    result[fields[key]] = n;
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
  if (Array.isArray(value)) return JSON.stringify(value);
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

module.exports = { appOptions, listenArguments, listenOptions, closeTimeout, compression, routeCompression, threads, BACKENDS };
