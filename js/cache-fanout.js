'use strict';
// app.cache.fanOut(client, { channel }): app.cache.invalidate() and clear() on one instance reach
// every instance (process, machine) that fanned out on the same channel, through Redis pub/sub.
// The client is the app's, node-redis v4+ or ioredis, told apart by what it has as in
// js/redis-stores.js; the subscriber is client.duplicate(), since a connection in subscriber mode
// can run no other command.
//
// Each fan-out has an instance id, carried by every message it publishes: a message comes back to
// its own publisher (every subscriber of the channel gets it) and is dropped there, since the
// change was applied when it was made. A message from another instance is applied here and never
// published again, so one change is one message, whatever the number of instances.
//
// A publish is not awaited by invalidate(): the local change is in force when invalidate()
// returns, the other instances apply theirs when the message reaches them (Redis pub/sub delivers
// it at most once; an instance disconnected at that moment misses it, so entries that must not
// outlive a change also want a ttl).
const { randomUUID } = require('node:crypto');
const { HN_ERR_BAD_OPTION, HN_ERR_INVALID_ARG } = require('./errors');

const DEFAULT_CHANNEL = 'http-native:cache';
const OPTION_KEYS = ['channel', 'onError'];
// Message format version: an instance drops what it does not know (a newer peer's message)
// rather than guessing at it.
const VERSION = 1;
const OPS = new Set(['invalidate', 'clear']);

function checkClient(client) {
  if (
    client === null || typeof client !== 'object' || typeof client.duplicate !== 'function' ||
    (typeof client.call !== 'function' && typeof client.sendCommand !== 'function')
  ) {
    const got = client === null ? 'null' : typeof client === 'object' ? 'an object without duplicate() and call()/sendCommand()' : typeof client;
    throw new HN_ERR_INVALID_ARG(`app.cache.fanOut(client): client must be a connected node-redis (v4+) or ioredis client, got ${got}`);
  }
}

function checkOptions(options) {
  if (options === undefined) return { channel: DEFAULT_CHANNEL, onError: warn };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new HN_ERR_BAD_OPTION('app.cache.fanOut(client, options): options must be an object ({ channel })');
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) throw new HN_ERR_BAD_OPTION(`app.cache.fanOut(): unknown option "${key}" (known: ${OPTION_KEYS.join(', ')})`);
  }
  const { channel = DEFAULT_CHANNEL, onError = warn } = options;
  if (typeof channel !== 'string' || channel === '') {
    throw new HN_ERR_BAD_OPTION(`app.cache.fanOut(): options.channel must be a non-empty string, got ${JSON.stringify(channel)}`);
  }
  if (typeof onError !== 'function') throw new HN_ERR_BAD_OPTION('app.cache.fanOut(): options.onError must be a function');
  return { channel, onError };
}

// Without onError, a lost message is said on stderr once per failure: an instance that silently
// keeps stale answers is the failure this whole file exists to prevent.
function warn(err) {
  process.emitWarning(`app.cache.fanOut: ${err && err.message ? err.message : String(err)}`, { code: 'HN_CACHE_FANOUT' });
}

// The two clients' pub/sub calls behind one shape.
function adapter(client) {
  if (typeof client.call === 'function') {
    // ioredis: duplicate() connects by itself, messages arrive as 'message' events.
    return {
      publish: (channel, text) => client.call('PUBLISH', channel, text),
      async subscribe(sub, channel, listener) {
        sub.on('message', (from, text) => {
          if (from === channel) listener(text);
        });
        await sub.subscribe(channel);
      },
      close: (sub) => sub.quit(),
    };
  }
  // node-redis: duplicate() is not connected yet; subscribe() takes the listener.
  return {
    publish: (channel, text) => client.sendCommand(['PUBLISH', channel, text]),
    async subscribe(sub, channel, listener) {
      if (!sub.isOpen) await sub.connect();
      await sub.subscribe(channel, (text) => listener(String(text)));
    },
    close: (sub) => (typeof sub.close === 'function' ? sub.close() : sub.quit()),
  };
}

class CacheFanOut {
  constructor(cache, client, options) {
    this._cache = cache;
    this._client = adapter(client);
    this._channel = options.channel;
    this._onError = options.onError;
    this._id = randomUUID();
    // Set while a peer's change is applied, so the hook in AppCache does not publish it again.
    this._applying = false;
    this._closed = false;
    this._sub = client.duplicate();
    // Both clients reconnect (and resubscribe) by themselves; an 'error' without a listener would
    // end the process.
    this._sub.on('error', (err) => this._onError(err));
  }

  async start() {
    await this._client.subscribe(this._sub, this._channel, (text) => this._receive(text));
  }

  // AppCache's hook: a change made on this instance, told to the others.
  publish(op, pattern) {
    if (this._applying || this._closed) return;
    const text = JSON.stringify({ v: VERSION, from: this._id, op, pattern });
    Promise.resolve()
      .then(() => this._client.publish(this._channel, text))
      .catch((err) => this._onError(err));
  }

  _receive(text) {
    if (this._closed) return;
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return this._onError(new Error(`dropped a message on "${this._channel}" that is not JSON`));
    }
    if (message === null || typeof message !== 'object' || message.v !== VERSION || !OPS.has(message.op)) {
      return this._onError(new Error(`dropped a message on "${this._channel}" that is not a cache change of this version`));
    }
    if (message.from === this._id) return;
    this._applying = true;
    try {
      if (message.op === 'clear') this._cache.clear();
      else this._cache.invalidate(message.pattern);
    } catch (err) {
      this._onError(err);
    } finally {
      this._applying = false;
    }
  }

  async close() {
    if (this._closed) return;
    this._closed = true;
    if (this._cache._fanOut === this) this._cache._fanOut = null;
    await this._client.close(this._sub);
  }
}

// Resolves once subscribed, to { close() }: close() stops both directions and disconnects the
// subscriber (the app's client stays the app's).
async function fanOut(cache, client, options) {
  checkClient(client);
  const checked = checkOptions(options);
  if (cache._fanOut !== null) {
    throw new HN_ERR_INVALID_ARG('app.cache.fanOut(): this app already fans out its cache; close() that one first');
  }
  const fan = new CacheFanOut(cache, client, checked);
  // Claimed before the subscription completes, so two concurrent calls cannot both succeed.
  cache._fanOut = fan;
  try {
    await fan.start();
  } catch (err) {
    await fan.close().catch(() => {});
    throw err;
  }
  return { close: () => fan.close() };
}

module.exports = { fanOut, DEFAULT_CHANNEL };
