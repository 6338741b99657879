'use strict';
// The request body as a Node Readable (and so an async iterable). On a { body: 'stream' } route
// the bytes arrive in data records as Rust reads them, and go back as credit once the app has
// read them: Rust reads the client's socket only while the app keeps up (docs/bridge.md,
// "Streams"). On other routes it is the body Rust collected, as one chunk. Built on first use.
const { Readable } = require('node:stream');

// What the Readable buffers before it stops asking for more: Rust's stream window
// (src/bridge/stream.rs), so the app's own pace is what withholds credit.
const READABLE_HIGH_WATER_MARK = 64 * 1024;

class BodyStream {
  // `streamed`: the body comes in data records; else `whole` is all of it.
  constructor(req, streamed, whole) {
    this._req = req;
    this._streamed = streamed;
    // Chunks not yet handed to the Readable. A chunk is credited back to Rust when it is handed
    // over, which happens only when the Readable asks (its buffer below its high-water mark), so
    // Rust never has more than its window outstanding here, nor the Readable more than its mark.
    this._queue = streamed || whole.length === 0 ? [] : [whole];
    this._ended = !streamed;
    this._error = null;
    this._readable = null;
    // The Readable asked for data and got none yet: the next chunk goes straight to it.
    this._wanting = false;
  }

  // A data record (bytes of the body, the last when `end`).
  data(chunk, end) {
    if (chunk.length !== 0) this._queue.push(chunk);
    if (end) this._ended = true;
    if (this._wanting) this._pull();
  }

  // The body will not complete (the client left, it timed out, its framing was bad).
  fail(err) {
    if (this._ended || this._error !== null) return;
    this._error = err;
    if (this._readable !== null) this._destroy();
  }

  _destroy() {
    const readable = this._readable;
    // An 'error' nobody listens for would take the process down; without a listener the
    // stream just closes (its reader, if any, sees 'close' without 'end').
    if (readable.listenerCount('error') > 0) readable.destroy(this._error);
    else readable.destroy();
  }

  readable() {
    if (this._readable !== null) return this._readable;
    const readable = new Readable({
      highWaterMark: READABLE_HIGH_WATER_MARK,
      read: () => this._pull(),
    });
    this._readable = readable;
    if (this._error !== null) process.nextTick(() => this._destroy());
    return readable;
  }

  // Hands the next chunk to the Readable (crediting Rust for it), or its end.
  _pull() {
    const readable = this._readable;
    if (readable === null || this._error !== null) return;
    const chunk = this._queue.shift();
    if (chunk !== undefined) {
      this._wanting = false;
      if (this._streamed) this._req._bridge.credit(this._req.id, chunk.length);
      readable.push(chunk);
    } else if (this._ended) {
      this._wanting = false;
      readable.push(null);
    } else {
      this._wanting = true;
    }
  }
}

module.exports = { BodyStream, READABLE_HIGH_WATER_MARK };
