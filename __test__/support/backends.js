'use strict';
// The ONE list of tests that cannot apply to the node backend (js/host/), each with why: the JS
// suite runs on every backend (HTTP_NATIVE_BACKEND=node: scripts/test.js's node pass), and what
// remains native-only is what the node backend genuinely does not do. README's "Backends" section
// carries the same differences.
//
// A file listed here takes node:test through this module instead of directly:
//   const { test, describe, before, after } = require('./support/backends').tests(__filename);
// On the node backend, a file listed whole registers each of its tests as skipped with the
// reason (so the run prints why) and runs none of its hooks; a file listed by test names skips
// those tests only. On the native backend it is node:test itself.
const nodeTest = require('node:test');
const path = require('node:path');

const BACKEND = process.env.HTTP_NATIVE_BACKEND === 'node' ? 'node' : 'native';

const WS = 'WebSocket routes are native-only: the node backend refuses app.ws() at listen() (HN_ERR_BACKEND_UNSUPPORTED)';
const TLS = 'TLS is native-only: the node backend refuses listen({ tls }) (HN_ERR_BACKEND_UNSUPPORTED)';
const H2 = 'HTTP/2 is native-only: the node backend refuses listen({ http2 }) and TLS (HN_ERR_BACKEND_UNSUPPORTED)';
const FRAMING = "Rust's HTTP/1.1 parser: on the node backend node:http's llhttp parses and frames requests, with its own answers to malformed ones";
const DIRECT = "the native bridge's lone-request offers and busyPoll (src/bridge/direct.rs, handoff.rs): the node backend has no server thread to skip";
const THREADS = 'I/O threads: the node backend runs on the one JS thread (ioThreads and balance are ignored)';
const SCHEMA = 'JSON Schemas are checked by Rust (src/validate/); the node backend runs only Standard Schemas';
const PIPELINE = 'maxPipelined, maxInFlightBytes and write-progress limits are the native server\'s: node:http reads and writes on its own terms';
const GUARDS = 'native guards (src/guard/): on the node backend the cors()/rateLimit() middleware answer and count in JS, so such requests reach JS';
const SINGLE_FLIGHT = "the response cache's single flight (src/bridge/cache.rs): the node backend's cache does not hold concurrent misses of one key back";
const PARSER = "node:http's parser (llhttp): it reads chunk sizes, versions and half-closed sockets its own way";
const UTF8 = "node:http's parser refuses raw non-ASCII bytes in a request target (HPE_INVALID_URL: 400)";
const DRIVER = "the native drivers (io_uring, epoll): the node backend's driver is 'node'";
const REUSEPORT = 'SO_REUSEPORT outside node:cluster: node:http (Node 20) cannot set it';
const PANIC = "Rust panics on the server thread: the node backend has none";
const NO_ZSTD = 'zstd: node:zlib has no zstd before Node 22.15; the node backend then offers br and gzip only';
const VARIANTS = "the native cache's encoded variants (src/stored.rs): the node backend compresses cached answers per request";
const SERVE = 'serve(): its worker threads each bind the port (SO_REUSEPORT) and share one native response cache, counters and topics';
const CLUSTER = "node:cluster shares a port through the primary, keyed by the port asked: a worker's listen(0) and another's listen(thatPort) do not meet (SO_REUSEPORT on the native backend)";
const INJECT = "app.inject()'s socketless Rust server (app.injectServer, its stats, its files): on the node backend inject() hands the request to the JavaScript core, which serves no files";
const HAS_ZSTD = typeof require('node:zlib').createZstdCompress === 'function';
// Only where node:zlib lacks zstd.
const zstd = (names) => (HAS_ZSTD ? {} : Object.fromEntries(names.map((n) => [n, NO_ZSTD])));

// file → reason (every test of it), or file → { test name: reason }.
const NODE = {
  'ws-backpressure.test.js': WS,
  'ws-clients.test.js': WS,
  'ws-compression.test.js': WS,
  'ws-echo.test.js': WS,
  'ws-lifecycle.test.js': WS,
  'ws-protocol.test.js': WS,
  'ws-pubsub.test.js': WS,
  'tls-bad-input.test.js': TLS,
  'tls-basics.test.js': TLS,
  'tls-certs.test.js': TLS,
  'h2-bad-input.test.js': H2,
  'h2-basics.test.js': H2,
  'h2-clients.test.js': H2,
  'h2-semantics.test.js': H2,
  'framing.test.js': FRAMING,
  'direct.test.js': DIRECT,
  'io-threads.test.js': THREADS,
  'utf8-target.test.js': UTF8,
  'schema.test.js': SCHEMA,
  'serve.test.js': SERVE,
  'worker.test.js': 'the addon\'s server thread and its Node-API cleanup hook (a worker_threads Worker that ends closes it): a node:http server ends with its thread by itself',
  'inject.test.js': {
    'res.ncache() hits are answered by Rust: the handler runs once, the stats count the hits': INJECT,
    'statics, directory mounts and res.sendFile() are served through the in-memory connection': INJECT,
    'no listening socket is opened (and a listen() one is seen by the same check)': INJECT,
    'app.close() closes the inject server; the next inject starts a fresh one': INJECT,
  },
  'inject-supertest.test.js': {
    'request(app.callback()): status, headers, JSON bodies and 404s through inject()': INJECT,
  },
  'trust-proxy.test.js': {
    'over TLS: https without a proxy; a trusted proxy says what the client used': TLS,
  },
  'cluster.test.js': {
    'two cluster workers listen(PORT) on one port, and both serve it': CLUSTER,
  },
  'hardening.test.js': {
    'versions other than 1.0 and 1.1: 505 and close': PARSER,
    'a chunked body over the limit is 413 while it is still streaming': PARSER,
  },
  'half-close.test.js': {
    'a half-closed client that then resets the connection aborts req.signal': PARSER,
  },
  'lifecycle.test.js': {
    'listen(0) gives a port, a url and a known driver': DRIVER,
    "listen({ driver: 'legacy' }) does not use io_uring and serves requests": DRIVER,
    'HTTP_NATIVE_DRIVER=legacy in a child process forces a non-io_uring driver': DRIVER,
    'serves the documented routes and exits cleanly on SIGTERM': DRIVER,
  },
  'listen.test.js': {
    'two servers with reusePort share a port and both answer': REUSEPORT,
  },
  'stats.test.js': {
    'bridge: calls and the requests they carried': DIRECT,
  },
  'cache.test.js': {
    '50 concurrent misses for a new key run the handler once': SINGLE_FLIGHT,
    '50 concurrent misses for an expired key run the handler once more': SINGLE_FLIGHT,
    'a leader whose client left and whose handler honours req.signal hands its flight to a waiter at once': SINGLE_FLIGHT,
  },
  'cors.test.js': {
    'static options: Rust answers preflights, no request reaches JS': GUARDS,
    'requests no route matches: preflights answered natively under the middleware prefix': GUARDS,
  },
  'rate-limit.test.js': {
    'native: the limit is allowed with its headers, then Rust answers 429 without JS': GUARDS,
    'skip, headers: false, and requests no route matches under a prefix': GUARDS,
    'after cors(): a native 429 carries the CORS headers a browser needs to read it': GUARDS,
  },
  'backpressure.test.js': {
    'requests over maxInFlight pipelined on one connection are answered 503 in their place, in order': PIPELINE,
    'maxPipelined 4: 200 pipelined requests on one socket are all answered in order, at most 4 at a time': PIPELINE,
    'default maxPipelined (64): 300 pipelined requests all answered in order, at most 64 at a time': PIPELINE,
    'pipelining 1500 requests for 256 KiB responses without reading: server RSS stays bounded and it keeps serving': PIPELINE,
    'with maxPipelined 4, a client that never reads makes the server produce only a bounded number of 1 MiB responses': PIPELINE,
    'a client that stops reading its response is disconnected once a write makes no progress for requestTimeout': PIPELINE,
    'bodies of known length past the budget wait unread until JS answers; stats.bodies reports them': PIPELINE,
    'chunked bodies past the budget wait too; what the server holds stays within the budget plus one body': PIPELINE,
    'a client that leaves while it waits for the budget gives nothing back twice and blocks no one': PIPELINE,
    'a client that resets with several requests in flight aborts each of them': PIPELINE,
    "a panic on the server thread is reported through server.on('error') and the server keeps serving": PANIC,
  },
  'compression.test.js': {
    ...zstd([
      'each coding alone: Content-Encoding, Vary, the encoded length, and the bytes back after decoding',
      'q-values, *, identity;q=0 and unknown codings choose as RFC 9110 says',
      'curl --compressed: br by preference, and gzip and zstd when only those are offered',
      'random and text payloads of several sizes, whole and streamed, in every coding',
      'app.static: variants per coding, natively, with Vary and a weak tag; images left alone',
      "res.write pieces: chunked, encoded, the app's Content-Length dropped, the bytes back",
    ]),
    'res.ncache: one handler run; each coding encoded on first use, counted in cache bytes, then the same bytes': VARIANTS,
    'res.ncache: a 304 for either tag of an encoded variant, repeating the weak tag and Vary': VARIANTS,
  },
  'files-compression.test.js': zstd(["br, zstd, gzip: each decodes to the file, with the file's type and Vary"]),
};

// The reason `name` in `file` is skipped on this backend, or undefined.
function reasonFor(file, name) {
  if (BACKEND !== 'node') return undefined;
  const entry = NODE[path.basename(file)];
  if (entry === undefined) return undefined;
  if (typeof entry === 'string') return entry;
  return Object.hasOwn(entry, name) ? entry[name] : undefined;
}

// node:test for `file`, with its listed tests skipped on this backend.
function tests(file) {
  const entry = BACKEND === 'node' ? NODE[path.basename(file)] : undefined;
  if (entry === undefined) return nodeTest;
  const whole = typeof entry === 'string';
  const wrap = (fn) => (name, ...rest) => {
    const reason = whole ? entry : Object.hasOwn(entry, name) ? entry[name] : undefined;
    if (reason === undefined) return fn(name, ...rest);
    const body = rest.find((r) => typeof r === 'function');
    const options = rest.find((r) => typeof r === 'object' && r !== null) ?? {};
    return fn(name, { ...options, skip: `node backend: ${reason}` }, body ?? (() => {}));
  };
  const hook = (fn) => (whole ? () => {} : fn);
  return {
    ...nodeTest,
    test: wrap(nodeTest.test),
    it: wrap(nodeTest.it),
    describe: wrap(nodeTest.describe),
    suite: wrap(nodeTest.suite),
    before: hook(nodeTest.before),
    after: hook(nodeTest.after),
    beforeEach: hook(nodeTest.beforeEach),
    afterEach: hook(nodeTest.afterEach),
  };
}

module.exports = { BACKEND, NODE, tests, reasonFor };
