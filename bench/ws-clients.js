'use strict';
// WebSocket clients for the WebSocket rows of `npm run bench` (bench/ws.js): a child process that
// holds many WebSocket connections on raw node:net sockets (bench/ws-wire.js: pre-built masked
// frames, no per-message objects) and either echoes or counts. Driven over IPC by its parent:
//   { op: 'open', port, path, count, expect }  opens `count` connections and upgrades them;
//                                  `expect` (a key of ECHO_MESSAGES, or 'broadcast') is the
//                                  message every one should receive; answers { op: 'opened', ... }
//   { op: 'echo', window }         each connection sends `window` copies of its expected message
//                                  and sends one more for each one that comes back, so `window`
//                                  messages stay in flight per connection; answers 'echoing'
//   { op: 'once', expect }         each connection sends one message (and echoes none back);
//                                  answers 'echoed' once every one has received a message
//   { op: 'watch' }                (subscribers) from now on sends { op: 'allGot', k } whenever
//                                  every connection has received k messages (k grows)
//   { op: 'count' }                answers { op: 'counted', messages, open, ... } (running totals)
//   { op: 'stop' }                 stops sending (echo); answers 'stopped'
//   { op: 'close' }                destroys every socket and exits
// Every socket reads into one shared buffer (net's `onread`): thousands of connections allocate
// nothing per read.

const net = require('node:net');
const { FrameReader, controlHandler, upgradeOn, frames, OP } = require('./ws-wire');
const { ECHO_MESSAGES, BROADCAST_MESSAGE } = require('./servers/ws-shared');

// Enough to fill the accept queue steadily without overflowing a 511-deep listen backlog.
const OPEN_CONCURRENCY = 128;
const UPGRADE_TIMEOUT_MS = 10000;
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

const EXPECTED = { ...ECHO_MESSAGES, broadcast: { payload: BROADCAST_MESSAGE, binary: false } };

const conns = [];
const totals = { messages: 0, bad: 0, protocolErrors: 0, opened: 0, failed: 0, closedEarly: 0, closedByServer: 0, firstError: undefined, firstCloseCode: undefined };
let echo = null; // { many, size, window } while echoing
// Subscribers: reached[k] = connections that have received at least k messages; allGot = the
// highest k every connection reached (a connection that closed counts as having reached all).
const reached = [0];
let allGot = 0;
let watching = false;
let reportQueued = false;
let onceWaiting = false; // an 'once' op waits for every connection's first message

function failure(message) {
  totals.failed += 1;
  if (totals.firstError === undefined) totals.firstError = message;
}

// Connects, upgrades, and resolves once the 101 arrived (or the attempt failed).
function openOne(port, path, expect) {
  return new Promise((resolve) => {
    const conn = { socket: null, reader: null, count: 0, counted: 0, open: false, up: null };
    // noDelay: a window of small frames must not wait on Nagle for the previous one's ACK.
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true, onread: { buffer: READ_BUFFER, callback: onRead } });
    conn.socket = socket;
    conn.reader = new FrameReader({
      expect,
      onControl: controlHandler(socket, (code) => {
        totals.closedByServer += 1;
        if (totals.firstCloseCode === undefined) totals.firstCloseCode = code;
      }),
    });
    let settled = false;
    const timer = setTimeout(() => settle(`no 101 within ${UPGRADE_TIMEOUT_MS / 1000} s`), UPGRADE_TIMEOUT_MS);
    function settle(problem) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (problem) {
        failure(problem);
        socket.destroy();
      } else {
        totals.opened += 1;
        conn.open = true;
        conns.push(conn);
      }
      resolve();
    }
    socket.on('error', (err) => settle(err.message));
    socket.on('close', () => {
      if (conn.open) {
        conn.open = false;
        totals.closedEarly += 1;
        advance(); // a closed subscriber no longer holds the others back
      }
      settle('closed before the 101');
    });
    socket.on('connect', () => {
      conn.up = upgradeOn(socket, path);
      conn.up.done.then(
        (rest) => {
          conn.up = null;
          settle(null);
          if (rest.length) received(conn, rest, rest.length);
        },
        (err) => settle(err.message),
      );
    });
    function onRead(n, buf) {
      if (conn.up) conn.up.read(Buffer.from(buf.subarray(0, n)));
      else received(conn, buf, n);
      return true;
    }
  });
}

function received(conn, buf, n) {
  const got = conn.reader.feed(buf, 0, n);
  if (got === 0) return;
  totals.messages += got;
  if (echo) conn.count += got;
  else {
    // Only subscribers and 'once' need who reached what; an echo's hot path skips it.
    for (let i = 0; i < got; i++) {
      conn.count += 1;
      reached[conn.count] = (reached[conn.count] || 0) + 1;
    }
  }
  if (echo) {
    // One write for every message that came back in this read: the window stays full.
    for (let left = got; left > 0; left -= echo.window) {
      conn.socket.write(echo.many.subarray(0, Math.min(left, echo.window) * echo.size));
    }
  }
  if ((watching || onceWaiting) && !reportQueued) {
    reportQueued = true;
    setImmediate(advance);
  }
}

// Moves allGot up as far as every connection has come, and tells the parent.
function advance() {
  reportQueued = false;
  const before = allGot;
  while (allGot + 1 < reached.length && (reached[allGot + 1] || 0) + totals.closedEarly >= conns.length) allGot += 1;
  if (watching && allGot !== before) process.send({ op: 'allGot', k: allGot });
  if (onceWaiting && allGot >= 1) {
    onceWaiting = false;
    process.send({ op: 'echoed' });
  }
}

async function openMany(port, path, count, expect) {
  let next = 0;
  async function worker() {
    while (next < count) {
      next += 1;
      await openOne(port, path, expect);
    }
  }
  await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, count) }, worker));
}

function framesOf(kind, count) {
  const m = ECHO_MESSAGES[kind];
  return frames(m.binary ? OP.BINARY : OP.TEXT, m.payload, count);
}

function startEcho(kind, window) {
  const built = framesOf(kind, window);
  echo = { many: built.many, size: built.size, window };
  for (const conn of conns) if (conn.open) conn.socket.write(built.many);
}

function sendOnce(kind) {
  const { frame } = framesOf(kind, 1);
  const open = conns.filter((conn) => conn.open);
  if (!open.length) return process.send({ op: 'echoed' });
  onceWaiting = true;
  for (const conn of open) conn.socket.write(frame);
}

// Running totals, and each open connection's messages since the previous report (sorted), so a
// few starved connections show behind a healthy total.
function report(op) {
  const deltas = [];
  for (const conn of conns) {
    if (!conn.open) continue;
    deltas.push(conn.count - conn.counted);
    conn.counted = conn.count;
  }
  deltas.sort((a, b) => a - b);
  let bad = 0;
  let protocolErrors = 0;
  for (const conn of conns) {
    bad += conn.reader.bad;
    protocolErrors += conn.reader.protocolErrors;
  }
  process.send({ op, ...totals, bad, protocolErrors, open: deltas.length, sinceLast: deltas, allGot });
}

process.on('message', (msg) => {
  if (msg.op === 'open') {
    const expect = msg.expect ? EXPECTED[msg.expect] : undefined;
    openMany(msg.port, msg.path, msg.count, expect).then(() => report('opened'));
  } else if (msg.op === 'echo') {
    startEcho(msg.expect, msg.window);
    process.send({ op: 'echoing' });
  } else if (msg.op === 'once') {
    sendOnce(msg.expect);
  } else if (msg.op === 'watch') {
    watching = true;
    advance();
    process.send({ op: 'watching', allGot });
  } else if (msg.op === 'count') report('counted');
  else if (msg.op === 'stop') {
    echo = null;
    process.send({ op: 'stopped' });
  } else if (msg.op === 'close') {
    for (const conn of conns) conn.socket.destroy();
    process.disconnect();
  }
});
// The parent leaving (a crashed runner) must not leave this process holding thousands of sockets.
process.on('disconnect', () => process.exit(0));
