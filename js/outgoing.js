'use strict';
// A response body streamed as the app produces it (res.write/end/flushHeaders, res.send(stream),
// stream.pipe(res), pipeline(..., res)), with node:http's semantics: the head goes with the first
// write, and write() returns false once more than WRITABLE_HIGH_WATER_MARK bytes are on their way
// to a client that has not taken them yet; 'drain' follows when it has. Rust frames the body
// (chunked, a length the app set, or until close on HTTP/1.0) and credits bytes back as the
// client's socket takes them (docs/bridge.md, "Streams").
const { HN_ERR_INVALID_ARG, HN_ERR_WRITE_AFTER_END } = require('./errors');
const { callSafely, callLater } = require('./contain');

// Bytes a response may have on their way to the client before write() says wait; what Rust
// holds for one stream is bounded by it (plus the one write that crossed it). Four 64 KiB writes
// in flight hide the thread hop each one costs: a 1 GiB download went 1.4 → 1.7–2.1 GB/s against
// 64 KiB; at 1 MiB it fell to 1.2 GB/s (bigger batches, more memory to touch).
const WRITABLE_HIGH_WATER_MARK = 256 * 1024;
const EMPTY = new Uint8Array(0);

// Sends the head with `first` as the first body bytes; the body follows in data records.
function begin(res, first) {
  res._implicitHeader();
  res._sent = true;
  res._streaming = true;
  if (res._aborted) return;
  res._unacked += first.length;
  res._bridge.head(res, first, res._unacked >= WRITABLE_HIGH_WATER_MARK);
}

function write(res, chunk, encoding, cb) {
  if (typeof encoding === 'function') {
    cb = encoding;
    encoding = undefined;
  }
  if (res._ended) {
    const err = new HN_ERR_WRITE_AFTER_END('res.write() after res.end()');
    process.nextTick(() => {
      if (cb) callSafely(res, cb, err);
      if (res.listenerCount('error') > 0) res.emit('error', err);
    });
    return false;
  }
  const bytes = toBytes(chunk, encoding, 'write');
  if (res._aborted) {
    if (cb) callLater(res, cb);
    return false;
  }
  if (!res._streaming) {
    begin(res, bytes);
  } else if (bytes.length !== 0) {
    res._unacked += bytes.length;
    // At the mark, Rust is told this producer now waits, so it credits at once rather than in
    // batches (src/bridge/stream.rs, CREDIT_BATCH).
    res._bridge.data(res._id, bytes, false, false, res._unacked >= WRITABLE_HIGH_WATER_MARK);
  }
  if (cb) callLater(res, cb);
  if (res._unacked < WRITABLE_HIGH_WATER_MARK) return true;
  res._needDrain = true;
  return false;
}

function end(res, chunk, encoding, cb) {
  if (typeof chunk === 'function') {
    cb = chunk;
    chunk = undefined;
  } else if (typeof encoding === 'function') {
    cb = encoding;
    encoding = undefined;
  }
  if (res._ended) {
    if (cb) callLater(res, cb);
    return res;
  }
  if (!res._streaming) {
    // Nothing written yet: the whole answer goes in one record, as res.send() sends it.
    res._answer(chunk === undefined ? '' : toBytes(chunk, encoding, 'end'));
  } else {
    const bytes = chunk === undefined ? EMPTY : toBytes(chunk, encoding, 'end');
    // The last data record waits for the session hook like a whole answer (response.js, _holdEnd).
    if (res._beforeEnd === undefined || !res._holdEnd(() => endStream(res, bytes))) endStream(res, bytes);
  }
  if (cb) callLater(res, cb);
  return res;
}

function endStream(res, bytes) {
  if (!res._aborted) res._bridge.data(res._id, bytes, true);
  res._ended = true;
  finished(res);
}

function flushHeaders(res) {
  if (!res._sent) begin(res, EMPTY);
}

// Credits from Rust: `bytes` reached the client's socket.
function credit(res, bytes) {
  res._unacked -= bytes;
  if (res._needDrain && res._unacked < WRITABLE_HIGH_WATER_MARK) {
    res._needDrain = false;
    wakeWaiters(res);
    if (res._emitter !== undefined) res.emit('drain');
  }
}

// The client left, the handler or the stream timed out, or the app destroyed the response:
// writes become no-ops, waiting producers are released, 'close' is emitted (no 'finish').
function abort(res) {
  if (res._aborted) return;
  res._aborted = true;
  res._needDrain = false;
  wakeWaiters(res);
  if (!res._ended) {
    res._ended = true;
    process.nextTick(() => {
      res._closed = true;
      if (res._emitter !== undefined) res.emit('close');
    });
  }
}

// res.destroy(err): cuts the answer off (the client sees it incomplete, or no answer at all) and
// closes the connection, as node's res.destroy() destroys the socket.
function destroy(res, err) {
  if (!res._aborted && !res._ended) res._bridge.data(res._id, EMPTY, false, true);
  res._sent = true;
  abort(res);
  if (err && res._emitter !== undefined && res.listenerCount('error') > 0) {
    process.nextTick(() => res.emit('error', err));
  }
  return res;
}

// 'finish' then 'close' once the response is complete, as node:http emits them.
function finished(res) {
  res._ended = true;
  process.nextTick(() => {
    res._finished = true;
    res._closed = true;
    if (res._emitter !== undefined) {
      res.emit('finish');
      res.emit('close');
    }
  });
}

// Resolves when the client took enough to write again, or the response is over.
function drained(res) {
  if (!res._needDrain || res._aborted) return Promise.resolve();
  return new Promise((resolve) => {
    if (res._drainWaiters === undefined) res._drainWaiters = [];
    res._drainWaiters.push(resolve);
  });
}

// A replaced res.write said wait (compression's zlib stream is full): its 'drain' comes through
// res.on, which the wrapper redirects; the response closing ends the wait too.
function wrapperDrained(res) {
  return new Promise((resolve) => {
    res.on('drain', resolve);
    res._events().once('close', resolve);
  });
}

function wakeWaiters(res) {
  const waiters = res._drainWaiters;
  if (waiters === undefined) return;
  res._drainWaiters = undefined;
  for (const resolve of waiters) resolve();
}

// Whether res.send() should stream `body`: a Node Readable, a web ReadableStream, an async
// iterable or a Blob.
function isStreamable(body) {
  return (
    typeof body.pipe === 'function' ||
    typeof body.getReader === 'function' ||
    typeof body[Symbol.asyncIterator] === 'function' ||
    body instanceof Blob
  );
}

// res.send(source): every chunk of `source` written with backpressure, then end(). A source that
// fails before the first byte gets the client a 500; after it, a cut-off answer (the head is
// gone). Either way the source is released (for await's return() destroys a Node stream and
// cancels a web one) and the failure reported like an unhandled handler error.
async function pump(res, source, onError) {
  const iterable = source instanceof Blob ? source.stream() : source;
  try {
    for await (const chunk of iterable) {
      if (res._aborted) break;
      // Through res.write/res.end, which a middleware (compression) may have replaced.
      if (!res.write(chunk)) await (res._needDrain ? drained(res) : wrapperDrained(res));
    }
    if (!res._aborted) res.end();
  } catch (err) {
    onError(err);
  }
}

// A chunk as bytes: a string (UTF-8 or `encoding`) or any binary view; anything else throws.
function toBytes(chunk, encoding, method) {
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding || 'utf8');
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && chunk instanceof SharedArrayBuffer)) {
    return new Uint8Array(chunk);
  }
  throw new HN_ERR_INVALID_ARG(
    `res.${method}() expects a string, a Buffer, a TypedArray, a DataView or an ArrayBuffer, got ${chunk === null ? 'null' : typeof chunk}`,
  );
}

module.exports = {
  WRITABLE_HIGH_WATER_MARK,
  write,
  end,
  flushHeaders,
  credit,
  abort,
  destroy,
  finished,
  drained,
  isStreamable,
  pump,
};
