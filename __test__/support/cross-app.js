'use strict';
// Runs the package with a cross-built addon in another platform's Node (scripts/foreign-node.js:
// arm64 under qemu-user, musl with musl's loader), serving __test__/fixtures/cross-app.js to the
// test's own clients on this host. Used by __test__/cross-*.test.js.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const foreign = require('../../scripts/foreign-node');

const root = path.join(__dirname, '..', '..');
const FIXTURE = path.join(__dirname, '..', 'fixtures', 'cross-app.js');
// Node under qemu emulates every instruction (its start alone takes seconds, more on a loaded
// 2-core machine): this bounds a start that never comes, not the speed of one that does.
const START_TIMEOUT_MS = 180_000;
const CLOSE_TIMEOUT_MS = 60_000;
// ELF e_machine of each platform's addon: a wrong file is named as such, not as a load failure.
const ELF_MACHINE = { x64: 62, arm64: 183 };

// Where a platform's addon is: `envName` names one (then everything must work: a missing piece
// fails), else where `npm run artifacts` leaves it (npm/<platform>/http-native.<platform>.node,
// ignored by git) or artifacts/<platform>/http-native.node. Returns { addon, runtime } or
// { skip: why }, installing the platform's Node when it is missing.
function prepare(platform, envName) {
  const named = process.env[envName];
  const places = named ? [named] : [path.join(root, 'npm', platform, `http-native.${platform}.node`), path.join(root, 'artifacts', platform, 'http-native.node')];
  const addon = places.find((f) => fs.existsSync(f));
  const fail = (why) => {
    if (named) throw new Error(`${envName}=${named}: ${why}`);
    return { skip: why };
  };
  if (addon === undefined) {
    const where = places.map((f) => path.relative(root, f)).join(' or ');
    return fail(`no ${platform} addon at ${where}: build it with \`npm run artifacts -- --target ${platform}\`${named ? '' : ` (or name one with ${envName})`}`);
  }
  let runtime = foreign.find(platform);
  if (runtime.installable) {
    try {
      foreign.install(platform);
      runtime = foreign.find(platform);
    } catch (err) {
      return fail(`its Node could not be installed: ${err.message}`);
    }
  }
  if (runtime.cmd === undefined) return fail(runtime.reason);
  return { addon, runtime, platform };
}

function elfMachine(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(20);
    fs.readSync(fd, head, 0, 20, 0);
    if (head.toString('latin1', 0, 4) !== '\x7fELF') return undefined;
    return head.readUInt16LE(18);
  } finally {
    fs.closeSync(fd);
  }
}

// The package as an app would load it (its js/ and package.json, the addon as http-native.node,
// this checkout's node_modules for the dependencies), in a temporary directory.
function packageWith(addon) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'http-native-cross-'));
  fs.cpSync(path.join(root, 'js'), path.join(dir, 'js'), { recursive: true });
  fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  fs.copyFileSync(addon, path.join(dir, 'http-native.node'));
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

// Starts the fixture app; resolves { info, base, stderr(), close() } once it listens.
function startCross({ addon, runtime }) {
  const pkg = packageWith(addon);
  // The native backend only: a build that does not load must fail here, not fall back to JS.
  // HTTP_NATIVE_ADDON: this file and no other (js/addon.js, once the loader reads it).
  const env = { ...process.env, HTTP_NATIVE_BACKEND: 'native', HTTP_NATIVE_ADDON: path.join(pkg, 'http-native.node') };
  const child = spawn(runtime.cmd, [...runtime.args, FIXTURE, pkg], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const cleanup = () => fs.rmSync(pkg, { recursive: true, force: true });
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
    const end = await exited;
    clearTimeout(timer);
    cleanup();
    return end;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      close();
      reject(new Error(`the app did not start within ${START_TIMEOUT_MS} ms:\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.stdout.on('data', (d) => {
      stdout += d;
      const nl = stdout.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const info = JSON.parse(stdout.slice(0, nl));
      resolve({ info, base: `http://127.0.0.1:${info.port}`, stderr: () => stderr, close });
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      cleanup();
      reject(new Error(`the app exited (${signal || code}) before listening:\n${stderr}`));
    });
  });
}

// A request body streamed in pieces (chunked: the client does not say its length up front).
const UPLOAD_PIECES = 16;
const UPLOAD_PIECE_BYTES = 64 * 1024;
const REQUEST_TIMEOUT_MS = 60_000; // qemu: see START_TIMEOUT_MS

const get = (base, p, init = {}) => fetch(base + p, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), ...init });

// The suite every cross-built addon passes: `expected` is { arch, libc } of its platform.
function crossSuite(file, platform, envName, expected) {
  const setup = prepare(platform, envName);
  if (setup.skip) console.log(`${file}: ${platform} skipped: ${setup.skip}`);
  describe(`${platform} addon in ${platform} Node`, { skip: setup.skip }, () => {
    let app;
    before(async () => {
      app = await startCross(setup);
    });
    after(() => app && app.close());

    test('the addon is built for the platform and the native backend serves with it', (t) => {
      t.diagnostic(`${setup.runtime.cmd} ${setup.runtime.args.join(' ')} (Node ${setup.runtime.version}); driver ${app.info.driver}`);
      assert.equal(elfMachine(setup.addon), ELF_MACHINE[expected.arch], `${setup.addon} is not an ELF file for ${expected.arch}`);
      assert.deepEqual({ arch: app.info.arch, libc: app.info.libc }, expected);
      // A native driver: the node backend's would be 'node'.
      assert.ok(['io_uring', 'epoll'].includes(app.info.driver), `driver ${app.info.driver}`);
    });

    test('GET with a percent-encoded route param', async () => {
      const res = await get(app.base, '/hello/caf%C3%A9');
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { hello: 'café', ...expected });
    });

    test('POST with a JSON body', async () => {
      const sent = { list: [1, 2, 3], nested: { ok: true }, text: 'ünïcode' };
      const res = await get(app.base, '/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(sent) });
      assert.equal(res.status, 201);
      assert.deepEqual(await res.json(), { got: sent });
    });

    test('a request body streamed in chunks reaches the handler whole', async () => {
      const pieces = Array.from({ length: UPLOAD_PIECES }, () => crypto.randomBytes(UPLOAD_PIECE_BYTES));
      const whole = crypto.createHash('sha256');
      for (const p of pieces) whole.update(p);
      let next = 0;
      const body = new ReadableStream({
        pull(controller) {
          if (next === pieces.length) controller.close();
          else controller.enqueue(pieces[next++]);
        },
      });
      const res = await get(app.base, '/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body, duplex: 'half' });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { bytes: UPLOAD_PIECES * UPLOAD_PIECE_BYTES, sha256: whole.digest('hex') });
    });

    test('a streamed answer arrives chunked, every piece in order', async () => {
      const res = await get(app.base, '/stream');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('transfer-encoding'), 'chunked');
      assert.equal(await res.text(), 'piece 0\npiece 1\npiece 2\npiece 3\npiece 4\nend\n');
    });

    test('a throwing handler costs one 500, and the server goes on', async () => {
      const res = await get(app.base, '/boom');
      assert.equal(res.status, 500);
      await res.arrayBuffer();
      const next = await get(app.base, '/hello/again');
      assert.equal(next.status, 200);
      assert.equal((await next.json()).hello, 'again');
    });

    test('close() ends the server and the process', async () => {
      const end = await app.close();
      assert.deepEqual(end, { code: 0, signal: null }, app.stderr());
    });
  });
}

module.exports = { prepare, startCross, crossSuite, elfMachine, ELF_MACHINE };
