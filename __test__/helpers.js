'use strict';
// Shared test utilities: start an app on port 0, and a small raw HTTP/1.1 client over node:net
// for the cases fetch cannot express (pipelining, split writes, malformed input, close detection).
const net = require('node:net');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { createApp } = require('..');

const DEFAULT_TIMEOUT = 5000;
const DRIVERS = ['io_uring', 'epoll', 'kqueue'];
const LEGACY_ENV = process.env.HTTP_NATIVE_DRIVER === 'legacy';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Rejects with `what` if `promise` has not settled within `ms`.
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// Creates an app, lets `setup` register routes, listens on 127.0.0.1:0.
async function start(setup, { appOptions, listenOptions } = {}) {
  const app = appOptions === undefined ? createApp() : createApp(appOptions);
  if (setup) setup(app);
  const server = await withTimeout(
    app.listen({ port: 0, host: '127.0.0.1', ...listenOptions }),
    DEFAULT_TIMEOUT,
    'app.listen',
  );
  return {
    app,
    server,
    port: server.port,
    base: `http://127.0.0.1:${server.port}`,
    close: () => closeServer(server),
  };
}

// start() plus t.after(close) for a test context (or a suite's `after` function).
async function serve(t, setup, options) {
  const s = await start(setup, options);
  if (typeof t === 'function') t(() => s.close());
  else t.after(() => s.close());
  return s;
}

function closeServer(server) {
  return withTimeout(Promise.resolve(server.close()), 15000, 'server.close()');
}

// fetch with a timeout so a server that never answers fails the test instead of hanging.
function request(base, path, init = {}) {
  return fetch(base + path, { signal: AbortSignal.timeout(DEFAULT_TIMEOUT), ...init });
}

// Builds raw request bytes. `headers` is an object or an array of [name, value] pairs (repeats
// kept). Host is added unless `host: null` or a Host header is given; Content-Length is added for a
// body unless the caller gave Content-Length or Transfer-Encoding.
function buildRequest(method, target, { headers = [], body, version = '1.1', host = 'localhost' } = {}) {
  const list = Array.isArray(headers) ? headers.slice() : Object.entries(headers);
  const has = (name) => list.some(([n]) => n.toLowerCase() === name);
  if (host !== null && !has('host')) list.unshift(['Host', host]);
  const bodyBuf = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(body);
  if (bodyBuf && !has('content-length') && !has('transfer-encoding')) {
    list.push(['Content-Length', String(bodyBuf.length)]);
  }
  let head = `${method} ${target} HTTP/${version}\r\n`;
  for (const [n, v] of list) head += `${n}: ${v}\r\n`;
  head += '\r\n';
  return bodyBuf ? Buffer.concat([Buffer.from(head, 'latin1'), bodyBuf]) : Buffer.from(head, 'latin1');
}

// Chunked transfer-encoding framing for the given pieces (strings or Buffers).
function chunked(pieces) {
  const parts = [];
  for (const p of pieces) {
    const b = Buffer.isBuffer(p) ? p : Buffer.from(p);
    if (b.length === 0) continue;
    parts.push(Buffer.from(b.length.toString(16) + '\r\n'), b, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

// Parses one response at the start of `buf`. Returns { response, consumed } or null when more bytes
// are needed. `ended` means the peer closed: a body without framing ends there.
function parseResponse(buf, { head = false, ended = false } = {}) {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new Error(`malformed status line: ${JSON.stringify(lines[0])}`);
  const rawHeaders = [];
  const headers = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) throw new Error(`malformed header line: ${JSON.stringify(line)}`);
    const name = line.slice(0, i);
    const value = line.slice(i + 1).trim();
    rawHeaders.push([name, value]);
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  const status = Number(m[2]);
  let offset = end + 4;
  let body;
  const noBody = head || (status >= 100 && status < 200) || status === 204 || status === 304;
  if (noBody) {
    body = Buffer.alloc(0);
  } else if (/\bchunked\b/i.test(headers['transfer-encoding'] || '')) {
    const parts = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', offset);
      if (lineEnd === -1) return null;
      const size = parseInt(buf.subarray(offset, lineEnd).toString('latin1'), 16);
      if (Number.isNaN(size)) throw new Error('malformed chunk size in response');
      offset = lineEnd + 2;
      if (size === 0) {
        const trailerEnd = buf.indexOf('\r\n', offset);
        if (trailerEnd === -1) return null;
        offset = trailerEnd + 2;
        break;
      }
      if (buf.length < offset + size + 2) return null;
      parts.push(buf.subarray(offset, offset + size));
      offset += size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    const len = Number(headers['content-length']);
    if (!Number.isInteger(len) || len < 0) throw new Error(`bad content-length ${headers['content-length']}`);
    if (buf.length < offset + len) return null;
    body = buf.subarray(offset, offset + len);
    offset += len;
  } else {
    if (!ended) return null;
    body = buf.subarray(offset);
    offset = buf.length;
  }
  const response = {
    httpVersion: m[1],
    status,
    statusText: m[3] || '',
    headers,
    rawHeaders,
    body: Buffer.from(body),
    get text() {
      return this.body.toString('utf8');
    },
    json() {
      return JSON.parse(this.body.toString('utf8'));
    },
  };
  return { response, consumed: offset };
}

class RawClient {
  constructor(socket) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.ended = false; // peer sent FIN
    this.closed = false; // socket fully closed
    this.error = null;
    this._listeners = new Set();
    socket.setNoDelay(true);
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this._notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this._notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.ended = true;
      this._notify();
    });
    // ECONNRESET / EPIPE after the server answered and closed: keep what was received.
    socket.on('error', (e) => {
      this.error = e;
      this._notify();
    });
  }

  static connect(port, { host = '127.0.0.1', timeout = DEFAULT_TIMEOUT } = {}) {
    return withTimeout(
      new Promise((resolve, reject) => {
        const socket = net.connect({ port, host });
        socket.once('connect', () => {
          socket.removeListener('error', reject);
          resolve(new RawClient(socket));
        });
        socket.once('error', reject);
      }),
      timeout,
      `connect to ${host}:${port}`,
    );
  }

  get isClosedByPeer() {
    return this.ended || this.closed;
  }

  _notify() {
    for (const fn of [...this._listeners]) fn();
  }

  // Resolves with the first non-undefined value of check(), re-run on every socket event.
  _waitFor(check, timeout, what) {
    return waitForValue(this._listeners, check, timeout, () => {
      const got = this.buf.subarray(0, 300).toString('latin1');
      return new Error(`timed out after ${timeout} ms waiting for ${what}; buffered ${this.buf.length} bytes: ${JSON.stringify(got)}`);
    });
  }

  // Writes bytes; resolves when flushed. Write errors (server already closed) are not thrown.
  write(data) {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve(false);
      this.socket.write(data, (err) => resolve(!err));
    });
  }

  // Writes `data` in pieces of `size` bytes with a pause between them, so the server sees many reads.
  async writeInPieces(data, size = 1, pauseMs = 2) {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1');
    for (let i = 0; i < buf.length; i += size) {
      await this.write(buf.subarray(i, i + size));
      if (pauseMs > 0) await sleep(pauseMs);
      else await new Promise((r) => setImmediate(r));
    }
  }

  // Reads one response. Pass { head: true } when it answers a HEAD request.
  readResponse({ head = false, timeout = DEFAULT_TIMEOUT } = {}) {
    return this._waitFor(
      () => {
        const r = parseResponse(this.buf, { head, ended: this.isClosedByPeer });
        if (r) {
          this.buf = this.buf.subarray(r.consumed);
          return r.response;
        }
        if (this.isClosedByPeer) {
          throw new Error(
            `connection closed before a complete response; buffered: ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}` +
              (this.error ? ` (${this.error.code || this.error.message})` : ''),
          );
        }
        return undefined;
      },
      timeout,
      'a response',
    );
  }

  // Reads n responses; `heads` is an optional array of booleans marking HEAD requests.
  async readResponses(n, { heads = [], timeout = DEFAULT_TIMEOUT } = {}) {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await this.readResponse({ head: !!heads[i], timeout }));
    return out;
  }

  // Resolves once the server closed the connection; rejects after `timeout`.
  waitForClose(timeout = DEFAULT_TIMEOUT) {
    return this._waitFor(() => (this.isClosedByPeer ? true : undefined), timeout, 'the server to close the connection');
  }

  // Bytes the server sent that no read consumed (e.g. a body after a HEAD response).
  get leftover() {
    return this.buf;
  }

  destroy() {
    this.socket.destroy();
  }
}

// One request on a fresh connection; returns the response and the client (destroyed unless keep).
async function exchange(port, data, { head = false, timeout = DEFAULT_TIMEOUT, keep = false } = {}) {
  const c = await RawClient.connect(port);
  try {
    await c.write(data);
    const res = await c.readResponse({ head, timeout });
    return keep ? { res, client: c } : res;
  } finally {
    if (!keep) c.destroy();
  }
}

function assertDateHeader(assert, res) {
  assert.ok(res.headers.date, 'response has a Date header');
  assert.ok(!Number.isNaN(Date.parse(res.headers.date)), `Date header parses: ${res.headers.date}`);
  assert.match(
    res.headers.date,
    /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/,
    'Date header is an IMF-fixdate',
  );
}

// GET (or `method`) `target` on a fresh connection with the raw client; `head` parses a HEAD answer.
function get(port, target, { method = 'GET', headers = [], head = method === 'HEAD', timeout } = {}) {
  return exchange(port, buildRequest(method, target, { headers }), { head, timeout });
}

// Opens `n` connections first, then writes `data` on all of them at once, so the requests reach
// the server together; resolves with the n responses in connection order.
async function concurrent(port, n, data, { head = false, timeout = DEFAULT_TIMEOUT } = {}) {
  const clients = await Promise.all(Array.from({ length: n }, () => RawClient.connect(port)));
  try {
    await Promise.all(clients.map((c) => c.write(data)));
    return await Promise.all(clients.map((c) => c.readResponse({ head, timeout })));
  } finally {
    for (const c of clients) c.destroy();
  }
}

// Polls `check` until it returns a value other than undefined/false; rejects after `timeout`,
// with the last value seen in the message.
async function waitUntil(check, { timeout = DEFAULT_TIMEOUT, interval = 20, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await check();
    if (last !== undefined && last !== false) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}

// The route assertStillServes asks for: GET / → 'ok'.
function withRoot(app) {
  app.get('/', (req, res) => res.send('ok'));
}

// Another client is still answered (GET / → 'ok', a route the test's server must have: withRoot)
// while the server deals with a greedy or failing one.
async function assertStillServes(port) {
  const other = await RawClient.connect(port);
  try {
    await other.write(buildRequest('GET', '/'));
    const res = await other.readResponse({ timeout: 5000 });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'ok');
  } finally {
    other.destroy();
  }
}

// A promise with its resolve and reject, for a test to release a handler (or the reverse).
function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

// Why tests that drive curl skip (a string for node:test's `skip`), or false when it runs.
let curlChecked;
function curlMissing() {
  if (curlChecked === undefined) {
    try {
      execFileSync('curl', ['--version'], { stdio: 'ignore' });
      curlChecked = false;
    } catch {
      curlChecked = 'curl is not installed (or does not run): these tests need it as a real client';
    }
  }
  return curlChecked;
}

// The head and the de-chunked body bytes (a Buffer) received so far on a raw connection to a
// chunked response: a streamed answer read as it arrives. `head` is undefined until it is all there.
function chunkedSoFar(buf) {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd === -1) return { head: undefined, body: Buffer.alloc(0), ended: false };
  const head = buf.subarray(0, headEnd).toString('latin1');
  const parts = [];
  let offset = headEnd + 4;
  let ended = false;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', offset);
    if (lineEnd === -1) break;
    const size = parseInt(buf.subarray(offset, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) throw new Error(`malformed chunk size at ${offset}`);
    if (size === 0) {
      // No trailers are sent: the last chunk is followed by the final CRLF.
      ended = buf.subarray(lineEnd + 2, lineEnd + 4).toString('latin1') === '\r\n';
      break;
    }
    if (buf.length < lineEnd + 2 + size + 2) break;
    parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return { head, body: Buffer.concat(parts), ended };
}

// Resolves with the first non-undefined value of check(), run now and each time the owner runs the
// functions in `watchers` (a Set, on every event it gets); rejects with what check() throws, or
// with timeoutError() after `timeout` ms. Shared by RawClient here and the ws Peer
// (support/ws-client.js).
function waitForValue(watchers, check, timeout, timeoutError) {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      watchers.delete(run);
    };
    const run = () => {
      let v;
      try {
        v = check();
      } catch (e) {
        done();
        reject(e);
        return;
      }
      if (v !== undefined) {
        done();
        resolve(v);
      }
    };
    const timer = setTimeout(() => {
      done();
      reject(timeoutError());
    }, timeout);
    watchers.add(run);
    run();
  });
}

module.exports = {
  waitForValue,
  DEFAULT_TIMEOUT,
  DRIVERS,
  LEGACY_ENV,
  sleep,
  withTimeout,
  start,
  serve,
  closeServer,
  request,
  buildRequest,
  chunked,
  chunkedSoFar,
  parseResponse,
  RawClient,
  exchange,
  assertDateHeader,
  get,
  concurrent,
  waitUntil,
  assertStillServes,
  withRoot,
  deferred,
  curlMissing,
};

// If a test file's process is kept alive after its tests (a server or socket that close() left
// behind), fail it after a while instead of letting `node --test` hang. The timer is unref'd: it
// only fires when something else keeps the process alive.
require('node:test').after(() => {
  setTimeout(() => {
    const handles = (process._getActiveHandles ? process._getActiveHandles() : []).map((h) => h.constructor.name);
    console.error(`http-native tests: process still alive 20 s after its tests ended; active handles: ${handles.join(', ')}`);
    process.exit(1);
  }, 20000).unref();
});
