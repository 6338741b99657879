'use strict';
// The real deployment on this machine (docs/deploy.md): three stateless instances
// (fixtures/deploy-instance.js, each its own process), nginx in front of them
// (support/nginx.js, Debian's package) and one redis-server (support/redis.js) holding everything
// the instances share. A session started on one instance is valid on the others, a rate limit
// holds across them, a cache invalidation on one reaches all, and a rolling restart of every
// instance (SIGTERM, drained close, exit, start again on the same port, healthy, next) under
// steady load through nginx loses no request.
//
// Every wait is for something observable (a line on stdout, an exit, an answer), polled a
// bounded number of times: nothing here depends on how fast the machine is.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const autocannon = require('autocannon');
const { request, waitUntil } = require('./helpers');
const { redisMissing, startRedis } = require('./support/redis');
const { nginxMissing, startNginx } = require('./support/nginx');

const skip = nginxMissing() || redisMissing();
if (skip) console.log(`# deploy.test.js skipped: ${skip}`);

const FIXTURE = path.join(__dirname, 'fixtures', 'deploy-instance.js');
const INSTANCES = 3;
const RATE_LIMIT = 5;
// Only bounds a failure: an instance starts in well under a second.
const START_TIMEOUT_MS = 20000;
// Only bounds a failure: close() drains in milliseconds here (its own force timeout is 10 s).
const STOP_TIMEOUT_MS = 15000;
const POLL = { timeout: 15000, interval: 20 };
// The steady load of the rolling restart: a modest rate (the machine's 2 cores are shared), over
// enough connections that some are always in flight through nginx while an instance closes.
const LOAD = { connections: 8, overallRate: 300 };
// Load answers (/hello, /slow) a restarted instance must serve through nginx before the next one is stopped.
const SERVED_AFTER_RESTART = 300;
const T = { timeout: 60000 };

// One instance process. start() resolves once it printed its port and its health route answers.
class Instance {
  constructor(name, redisUrl) {
    this.name = name;
    this.redisUrl = redisUrl;
    this.port = 0;
    this.child = null;
    this.stderr = '';
    this.stdout = '';
  }

  get base() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    const child = spawn(process.execPath, [FIXTURE], {
      env: { ...process.env, PORT: String(this.port), REDIS_URL: this.redisUrl, NAME: this.name, RATE_LIMIT: String(RATE_LIMIT) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    this.stdout = '';
    child.stderr.on('data', (chunk) => (this.stderr += chunk));
    child.stdout.on('data', (chunk) => (this.stdout += chunk));
    const port = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${this.name} did not start in ${START_TIMEOUT_MS} ms:\n${this.stderr}`)), START_TIMEOUT_MS);
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line !== undefined) {
          clearTimeout(timer);
          resolve(JSON.parse(line).ready);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code}) before it was ready:\n${this.stderr}`));
      });
    });
    if (this.port !== 0) assert.equal(port, this.port, `${this.name} came back on its port`);
    this.port = port;
    await waitUntil(async () => (await request(this.base, '/health').catch(() => null))?.status === 200, { ...POLL, what: `${this.name}'s health` });
  }

  // SIGTERM, then the exit code: 0 when close() drained and the process ended by itself.
  async stop() {
    this.child.kill('SIGTERM');
    let timer;
    const code = await Promise.race([
      this.exited,
      new Promise((resolve) => {
        timer = setTimeout(() => resolve('still running'), STOP_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (code === 'still running') this.child.kill('SIGKILL');
    return code;
  }

  // What the last run printed as it drained: the slow requests it started and answered.
  drained() {
    const line = this.stdout.split('\n').find((l) => l.startsWith('{"drained"'));
    return line === undefined ? undefined : JSON.parse(line).drained;
  }

  kill() {
    if (this.child !== null && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  async json(pathname, init) {
    const res = await request(this.base, pathname, init);
    return { status: res.status, body: res.status === 204 ? null : await res.json(), res };
  }
}

// What an nginx site in front of stateless instances holds (docs/deploy.md has the same).
function site(ports) {
  return (port) => `
  upstream instances {
${ports.map((p) => `    server 127.0.0.1:${p} max_fails=0;`).join('\n')}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://instances;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_next_upstream error timeout;
    }
  }`;
}

function sessionCookie(res) {
  for (const line of res.headers.getSetCookie()) if (line.startsWith('sid=')) return line.split(';')[0];
  return null;
}

describe('deployment: 3 instances behind nginx, state in redis', { skip }, () => {
  const instances = [];
  const cleanups = [];
  let nginx;
  let cookie;
  const killAll = () => instances.forEach((i) => i.kill());

  before(async () => {
    process.once('exit', killAll);
    const redis = await startRedis((stop) => cleanups.push(stop));
    for (let i = 0; i < INSTANCES; i++) instances.push(new Instance(`i${i}`, redis.url));
    await Promise.all(instances.map((i) => i.start()));
    nginx = await startNginx((stop) => cleanups.push(stop), site(instances.map((i) => i.port)));
  });

  after(async () => {
    killAll();
    await Promise.all(instances.map((i) => i.child && i.exited));
    process.removeListener('exit', killAll);
    for (const stop of cleanups.reverse()) await stop();
  });

  test('nginx reaches every instance', T, async () => {
    const seen = new Set();
    for (let i = 0; i < INSTANCES * 4; i++) {
      const res = await request(nginx.url, '/hello');
      assert.equal(res.status, 200);
      seen.add((await res.json()).instance);
    }
    assert.deepEqual([...seen].sort(), instances.map((i) => i.name));
  });

  test('a session started on one instance is valid on every other', T, async () => {
    const [first, ...others] = instances;
    const login = await first.json('/session/login?user=alice', { method: 'POST' });
    assert.equal(login.status, 200);
    cookie = sessionCookie(login.res);
    assert.ok(cookie, 'a session cookie was set');
    for (const other of others) {
      assert.deepEqual((await other.json('/session/me', { headers: { cookie } })).body, { instance: other.name, user: 'alice', by: first.name });
    }
    assert.deepEqual((await others[0].json('/session/me')).body.user, null, 'without the cookie, no session');
  });

  test('a rate limit holds across instances: the limit-th + 1 request is refused whichever instance takes it', T, async () => {
    const used = [];
    for (let n = 0; n < RATE_LIMIT; n++) {
      const { status, body } = await instances[n % INSTANCES].json('/limited');
      assert.equal(status, 200, `request ${n + 1} of ${RATE_LIMIT}`);
      used.push(body.used);
    }
    assert.deepEqual(used, Array.from({ length: RATE_LIMIT }, (_, n) => n + 1), 'one count over every instance');
    for (const instance of instances) {
      const res = await request(instance.base, '/limited');
      assert.equal(res.status, 429, `${instance.name} refuses once the limit is used up elsewhere`);
      assert.ok(res.headers.get('retry-after'));
    }
    assert.equal((await request(nginx.url, '/limited')).status, 429, 'and through nginx');
  });

  test('an invalidation on one instance reaches every instance', T, async () => {
    for (const instance of instances) {
      assert.deepEqual((await instance.json('/cached')).body, { instance: instance.name, run: 1 });
      assert.deepEqual((await instance.json('/cached')).body, { instance: instance.name, run: 1 }, 'a cache hit');
    }
    assert.equal((await instances[1].json('/invalidate', { method: 'POST' })).status, 204);
    for (const instance of instances) {
      await waitUntil(async () => (await instance.json('/cached')).body.run === 2, { ...POLL, what: `${instance.name}'s /cached to run JS again` });
    }
  });

  test('a rolling restart of every instance under steady load through nginx loses no request', T, async () => {
    // Half of the requests take a while, so some are in flight when an instance gets SIGTERM: each
    // instance says at exit how many it started and answered. GETs, which nginx sends to another
    // instance when one fails (`proxy_next_upstream error`): a POST sent on an idle keep-alive
    // connection at the instant an instance closes it is lost with any server (docs/deploy.md).
    const load = autocannon({ url: nginx.url, requests: [{ path: '/hello' }, { path: '/slow' }], ...LOAD, duration: 120 });
    const finished = new Promise((resolve, reject) => load.once('done', resolve).once('error', reject));
    const served = async (instance) => (await instance.json('/served')).body.hello;
    let inFlight = 0;
    try {
      for (const instance of instances) {
        assert.equal(await instance.stop(), 0, `${instance.name} exited by itself after close():\n${instance.stderr}`);
        const drained = instance.drained();
        assert.ok(drained !== undefined, `${instance.name} reported its drain`);
        assert.equal(drained.answered, drained.started, `${instance.name} answered every request it started: ${JSON.stringify(drained)}`);
        inFlight += drained.started;
        await instance.start();
        // nginx sends it its share again before the next instance goes.
        await waitUntil(async () => (await served(instance)) >= SERVED_AFTER_RESTART, { ...POLL, what: `${instance.name} to take load again` });
      }
    } finally {
      load.stop();
    }
    const result = await finished;
    const summary = `${result.requests.total} requests: ${result['2xx']} 2xx, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`;
    console.log(`# rolling restart: ${summary}; slow requests the stopped instances started, every one answered: ${inFlight}`);
    // What nginx met on the way (each one retried on another instance), by kind.
    const kinds = {};
    for (const line of nginx.errorLog().split('\n')) {
      const m = /\[(?:error|warn)\] \S+ \*\d+ (.*?) while /.exec(line);
      if (m) kinds[m[1]] = (kinds[m[1]] ?? 0) + 1;
    }
    console.log(`# nginx's error log: ${JSON.stringify(kinds)}`);
    assert.equal(result.non2xx, 0, summary);
    assert.equal(result.errors, 0, summary);
    assert.equal(result.timeouts, 0, summary);
    assert.ok(result['2xx'] >= SERVED_AFTER_RESTART * INSTANCES, summary);
    // Sessions live in Redis: restarting every instance lost none.
    for (const instance of instances) {
      assert.equal((await instance.json('/session/me', { headers: { cookie } })).body.user, 'alice');
    }
  });
});
