'use strict';
// WebSocket frames (RFC 6455 §5) built and parsed by hand, for tests that must send what no real
// client would (unmasked frames, reserved bits and opcodes, bad close payloads, invalid UTF-8, a
// decompression bomb) and read exactly what the server put on the wire (RSV1, opcodes, close
// payloads). Pure functions: no sockets here (support/ws-raw.js drives a connection with them).
const crypto = require('node:crypto');
const zlib = require('node:zlib');

const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
// RFC 7692 §7.2.1: a compressed message's deflate stream ends in this empty stored block, which
// the sender removes and the receiver appends back.
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

const toBuffer = (p) => (p === undefined ? Buffer.alloc(0) : Buffer.isBuffer(p) ? p : Buffer.from(p));

// One client frame. `mask`: true (a random key, as a client must), false (unmasked: a protocol
// error from a client), or a 4-byte Buffer. `rsv` is a 3-bit number (4 = RSV1, 2 = RSV2, 1 = RSV3);
// `opcode` any 4-bit number, reserved ones included.
function frame(opcode, payload, { fin = true, rsv = 0, mask = true } = {}) {
  const data = toBuffer(payload);
  const key = mask === true ? crypto.randomBytes(4) : mask === false ? null : mask;
  const len = data.length;
  const lenBytes = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + lenBytes + (key ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  head[1] = (key ? 0x80 : 0) | (lenBytes === 0 ? len : lenBytes === 2 ? 126 : 127);
  if (lenBytes === 2) head.writeUInt16BE(len, 2);
  if (lenBytes === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!key) return Buffer.concat([head, data]);
  key.copy(head, 2 + lenBytes);
  const masked = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) masked[i] = data[i] ^ key[i & 3];
  return Buffer.concat([head, masked]);
}

// A close frame's payload: code (omitted when undefined) and a UTF-8 reason.
function closePayload(code, reason = '') {
  if (code === undefined) return Buffer.alloc(0);
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, toBuffer(reason)]);
}

const text = (s, options) => frame(OP.TEXT, Buffer.from(s, 'utf8'), options);
const binary = (b, options) => frame(OP.BINARY, b, options);
const ping = (b, options) => frame(OP.PING, b, options);
const pong = (b, options) => frame(OP.PONG, b, options);
const close = (code, reason, options) => frame(OP.CLOSE, closePayload(code, reason), options);

// One server frame at the front of `buf`: { fin, rsv, opcode, masked, payload, size } (size = bytes
// the frame took), or null while it is incomplete.
function parseFrame(buf) {
  if (buf.length < 2) return null;
  const fin = (buf[0] & 0x80) !== 0;
  const rsv = (buf[0] >> 4) & 7;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let offset = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    offset = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`server frame length ${big}`);
    len = Number(big);
    offset = 10;
  }
  let key = null;
  if (masked) {
    if (buf.length < offset + 4) return null;
    key = buf.subarray(offset, offset + 4);
    offset += 4;
  }
  if (buf.length < offset + len) return null;
  const payload = Buffer.from(buf.subarray(offset, offset + len));
  if (key) for (let i = 0; i < len; i++) payload[i] ^= key[i & 3];
  return { fin, rsv, rsv1: (rsv & 4) !== 0, opcode, masked, payload, size: offset + len };
}

// A close frame's payload read back: { code, reason } (code undefined when it had none).
function parseClose(payload) {
  if (payload.length < 2) return { code: undefined, reason: '', length: payload.length };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8'), length: payload.length };
}

// A 16-byte base64 key, as a client sends in Sec-WebSocket-Key.
const newKey = () => crypto.randomBytes(16).toString('base64');

// What the server must answer in Sec-WebSocket-Accept for `key` (RFC 6455 §4.2.2).
const acceptFor = (key) => crypto.createHash('sha1').update(key + GUID).digest('base64');

// The upgrade request's header list; `omit` drops some of the defaults by lowercase name,
// `headers` ([name, value] pairs or an object) are added after them (replacing a default of the
// same name), and `append` pairs are added as they are (a header sent twice).
function upgradeHeaders({ key = newKey(), version = '13', headers = [], omit = [], append = [] } = {}) {
  const base = [
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', key],
    ['Sec-WebSocket-Version', version],
  ];
  const extra = Array.isArray(headers) ? headers : Object.entries(headers);
  const replaced = new Set(extra.map(([n]) => n.toLowerCase()));
  const skip = new Set(omit.map((n) => n.toLowerCase()));
  return [...base.filter(([n]) => !replaced.has(n.toLowerCase()) && !skip.has(n.toLowerCase())), ...extra, ...append];
}

// Compresses a whole message as permessage-deflate sends it (fresh context, the tail removed).
function deflateMessage(data) {
  const out = zlib.deflateRawSync(toBuffer(data), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  if (!out.subarray(-4).equals(DEFLATE_TAIL)) throw new Error('deflate did not end in a sync flush');
  return out.subarray(0, -4);
}

// Inflates one compressed message compressed with a fresh context (what a server without context
// takeover sends, and the first message of any).
// The stream has no final block: it ends in the sync flush, so inflate up to there.
const inflateMessage = (data) =>
  zlib.inflateRawSync(Buffer.concat([toBuffer(data), DEFLATE_TAIL]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });

module.exports = {
  OP,
  frame,
  text,
  binary,
  ping,
  pong,
  close,
  closePayload,
  parseFrame,
  parseClose,
  newKey,
  acceptFor,
  upgradeHeaders,
  deflateMessage,
  inflateMessage,
};
