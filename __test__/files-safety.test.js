'use strict';
// No request reaches a file outside a mount's root. Every tree has secret.txt beside the root and
// root-evil/secret.txt (a sibling whose name starts like the root's): each attempt must be
// answered 400, 403 or 404 (or a redirect that stays inside the mount), never with their bytes.
// Attempts are sent raw, byte for byte, since fetch() would normalize them away.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { get, RawClient, buildRequest, withRoot, assertStillServes } = require('./helpers');
const { SECRET, makeTree, serveDir, assertNoSecret } = require('./support/files');

const T = { timeout: 60000 };
const REFUSED = [400, 403, 404];

// Targets under /assets that try to leave the root (root = <tmp>/root, secrets in <tmp>).
const ATTEMPTS = [
  '/assets/../secret.txt',
  '/assets/../../secret.txt',
  '/assets/sub/../../secret.txt',
  '/assets/%2e%2e/secret.txt',
  '/assets/%2E%2E/secret.txt',
  '/assets/.%2e/secret.txt',
  '/assets/%2e./secret.txt',
  '/assets/sub/%2e%2e/%2e%2e/secret.txt',
  '/assets/..%2fsecret.txt',
  '/assets/..%2Fsecret.txt',
  '/assets/%2e%2e%2fsecret.txt',
  '/assets/sub%2f..%2f..%2fsecret.txt',
  '/assets/..%5csecret.txt',
  '/assets/..%5Csecret.txt',
  '/assets/sub%5c..%5c..%5csecret.txt',
  '/assets/..\\secret.txt',
  '/assets/sub\\..\\..\\secret.txt',
  '/assets/%252e%252e/secret.txt',
  '/assets/%252e%252e%252fsecret.txt',
  '/assets/%25252e%25252e/secret.txt',
  '/assets/..%00/secret.txt',
  '/assets/secret.txt%00',
  '/assets/a.txt%00../../secret.txt',
  '/assets/%00',
  '/assets/%c0%ae%c0%ae/secret.txt',
  '/assets/%e0%80%ae%e0%80%ae/secret.txt',
  '/assets/..;/secret.txt',
  '/assets/....//secret.txt',
  '/assets/.../secret.txt',
  '/assets/../root-evil/secret.txt',
  '/assets/..%2froot-evil%2fsecret.txt',
  '/assets/%2e%2e/root-evil/secret.txt',
  '/assets//..//secret.txt',
  '/assets/./../secret.txt',
  '/assets/sub/./../.././secret.txt',
  '/assets/link-dir/secret.txt',
  '/assets/link-dir/root-evil/secret.txt',
  '/assets/link-out.txt',
  '/assets/sub/link-up/secret.txt',
  '/assets/link-abs.txt',
  '/../secret.txt',
  '/assets/../assets/../secret.txt',
];

// Absolute paths smuggled in as the rest of the target (`/assets//tmp/.../secret.txt`).
function absoluteAttempts(secretFile) {
  const encoded = secretFile.split('/').map(encodeURIComponent).join('%2f');
  return [`/assets/${secretFile}`, `/assets/${encoded}`, `/assets/%2f${encoded}`, `/assets/${secretFile.replace(/\//g, '\\')}`];
}

function tree(t) {
  return makeTree(
    t,
    { 'a.txt': 'inside a\n', 'sub/b.txt': 'inside b\n', 'index.html': 'index' },
    {
      'link-out.txt': '../secret.txt',
      'link-dir': '..',
      'sub/link-up': '../..',
      'link-in.txt': 'a.txt',
      'sub/link-in-dir': '..',
    },
  );
}

async function attempt(port, target) {
  // A target with a raw backslash or NUL may be refused by the parser, or the connection closed:
  // both are fine, as long as the secret never comes back.
  const c = await RawClient.connect(port);
  try {
    await c.write(buildRequest('GET', target));
    try {
      return await c.readResponse({ timeout: 10000 });
    } catch (err) {
      if (c.isClosedByPeer && c.leftover.length === 0) return { status: 'closed', headers: {}, body: Buffer.alloc(0) };
      throw err;
    }
  } finally {
    c.destroy();
  }
}

function assertRefused(res, target, base) {
  assertNoSecret(res, target);
  if (res.status === 'closed') return;
  if (res.status === 301 || res.status === 308) {
    // A slash redirect may answer a directory-looking path; it must stay inside the mount.
    const url = new URL(res.headers.location, base);
    assert.ok(url.pathname.startsWith('/assets/') && !/\.\.|%2e%2e/i.test(url.pathname), `${target}: redirected to ${res.headers.location}`);
    return;
  }
  assert.ok(REFUSED.includes(res.status), `${target}: status ${res.status} (want one of ${REFUSED.join(', ')})`);
}

test('traversal attempts: .., encoded dots, slashes and backslashes, NUL, double encoding, overlong UTF-8, sibling prefixes, symlinks out', T, async (t) => {
  const files = tree(t);
  // A symlink to the secret by its absolute path too.
  fs.symlinkSync(files.secretFile, path.join(files.root, 'link-abs.txt'));
  const s = await serveDir(t, { root: files.root, setup: withRoot });
  for (const target of [...ATTEMPTS, ...absoluteAttempts(files.secretFile)]) {
    const res = await attempt(s.port, target);
    assertRefused(res, target, s.base);
  }
  // And the same through every dotfiles policy and with fallthrough off.
  for (const options of [{ dotfiles: 'allow' }, { dotfiles: 'deny' }, { fallthrough: false }, { extensions: ['txt'] }]) {
    const other = await serveDir(t, { root: files.root, options, setup: withRoot });
    for (const target of ATTEMPTS) assertRefused(await attempt(other.port, target), `${target} with ${JSON.stringify(options)}`, other.base);
  }
  await assertStillServes(s.port);
  assert.equal((await get(s.port, '/assets/a.txt')).text, 'inside a\n', 'files inside are still served');
});

test('a symlink inside the root to a file or directory inside it is served', T, async (t) => {
  const files = tree(t);
  const s = await serveDir(t, { root: files.root });
  const res = await get(s.port, '/assets/link-in.txt');
  assert.equal(res.status, 200);
  assert.equal(res.text, 'inside a\n');
  const viaDir = await get(s.port, '/assets/sub/link-in-dir/a.txt');
  assert.equal(viaDir.status, 200);
  assert.equal(viaDir.text, 'inside a\n');
});

test('followSymlinks: true lets a symlink out of the root be served (the opt-in), and still no `..`', T, async (t) => {
  const files = tree(t);
  const s = await serveDir(t, { root: files.root, options: { followSymlinks: true } });
  const res = await get(s.port, '/assets/link-out.txt');
  assert.equal(res.status, 200, 'an allowed symlink out');
  assert.equal(res.text, SECRET);
  for (const target of ATTEMPTS.filter((x) => !x.includes('link-'))) assertRefused(await attempt(s.port, target), `${target} with followSymlinks`, s.base);
});

test('a root that is itself reached through a symlink serves its files', T, async (t) => {
  const files = tree(t);
  const alias = path.join(files.dir, 'alias');
  fs.symlinkSync(files.root, alias);
  const s = await serveDir(t, { root: alias });
  assert.equal((await get(s.port, '/assets/a.txt')).text, 'inside a\n');
  for (const target of ATTEMPTS) assertRefused(await attempt(s.port, target), `${target} (root via a symlink)`, s.base);
});

test('very long and very deep paths are refused cleanly', T, async (t) => {
  const files = tree(t);
  const s = await serveDir(t, { root: files.root, setup: withRoot });
  const deep = `/assets/${'sub/'.repeat(2000)}b.txt`;
  const long = `/assets/${'x'.repeat(5000)}.txt`;
  const ups = `/assets/${'../'.repeat(500)}secret.txt`;
  for (const target of [deep, long, ups]) {
    const res = await attempt(s.port, target);
    assertNoSecret(res, target.slice(0, 40));
    assert.ok(res.status === 'closed' || [400, 403, 404, 414, 431].includes(res.status), `${target.slice(0, 40)}…: ${res.status}`);
  }
  await assertStillServes(s.port);
});
