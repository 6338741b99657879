'use strict';
// The platforms a prebuilt addon is published for, in one table: the loader (js/addon.js) picks
// the package of the platform it runs on from it, scripts/artifacts.js builds and packs each, and
// __test__/install-prebuilt.test.js checks that npm/<id>/package.json agrees with it (the `os`,
// `cpu` and `libc` fields there are what npm reads to install only the matching package).
const fs = require('node:fs');

const PACKAGE_PREFIX = 'http-native-';

// id: the npm/<id> directory and the package's suffix, napi-rs's naming; triple: Rust's target.
const PLATFORMS = [
  { id: 'linux-x64-gnu', os: 'linux', cpu: 'x64', libc: 'glibc', triple: 'x86_64-unknown-linux-gnu' },
  { id: 'linux-x64-musl', os: 'linux', cpu: 'x64', libc: 'musl', triple: 'x86_64-unknown-linux-musl' },
  { id: 'linux-arm64-gnu', os: 'linux', cpu: 'arm64', libc: 'glibc', triple: 'aarch64-unknown-linux-gnu' },
  { id: 'linux-arm64-musl', os: 'linux', cpu: 'arm64', libc: 'musl', triple: 'aarch64-unknown-linux-musl' },
  { id: 'darwin-x64', os: 'darwin', cpu: 'x64', triple: 'x86_64-apple-darwin' },
  { id: 'darwin-arm64', os: 'darwin', cpu: 'arm64', triple: 'aarch64-apple-darwin' },
  { id: 'win32-x64-msvc', os: 'win32', cpu: 'x64', triple: 'x86_64-pc-windows-msvc' },
];

for (const p of PLATFORMS) {
  p.packageName = PACKAGE_PREFIX + p.id;
  // napi-rs's file name: which platform a stray copy is for is in its name.
  p.addonFile = `http-native.${p.id}.node`;
}

// The C library this Node runs on, Linux only: glibc or musl. The process report names the
// glibc the running process uses, and none on musl (napi-rs's test), which is right even where a
// glibc Node runs on a musl system (Alpine with gcompat) or the reverse; failing that, what
// /usr/bin/ldd is.
let libcCache;
function runtimeLibc() {
  if (process.platform !== 'linux') return undefined;
  if (libcCache !== undefined) return libcCache;
  libcCache = libcFromReport() ?? libcFromFilesystem() ?? 'glibc';
  return libcCache;
}

function libcFromReport() {
  if (typeof process.report?.getReport !== 'function') return undefined;
  // The network section resolves host names: slow, and not needed here.
  const excluded = process.report.excludeNetwork;
  process.report.excludeNetwork = true;
  try {
    const header = process.report.getReport().header;
    if (header === undefined) return undefined;
    // A Node linked against glibc reports its version; one on musl reports none.
    return header.glibcVersionRuntime ? 'glibc' : 'musl';
  } catch {
    return undefined;
  } finally {
    process.report.excludeNetwork = excluded;
  }
}

function libcFromFilesystem() {
  try {
    return fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl') ? 'musl' : 'glibc';
  } catch {
    return undefined;
  }
}

// The platform this process runs on: its table entry, or undefined (no prebuilt package for it),
// with the id it would have either way (for messages).
function currentPlatform() {
  const libc = runtimeLibc();
  const found = PLATFORMS.find((p) => p.os === process.platform && p.cpu === process.arch && (p.libc === undefined || p.libc === libc));
  if (found) return { platform: found, id: found.id };
  const suffix = libc === undefined ? '' : libc === 'glibc' ? '-gnu' : `-${libc}`;
  return { platform: undefined, id: `${process.platform}-${process.arch}${suffix}` };
}

module.exports = { PLATFORMS, PACKAGE_PREFIX, currentPlatform, runtimeLibc };
