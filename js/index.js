'use strict';
// Public entry point. Everything else under js/ is internal.
const { App } = require('./app');

function createApp(options) {
  return new App(options);
}

module.exports = { createApp };
module.exports.default = module.exports;
