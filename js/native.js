'use strict';
// Loads the Rust addon. Internal: the public API is js/index.js.
const path = require('node:path');

const addonPath = path.join(__dirname, '..', 'http-native.node');
let native;
try {
  native = require(addonPath);
} catch (err) {
  const e = new Error(
    `http-native: the native addon could not be loaded from ${addonPath} (${err.message}). ` +
      'Build it with `npm run build` (needs a Rust toolchain).',
  );
  e.code = 'HN_ERR_ADDON_MISSING';
  e.cause = err;
  throw e;
}

module.exports = native;
