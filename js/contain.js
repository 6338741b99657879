'use strict';
// Throws from code the app hands to req or res that runs later, outside any handler's try: event
// listeners (req.on('end') in a hand-written body parser, res.on('finish') in a logger, the
// 'timeout' listener connect-timeout adds) and write()/end() callbacks. Each is wrapped where it is
// registered, so its throw becomes that request's error (500 while the head is unsent, else the
// answer is cut off), never the process's.
//
// What cannot be reached this way (said in README.md): a throw from a timer the middleware set
// itself, or from an event of an object that is not req/res (an fs or zlib callback, a socket of
// its own). Only an 'uncaughtException' handler or a domain sees those, and either would take
// errors that are not the request's too.

// `fn` as a listener of `res`'s request. `.listener` is EventEmitter's own convention for wrapped
// listeners: removeListener(fn) and listeners() see `fn`. `once`: removes itself on first call
// (EventEmitter's once() would wrap the wrapper, and removeListener(fn) would miss it).
function guarded(res, emitter, event, fn, once) {
  function listener(...args) {
    if (once) emitter.removeListener(event, listener);
    try {
      return fn.apply(this, args);
    } catch (err) {
      contained(res, err);
      return undefined;
    }
  }
  listener.listener = fn;
  return listener;
}

// Calls cb(arg) with a throw contained.
function callSafely(res, cb, arg) {
  try {
    cb(arg);
  } catch (err) {
    contained(res, err);
  }
}

// On the next tick, as node calls write()/end() callbacks.
function callLater(res, cb, arg) {
  process.nextTick(callSafely, res, cb, arg);
}

// The request's error path while it can still answer; after that, the answer is cut off (if it
// is not complete) and the error logged, as Express's final handler does with a late error.
function contained(res, err) {
  if (!res.headersSent && !res.writableEnded && typeof res._fail === 'function') {
    res._fail(err);
    return;
  }
  if (process.env.NODE_ENV !== 'test') {
    console.error(`http-native: a listener or callback threw after the answer to ${res._req.method} ${res._req.url} began:`, err);
  }
  if (!res.writableEnded) res.destroy();
}

module.exports = { guarded, callSafely, callLater, contained };
