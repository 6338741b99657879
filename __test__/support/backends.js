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
const STATS = 'stats() internals: the node backend counts connections, requests, the cache and responses, and reports bridge/bodies/ws counters it has not as 0';

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
