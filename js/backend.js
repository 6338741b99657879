'use strict';
// Which backend serves an app: the native addon (found by js/addon.js) or the JavaScript backend
// (js/host/, on node:http). `loadBackend(name)` returns the module with the native surface
// (docs/bridge.md, "Native surface") plus `backend: 'native' | 'node'`: the one named, or with no
// name the one HTTP_NATIVE_BACKEND names, or else the best that loads here: the native addon, then
// the JavaScript backend. That last choice prints one line on stderr saying which it took and why,
// unless it took the usual one (the prebuilt package in an app, the local build in a clone);
// NODE_DEBUG=http-native prints the line in every case.
const fs = require('node:fs');
const path = require('node:path');
const { HN_ERR_ADDON_MISSING, HN_ERR_BACKEND_UNAVAILABLE, HN_ERR_BAD_OPTION } = require('./errors');
const { buildAdvice, installedAsDependency } = require('./addon-build');
const { findAddon, ADDON_ENV } = require('./addon');
const { BACKENDS } = require('./options');

const root = path.join(__dirname, '..');
const BACKEND_ENV = 'HTTP_NATIVE_BACKEND';
const HOST_INDEX = path.join(__dirname, 'host', 'index.js');

// The JavaScript backend ships with the package; a copy without it (an older tree) has none.
const hostAvailable = () => fs.existsSync(HOST_INDEX);

let nativeModule;
function nativeBackend() {
  const found = findAddon();
  if (found.addon === undefined) throw missingError(found);
  nativeModule ??= { ...found.addon, backend: 'native' };
  return nativeModule;
}

function hostBackend() {
  if (!hostAvailable()) {
    throw new HN_ERR_BACKEND_UNAVAILABLE(`http-native: the JavaScript backend ('node') is not in this copy of the package (${HOST_INDEX} is missing)`);
  }
  return require(HOST_INDEX);
}

function missingError(found) {
  const why = found.skipped.join('; ');
  if (found.explicit) {
    return new HN_ERR_ADDON_MISSING(`http-native: ${why}. ${ADDON_ENV} names the addon to load; unset it to let http-native find one.`, { cause: found.error });
  }
  return new HN_ERR_ADDON_MISSING(`http-native: the native addon could not be loaded: ${why}. ${nativeAdvice(found)}`, { cause: found.error });
}

// How to get the native addon where there is none.
function nativeAdvice(found) {
  const optional = found.missingPackage
    ? `Installing http-native with its optional dependencies (without --omit=optional) brings the prebuilt package ${found.missingPackage}. `
    : '';
  const script = installedAsDependency(root)
    ? "Else the addon is compiled from Rust by the package's install script, which was skipped (npm --ignore-scripts, or pnpm, which runs only the build scripts it was told to trust) or failed. "
    : '';
  return `${optional}${script}${buildAdvice(root)}`;
}

// Each line once per process: the choice is made once, whichever module asks first.
const announced = new Set();
function announce(line, always) {
  if (announced.has(line)) return;
  announced.add(line);
  // Loaded here: js/server.js loads this module.
  if (always || require('./server').debugFromEnv()) console.error(`http-native: ${line}`);
}

function describe(found) {
  if (found.source === 'prebuilt') return `the native backend from the prebuilt package ${found.packageName} (${found.file})`;
  if (found.source === 'env') return `the native backend from ${ADDON_ENV}=${found.file}`;
  return `the native backend from the local build ${found.file}`;
}

function autoBackend() {
  const found = findAddon();
  if (found.addon !== undefined) {
    const why = found.expected
      ? found.source === 'env'
        ? `${ADDON_ENV} is set`
        : `the usual choice ${installedAsDependency(root) ? 'for an installed package' : 'in a clone of the repository'}`
      : found.skipped.join('; ');
    announce(`using ${describe(found)}: ${why}`, !found.expected);
    return nativeBackend();
  }
  if (found.explicit || !hostAvailable()) throw missingError(found);
  announce(`using the JavaScript backend (node:http), slower: no native addon loads here: ${found.skipped.join('; ')}. ${nativeAdvice(found)}`, true);
  return hostBackend();
}

function checkName(name, origin) {
  if (!BACKENDS.includes(name)) {
    throw new HN_ERR_BAD_OPTION(`http-native: ${origin} must be ${BACKENDS.map((b) => `'${b}'`).join(' or ')}, not ${JSON.stringify(name)}`);
  }
  return name;
}

// `name`: 'native' (the addon or HN_ERR_ADDON_MISSING), 'node' (the JavaScript backend), or
// undefined (HTTP_NATIVE_BACKEND if set, else the best that loads).
function loadBackend(name) {
  const env = process.env[BACKEND_ENV];
  let chosen;
  if (name !== undefined) chosen = checkName(name, 'the backend option');
  else if (env !== undefined && env !== '') chosen = checkName(env, BACKEND_ENV);
  if (chosen === 'native') return nativeBackend();
  if (chosen === 'node') return hostBackend();
  return autoBackend();
}

module.exports = { loadBackend, BACKENDS, BACKEND_ENV };
