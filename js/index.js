'use strict';
// Public entry point. Everything else under js/ is internal.
const { App } = require('./app');
const { WS_SENT, WS_BACKPRESSURE, WS_DROPPED } = require('./ws');

function createApp(options) {
  return new App(options);
}

// ws.send()'s results (uWS.js's numbers): sent, queued over the drain mark, dropped.
module.exports = { createApp, WS_SENT, WS_BACKPRESSURE, WS_DROPPED };
module.exports.default = module.exports;
