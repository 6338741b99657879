'use strict';
// A WebSocket client over a raw socket (helpers.RawClient): the handshake written by hand, frames
// from support/ws-frames.js, and every frame the server sends read as it is (opcode, RSV bits,
// pings, the close payload). What tests use when the `ws` package would hide or refuse the thing
// under test.
const assert = require('node:assert/strict');
const { RawClient, buildRequest } = require('../helpers');
const frames = require('./ws-frames');

// Bounds a failure only (a frame that never comes): generous for a loaded 2-core machine.
const WAIT_MS = 10000;
// Every client not yet destroyed, so a test's server can be closed after its clients are gone
// (support/ws-serve.js): a raw client never answers the server's closing handshake.
const live = new Set();

class RawWs {
  constructor(client, response) {
    live.add(this);
    this.client = client;
    this.response = response;
    // Control frames nextMessage() passed over on the way to a data frame, in order.
    this.controls = [];
  }

  // Connects, sends an upgrade for `path` and expects a 101 with the right Sec-WebSocket-Accept.
  // `headers` are added to (or replace) the handshake's own.
  static async open(port, path = '/', { headers = [], timeout = WAIT_MS } = {}) {
    const key = frames.newKey();
    const client = await RawClient.connect(port);
    try {
      await client.write(buildRequest('GET', path, { headers: frames.upgradeHeaders({ key, headers }) }));
      const response = await client.readResponse({ timeout });
      if (response.status !== 101) {
        throw new Error(`upgrade of ${path}: expected 101, got ${response.status} ${JSON.stringify(response.text.slice(0, 200))}`);
      }
      assert.equal(response.headers['sec-websocket-accept'], frames.acceptFor(key), 'Sec-WebSocket-Accept');
      assert.match(response.headers.upgrade || '', /^websocket$/i, 'Upgrade: websocket');
      assert.match(response.headers.connection || '', /\bupgrade\b/i, 'Connection: Upgrade');
      return new RawWs(client, response);
    } catch (err) {
      client.destroy();
      throw err;
    }
  }

  get socket() {
    return this.client.socket;
  }

  // Writes raw bytes (one or more frames built with ws-frames).
  send(bytes) {
    return this.client.write(bytes);
  }

  sendText(s, options) {
    return this.send(frames.text(s, options));
  }

  sendBinary(b, options) {
    return this.send(frames.binary(b, options));
  }

  // The next frame the server sent, whatever it is. Rejects when the connection ends first.
  nextFrame({ timeout = WAIT_MS } = {}) {
    const c = this.client;
    return c._waitFor(
      () => {
        const f = frames.parseFrame(c.buf);
        if (f !== null) {
          c.buf = c.buf.subarray(f.size);
          return f;
        }
        if (c.isClosedByPeer) {
          throw new Error(`the connection ended before a complete frame (${c.buf.length} bytes left over)`);
        }
        return undefined;
      },
      timeout,
      'a frame from the server',
    );
  }

  // The next data message: its frames assembled, pings and pongs on the way kept in `controls`.
  // Rejects on a close frame (with its code and reason in the message). A compressed message
  // (RSV1) is inflated when `inflate` (the server used no context takeover, or it is the first).
  async nextMessage({ inflate = false, timeout = WAIT_MS } = {}) {
    const parts = [];
    let first;
    for (;;) {
      const f = await this.nextFrame({ timeout });
      if (f.opcode === frames.OP.PING || f.opcode === frames.OP.PONG) {
        this.controls.push(f);
        continue;
      }
      if (f.opcode === frames.OP.CLOSE) {
        const { code, reason } = frames.parseClose(f.payload);
        throw new Error(`got a close frame (${code} ${JSON.stringify(reason)}) instead of a message`);
      }
      if (first === undefined) {
        assert.notEqual(f.opcode, frames.OP.CONT, 'a message starts with a text or binary frame');
        first = f;
      } else {
        assert.equal(f.opcode, frames.OP.CONT, 'a message goes on with continuation frames');
      }
      assert.equal(f.masked, false, 'server frames are never masked');
      parts.push(f.payload);
      if (f.fin) break;
    }
    let data = Buffer.concat(parts);
    if (first.rsv1 && inflate) data = frames.inflateMessage(data);
    return { opcode: first.opcode, binary: first.opcode === frames.OP.BINARY, rsv1: first.rsv1, data, text: data.toString('utf8') };
  }

  // Reads frames up to the server's close frame and returns its { code, reason, length }; data
  // frames on the way are returned in `before`.
  async readClose({ timeout = WAIT_MS } = {}) {
    const before = [];
    for (;;) {
      const f = await this.nextFrame({ timeout });
      if (f.opcode === frames.OP.CLOSE) return { ...frames.parseClose(f.payload), before };
      before.push(f);
    }
  }

  // Resolves once the server has closed the TCP connection.
  waitForEnd(timeout = WAIT_MS) {
    return this.client.waitForClose(timeout);
  }

  get ended() {
    return this.client.isClosedByPeer;
  }

  // Stops reading from the socket, so the kernel's buffers fill and the server's writes stall.
  pause() {
    this.socket.pause();
  }

  resume() {
    this.socket.resume();
  }

  destroy() {
    live.delete(this);
    this.client.destroy();
  }
}

// Destroys every RawWs still open.
function destroyAll() {
  for (const raw of [...live]) raw.destroy();
}

// Sends a close frame and expects the server's answer: a close frame echoing `code` (RFC 6455
// §5.5.1), then the end of the connection.
async function closeCleanly(raw, code = 1000, reason = '') {
  await raw.send(frames.close(code, reason));
  const answer = await raw.readClose();
  await raw.waitForEnd();
  return answer;
}

module.exports = { RawWs, closeCleanly, destroyAll, WAIT_MS };
