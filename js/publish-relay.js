'use strict';
// WebSocket publishes across the workers of one serve(): a publish in one worker reaches the
// subscribers of every worker. Each worker's n-th app holds one end of a BroadcastChannel named
// for it (js/shared-scope.js); a publish goes to this worker's servers (Rust fans it out to their
// sockets) and once onto the channel, whose other ends publish it to theirs and never onward.
class PublishRelay {
  constructor(name, deliver) {
    this._channel = new BroadcastChannel(name);
    this._channel.onmessage = ({ data }) => deliver(data.topic, data.payload, data.flags);
    // The channel must not keep a worker alive once its servers have closed.
    this._channel.unref();
  }

  // `payload` is a string or a Uint8Array: both cross threads by structured clone.
  send(topic, payload, flags) {
    this._channel.postMessage({ topic, payload, flags });
  }
}

module.exports = { PublishRelay };
