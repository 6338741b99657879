'use strict';
// SSE clients for the stream rows of `npm run bench` (bench/streams.js): a child process that
// holds many text/event-stream connections on raw node:net sockets (no HTTP client objects, so
// thousands cost little) and counts the events each receives. Driven over IPC by its parent:
//   { op: 'open', port, path, count }  opens `count` connections, answers { op: 'opened', ... }
//   { op: 'count' }                    answers { op: 'counted', events, open, ... } (running totals)
//   { op: 'close' }                    destroys every socket and exits
// Each socket reads into one shared buffer and keeps only the last few bytes it saw.
// An event is counted at each "\ndata:" in the body: every event has one data line, and a
// heartbeat comment or a retry line has none. In a chunked body the chunk-size line ends with
// "\n" too, so the first line of a chunk matches as well.

const net = require('node:net');

// Enough to fill the accept queue steadily without overflowing a 511-deep listen backlog.
const OPEN_CONCURRENCY = 128;
const HEAD_TIMEOUT_MS = 10000;
// A response head larger than this is not an SSE server's.
const MAX_HEAD_BYTES = 16 * 1024;
const PATTERN = Buffer.from('\ndata:');
const HEAD_END = Buffer.from('\r\n\r\n');
// Every socket reads into this one buffer (net's `onread`): each read is counted before the next,
// so thousands of connections allocate nothing per read.
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

const sockets = [];
const totals = { events: 0, opened: 0, failed: 0, closedEarly: 0, badHeads: 0, firstError: undefined };

function failure(message) {
  totals.failed += 1;
  if (totals.firstError === undefined) totals.firstError = message;
}

// Occurrences of PATTERN in `chunk`, counting one that straddles the previous chunks (whose last
// bytes, up to PATTERN.length - 1, are kept in state.tail).
function countEvents(state, chunk) {
  const keep = PATTERN.length - 1;
  let n = 0;
  const tail = state.tail.subarray(0, state.tailLength);
  // PATTERN has one "\n", its first byte: only the tail's last "\n" can start a straddling match.
  const k = tail.lastIndexOf(0x0a);
  if (k !== -1) {
    const have = tail.length - k;
    const need = PATTERN.length - have;
    if (
      chunk.length >= need &&
      tail.compare(PATTERN, 0, have, k, tail.length) === 0 &&
      chunk.compare(PATTERN, have, PATTERN.length, 0, need) === 0
    ) {
      n += 1;
    }
  }
  for (let i = chunk.indexOf(PATTERN); i !== -1; i = chunk.indexOf(PATTERN, i + PATTERN.length)) n += 1;
  // A chunk shorter than the rest of a straddling match leaves it in the tail for the next one.
  const last = chunk.length >= keep ? chunk : Buffer.concat([tail, chunk]);
  state.tailLength = last.copy(state.tail, 0, Math.max(0, last.length - keep));
  return n;
}

// Connects and resolves once the response head arrived and says 200 text/event-stream.
function openOne(port, path) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', onread: { buffer: READ_BUFFER, callback: onRead } });
    const state = { head: Buffer.alloc(0), tail: Buffer.alloc(PATTERN.length - 1), tailLength: 0, streaming: false, events: 0, counted: 0 };
    let settled = false;
    const timer = setTimeout(() => settle(`no response head within ${HEAD_TIMEOUT_MS / 1000} s`), HEAD_TIMEOUT_MS);
    function settle(problem) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (problem) {
        failure(problem);
        socket.destroy();
      } else {
        totals.opened += 1;
        sockets.push({ socket, state });
      }
      resolve();
    }
    socket.on('error', (err) => settle(err.message));
    socket.on('close', () => {
      if (state.streaming) totals.closedEarly += 1;
      state.streaming = false;
      settle('closed before the response head');
    });
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
    });
    function onRead(n, buf) {
      const chunk = buf.subarray(0, n);
      if (state.streaming) {
        const n = countEvents(state, chunk);
        state.events += n;
        totals.events += n;
        return true;
      }
      state.head = Buffer.concat([state.head, chunk]);
      const end = state.head.indexOf(HEAD_END);
      if (end === -1) {
        if (state.head.length > MAX_HEAD_BYTES) settle('response head too large');
        return true;
      }
      const head = state.head.subarray(0, end).toString('latin1');
      const rest = state.head.subarray(end + 2); // from the head's last "\r\n", so a first "data:" matches
      state.head = null;
      if (!/^HTTP\/1\.[01] 200 /.test(head) || !/\r\ncontent-type:\s*text\/event-stream/i.test(head)) {
        totals.badHeads += 1;
        settle(`unexpected response head: ${head.split('\r\n')[0]}`);
        return false;
      }
      state.streaming = true;
      state.events = countEvents(state, rest);
      totals.events += state.events;
      settle(null);
      return true;
    }
  });
}

async function openMany(port, path, count) {
  let next = 0;
  async function worker() {
    while (next < count) {
      next += 1;
      await openOne(port, path);
    }
  }
  await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, count) }, worker));
}

// Running totals, and each open connection's events since the previous report: the fewest, the
// median and the most, so a few starved clients show behind a healthy total.
function report(op) {
  const deltas = [];
  for (const { socket, state } of sockets) {
    if (socket.destroyed) continue;
    deltas.push(state.events - state.counted);
    state.counted = state.events;
  }
  deltas.sort((a, b) => a - b);
  process.send({ op, ...totals, open: deltas.length, sinceLast: deltas });
}

process.on('message', (msg) => {
  if (msg.op === 'open') openMany(msg.port, msg.path, msg.count).then(() => report('opened'));
  else if (msg.op === 'count') report('counted');
  else if (msg.op === 'close') {
    for (const { socket } of sockets) socket.destroy();
    process.disconnect();
  }
});
// The parent leaving (a crashed runner) must not leave this process holding thousands of sockets.
process.on('disconnect', () => process.exit(0));
