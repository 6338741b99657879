'use strict';
// The backend module an app gets when it names none (js/backend.js chooses: the native addon,
// else the JavaScript backend, HTTP_NATIVE_BACKEND overriding): the surface docs/bridge.md
// describes, plus `backend`. Internal: the public API is js/index.js. Loaded when first needed
// (listen(), the native stores), so an app can be built and its routes checked without an addon.
module.exports = require('./backend').loadBackend();
