'use strict';
// The WebSocket wire as the bench's clients speak it (bench/ws-clients.js, bench/ws.js), on raw
// node:net sockets so the load generator costs as little as possible per message: the upgrade
// request and the check of its 101, masked client frames built once and written many times, and
// a reader that walks server frames in whatever pieces they arrive, counting messages without
// copying them (or keeping them, for the checks). Pings are answered with pongs, so a server's
// idle-timeout pings never close a bench socket. The messages themselves are in
// servers/ws-shared.js.

const net = require('node:net');
const crypto = require('node:crypto');

const OP = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };
// Any 16 bytes, base64: the server only hashes it. The same for every socket.
const KEY = 'aHR0cC1uYXRpdmUgd3Nibg==';
const ACCEPT = crypto.createHash('sha1').update(`${KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
// A 101 head larger than this is not a WebSocket server's.
const MAX_HEAD_BYTES = 16 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
// Fixed: servers unmask whatever the key; a random one per frame would only cost the client.
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

function upgradeRequest(path) {
  return (
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`
  );
}

// Why `head` (the response head, without its final CRLFCRLF) is not a good 101, or null.
function badUpgrade(head) {
  const text = head.toString('latin1');
  if (!/^HTTP\/1\.1 101 /.test(text)) return `unexpected response: ${text.split('\r\n')[0]}`;
  const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(text);
  if (!accept || accept[1] !== ACCEPT) return 'wrong or missing Sec-WebSocket-Accept';
  return null;
}

// One whole client frame (FIN set, masked with MASK).
function maskedFrame(opcode, payload) {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const frame = Buffer.alloc(2 + ext + 4 + len);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) frame.writeUInt16BE(len, 2);
  else if (ext === 8) frame.writeBigUInt64BE(BigInt(len), 2);
  MASK.copy(frame, 2 + ext);
  for (let i = 0; i < len; i++) frame[2 + ext + 4 + i] = payload[i] ^ MASK[i & 3];
  return frame;
}

// `count` copies of one frame back to back: a window of messages is one slice of it, one write.
function frames(opcode, payload, count) {
  const one = maskedFrame(opcode, payload);
  return { frame: one, many: Buffer.concat(Array.from({ length: count }, () => one)), size: one.length };
}

// Bytes of a server frame's head, given its second byte (servers never mask).
function headSize(b1) {
  const len7 = b1 & 0x7f;
  return len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
}

/**
 * Walks the server frames of one socket as its bytes arrive. Counts whole data messages (a
 * fragmented one once, at its final frame); a message whose type or length is not the expected
 * one (when `expect` is set) counts as `bad` too. Control frames go to `onControl(opcode,
 * payload)`. With `keep`, whole messages go to `onMessage(opcode, payload)`.
 */
class FrameReader {
  constructor({ expect, keep = false, onControl, onMessage } = {}) {
    this.expectOpcode = expect ? (expect.binary ? OP.BINARY : OP.TEXT) : 0;
    this.expectLength = expect ? expect.payload.length : -1;
    this.keep = keep;
    this.onControl = onControl;
    this.onMessage = onMessage;
    this.head = Buffer.alloc(10); // a head split across reads
    this.headLen = 0;
    this.left = 0; // payload bytes of the current frame still to come
    this.opcode = 0; // the current frame's
    this.fin = false;
    this.msgOpcode = 0; // the current message's (its first frame's)
    this.msgLength = 0;
    this.ctrl = null; // a control frame's payload, gathered
    this.ctrlLen = 0;
    this.parts = null; // with `keep`: the current message's payload pieces
    this.bad = 0;
    this.protocolErrors = 0;
  }

  // Reads buf[start, end); returns the data messages completed in it.
  feed(buf, start, end) {
    let i = start;
    let messages = 0;
    while (i < end) {
      if (this.left > 0) {
        const take = Math.min(this.left, end - i);
        if (this.ctrl) {
          buf.copy(this.ctrl, this.ctrlLen, i, i + take);
          this.ctrlLen += take;
        } else if (this.parts) {
          this.parts.push(Buffer.from(buf.subarray(i, i + take)));
        }
        i += take;
        this.left -= take;
        if (this.left > 0) break;
        messages += this.endFrame();
        continue;
      }
      let h;
      let at;
      if (this.headLen === 0 && end - i >= 2 && end - i >= headSize(buf[i + 1])) {
        h = buf;
        at = i;
        i += headSize(buf[i + 1]);
      } else {
        this.head[this.headLen++] = buf[i++];
        if (this.headLen < 2 || this.headLen < headSize(this.head[1])) continue;
        h = this.head;
        at = 0;
        this.headLen = 0;
      }
      this.startFrame(h, at);
      if (this.left === 0) messages += this.endFrame();
    }
    return messages;
  }

  startFrame(h, at) {
    this.fin = (h[at] & 0x80) !== 0;
    this.opcode = h[at] & 0x0f;
    if ((h[at + 1] & 0x80) !== 0 || (h[at] & 0x70) !== 0) this.protocolErrors += 1; // masked or RSV bits
    const len7 = h[at + 1] & 0x7f;
    this.left = len7 === 126 ? h.readUInt16BE(at + 2) : len7 === 127 ? h.readUInt32BE(at + 2) * 2 ** 32 + h.readUInt32BE(at + 6) : len7;
    if (this.opcode >= OP.CLOSE) {
      this.ctrl = Buffer.alloc(Math.min(this.left, 125));
      this.ctrlLen = 0;
      if (this.left > 125) this.protocolErrors += 1;
      return;
    }
    if (this.opcode !== OP.CONTINUATION) {
      this.msgOpcode = this.opcode;
      this.msgLength = 0;
      if (this.keep) this.parts = [];
    }
    this.msgLength += this.left;
  }

  // Returns 1 when the frame ended a data message.
  endFrame() {
    if (this.ctrl) {
      const payload = this.ctrl.subarray(0, this.ctrlLen);
      this.ctrl = null;
      if (this.onControl) this.onControl(this.opcode, payload);
      return 0;
    }
    if (!this.fin) return 0;
    if (this.expectLength !== -1 && (this.msgOpcode !== this.expectOpcode || this.msgLength !== this.expectLength)) this.bad += 1;
    if (this.parts) {
      const payload = Buffer.concat(this.parts);
      this.parts = null;
      if (this.onMessage) this.onMessage(this.msgOpcode, payload);
    }
    return 1;
  }
}

// Answers the server's control frames on `socket`: a pong for each ping, and a close frame back
// for its close (then the socket ends). Calls `onClose()` on the server's close.
function controlHandler(socket, onClose) {
  return (opcode, payload) => {
    if (opcode === OP.PING) socket.write(maskedFrame(OP.PONG, payload));
    else if (opcode === OP.CLOSE) {
      if (onClose) onClose(payload.length >= 2 ? payload.readUInt16BE(0) : 1005);
      socket.end(maskedFrame(OP.CLOSE, payload.subarray(0, 2)));
    }
  };
}

/**
 * Upgrades a fresh connection on `socket` (already connecting): writes the request, reads the
 * 101 from `read(chunk)` calls the caller forwards, and resolves with the bytes after the head
 * (frames that came with it). Rejects on a bad answer.
 */
function upgradeOn(socket, path) {
  let head = Buffer.alloc(0);
  let settle;
  const done = new Promise((resolve, reject) => {
    settle = { resolve, reject };
  });
  socket.write(upgradeRequest(path));
  const read = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf(HEAD_END);
    if (end === -1) {
      if (head.length > MAX_HEAD_BYTES) settle.reject(new Error('response head too large'));
      return;
    }
    const problem = badUpgrade(head.subarray(0, end));
    if (problem) settle.reject(new Error(problem));
    else settle.resolve(head.subarray(end + HEAD_END.length));
  };
  return { done, read };
}

/**
 * A simple client for the bench's checks (not the load): resolves with { socket, next, send,
 * close } once upgraded (rejects after `timeoutMs`); `next(timeoutMs)` resolves with the next
 * whole message { opcode, payload }.
 */
function openChecked(port, path, timeoutMs) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    const queue = [];
    let waiter = null;
    let failure = null;
    const fail = (err) => {
      if (failure) return;
      failure = err;
      clearTimeout(timer);
      if (waiter) waiter.reject(err);
      reject(err);
      socket.destroy();
    };
    const timer = setTimeout(() => fail(new Error(`no 101 within ${timeoutMs / 1000} s`)), timeoutMs);
    const reader = new FrameReader({
      keep: true,
      onControl: controlHandler(socket),
      onMessage: (opcode, payload) => {
        if (waiter) waiter.resolve({ opcode, payload });
        else queue.push({ opcode, payload });
      },
    });
    const next = (ms) => {
      if (queue.length) return Promise.resolve(queue.shift());
      if (failure) return Promise.reject(failure);
      return new Promise((res, rej) => {
        const t = setTimeout(() => settle(rej, new Error(`no message within ${ms / 1000} s`)), ms);
        const settle = (fn, value) => {
          clearTimeout(t);
          waiter = null;
          fn(value);
        };
        waiter = { resolve: (m) => settle(res, m), reject: (e) => settle(rej, e) };
      });
    };
    let up = null;
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
    socket.on('connect', () => {
      up = upgradeOn(socket, path);
      up.done.then((rest) => {
        up = null;
        clearTimeout(timer);
        reader.feed(rest, 0, rest.length);
        resolve({
          socket,
          next,
          send: (opcode, payload) => socket.write(maskedFrame(opcode, payload)),
          close: () => {
            failure = failure || new Error('closed');
            socket.removeAllListeners('close');
            socket.on('error', () => {});
            socket.destroy();
          },
        });
      }, fail);
    });
    socket.on('data', (chunk) => {
      if (up) up.read(chunk);
      else reader.feed(chunk, 0, chunk.length);
    });
  });
}

module.exports = { OP, upgradeRequest, badUpgrade, maskedFrame, frames, FrameReader, controlHandler, upgradeOn, openChecked, HEAD_END, MAX_HEAD_BYTES };
