'use strict';
// Finds and loads the native addon: the file HTTP_NATIVE_ADDON names when it is set; else this
// platform's prebuilt package (http-native-<platform>, an optional dependency) and the local build
// (http-native.node, which scripts/build.js compiles), in the order that fits where this copy of
// the package lives. It reports what it loaded, and why the others did not load; js/backend.js
// decides what to do with that (which line to print, whether to fall back).
const fs = require('node:fs');
const path = require('node:path');
const { installedAsDependency } = require('./addon-build');
const { currentPlatform } = require('./platforms');

const root = path.join(__dirname, '..');
const LOCAL_ADDON = path.join(root, 'http-native.node');
// Overrides the search (a test's build, an addon built by hand); never falls back when set.
const ADDON_ENV = 'HTTP_NATIVE_ADDON';

// The first line only: a require stack says nothing to the app's author (it stays in `cause`).
const firstLine = (err) => String(err.message).split('\n')[0];

// require() loads only a file named *.node as an addon; cargo's library (libhttp_native.so, .dylib,
// .dll), which HTTP_NATIVE_ADDON may name, is loaded as require() would load it.
function loadFile(file) {
  if (file.endsWith('.node')) return require(file);
  const m = { exports: {} };
  process.dlopen(m, file);
  return m.exports;
}

function ownVersion() {
  return JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
}

// This platform's prebuilt package, if installed where this package can require it (hoisted next
// to it by npm and yarn, linked beside it by pnpm), at this package's own version: a binary of
// another version may speak another bridge format (docs/bridge.md).
function tryPrebuilt() {
  const { platform, id } = currentPlatform();
  // Not a miss to report: on such a platform the local build is the only way, and the usual one.
  if (platform === undefined) return { reason: `there is no prebuilt package for ${id}`, unsupported: true };
  const name = platform.packageName;
  let manifest;
  try {
    manifest = require.resolve(`${name}/package.json`, { paths: [root] });
  } catch {
    return { reason: `the prebuilt package ${name} is not installed`, missing: name };
  }
  const version = JSON.parse(fs.readFileSync(manifest, 'utf8')).version;
  if (version !== ownVersion()) {
    return { reason: `the prebuilt package ${name} is version ${version}, not ${ownVersion()} as http-native is`, missing: name };
  }
  const file = path.join(path.dirname(manifest), platform.addonFile);
  try {
    return { addon: require(file), source: 'prebuilt', file, packageName: name };
  } catch (err) {
    return { reason: `the prebuilt package ${name} could not be loaded (${firstLine(err)})`, error: err };
  }
}

function tryLocal() {
  if (!fs.existsSync(LOCAL_ADDON)) return { reason: `${LOCAL_ADDON} is not built` };
  try {
    return { addon: require(LOCAL_ADDON), source: 'local', file: LOCAL_ADDON };
  } catch (err) {
    return { reason: `${LOCAL_ADDON} could not be loaded (${firstLine(err)})`, error: err };
  }
}

// → { addon, source: 'env' | 'prebuilt' | 'local', file, packageName?, expected, skipped: [reason] }
//   or { addon: undefined, explicit, skipped: [reason], error, missingPackage }.
// `expected`: the usual choice for this copy (no line printed for it). As a dependency that is
// the prebuilt package, with the local build as the fallback (it exists when the install script
// compiled one because no prebuilt package was there). In a clone the local build comes first: it
// is the one `npm run build` just compiled from the sources being edited, which a prebuilt
// package of the same version number must not shadow.
let found;
function findAddon() {
  if (found !== undefined) return found;
  const override = process.env[ADDON_ENV];
  if (override !== undefined && override !== '') {
    const file = path.resolve(override);
    try {
      found = { addon: loadFile(file), source: 'env', file, expected: true, skipped: [] };
    } catch (err) {
      found = { addon: undefined, explicit: true, skipped: [`${ADDON_ENV}=${override} could not be loaded (${firstLine(err)})`], error: err };
    }
    return found;
  }
  const order = installedAsDependency(root) ? [tryPrebuilt, tryLocal] : [tryLocal, tryPrebuilt];
  const skipped = [];
  let unexpected = false;
  let error;
  let missingPackage;
  for (const attempt of order) {
    const r = attempt();
    if (r.addon !== undefined) {
      found = { ...r, expected: !unexpected, skipped };
      return found;
    }
    skipped.push(r.reason);
    unexpected ||= !r.unsupported;
    error ??= r.error;
    missingPackage ??= r.missing;
  }
  found = { addon: undefined, explicit: false, skipped, error, missingPackage };
  return found;
}

module.exports = { findAddon, tryPrebuilt, LOCAL_ADDON, ADDON_ENV };
