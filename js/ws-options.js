'use strict';
// app.ws(path, handlers, options): the handlers object and the options, checked once at
// registration (coded errors, unknown keys refused as everywhere else), and what each side needs
// from them: the `ws` spec Rust takes with the route (docs/bridge.md, "WebSocket"), and the
// numbers JS applies itself (the backpressure policy of ws.send()).
const { HN_ERR_ROUTE, HN_ERR_BAD_OPTION } = require('./errors');

const HANDLERS = ['upgrade', 'open', 'message', 'drain', 'close'];
// A message crosses the bridge whole in one record, whose length is a u32; 2^31-1 keeps it (and
// its header) well inside that, and inside what every JS engine lets one Buffer hold.
const MAX_PAYLOAD = 0x7fffffff;
// 1 MiB: a chat line, a JSON patch or a game tick fits many times over; a file upload belongs on
// an HTTP route. uWS.js defaults to 16 KiB, the `ws` package to 100 MiB.
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
// Seconds without anything received before the connection is closed (a ping goes out at half of
// it). 120 s, as uWS.js: longer than any NAT or proxy keeps a silent TCP connection, so the pings
// keep it open, and a dead peer is noticed within two minutes.
const DEFAULT_IDLE_TIMEOUT = 120;
// idleTimeoutMs is a u32 on the Rust side.
const MAX_IDLE_TIMEOUT = Math.floor(0xffffffff / 1000);
// Bytes a socket may have queued (sent by JS and not yet taken by the client) before send()
// drops: 1 MiB, as uWS.js, bounds the memory one slow reader can hold.
const DEFAULT_MAX_BACKPRESSURE = 1024 * 1024;
const MAX_BACKPRESSURE = 0xffffffff;
// send() answers BACKPRESSURE (0) past this many queued bytes, and `drain` fires when they fall
// back to it: low enough to keep a producer's memory small, high enough that a producer is not
// woken for every small message the client takes (one 64 KiB credit batch from Rust).
const DRAIN_MARK = 64 * 1024;
const COMPRESSION = new Map([
  [false, 0],
  [true, 1],
  ['shared', 1],
  ['dedicated', 2],
]);
const OPTIONS = ['maxPayload', 'idleTimeout', 'compression', 'maxBackpressure', 'closeOnBackpressureLimit', 'sendPingsAutomatically'];

// `where` names the registration in messages: "ws('/chat/:room')".
function wsHandlers(handlers, where) {
  if (typeof handlers !== 'object' || handlers === null || Array.isArray(handlers)) {
    throw new HN_ERR_ROUTE(`${where}: the second argument must be an object of handlers (${HANDLERS.join(', ')}), got ${show(handlers)}`);
  }
  const result = {};
  for (const [key, fn] of Object.entries(handlers)) {
    if (!HANDLERS.includes(key)) {
      const hint = OPTIONS.includes(key) ? `; options go in the third argument: ws(path, handlers, { ${key} })` : '';
      throw new HN_ERR_ROUTE(`${where}: unknown handler "${key}" (known: ${HANDLERS.join(', ')})${hint}`);
    }
    if (fn === undefined) continue;
    if (typeof fn !== 'function') throw new HN_ERR_ROUTE(`${where}: handler "${key}" must be a function, got ${show(fn)}`);
    result[key] = fn;
  }
  return result;
}

// The options with their defaults: { native, maxBackpressure, closeOnBackpressureLimit, drainMark }.
function wsOptions(options, where) {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new HN_ERR_BAD_OPTION(`${where}: options must be an object, got ${show(options)}`);
  }
  let maxPayload = DEFAULT_MAX_PAYLOAD;
  let idleTimeout = DEFAULT_IDLE_TIMEOUT;
  let compression = 0;
  let maxBackpressure = DEFAULT_MAX_BACKPRESSURE;
  let closeOnBackpressureLimit = false;
  let sendPings = true;
  for (const [key, value] of Object.entries(options ?? {})) {
    if (!OPTIONS.includes(key)) throw new HN_ERR_BAD_OPTION(`${where}: unknown option "${key}" (known: ${OPTIONS.join(', ')})`);
    if (value === undefined) continue;
    if (key === 'maxPayload') maxPayload = integer(where, key, value, 1, MAX_PAYLOAD);
    else if (key === 'idleTimeout') {
      idleTimeout = integer(where, key, value, 0, MAX_IDLE_TIMEOUT, ' seconds (0: none)');
    } else if (key === 'maxBackpressure') {
      maxBackpressure = integer(where, key, value, 0, MAX_BACKPRESSURE, ' bytes (0: unbounded)');
    } else if (key === 'compression') {
      if (!COMPRESSION.has(value)) {
        throw new HN_ERR_BAD_OPTION(`${where}: "compression" must be false, true, 'shared' or 'dedicated', got ${show(value)}`);
      }
      compression = COMPRESSION.get(value);
    } else {
      if (typeof value !== 'boolean') throw new HN_ERR_BAD_OPTION(`${where}: "${key}" must be a boolean, got ${show(value)}`);
      if (key === 'closeOnBackpressureLimit') closeOnBackpressureLimit = value;
      else sendPings = value;
    }
  }
  return {
    native: { maxPayload, idleTimeoutMs: idleTimeout * 1000, compression, maxBackpressure, closeOnBackpressureLimit, sendPings },
    maxBackpressure,
    closeOnBackpressureLimit,
    // Below the limit, so that BACKPRESSURE (and drain) always come before DROPPED.
    drainMark: maxBackpressure === 0 ? DRAIN_MARK : Math.min(DRAIN_MARK, Math.floor(maxBackpressure / 2)),
  };
}

function integer(where, key, value, min, max, unit = ' bytes') {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HN_ERR_BAD_OPTION(`${where}: "${key}" must be an integer from ${min} to ${max}${unit}, got ${show(value)}`);
  }
  return value;
}

function show(value) {
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

module.exports = { wsHandlers, wsOptions };
