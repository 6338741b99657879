'use strict';
// Public entry point. Everything else under js/ is internal.
const { App } = require('./app');
const { WS_SENT, WS_BACKPRESSURE, WS_DROPPED } = require('./ws');

function createApp(options) {
  return new App(options);
}

// ws.send()'s results (uWS.js's numbers): sent, queued over the drain mark, dropped.
module.exports = { createApp, WS_SENT, WS_BACKPRESSURE, WS_DROPPED };

// The batteries, loaded on first use: an app that uses none of them loads none of them.
const lazy = {
  cors: () => require('./cors').cors,
  rateLimit: () => require('./rate-limit').rateLimit,
  session: () => require('./session').session,
  MemorySessionStore: () => require('./session-stores').MemorySessionStore,
  RedisSessionStore: () => require('./redis-stores').RedisSessionStore,
  RedisRateLimitStore: () => require('./redis-stores').RedisRateLimitStore,
  serve: () => require('./serve').serve,
};
for (const [name, load] of Object.entries(lazy)) {
  Object.defineProperty(module.exports, name, { enumerable: true, configurable: true, get: load });
}

module.exports.default = module.exports;
