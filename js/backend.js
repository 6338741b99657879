'use strict';
// STAND-IN (helper H) for helper P's loader, replaced by P's js/backend.js at the merge:
// loadBackend(name) → the module with the native surface (docs/bridge.md). 'node' is the
// JavaScript backend (js/host/), 'native' the addon (js/native.js), undefined the addon when it
// loads, else the JavaScript backend.
function loadBackend(name) {
  if (name === 'node') return require('./host');
  if (name === 'native') return require('./native');
  try {
    return require('./native');
  } catch {
    return require('./host');
  }
}

module.exports = { loadBackend };
