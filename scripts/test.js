'use strict';
// `npm test`: build the addon if needed, run the Rust unit tests, then the JS suite on the Node
// running this script twice: once with the default driver (io_uring where the kernel allows it) and
// once forced onto the legacy epoll/kqueue driver, which is what users get in containers that
// forbid io_uring; then on the newest LTS Node (scripts/lts-node.js) with the default driver, when
// it is there; without it that pass is skipped with the reason, unless HTTP_NATIVE_LTS_NODE names it.
// One more pass runs the suite on the node backend (HTTP_NATIVE_BACKEND=node, js/host/), on the Node
// running this: the tests that cannot apply to it say why (__test__/support/backends.js).
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const ltsNode = require('./lts-node');

const root = path.resolve(__dirname, '..');

function run(title, cmd, args, env = {}) {
  console.log(`\n=== ${title}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  return r.status === 0;
}

// Installing the packed package (__test__/install.test.js) runs the machine's npm and cargo, the
// same in every pass, and compiles the crate (minutes): the first pass runs it, the others are
// told which did.
let installTestedBy = '';

// The default driver on one Node binary, and with `legacy` the legacy driver too.
function jsSuites(node, version, legacy) {
  const suite = ['--test', '--test-reporter=spec', '__test__/'];
  const pass = (driver, title) => {
    // The native backend: a HTTP_NATIVE_BACKEND left in the environment does not choose for it.
    const ok = run(title, node, suite, { HTTP_NATIVE_DRIVER: driver, HTTP_NATIVE_BACKEND: '', NODE_ENV: 'test', HTTP_NATIVE_INSTALL_TESTED_BY: installTestedBy });
    if (installTestedBy === '') installTestedBy = title;
    return ok;
  };
  const results = [[`js, Node ${version}, auto driver`, pass('', `JS suite, Node ${version}, default driver`)]];
  if (legacy) results.push([`js, Node ${version}, legacy driver`, pass('legacy', `JS suite, Node ${version}, legacy driver`)]);
  return results;
}

// The same suite on the node backend: the app layer is one code path, so it must answer the same.
function nodeBackendSuite() {
  const title = `JS suite, Node ${process.version}, node backend`;
  const env = { HTTP_NATIVE_BACKEND: 'node', NODE_ENV: 'test', HTTP_NATIVE_INSTALL_TESTED_BY: installTestedBy };
  return [`js, Node ${process.version}, node backend`, run(title, process.execPath, ['--test', '--test-reporter=spec', '__test__/'], env)];
}

// The driver is Rust's and the Node version JS's, independent of each other: both drivers on the
// Node running this and the LTS Node on the default driver cover each once, and keep a CI run near
// 20 minutes. HTTP_NATIVE_FULL_MATRIX=1 runs the legacy driver on the LTS Node as well.
const fullMatrix = process.env.HTTP_NATIVE_FULL_MATRIX === '1';

const results = [['build', run('build the addon', process.execPath, ['scripts/build.js'])]];
const skipped = [];
if (results[0][1]) {
  results.push(['cargo test', run('Rust unit tests', 'cargo', ['test', '--quiet'])]);
  results.push(...jsSuites(process.execPath, process.version, true));
  results.push(nodeBackendSuite());
  const lts = ltsNode.find();
  if (lts.path === undefined && lts.required) {
    console.error(`\nHTTP_NATIVE_LTS_NODE: ${lts.reason}`);
    results.push([`js, Node ${ltsNode.LTS_MAJOR}`, false]);
  } else if (lts.path === undefined) {
    skipped.push(`the JS suite on Node ${ltsNode.LTS_MAJOR}: ${lts.reason}`);
  } else if (lts.version === process.version) {
    skipped.push(`a second JS suite on Node ${lts.version}: it is the Node that just ran it`);
  } else {
    results.push(...jsSuites(lts.path, lts.version, fullMatrix));
    if (!fullMatrix) skipped.push(`the legacy driver on Node ${lts.version}: the Node ${process.version} pass covers the driver (HTTP_NATIVE_FULL_MATRIX=1 runs it)`);
  }
}

const failed = results.filter(([, ok]) => !ok).map(([name]) => name);
console.log(`\n${results.length - failed.length} passed, ${failed.length} failed${failed.length ? `: ${failed.join(', ')}` : ''}`);
for (const s of skipped) console.log(`skipped ${s}`);
process.exit(failed.length ? 1 : 0);
