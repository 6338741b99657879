'use strict';
// WebSocket routes on the JS side: the step that ends an upgrade request's chain (the app's
// `upgrade` hook, then the 101 or the rejection), and the `ws` object handlers get. Rust speaks
// the protocol (frames, pings, close handshake, compression, fan-out of publishes); JS gets whole
// messages and close events in the batches requests come in, and its sends, closes, subscriptions
// and publishes go back in the records responses go in (docs/bridge.md, "WebSocket"), one flush
// per turn. A socket's id is the id of the request that opened it.
const { isAnyArrayBuffer } = require('node:util/types');
const { Request } = require('./request');
const { HN_ERR_INVALID_ARG, HN_ERR_RESPONSE_TOO_LARGE } = require('./errors');

// ws.send()'s results, uWS.js's numbers.
const WS_BACKPRESSURE = 0;
const WS_SENT = 1;
const WS_DROPPED = 2;
// Envelope flag (docs/bridge.md): the request is a valid WebSocket upgrade.
const FLAG_UPGRADE = 8;
// Envelope flag: permessage-deflate was agreed for the socket the upgrade would open.
const FLAG_DEFLATE = 16;
// Flags of send and publish records.
const SEND_BINARY = 1;
const SEND_COMPRESS = 2;
const SEND_WAITING = 4;
// A socket's life: open; end() sent a close frame and the handshake is under way; close() dropped
// the connection; Rust said it is gone (its close handler ran).
const OPEN = 0;
const ENDING = 1;
const TERMINATED = 2;
const CLOSED = 3;
// RFC 6455 §5.5: a close frame's payload is at most 125 bytes, two of them the code.
const MAX_CLOSE_REASON = 123;
// RFC 6455 §7.4: the codes an endpoint may send (1004-1006 and 1015 never go on the wire,
// 1016-2999 are unassigned, 3000-4999 belong to applications and libraries).
const validCloseCode = (code) =>
  Number.isInteger(code) && ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999));
// A topic's length is a u16 in the publish record.
const MAX_TOPIC = 0xffff;
// A whole message goes in one record, whose length is a u32 (12 bytes of it the record's head).
const MAX_MESSAGE = 0xffffffff - 12 - MAX_TOPIC;
const utf8 = new TextDecoder('utf-8', { fatal: true });

// The last step of a ws route's chain, after the middleware registered before it: the `upgrade`
// hook (may be async), then the 101 with the headers the app set on res, and `open`. An answer
// through res (from the hook or the middleware) is a rejection, sent as any answer; a throw or a
// rejection takes the app's error path (500), as from a handler.
function upgradeStep(route) {
  return function upgrade(req, res) {
    if ((req._flags & FLAG_UPGRADE) === 0) {
      // Rust answers 426 itself to a plain request for a ws-only path; this is the fallback.
      res.status(426).set('sec-websocket-version', '13').set('upgrade', 'websocket').json({ error: 'Upgrade Required' });
      return undefined;
    }
    const hook = route.handlers.upgrade;
    if (hook === undefined) {
      accept(route, req, res, undefined);
      return undefined;
    }
    const data = hook(req, res);
    if (data !== null && typeof data === 'object' && typeof data.then === 'function') {
      // Until the answer: a client that leaves, or a hook that outlives handlerTimeout (Rust then
      // answered 503), aborts res, and no socket is made.
      res._bridge.watch(req);
      return data.then((value) => accept(route, req, res, value));
    }
    accept(route, req, res, data);
    return undefined;
  };
}

function accept(route, req, res, data) {
  // Answered through res: a rejection (already sent). Aborted: nobody is left to upgrade.
  if (res._sent || res._aborted) return;
  const bridge = res._bridge;
  const ws = new WebSocket(bridge, route, req, data === undefined ? {} : data, res.get('sec-websocket-protocol'));
  if (!bridge.accept(res, ws)) return;
  res._markSent();
  ws._run('open', route.handlers.open);
}

class WebSocket {
  constructor(bridge, route, req, data, protocol) {
    this._id = req.id;
    this._bridge = bridge;
    this._route = route;
    this._state = OPEN;
    // Bytes sent and not yet credited by Rust (taken by the client's socket).
    this._buffered = 0;
    this._needDrain = false;
    // Bytes of received messages the handler took, credited to Rust at the end of the batch.
    this._due = 0;
    // Topics (strings) this socket subscribes to; built on the first subscribe().
    this._topics = undefined;
    this.params = req.params;
    this.data = data;
    this.protocol = typeof protocol === 'string' ? protocol : '';
    // Rust agreed on permessage-deflate for this socket (envelope flag, docs/bridge.md).
    this._deflate = (req._flags & FLAG_DEFLATE) !== 0;
    // The upgrade request's envelope, copied out of its batch so a long-lived socket does not keep
    // a whole batch (other requests' bodies, messages) alive; read on first use of query, headers
    // or remoteAddress.
    const start = req._start;
    this._envelope = Buffer.from(req._buf.subarray(start, start + req._buf.readUInt32LE(start)));
    this._request = undefined;
  }

  get query() {
    return this._upgradeRequest().query;
  }

  get headers() {
    return this._upgradeRequest().headers;
  }

  get remoteAddress() {
    return this._upgradeRequest().ip;
  }

  // What the 101 agreed to: permessage-deflate (Rust negotiated it when the upgrade arrived and
  // said so in the envelope), or nothing.
  get extensions() {
    return this._deflate ? 'permessage-deflate' : '';
  }

  _upgradeRequest() {
    if (this._request === undefined) this._request = new Request(this._envelope, 0, []);
    return this._request;
  }

  getUserData() {
    return this.data;
  }

  // No more sends: end() or close() was called, or the connection is gone.
  get closed() {
    return this._state !== OPEN;
  }

  getBufferedAmount() {
    return this._buffered;
  }

  send(message, isBinary, compress = true) {
    const payload = messageArg(message, 'ws.send()');
    if (this._state !== OPEN) return WS_DROPPED;
    const { maxBackpressure, drainMark } = this._route.options;
    // A string's UTF-8 length is counted only when it could matter: at most 3 bytes per unit.
    let size = typeof payload === 'string' ? -1 : payload.length;
    if (size === -1 && this._buffered + payload.length * 3 > drainMark) size = Buffer.byteLength(payload);
    let waiting = false;
    if (size !== -1) {
      // Over the limit: dropped, unless nothing is queued (a message larger than the limit still
      // goes to a socket that keeps up), so memory stays within maxBackpressure plus one message.
      if (maxBackpressure !== 0 && this._buffered !== 0 && this._buffered + size > maxBackpressure) {
        if (this._route.options.closeOnBackpressureLimit) this.end(1008, 'backpressure limit');
        return WS_DROPPED;
      }
      waiting = this._buffered + size > drainMark;
    }
    const binary = isBinary === undefined ? typeof message !== 'string' : Boolean(isBinary);
    const flags = (binary ? SEND_BINARY : 0) | (compress ? SEND_COMPRESS : 0) | (waiting ? SEND_WAITING : 0);
    this._buffered += this._bridge.wsSend(this._id, payload, flags);
    if (!waiting) return WS_SENT;
    this._needDrain = true;
    return WS_BACKPRESSURE;
  }

  // The close handshake: a close frame with `code` and `reason`, then the connection closes when
  // the client answers (or after the server's timeout). Sends after it are dropped.
  end(code = 1000, reason = '') {
    if (!validCloseCode(code)) {
      throw new HN_ERR_INVALID_ARG(`ws.end(code, reason): code must be 1000-1003, 1007-1014 or 3000-4999, got ${String(code)}`);
    }
    if (typeof reason !== 'string') throw new HN_ERR_INVALID_ARG(`ws.end(code, reason): reason must be a string, got ${typeof reason}`);
    if (this._state !== OPEN) return;
    this._state = ENDING;
    this._bridge.wsEnd(this._id, code, closeReason(reason), false);
  }

  // Drops the connection at once, without a close frame (the close handler gets 1006).
  close() {
    if (this._state === TERMINATED || this._state === CLOSED) return;
    this._state = TERMINATED;
    this._bridge.wsEnd(this._id, 0, '', true);
  }

  // Whether the socket was not subscribed yet.
  subscribe(topic) {
    const key = topicArg(topic, 'ws.subscribe()');
    if (this._state !== OPEN || !this._bridge.hub.subscribe(this, key)) return false;
    if (this._topics === undefined) this._topics = new Set();
    this._topics.add(key);
    this._bridge.wsTopic(this._id, true, key);
    return true;
  }

  // Whether the socket was subscribed.
  unsubscribe(topic) {
    const key = topicArg(topic, 'ws.unsubscribe()');
    if (this._topics === undefined || !this._topics.delete(key)) return false;
    this._bridge.hub.unsubscribe(this, key);
    if (this._state !== CLOSED) this._bridge.wsTopic(this._id, false, key);
    return true;
  }

  isSubscribed(topic) {
    return this._topics !== undefined && this._topics.has(topicArg(topic, 'ws.isSubscribed()'));
  }

  getTopics() {
    return this._topics === undefined ? [] : [...this._topics];
  }

  // To every subscriber of `topic` but this socket (as uWS.js); whether anyone subscribes. Also
  // from the close handler, where the socket no longer subscribes to anything.
  publish(topic, message, isBinary, compress = true) {
    const key = topicArg(topic, 'ws.publish()');
    const payload = messageArg(message, 'ws.publish()');
    const bridge = this._bridge;
    if (bridge.native === null) return false;
    const flags = ((isBinary === undefined ? typeof message !== 'string' : Boolean(isBinary)) ? SEND_BINARY : 0) | (compress ? SEND_COMPRESS : 0);
    let reached = false;
    if (bridge.hub.reaches(key, this)) {
      // Once closed, the id may name another connection: published as the app would.
      bridge.wsPublish(this._state === CLOSED ? 0 : this._id, key, payload, flags);
      reached = true;
    }
    // The subscribers on the server's other I/O threads.
    for (const sibling of bridge.siblings) {
      if (sibling.native === null || !sibling.hub.reaches(key, null)) continue;
      sibling.wsPublish(0, key, payload, flags);
      reached = true;
    }
    // And under serve(), the other workers' (js/publish-relay.js).
    const relay = bridge.app?._relay;
    if (relay === null || relay === undefined) return reached;
    relay.send(key, payload, flags);
    return true;
  }

  // uWS.js's cork(): sends are batched per turn anyway, so it only runs `fn`.
  cork(fn) {
    if (typeof fn !== 'function') throw new HN_ERR_INVALID_ARG('ws.cork(fn): fn must be a function');
    fn();
    return this;
  }

  // A WS_MESSAGE record. `data` is a view into the batch, which belongs to JS: the handler may
  // keep it.
  _message(data, binary) {
    if (this._state === TERMINATED) return;
    const handler = this._route.handlers.message;
    if (handler !== undefined) this._run('message', handler, data, binary);
  }

  // A credit record: `bytes` of this socket's sends reached the client's socket.
  _credit(bytes) {
    this._buffered -= bytes;
    if (this._needDrain && this._buffered <= this._route.options.drainMark) {
      this._needDrain = false;
      if (this._state === OPEN) this._run('drain', this._route.handlers.drain);
    }
  }

  // A WS_CLOSED record (or the server's end): the connection is gone, Rust has forgotten its
  // topics. The close handler runs exactly once.
  _closed(code, reason) {
    if (this._state === CLOSED) return;
    this._state = CLOSED;
    this._needDrain = false;
    if (this._topics !== undefined) {
      for (const topic of this._topics) this._bridge.hub.unsubscribe(this, topic);
      this._topics = undefined;
    }
    const handler = this._route.handlers.close;
    if (handler === undefined) return;
    let result;
    try {
      result = handler(this, code, reason);
    } catch (err) {
      this._bridge.hub.report(this, 'close', err);
      return;
    }
    if (result && typeof result.then === 'function') result.then(undefined, (err) => this._bridge.hub.report(this, 'close', err));
  }

  // Runs open/message/drain: a throw or a rejection is reported and the socket closed with 1011,
  // as uWS.js and the `ws` package would not (they crash the process or leave the socket open).
  _run(name, handler, data, binary) {
    if (handler === undefined) return;
    let result;
    try {
      result = data === undefined ? handler(this) : handler(this, data, binary);
    } catch (err) {
      this._fail(name, err);
      return;
    }
    if (result && typeof result.then === 'function') result.then(undefined, (err) => this._fail(name, err));
  }

  _fail(name, err) {
    this._bridge.hub.report(this, name, err);
    this.end(1011, 'Internal Error');
  }
}

// uWS.js's constants, also on the class and on each socket (ws.SENT).
for (const [name, value] of [['BACKPRESSURE', WS_BACKPRESSURE], ['SENT', WS_SENT], ['DROPPED', WS_DROPPED]]) {
  Object.defineProperty(WebSocket, name, { value, enumerable: true });
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
}

// A message as the bridge writes it: a string (UTF-8) or bytes, without copying.
function messageArg(message, method) {
  if (typeof message === 'string' || message instanceof Uint8Array) return checkSize(message, method);
  if (ArrayBuffer.isView(message)) return checkSize(new Uint8Array(message.buffer, message.byteOffset, message.byteLength), method);
  if (isAnyArrayBuffer(message)) return checkSize(new Uint8Array(message), method);
  throw new HN_ERR_INVALID_ARG(
    `${method} expects a string, a Buffer, a TypedArray, a DataView or an ArrayBuffer, got ${message === null ? 'null' : typeof message}`,
  );
}

function checkSize(message, method) {
  // A string of n units is at most 3n bytes; counted only when that could be too many.
  if (message.length > MAX_MESSAGE / 3 && (typeof message === 'string' ? Buffer.byteLength(message) : message.length) > MAX_MESSAGE) {
    throw new HN_ERR_RESPONSE_TOO_LARGE(`${method}: a message can be at most ${MAX_MESSAGE} bytes`);
  }
  return message;
}

// A topic as JS keys it: a string whose UTF-8 is what Rust gets. Bytes are taken as UTF-8, so
// that 'a' and Buffer.from('a') are one topic on both sides.
function topicArg(topic, method) {
  let key = topic;
  if (typeof topic !== 'string') {
    const bytes = topic instanceof Uint8Array || !isAnyArrayBuffer(topic) ? topic : new Uint8Array(topic);
    if (!ArrayBuffer.isView(bytes)) {
      throw new HN_ERR_INVALID_ARG(`${method}: a topic is a string or a Buffer, got ${topic === null ? 'null' : typeof topic}`);
    }
    try {
      key = utf8.decode(bytes);
    } catch {
      throw new HN_ERR_INVALID_ARG(`${method}: a topic given as bytes must be valid UTF-8`);
    }
  } else if (!topic.isWellFormed()) {
    throw new HN_ERR_INVALID_ARG(`${method}: a topic cannot hold a lone surrogate (it has no UTF-8 form)`);
  }
  if (key.length > MAX_TOPIC / 3 && Buffer.byteLength(key) > MAX_TOPIC) {
    throw new HN_ERR_INVALID_ARG(`${method}: a topic can be at most ${MAX_TOPIC} bytes of UTF-8`);
  }
  return key;
}

// A close reason cut to 123 bytes of UTF-8 at a character boundary.
function closeReason(reason) {
  if (reason.length * 3 <= MAX_CLOSE_REASON) return reason;
  const bytes = Buffer.from(reason);
  if (bytes.length <= MAX_CLOSE_REASON) return reason;
  let end = MAX_CLOSE_REASON;
  // Back over continuation bytes (10xxxxxx) to the start of the character that does not fit.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}

module.exports = { upgradeStep, topicArg, messageArg, WebSocket, WS_SENT, WS_BACKPRESSURE, WS_DROPPED, SEND_BINARY, SEND_COMPRESS };
