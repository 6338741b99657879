'use strict';
// `npm test`: build the addon if needed, run the Rust unit tests, then the JS suite twice: once
// with the default driver (io_uring where the kernel allows it) and once forced onto the legacy
// epoll/kqueue driver, which is what users get in containers that forbid io_uring.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function run(title, cmd, args, env = {}) {
  console.log(`\n=== ${title}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  return r.status === 0;
}

const results = [
  ['build', run('build the addon', process.execPath, ['scripts/build.js'])],
];
if (results[0][1]) {
  results.push(['cargo test', run('Rust unit tests', 'cargo', ['test', '--quiet'])]);
  const suite = ['--test', '--test-reporter=spec', '__test__/'];
  results.push(['js (auto driver)', run('JS suite, default driver', process.execPath, suite, { HTTP_NATIVE_DRIVER: '', NODE_ENV: 'test' })]);
  results.push(['js (legacy driver)', run('JS suite, legacy driver', process.execPath, suite, { HTTP_NATIVE_DRIVER: 'legacy', NODE_ENV: 'test' })]);
}

const failed = results.filter(([, ok]) => !ok).map(([name]) => name);
console.log(`\n${results.length - failed.length} passed, ${failed.length} failed${failed.length ? `: ${failed.join(', ')}` : ''}`);
process.exit(failed.length ? 1 : 0);
