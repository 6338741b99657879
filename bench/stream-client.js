'use strict';
// The download client of the stream rows (bench/streams.js): one raw node:net connection that
// reads into one reused 1 MiB buffer (net's `onread`) and counts the body's bytes, de-chunking
// without copying. node:http's client allocates a Buffer per read and parses every chunk in its
// own object: at 2 GB/s over loopback that made the client, not the server, the bottleneck.

const net = require('node:net');

// One read's worth: larger reads mean fewer syscalls for the same bytes.
const READ_BUFFER_BYTES = 2 ** 20;
const MAX_HEAD_BYTES = 16 * 1024;
// A chunk-size line (hex size and extensions) or a trailer line longer than this is not HTTP.
const MAX_LINE_BYTES = 4096;

// Counts the data bytes of a chunked body fed to push(), until its last chunk and trailers.
class ChunkedCounter {
  constructor() {
    this.state = 'size';
    this.line = '';
    this.left = 0;
    this.bytes = 0;
    this.done = false;
  }

  // Consumes `buf` from `i`; returns how many bytes of it belonged to the body.
  push(buf, i = 0) {
    const start = i;
    while (i < buf.length && !this.done) {
      if (this.state === 'data') {
        const take = Math.min(this.left, buf.length - i);
        this.bytes += take;
        this.left -= take;
        i += take;
        if (this.left === 0) this.state = 'data-end';
      } else if (this.state === 'data-end') {
        const c = buf[i++];
        if (c === 0x0a) this.state = 'size';
        else if (c !== 0x0d) throw new Error('chunk data not followed by CRLF');
      } else {
        // 'size' or 'trailer': a line up to LF
        const nl = buf.indexOf(0x0a, i);
        const end = nl === -1 ? buf.length : nl;
        this.line += buf.toString('latin1', i, end);
        if (this.line.length > MAX_LINE_BYTES) throw new Error(`${this.state} line too long`);
        i = end;
        if (nl === -1) continue;
        i += 1;
        const line = this.line.replace(/\r$/, '');
        this.line = '';
        if (this.state === 'trailer') {
          if (line === '') this.done = true;
        } else {
          const size = /^[0-9a-fA-F]+/.exec(line);
          if (!size) throw new Error(`bad chunk size line ${JSON.stringify(line.slice(0, 40))}`);
          this.left = parseInt(size[0], 16);
          this.state = this.left === 0 ? 'trailer' : 'data';
        }
      }
    }
    return i - start;
  }
}

// GETs `path` and resolves with { status, framing, bytes } once the whole body was read.
function getCounting({ port, path, idleTimeoutMs }) {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    let status;
    let framing;
    let length; // content-length
    let counter; // chunked
    let bytes = 0;
    let settled = false;
    function finish(err) {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (err) reject(err);
      else resolve({ status, framing, bytes: counter ? counter.bytes : bytes });
    }
    function onBody(buf, i) {
      if (counter) {
        counter.push(buf, i);
        if (counter.done) finish();
      } else {
        bytes += buf.length - i;
        if (length !== undefined && bytes >= length) finish(bytes > length ? new Error(`${bytes} bytes past a content-length of ${length}`) : null);
      }
    }
    function onHead(chunk) {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > MAX_HEAD_BYTES) finish(new Error('response head too large'));
        return;
      }
      const text = head.toString('latin1', 0, end);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (!m) return finish(new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, 40))}`));
      status = Number(m[1]);
      const cl = /\r\ncontent-length:\s*(\d+)/i.exec(text);
      if (/\r\ntransfer-encoding:\s*chunked/i.test(text)) {
        framing = 'chunked';
        counter = new ChunkedCounter();
      } else if (cl) {
        framing = 'content-length';
        length = Number(cl[1]);
      } else {
        framing = 'close-delimited';
      }
      const rest = head;
      head = null;
      if (length === 0) return finish();
      onBody(rest, end + 4);
    }
    const socket = net.connect({
      host: '127.0.0.1',
      port,
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
        callback(n, buf) {
          if (settled) return false;
          const chunk = buf.subarray(0, n);
          try {
            if (head) onHead(Buffer.from(chunk));
            else onBody(chunk, 0);
          } catch (err) {
            finish(err);
          }
          return true;
        },
      },
    });
    socket.setTimeout(idleTimeoutMs, () => finish(new Error(`no progress for ${idleTimeoutMs / 1000} s`)));
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
    socket.on('error', finish);
    socket.on('end', () => {
      if (framing === 'close-delimited') finish();
      else finish(new Error(`connection closed after ${counter ? counter.bytes : bytes} body bytes, before the body's end`));
    });
  });
}

module.exports = { getCounting, ChunkedCounter };
