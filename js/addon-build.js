'use strict';
// Where this copy of the package lives (a clone, or a dependency inside an app's node_modules) and
// so what builds its addon there: scripts/build.js picks its cargo target directory from it, and
// js/native.js tells an app's author which command to run when the addon is missing.
const path = require('node:path');

const RUSTUP_URL = 'https://rustup.rs';

// An app's dependency, as opposed to a clone being developed: npm, yarn and pnpm all install
// packages under a node_modules directory (pnpm under node_modules/.pnpm/<id>/node_modules).
function installedAsDependency(root) {
  return root.split(path.sep).includes('node_modules');
}

function installedByPnpm(root) {
  return root.split(path.sep).includes('.pnpm');
}

// The command(s) that build the addon of the package at `root`, as a sentence fragment: what an app's
// author runs from the app for a dependency (`npm run build` means nothing there), `npm run build`
// in a clone.
function buildCommand(root) {
  if (!installedAsDependency(root)) return `run \`npm run build\` in ${root}`;
  if (installedByPnpm(root)) {
    // pnpm 10 runs no dependency's build script until the project approves it, and until then
    // `pnpm rebuild` skips it too; approving runs the build at once.
    return 'run `pnpm approve-builds` in your app and select http-native: pnpm builds it then and on later installs (once approved, `pnpm rebuild http-native` builds it again)';
  }
  // npm's allowScripts policy can deny a package's install script as --ignore-scripts does.
  return 'run `npm rebuild http-native` in your app (if its package.json denies http-native in allowScripts, run `npm install-scripts approve http-native` first)';
}

// The full advice: the command and what it needs.
function buildAdvice(root) {
  return `To build it, ${buildCommand(root)}. Building needs a Rust toolchain (cargo, from ${RUSTUP_URL}).`;
}

module.exports = { RUSTUP_URL, installedAsDependency, buildCommand, buildAdvice };
