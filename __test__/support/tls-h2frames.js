'use strict';
// HTTP/2 written by hand (RFC 9113, RFC 7541) for the h2 bad-input tests: frames, a literal-only
// HPACK encoder (plus indexed references, for the bomb), and a connection over a plain socket
// (h2c with prior knowledge) that reads the server's frames as they come. Only what the tests
// send and look at: no flow control, no HPACK decoding beyond a response's :status.
const net = require('node:net');
const { waitForValue, withTimeout, DEFAULT_TIMEOUT } = require('../helpers');
const { track } = require('./tls-client');

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const TYPE = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 };
const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 };
const ERROR = { NO_ERROR: 0, PROTOCOL_ERROR: 1, CANCEL: 8, COMPRESSION_ERROR: 9, ENHANCE_YOUR_CALM: 0xb, FRAME_SIZE_ERROR: 6, REFUSED_STREAM: 7 };
const FRAME_HEADER_BYTES = 9;
// The size of a frame the server must accept whatever it announced (SETTINGS_MAX_FRAME_SIZE's floor).
const MIN_MAX_FRAME_SIZE = 16384;
// :status values of the static table (RFC 7541 Appendix A), by index.
const STATIC_STATUS = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

function frame(type, flags, streamId, payload = Buffer.alloc(0)) {
  const head = Buffer.alloc(FRAME_HEADER_BYTES);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

// SETTINGS with { id: value } pairs (none: the client's defaults).
function settings(pairs = {}) {
  const payload = Buffer.alloc(6 * Object.keys(pairs).length);
  Object.entries(pairs).forEach(([id, value], i) => {
    payload.writeUInt16BE(Number(id), i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(TYPE.SETTINGS, 0, 0, payload);
}

function rstStream(streamId, code = ERROR.CANCEL) {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(TYPE.RST_STREAM, 0, streamId, payload);
}

// An HPACK integer with an N-bit prefix (RFC 7541 §5.1); `high` are the bits above the prefix.
function hpackInt(value, prefixBits, high = 0) {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([high | value]);
  const bytes = [high | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

// A string literal, never Huffman-coded (RFC 7541 §5.2).
function hpackString(s) {
  const b = Buffer.from(s, 'latin1');
  return Buffer.concat([hpackInt(b.length, 7), b]);
}

// A literal header field with a literal name: without indexing (§6.2.2), or with incremental
// indexing (§6.2.1), which adds it to the dynamic table at index 62.
function literal(name, value, { index = false } = {}) {
  return Buffer.concat([Buffer.from([index ? 0x40 : 0x00]), hpackString(name), hpackString(value)]);
}

// A reference to a table entry (§6.1): 62 is the newest dynamic entry.
function indexed(i) {
  return hpackInt(i, 7, 0x80);
}

// The header block of a request, every field literal.
function requestBlock({ method = 'GET', path = '/', authority = 'localhost', scheme = 'http', extra = [] } = {}) {
  const fields = [
    [':method', method],
    [':scheme', scheme],
    [':path', path],
    [':authority', authority],
    ...extra,
  ];
  return Buffer.concat(fields.map(([n, v]) => literal(n, v)));
}

function headers(streamId, block, { endStream = true, endHeaders = true } = {}) {
  return frame(TYPE.HEADERS, (endStream ? FLAG.END_STREAM : 0) | (endHeaders ? FLAG.END_HEADERS : 0), streamId, block);
}

function continuation(streamId, block, { endHeaders = false } = {}) {
  return frame(TYPE.CONTINUATION, endHeaders ? FLAG.END_HEADERS : 0, streamId, block);
}

// Huffman codes of the digits (RFC 7541 Appendix B): a status is three of them. '0'-'2' take 5
// bits, '3'-'9' 6.
const HUFFMAN_DIGITS = [
  [0b00000, 5], [0b00001, 5], [0b00010, 5], [0b011001, 6], [0b011010, 6],
  [0b011011, 6], [0b011100, 6], [0b011101, 6], [0b011110, 6], [0b011111, 6],
];

// A Huffman-coded string of digits, or null if it holds anything else.
function huffmanDigits(bytes) {
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  let at = 0;
  for (;;) {
    const rest = bits.slice(at);
    // Padding: fewer than 8 bits, all ones (the start of EOS).
    if (rest.length < 8 && /^1*$/.test(rest)) return out;
    const digit = HUFFMAN_DIGITS.findIndex(([code, n]) => rest.length >= n && parseInt(rest.slice(0, n), 2) === code);
    if (digit === -1) return null;
    out += String(digit);
    at += HUFFMAN_DIGITS[digit][1];
  }
}

// The :status of a response's header block, when it comes first (as servers send it): a
// static-table reference, or a literal with the :status name index, plain or Huffman-coded.
function statusOf(block) {
  const first = block[0];
  if (first & 0x80) return STATIC_STATUS[first & 0x7f] ?? null;
  const nameIndex = first & (first & 0x40 ? 0x3f : 0x0f);
  if (nameIndex < 8 || nameIndex > 14) return null;
  const length = block[1] & 0x7f;
  const value = block.subarray(2, 2 + length);
  const text = block[1] & 0x80 ? huffmanDigits(value) : value.toString('latin1');
  return text === null ? null : Number(text);
}

// A prior-knowledge h2c connection: sends the preface and SETTINGS, acknowledges the server's
// SETTINGS, and keeps every frame the server sends in `frames` ({ type, flags, streamId, payload }).
class H2Conn {
  constructor(socket) {
    this.socket = socket;
    this.frames = [];
    this.buf = Buffer.alloc(0);
    this.closed = false;
    this.watchers = new Set();
    // Settles (never rejects) at the first GOAWAY or the close: what a writer races its writes with.
    this.ended = new Promise((resolve) => (this.endedNow = resolve));
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
    // The server may close while the test is still writing: EPIPE / ECONNRESET are outcomes here.
    socket.on('error', () => {});
  }

  static async open(port, { preface = true } = {}) {
    const socket = await withTimeout(
      new Promise((resolve, reject) => {
        // Tracked: destroyed before the test's server closes, even when an assertion failed first.
        const s = track(net.connect({ port, host: '127.0.0.1' }, () => resolve(s)));
        s.once('error', reject);
      }),
      DEFAULT_TIMEOUT,
      `connect to 127.0.0.1:${port}`,
    );
    const conn = new H2Conn(socket);
    if (preface) await conn.write(Buffer.concat([PREFACE, settings()]));
    return conn;
  }

  notify() {
    if (this.closed || this.frames.some((f) => f.type === TYPE.GOAWAY)) this.endedNow();
    for (const fn of [...this.watchers]) fn();
  }

  parse() {
    while (this.buf.length >= FRAME_HEADER_BYTES) {
      const length = this.buf.readUIntBE(0, 3);
      if (this.buf.length < FRAME_HEADER_BYTES + length) return;
      const f = {
        type: this.buf[3],
        flags: this.buf[4],
        streamId: this.buf.readUInt32BE(5) & 0x7fffffff,
        payload: Buffer.from(this.buf.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length)),
      };
      this.buf = this.buf.subarray(FRAME_HEADER_BYTES + length);
      this.frames.push(f);
      if (f.type === TYPE.SETTINGS && !(f.flags & FLAG.ACK)) this.write(frame(TYPE.SETTINGS, FLAG.ACK, 0));
    }
  }

  // Resolves when flushed, false if the socket is gone (the server closed it: not an error here).
  write(data) {
    return new Promise((resolve) => {
      if (this.socket.destroyed || this.closed) return resolve(false);
      this.socket.write(data, (err) => resolve(!err));
    });
  }

  // Resolves with check()'s first non-undefined value, re-run on every frame and on close.
  waitFor(check, what, timeout = DEFAULT_TIMEOUT) {
    return waitForValue(this.watchers, check, timeout, () => {
      const kinds = this.frames.map((f) => `${f.type}/${f.streamId}`).join(' ');
      return new Error(`timed out after ${timeout} ms waiting for ${what}; frames so far (type/stream): ${kinds}; closed: ${this.closed}`);
    });
  }

  // The GOAWAY the server sent ({ lastStreamId, code, debug }), or null if it closed without one;
  // waits for either.
  goawayOrClose(timeout) {
    return this.waitFor(
      () => {
        const g = this.frames.find((f) => f.type === TYPE.GOAWAY);
        if (g) return { lastStreamId: g.payload.readUInt32BE(0) & 0x7fffffff, code: g.payload.readUInt32BE(4), debug: g.payload.subarray(8).toString('latin1') };
        return this.closed ? null : undefined;
      },
      'a GOAWAY or the connection to close',
      timeout,
    );
  }

  // The response on `streamId`: { status, body } once its stream ends; rejects if it is reset,
  // the connection goes away first, or nothing comes.
  response(streamId, timeout) {
    return this.waitFor(
      () => {
        const mine = this.frames.filter((f) => f.streamId === streamId);
        const rst = mine.find((f) => f.type === TYPE.RST_STREAM);
        if (rst) throw new Error(`stream ${streamId} reset with code ${rst.payload.readUInt32BE(0)}`);
        const head = mine.find((f) => f.type === TYPE.HEADERS);
        const ended = mine.some((f) => (f.type === TYPE.DATA || f.type === TYPE.HEADERS) && f.flags & FLAG.END_STREAM);
        if (head && ended) {
          return { status: statusOf(head.payload), body: Buffer.concat(mine.filter((f) => f.type === TYPE.DATA).map((f) => f.payload)) };
        }
        if (this.closed) throw new Error(`the connection closed before stream ${streamId} was answered`);
        return undefined;
      },
      `the response on stream ${streamId}`,
      timeout,
    );
  }

  destroy() {
    this.socket.destroy();
  }
}

module.exports = {
  PREFACE,
  TYPE,
  FLAG,
  ERROR,
  MIN_MAX_FRAME_SIZE,
  frame,
  settings,
  rstStream,
  literal,
  indexed,
  requestBlock,
  headers,
  continuation,
  statusOf,
  H2Conn,
};
