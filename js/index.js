'use strict';
// Public entry point. Everything else under js/ is internal.
const { App } = require('./app');
const { WS_SENT, WS_BACKPRESSURE, WS_DROPPED } = require('./ws');
const { cors } = require('./cors');
const { rateLimit } = require('./rate-limit');

function createApp(options) {
  return new App(options);
}

// ws.send()'s results (uWS.js's numbers): sent, queued over the drain mark, dropped.
module.exports = { createApp, cors, rateLimit, WS_SENT, WS_BACKPRESSURE, WS_DROPPED };
module.exports.default = module.exports;
