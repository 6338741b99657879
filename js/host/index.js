'use strict';
// The JavaScript backend: the native surface (docs/bridge.md "Native surface") in JavaScript, on
// node:http. js/backend.js chooses it when asked (listen({ backend: 'node' }),
// HTTP_NATIVE_BACKEND=node) or when no addon loads.
const { NativeServer } = require('./node-server');

module.exports = {
  NativeServer,
  // The JS RateLimitCounter and SessionStore (js/host/counters.js), loaded on first use.
  get RateLimitCounter() {
    return require('./counters').RateLimitCounter;
  },
  get SessionStore() {
    return require('./counters').SessionStore;
  },
  backend: 'node',
};
