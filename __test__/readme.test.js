'use strict';
// The README's runnable snippets, run exactly as written. A fenced block whose info string names a
// file (```js file=app.mjs) is saved under that name in an empty app directory whose node_modules
// holds this package, started with PORT=0, asked for the routes it defines, then sent SIGTERM: it
// must exit by itself with status 0, as the snippet promises.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { request, withTimeout } = require('./helpers');

const root = path.join(__dirname, '..');
const STARTUP_TIMEOUT_MS = 10000;
const EXIT_TIMEOUT_MS = 15000;

// [{ file, code }] for every fenced block whose info string has `file=<name>`.
function runnableSnippets(markdown) {
  const snippets = [];
  const fence = /^```[^\n]*\bfile=(\S+)[^\n]*\n([\s\S]*?)^```[ \t]*$/gm;
  for (let m = fence.exec(markdown); m !== null; m = fence.exec(markdown)) snippets.push({ file: m[1], code: m[2] });
  return snippets;
}

const snippets = runnableSnippets(fs.readFileSync(path.join(root, 'README.md'), 'utf8'));

test('the README has a runnable ES module snippet and a runnable CommonJS snippet', () => {
  const files = snippets.map((s) => s.file);
  assert.ok(files.includes('app.mjs'), `runnable snippets: ${files.join(', ')}`);
  assert.ok(files.includes('app.js'), `runnable snippets: ${files.join(', ')}`);
  assert.match(snippets.find((s) => s.file === 'app.mjs').code, /^import .* from 'http-native';$/m);
  assert.match(snippets.find((s) => s.file === 'app.js').code, /require\('http-native'\)/);
});

// An app directory as a user has it: a package.json without "type" (so app.js is CommonJS) and
// node_modules/http-native pointing at this package, with its built addon.
function appDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'http-native-readme-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'readme-app', private: true }));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(root, path.join(dir, 'node_modules', 'http-native'), 'dir');
  return dir;
}

for (const { file, code } of snippets) {
  test(`README snippet ${file} runs as written, serves its routes and exits on SIGTERM`, { timeout: 60000 }, async (t) => {
    const dir = appDir(t);
    fs.writeFileSync(path.join(dir, file), code);
    const child = spawn(process.execPath, [file], {
      cwd: dir,
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    t.after(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));

    // The startup line carries the URL.
    const lines = readline.createInterface({ input: child.stdout });
    const base = await withTimeout(
      new Promise((resolve, reject) => {
        lines.on('line', (line) => {
          const m = /(http:\/\/\S+?:\d+)/.exec(line);
          if (m !== null) resolve(m[1]);
        });
        exited.then(({ code, signal }) => reject(new Error(`exited (${code ?? signal}) before listening:\n${stderr}`)));
      }),
      STARTUP_TIMEOUT_MS,
      `the startup line of ${file} (stderr: ${stderr})`,
    );

    const hello = await request(base, '/');
    assert.equal(hello.status, 200);
    assert.equal(await hello.text(), 'Hello, World!');
    const user = await request(base, '/users/42');
    assert.deepEqual(await user.json(), { id: '42' });
    // Routes only the longer snippet has.
    if (code.includes("'x-powered-by'")) assert.equal(hello.headers.get('x-powered-by'), 'http-native');
    if (code.includes("'/echo'")) {
      const echo = await request(base, '/echo', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ a: [1, 2] }),
      });
      assert.deepEqual(await echo.json(), { a: [1, 2] });
    }
    if (code.includes("'/api/v1'")) assert.deepEqual(await (await request(base, '/api/v1/health')).json(), { ok: true });

    child.kill('SIGTERM');
    const { code: status, signal } = await withTimeout(exited, EXIT_TIMEOUT_MS, `${file} to exit after SIGTERM`);
    assert.deepEqual({ status, signal }, { status: 0, signal: null }, stderr);
  });
}
