'use strict';
// PM2's cluster mode (devDependency pm2, its CLI as users run it): two workers of
// fixtures/pm2-app.js on one port, each bound by itself with SO_REUSEPORT, both answering; then
// `pm2 reload` replaces both, each old worker drained by server.close() and exiting by itself
// (status 0) rather than being killed by PM2 after its kill_timeout.
//
// The daemon lives in a private PM2_HOME in a temp dir (nothing of the user's ~/.pm2 is read or
// written), is killed at the end, and PM2's first-run version check, a network call, is skipped
// by the marker file it leaves after it.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { freePort } = require('./support/ports');
const { get, waitUntil } = require('./helpers');

let PM2_BIN = null;
try {
  PM2_BIN = path.join(path.dirname(require.resolve('pm2/package.json')), 'bin', 'pm2');
} catch {
  // not installed
}
const skip = PM2_BIN === null ? 'pm2 is not installed (devDependency: npm install)' : false;
if (skip) console.log(`# pm2.test.js skipped: ${skip}`);

const FIXTURE = path.join(__dirname, 'fixtures', 'pm2-app.js');
const NAME = 'hn-pm2-test';
const WORKERS = 2;
// Fresh connections to the shared port. The kernel picks a worker per connection by a hash of its
// addresses and ports, so with this many both are picked except with probability 2 * 2^-64.
const CONNECTIONS = 64;
// Only bounds a failure: a PM2 command takes a second or two.
const PM2_TIMEOUT_MS = 30000;
// What PM2 waits before SIGKILL when a worker does not exit after SIGINT; above close()'s own
// drain timeout (10 s), so a SIGKILL in PM2's log means the worker did not exit by itself.
const KILL_TIMEOUT_MS = 12000;
const T = { timeout: 90000 };

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('PM2 cluster mode', { skip }, () => {
  let home;
  let port;
  const pm2 = (...args) =>
    new Promise((resolve, reject) => {
      execFile(process.execPath, [PM2_BIN, ...args], { env: { ...process.env, PM2_HOME: home }, timeout: PM2_TIMEOUT_MS }, (err, stdout, stderr) => {
        if (err) reject(new Error(`pm2 ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
        else resolve(stdout);
      });
    });
  // The app's workers, as PM2 lists them.
  const workers = async () => JSON.parse(await pm2('jlist')).filter((p) => p.name === NAME);
  // The pids that answer on the shared port, over fresh connections.
  const answering = async () => {
    const pids = new Set();
    for (let i = 0; i < CONNECTIONS && pids.size < WORKERS; i++) {
      const res = await get(port, '/');
      assert.equal(res.status, 200);
      pids.add(res.json().pid);
    }
    return [...pids].sort();
  };
  const pm2Log = () => fs.readFileSync(path.join(home, 'pm2.log'), 'utf8');

  before(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-pm2-'));
    fs.writeFileSync(path.join(home, 'touch'), String(Date.now()));
    port = await freePort();
    const ecosystem = path.join(home, 'ecosystem.config.js');
    const app = {
      name: NAME,
      script: FIXTURE,
      exec_mode: 'cluster',
      instances: WORKERS,
      env: { PORT: String(port), NODE_ENV: 'test' },
      wait_ready: true,
      listen_timeout: PM2_TIMEOUT_MS,
      kill_timeout: KILL_TIMEOUT_MS,
      autorestart: false,
    };
    fs.writeFileSync(ecosystem, `module.exports = { apps: [${JSON.stringify(app)}] };\n`);
    await pm2('start', ecosystem);
  });

  after(async () => {
    if (home === undefined) return;
    await pm2('kill').catch((err) => console.log(`# ${err.message}`));
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('two workers share one port, each answering', T, async () => {
    const list = await workers();
    assert.equal(list.length, WORKERS);
    for (const w of list) {
      assert.equal(w.pm2_env.exec_mode, 'cluster_mode');
      assert.equal(w.pm2_env.status, 'online');
    }
    assert.deepEqual(await answering(), list.map((w) => w.pid).sort());
  });

  test('pm2 reload: new workers answer, each old one drained by close() and exited by itself', T, async () => {
    const before = (await workers()).map((w) => w.pid);
    await pm2('reload', NAME);
    const list = await workers();
    const now = list.map((w) => w.pid).sort();
    assert.equal(list.length, WORKERS);
    for (const pid of before) assert.ok(!now.includes(pid), `worker ${pid} was replaced`);
    assert.deepEqual(await answering(), now);
    await waitUntil(() => before.every((pid) => !alive(pid)), { timeout: PM2_TIMEOUT_MS, what: 'the old workers to be gone' });
    const log = pm2Log();
    assert.equal((log.match(/App \[hn-pm2-test:_old_\d+\] exited with code \[0\]/g) ?? []).length, WORKERS, log);
    assert.doesNotMatch(log, /still alive after|SIGKILL/, 'no worker needed PM2\'s SIGKILL');
  });
});
