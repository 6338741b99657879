'use strict';
// The bytes of docs/bridge.md on the host's side, for the JavaScript backend (js/host/): what the
// Rust server would write for JS (request envelopes, control, data and credit records) and the
// reading of what JS sends back (response, data, credit and WebSocket records). js/bridge.js is
// the other end and stays the only reader of envelopes, so every backend feeds the app the same
// bytes.

const {
  ENVELOPE_VERSION,
  ENVELOPE_HEADER_SIZE,
  HEADER_ENTRY_SIZE,
  STREAM_HEADER_SIZE,
  CREDIT_SIZE,
  RECORD_HEADER_SIZE,
  CONTROL_RECORD,
  DATA_RECORD,
  CREDIT_RECORD,
  IN_FLAG_END,
  EVENT_CLIENT_GONE,
  EVENT_HANDLER_TIMED_OUT,
  EVENT_SERVER_ERROR,
  EVENT_STREAM_TIMED_OUT,
  EVENT_BODY_TIMED_OUT,
  EVENT_BODY_INVALID,
  EVENT_LENGTH_EXCEEDED,
  KIND_RESPONSE,
  KIND_DATA,
  KIND_CREDIT,
  FLAG_END,
  FLAG_ABORT,
  FLAG_WAITING,
  FLAG_FILE,
  FLAG_UPGRADE,
} = require('../bridge');
const { methodCode } = require('./router');

// Envelope flags (byte 6), as js/request.js reads them.
const FLAG_HTTP_1_0 = 1;
const FLAG_HAS_QUERY = 2;
const FLAG_BODY_STREAM = 4;
const FLAG_TLS = 32;

const NO_ROUTE = 0xffffffff;
const EMPTY = Buffer.alloc(0);

// One request envelope (version 1). `req`: { id, method, routeId, flags, path, query (null when
// the target had no '?'), ip, headers ([lowerName, value] pairs, as sent), params (decoded
// strings, in path order), body (Buffer; empty when streamed), guardWord }. Path, query and params
// are text written as UTF-8; method, ip and headers are binary strings written byte for byte.
function encodeRequest(req) {
  const method = Buffer.from(req.method, 'latin1');
  // The target is text by now (js/host/core.js decoded raw UTF-8 bytes): back to those bytes.
  const path = Buffer.from(req.path, 'utf8');
  const query = req.query === null ? EMPTY : Buffer.from(req.query, 'utf8');
  const ip = Buffer.from(req.ip, 'latin1');
  const body = req.body ?? EMPTY;
  const params = req.params.map((p) => Buffer.from(p, 'utf8'));
  const headers = req.headers.map(([name, value]) => [Buffer.from(name, 'latin1'), Buffer.from(value, 'latin1')]);
  let size = ENVELOPE_HEADER_SIZE + method.length + path.length + query.length + ip.length + body.length;
  for (const p of params) size += 4 + p.length;
  const headersOffset = size;
  for (const [name, value] of headers) size += HEADER_ENTRY_SIZE + name.length + value.length;

  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt32LE(size, 0);
  buf[4] = ENVELOPE_VERSION;
  buf[5] = methodCode(req.method);
  buf[6] = req.flags | (req.query === null ? 0 : FLAG_HAS_QUERY);
  buf[7] = params.length;
  buf.writeUInt32LE(req.id, 8);
  buf.writeUInt32LE(req.routeId, 12);
  buf.writeUInt16LE(headers.length, 16);
  buf[18] = method.length;
  buf[19] = ip.length;
  buf.writeUInt32LE(path.length, 20);
  buf.writeUInt32LE(query.length, 24);
  buf.writeUInt32LE(body.length, 28);
  buf.writeUInt32LE(headersOffset, 32);
  buf.writeUInt32LE(req.guardWord ?? 0, 36);
  let pos = ENVELOPE_HEADER_SIZE;
  for (const part of [method, path, query, ip, body]) pos += part.copy(buf, pos);
  for (const p of params) {
    buf.writeUInt32LE(p.length, pos);
    pos += 4 + p.copy(buf, pos + 4);
  }
  for (const [name, value] of headers) {
    buf.writeUInt16LE(name.length, pos);
    buf.writeUInt32LE(value.length, pos + 2);
    pos += HEADER_ENTRY_SIZE;
    pos += name.copy(buf, pos);
    pos += value.copy(buf, pos);
  }
  return buf;
}

// The 12-byte head shared by control, data and credit records.
function streamHead(buf, kind, flags, id) {
  buf.writeUInt32LE(buf.length, 0);
  buf[4] = kind;
  buf[5] = flags;
  buf.writeUInt16LE(0, 6);
  buf.writeUInt32LE(id, 8);
  return buf;
}

function controlRecord(event, id, message = '') {
  const text = Buffer.from(message, 'utf8');
  const buf = streamHead(Buffer.allocUnsafe(STREAM_HEADER_SIZE + text.length), CONTROL_RECORD, event, id);
  text.copy(buf, STREAM_HEADER_SIZE);
  return buf;
}

// Body bytes of a streamed request; `end` marks its last ones.
function dataRecord(id, bytes, end) {
  const buf = streamHead(Buffer.allocUnsafe(STREAM_HEADER_SIZE + bytes.length), DATA_RECORD, end ? IN_FLAG_END : 0, id);
  buf.set(bytes, STREAM_HEADER_SIZE);
  return buf;
}

// `bytes` of a streamed answer reached the client.
function creditRecord(id, bytes) {
  const buf = streamHead(Buffer.allocUnsafe(CREDIT_SIZE), CREDIT_RECORD, 0, id);
  buf.writeUInt32LE(bytes, STREAM_HEADER_SIZE);
  return buf;
}

// Reads the records of one respond() call, calling `visit(record)` for each in order. The
// caller's buffer is reused once respond() returns, so every byte kept is copied here.
// A record: { id, kind, flags, ... }: a response adds { status, headers ([name, value] strings),
// cacheKey, cacheTtlMs, body (Buffer) }; data adds { body }; credit adds { bytes }; a WebSocket
// record (kind 4-8) adds { field (u16 at 10), body }.
function readRecords(buf, visit) {
  let pos = 0;
  while (pos + STREAM_HEADER_SIZE <= buf.length) {
    const len = buf.readUInt32LE(pos);
    if (len < STREAM_HEADER_SIZE || pos + len > buf.length) throw new RangeError(`malformed record at byte ${pos} of ${buf.length}`);
    const record = { id: buf.readUInt32LE(pos + 4), kind: buf[pos + 8], flags: buf[pos + 9] };
    if (record.kind === KIND_RESPONSE) readResponse(buf, pos, len, record);
    else if (record.kind === KIND_CREDIT) record.bytes = buf.readUInt32LE(pos + STREAM_HEADER_SIZE);
    else {
      record.field = buf.readUInt16LE(pos + 10);
      record.body = Buffer.from(buf.subarray(pos + STREAM_HEADER_SIZE, pos + len));
    }
    visit(record);
    pos += len;
  }
}

function readResponse(buf, start, len, record) {
  record.status = buf.readUInt16LE(start + 10);
  const count = buf.readUInt16LE(start + 12);
  const keyLen = buf.readUInt16LE(start + 14);
  const bodyLen = buf.readUInt32LE(start + 16);
  record.cacheTtlMs = buf.readUInt32LE(start + 20);
  const headers = [];
  let pos = start + RECORD_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    const nameLen = buf.readUInt16LE(pos);
    const valueLen = buf.readUInt32LE(pos + 2);
    pos += HEADER_ENTRY_SIZE;
    const name = buf.toString('latin1', pos, pos + nameLen);
    pos += nameLen;
    // Values go to node:http as latin1 strings: the bytes JS encoded are written back unchanged.
    headers.push([name, buf.toString('latin1', pos, pos + valueLen)]);
    pos += valueLen;
  }
  record.headers = headers;
  // The request target as JS read it (UTF-8), the form the core keys its cache by.
  record.cacheKey = buf.toString('utf8', pos, pos + keyLen);
  pos += keyLen;
  record.body = Buffer.from(buf.subarray(pos, Math.min(pos + bodyLen, start + len)));
}

module.exports = {
  encodeRequest,
  controlRecord,
  dataRecord,
  creditRecord,
  readRecords,
  methodCode,
  NO_ROUTE,
  FLAG_HTTP_1_0,
  FLAG_BODY_STREAM,
  FLAG_TLS,
  KIND_RESPONSE,
  KIND_DATA,
  KIND_CREDIT,
  FLAG_END,
  FLAG_ABORT,
  FLAG_WAITING,
  FLAG_FILE,
  FLAG_UPGRADE,
  EVENT_CLIENT_GONE,
  EVENT_HANDLER_TIMED_OUT,
  EVENT_SERVER_ERROR,
  EVENT_STREAM_TIMED_OUT,
  EVENT_BODY_TIMED_OUT,
  EVENT_BODY_INVALID,
  EVENT_LENGTH_EXCEEDED,
};
