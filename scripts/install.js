'use strict';
// The package's install script. Installed in an app: nothing to compile when this platform's
// prebuilt package (an optional dependency) is there and loads; else the addon is built from
// source (scripts/build.js), and when that cannot happen (no cargo, or the build fails) the install
// still succeeds if the JavaScript backend is in the package, printing one line that says apps will
// run on it (js/backend.js prints why again when an app starts). In a clone it always builds, and
// a failed build fails `npm install`: a developer needs to see it.
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');
const { installedAsDependency, buildAdvice } = require('../js/addon-build');
const { tryPrebuilt } = require('../js/addon');

const root = path.resolve(__dirname, '..');
const dependency = installedAsDependency(root);
const cargo = process.env.CARGO || 'cargo';
const hostAvailable = fs.existsSync(path.join(root, 'js', 'host', 'index.js'));

function main() {
  let prebuilt = { reason: 'a clone builds its own addon' };
  if (dependency) {
    prebuilt = tryPrebuilt();
    if (prebuilt.addon !== undefined) {
      console.log(`http-native: using the prebuilt package ${prebuilt.packageName}: nothing to build`);
      return 0;
    }
  }
  const canFallBack = dependency && hostAvailable;
  if (canFallBack && spawnSync(cargo, ['--version'], { stdio: 'ignore' }).error) {
    console.log(`http-native: ${prebuilt.reason} and \`${cargo}\` was not found, so apps will run on the JavaScript backend (node:http). ${buildAdvice(root)}`);
    return 0;
  }
  const built = spawnSync(process.execPath, [path.join(__dirname, 'build.js')], { cwd: root, stdio: 'inherit' });
  if (built.status === 0) return 0;
  if (canFallBack) {
    console.log(`http-native: building the native addon failed (above), so apps will run on the JavaScript backend (node:http). ${buildAdvice(root)}`);
    return 0;
  }
  return built.status ?? 1;
}

process.exitCode = main();
