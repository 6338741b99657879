'use strict';
// The WebSocket state one running server keeps in JS: which of its sockets subscribe to which
// topic. Rust has its own registry and does the fan-out (docs/bridge.md, "WebSocket"); every
// subscription passes through JS first, so this copy answers isSubscribed(), getTopics(),
// numSubscribers() and publish()'s boolean without a call into Rust, and lets a publish that
// nobody would receive stay off the wire. Rust forgets a closed socket's topics before JS hears of
// the close, so JS's view is never smaller than Rust's.
class Hub {
  constructor(debug) {
    this.debug = debug;
    // topic (string) → Set of sockets.
    this._topics = new Map();
  }

  // Whether `ws` was not subscribed yet.
  subscribe(ws, topic) {
    let subscribers = this._topics.get(topic);
    if (subscribers === undefined) {
      subscribers = new Set();
      this._topics.set(topic, subscribers);
    } else if (subscribers.has(ws)) {
      return false;
    }
    subscribers.add(ws);
    return true;
  }

  // Whether `ws` was subscribed.
  unsubscribe(ws, topic) {
    const subscribers = this._topics.get(topic);
    if (subscribers === undefined || !subscribers.delete(ws)) return false;
    if (subscribers.size === 0) this._topics.delete(topic);
    return true;
  }

  count(topic) {
    const subscribers = this._topics.get(topic);
    return subscribers === undefined ? 0 : subscribers.size;
  }

  // Whether a publish from `ws` (null: from the app) reaches anyone.
  reaches(topic, ws) {
    const subscribers = this._topics.get(topic);
    if (subscribers === undefined) return false;
    return subscribers.size > 1 || ws === null || !subscribers.has(ws);
  }

  // A handler of a socket threw or rejected: reported as the app reports a 500 (js/dispatch.js),
  // i.e. logged unless NODE_ENV=test, and always in debug mode.
  report(ws, handler, err) {
    if (this.debug || process.env.NODE_ENV !== 'test') {
      console.error(`http-native: error in the ${handler} handler of WebSocket ${ws._route.path}:`, err);
    }
  }
}

module.exports = { Hub };
