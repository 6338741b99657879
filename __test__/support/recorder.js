'use strict';
// A recording TCP proxy for tests whose client is a browser: it forwards every byte both ways
// unchanged and keeps the head of each request and of each answer, so a test can see from the
// server's side what a page asked for (Range requests from a <video>, say) even where the server
// answers without JS. Bodies are skipped by Content-Length or chunked framing; a connection whose
// framing it cannot follow is still forwarded, just no longer recorded.
const net = require('node:net');

// Parses successive message heads out of a byte stream; `onHead(head)` returns the body length
// to skip, 'chunked', or null to stop parsing.
class HeadParser {
  constructor(onHead) {
    this.onHead = onHead;
    this.buf = Buffer.alloc(0);
    this.skip = 0;
    this.chunked = false;
    this.dead = false;
  }

  push(data) {
    if (this.dead) return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, this.buf.length);
        this.skip -= n;
        this.buf = this.buf.subarray(n);
        if (this.skip > 0) return;
      }
      if (this.chunked) {
        const end = this.buf.indexOf('\r\n');
        if (end === -1) return;
        const size = parseInt(this.buf.subarray(0, end).toString('latin1'), 16);
        if (Number.isNaN(size)) return this.stop();
        this.buf = this.buf.subarray(end + 2);
        // The last chunk: skip the (empty) trailer line; a data chunk: its bytes and CRLF.
        if (size === 0) {
          this.chunked = false;
          this.skip = 2;
        } else {
          this.skip = size + 2;
        }
        continue;
      }
      const end = this.buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
      this.buf = this.buf.subarray(end + 4);
      const headers = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const body = this.onHead({ line: lines[0], headers });
      if (body === null) return this.stop();
      if (body === 'chunked') this.chunked = true;
      else this.skip = body;
    }
  }

  stop() {
    this.dead = true;
    this.buf = Buffer.alloc(0);
  }
}

function bodyLength(headers) {
  if (/\bchunked\b/i.test(headers['transfer-encoding'] || '')) return 'chunked';
  if (headers['content-length'] !== undefined) return Number(headers['content-length']);
  return 0;
}

// Listens on 127.0.0.1:0 and forwards to `port`. Returns { port, exchanges, close() }: exchanges
// is [{ method, target, headers, status, responseHeaders }], the answer's fields filled in when its
// head has passed.
async function recordingProxy(port) {
  const exchanges = [];
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const pending = []; // this connection's exchanges still waiting for an answer head
    const requests = new HeadParser(({ line, headers }) => {
      const m = /^(\S+) (\S+) HTTP\/1\.[01]$/.exec(line);
      if (!m) return null;
      const exchange = { method: m[1], target: m[2], headers, status: undefined, responseHeaders: undefined };
      exchanges.push(exchange);
      pending.push(exchange);
      const len = bodyLength(headers);
      return len === 'chunked' ? null : len;
    });
    const answers = new HeadParser(({ line, headers }) => {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(line);
      if (!m) return null;
      const status = Number(m[1]);
      if (status >= 100 && status < 200) return 0; // an interim answer: the final one follows
      const exchange = pending.shift();
      if (!exchange) return null;
      exchange.status = status;
      exchange.responseHeaders = headers;
      if (exchange.method === 'HEAD' || status === 204 || status === 304) return 0;
      return bodyLength(headers);
    });
    client.on('data', (d) => {
      requests.push(d);
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      answers.push(d);
      client.write(d);
    });
    // Backpressure both ways, so a large body is not buffered here.
    client.on('drain', () => upstream.resume());
    upstream.on('drain', () => client.resume());
    client.on('data', () => {
      if (upstream.writableNeedDrain) client.pause();
    });
    upstream.on('data', () => {
      if (client.writableNeedDrain) upstream.pause();
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    exchanges,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

module.exports = { recordingProxy };
