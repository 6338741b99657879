'use strict';
// The `ws` npm client as the tests use it: connect and get a queue of received messages and a
// promise of the close, or the HTTP answer when the server refused the upgrade.
const WebSocket = require('ws');
const { withTimeout, waitForValue } = require('../helpers');

// Bounds a failure only (something that never happens), generous for a loaded 2-core machine.
const WAIT_MS = 10000;
// Every socket opened and not yet closed, for terminateAll() (support/ws-serve.js).
const live = new Set();

// Wraps an open `ws` WebSocket: next() resolves with each received message in order.
class Peer {
  constructor(ws) {
    live.add(this);
    this.ws = ws;
    this.received = [];
    this._waiters = new Set();
    this.pings = 0;
    ws.on('message', (data, isBinary) => {
      this.received.push({ data, isBinary, text: isBinary ? undefined : data.toString('utf8') });
      this._wake();
    });
    ws.on('ping', () => {
      this.pings++;
      this._wake();
    });
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        live.delete(this);
        this.closeInfo = { code, reason: reason.toString('utf8') };
        this._wake();
        resolve(this.closeInfo);
      });
    });
    // An error (a protocol error the server made, a reset) is followed by 'close'; tests look at
    // the close, and the error is kept for their messages.
    ws.on('error', (err) => {
      this.error = err;
    });
    this._read = 0;
  }

  _wake() {
    for (const w of [...this._waiters]) w();
  }

  // Resolves once check() returns something other than undefined (re-run on every event);
  // rejects when check() throws or after `timeout`.
  waitFor(check, what, timeout = WAIT_MS) {
    return waitForValue(this._waiters, check, timeout, () => new Error(`timed out after ${timeout} ms waiting for ${what}`));
  }

  // The next message not yet returned by next(): { data: Buffer, isBinary, text }.
  next(timeout = WAIT_MS) {
    return this.waitFor(
      () => {
        if (this._read < this.received.length) return this.received[this._read++];
        if (this.closeInfo) throw new Error(`closed (${this.closeInfo.code} ${JSON.stringify(this.closeInfo.reason)}) before the next message`);
        return undefined;
      },
      'the next message',
      timeout,
    );
  }

  send(data, options) {
    return new Promise((resolve, reject) => this.ws.send(data, options ?? {}, (err) => (err ? reject(err) : resolve())));
  }

  close(code, reason) {
    this.ws.close(code, reason);
    return withTimeout(this.closed, WAIT_MS, 'the close handshake');
  }

  terminate() {
    this.ws.terminate();
  }
}

// Opens `url`; resolves with a Peer once open, or rejects with the server's HTTP answer
// (err.status, err.headers, err.body) when it refused the upgrade.
function connect(url, options = {}) {
  const { protocols, ...rest } = options;
  const ws = new WebSocket(url, protocols, rest);
  return withTimeout(
    new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new Peer(ws)));
      ws.once('unexpected-response', (req, res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => {
          const err = new Error(`the server refused the upgrade with ${res.statusCode}`);
          err.status = res.statusCode;
          err.headers = res.headers;
          err.body = Buffer.concat(chunks).toString('utf8');
          ws.terminate();
          reject(err);
        });
      });
      ws.once('error', reject);
    }),
    WAIT_MS,
    `opening ${url}`,
  );
}

// Terminates every socket still open.
function terminateAll() {
  for (const peer of [...live]) peer.terminate();
}

// Opens `n` connections to `url` at once.
const connectAll = (url, n, options) => Promise.all(Array.from({ length: n }, () => connect(url, options)));

module.exports = { WebSocket, Peer, connect, connectAll, terminateAll, WAIT_MS };
