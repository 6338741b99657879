'use strict';
// index.d.ts as a TypeScript user meets it: `tsc --strict` with skipLibCheck off over the examples
// (checked as JavaScript) and a typed sample app (__test__/types/) that uses the whole public API,
// including `@ts-expect-error` lines that must stay errors.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const project = path.join(__dirname, 'types', 'tsconfig.json');

test('the examples and the typed sample app compile with tsc --strict and skipLibCheck off', { timeout: 120000 }, () => {
  // The flags repeat the tsconfig's on purpose: loosening the tsconfig cannot loosen the test.
  const r = spawnSync(
    process.execPath,
    [tsc, '-p', project, '--strict', '--noEmit', '--skipLibCheck', 'false', '--pretty', 'false', '--listFiles'],
    { cwd: root, encoding: 'utf8' },
  );
  assert.equal(r.error, undefined, `could not run ${tsc} (devDependency typescript): ${r.error}`);
  const files = r.stdout.split('\n').filter((line) => line.startsWith('/'));
  const errors = r.stdout.split('\n').filter((line) => line !== '' && !line.startsWith('/'));
  assert.deepEqual(errors, [], `tsc reported:\n${errors.join('\n')}\n${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  // What was checked: the declarations themselves, every example and both sample entry points.
  const checked = (rel) => files.includes(path.join(root, rel));
  for (const rel of ['index.d.ts', 'examples/hello.js', '__test__/types/app.ts', '__test__/types/app.mts']) {
    assert.ok(checked(rel), `${rel} was not type-checked; tsc listed:\n${files.join('\n')}`);
  }
});
