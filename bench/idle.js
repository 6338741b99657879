'use strict';
// Idle keep-alive cost: how much server RSS each open, idle connection holds. Opens N
// connections with node:net (not autocannon: we want connections that stay open and quiet),
// sends one `GET /` on each and reads its response, so every connection has been through the
// server's request path once, then lets the server settle and reads its RSS.

const net = require('node:net');
const fs = require('node:fs');

const REQUEST = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
// Enough to fill the accept queue steadily without overflowing a 511-deep listen backlog.
const OPEN_CONCURRENCY = 128;
const RESPONSE_TIMEOUT_MS = 10000;
// Descriptors the runner (and the server, which inherits the same limit) need besides the sockets.
const FD_RESERVE = 256;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The soft "Max open files" limit of this process; children inherit it.
function openFilesLimit() {
  try {
    const line = fs
      .readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line.trim().split(/\s+/)[3];
    return soft === 'unlimited' ? Infinity : Number(soft);
  } catch {
    return Infinity;
  }
}

// How many idle connections we can really open, given the descriptor limit.
function clampConnections(wanted) {
  const limit = openFilesLimit();
  return Math.max(0, Math.min(wanted, limit - FD_RESERVE));
}

// True once `buf` holds one complete response (Content-Length or chunked framing).
function responseComplete(buf) {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd === -1) return false;
  const head = buf.subarray(0, headEnd).toString('latin1');
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length) return buf.length >= headEnd + 4 + Number(length[1]);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) return buf.includes('\r\n0\r\n\r\n', headEnd);
  return false;
}

// Connects, sends one request and resolves with the socket once its response has been read.
function openOne(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error('no response within 10 s')), RESPONSE_TIMEOUT_MS);
    function fail(err) {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    }
    socket.on('error', fail);
    socket.on('connect', () => socket.write(REQUEST));
    socket.on('data', function onData(chunk) {
      buf = Buffer.concat([buf, chunk]);
      if (!responseComplete(buf)) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', fail);
      // An idle socket must still swallow errors (a reset would otherwise crash the runner).
      socket.on('error', () => {});
      socket.on('data', () => {});
      resolve(socket);
    });
  });
}

// Opens `count` connections, at most OPEN_CONCURRENCY connecting at once.
async function openMany(port, count) {
  const sockets = [];
  const errors = [];
  let next = 0;
  async function worker() {
    while (next < count) {
      next += 1;
      try {
        sockets.push(await openOne(port));
      } catch (err) {
        errors.push(err);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, count) }, worker));
  return { sockets, errors };
}

function closeAll(sockets) {
  return Promise.all(
    sockets.map(
      (s) =>
        new Promise((resolve) => {
          if (s.destroyed) return resolve();
          s.once('close', resolve);
          s.destroy();
        }),
    ),
  );
}

/**
 * Measures the server's RSS per idle keep-alive connection.
 * @param {object} o
 * @param {number} o.port
 * @param {() => number} o.readRss server RSS in bytes
 * @param {number} o.connections wanted connection count (clamped to the descriptor limit)
 * @param {number} o.waitMs settle time before each RSS reading
 * @param {number} [o.warmupConnections]
 */
async function measureIdle({ port, readRss, connections, waitMs, warmupConnections = 64 }) {
  const wanted = connections;
  const n = clampConnections(wanted);

  // The first connections grow buffers and pools that every later one reuses; pay for them
  // before the baseline so the delta is the per-connection part only.
  const warm = await openMany(port, warmupConnections);
  await closeAll(warm.sockets);
  await sleep(waitMs);
  const rssBefore = readRss();

  const { sockets, errors } = await openMany(port, n);
  await sleep(waitMs);
  const rssAfter = readRss();
  // A server that dropped idle connections before the reading would make them look cheap.
  const closedEarly = sockets.filter((s) => s.destroyed || s.readyState !== 'open').length;
  const open = sockets.length - closedEarly;
  await closeAll(sockets);

  return {
    wanted,
    connections: open,
    failed: errors.length,
    firstError: errors.length ? errors[0].message : undefined,
    closedEarly,
    rssBeforeBytes: rssBefore,
    rssAfterBytes: rssAfter,
    bytesPerConnection: open > 0 ? Math.round((rssAfter - rssBefore) / open) : null,
  };
}

module.exports = { measureIdle, clampConnections, openFilesLimit };
