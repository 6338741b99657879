'use strict';
// Loads the Rust addon. Internal: the public API is js/index.js.
const path = require('node:path');
const { HN_ERR_ADDON_MISSING } = require('./errors');
const { buildAdvice } = require('./addon-build');

const root = path.join(__dirname, '..');
const addonPath = path.join(root, 'http-native.node');
let native;
try {
  native = require(addonPath);
} catch (err) {
  // The first line only: a require stack says nothing to the app's author (it stays in `cause`).
  const reason = String(err.message).split('\n')[0];
  throw new HN_ERR_ADDON_MISSING(
    `http-native: the native addon ${addonPath} could not be loaded (${reason}). It is compiled ` +
      'from Rust by the package\'s install script, which was skipped (npm --ignore-scripts, or ' +
      'pnpm, which runs only the build scripts it was told to trust) or failed. ' +
      buildAdvice(root),
    { cause: err },
  );
}

module.exports = native;
