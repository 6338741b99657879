'use strict';
// The other JavaScript runtimes the fetch entry is tested in, from their registry packages
// (devDependencies `bun` and `workerd`): where each one's binary is, whether it runs here (if
// not, why: the test prints that and skips), and a server started with it.
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const readline = require('node:readline');
const { connectable } = require('./ports');

const ROOT = path.join(__dirname, '..', '..');
// How long a runtime may take to start serving: a cold start of a 100 MB binary on a loaded
// 2-core machine, with room to spare.
const START_TIMEOUT_MS = 30_000;
const POLL_MS = 50;
// util-linux's setpriv execs the runtime with a parent-death signal: a test process killed
// abruptly (a runner's timeout) takes its server with it instead of leaving it serving.
const SETPRIV = '/usr/bin/setpriv';
const DEATH_SIGNAL = fs.existsSync(SETPRIV) ? [SETPRIV, '--pdeathsig', 'SIGKILL'] : [];

// The binary of an npm package that ships one, with its version, or why it cannot be run here.
function runtime(name, versionArgs) {
  const bin = path.join(ROOT, 'node_modules', '.bin', name);
  const probe = spawnSync(bin, versionArgs, { encoding: 'utf8', timeout: START_TIMEOUT_MS });
  if (probe.error !== undefined || probe.status !== 0) {
    const why = probe.error !== undefined ? probe.error.message : `exit ${probe.status}: ${(probe.stderr || '').trim().split('\n')[0]}`;
    return { bin, version: null, missing: `${name} cannot be run here (${why}); the devDependency '${name}' brings it (npm install)` };
  }
  return { bin, version: probe.stdout.trim(), missing: false };
}

// A child process whose output is kept (for the message of a failed start) and whose stdout lines
// can be watched; `stdin: true` gives it a pipe to write to (child.stdin).
function spawnRuntime(bin, args, { env, cwd, stdin = false }) {
  const [cmd, ...rest] = [...DEATH_SIGNAL, bin, ...args];
  // In a process group of its own: workerd forks, and stop() must reach the fork too.
  const child = spawn(cmd, rest, { env: { ...process.env, ...env }, cwd, detached: true, stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const lines = [];
  const watchers = new Set();
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const watch of watchers) watch(line);
  });
  readline.createInterface({ input: child.stderr }).on('line', (line) => lines.push(line));
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? code));
    child.once('error', (err) => resolve(err.message));
  });
  return { child, exited, watchers, output: () => lines.join('\n') };
}

// Resolves with the first `parse(line)` of the child's stdout that neither throws nor is
// undefined; rejects, with what it printed, if it exits or takes too long first.
function firstLine(proc, parse) {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      proc.watchers.delete(watch);
    };
    const watch = (line) => {
      let value;
      try {
        value = parse(line);
      } catch {
        return;
      }
      if (value === undefined) return;
      done();
      resolve(value);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`not ready within ${START_TIMEOUT_MS} ms; it printed:\n${proc.output()}`));
    }, START_TIMEOUT_MS);
    proc.watchers.add(watch);
    proc.exited.then((how) => {
      done();
      reject(new Error(`exited (${how}) before it was ready; it printed:\n${proc.output()}`));
    });
  });
}

// Resolves once 127.0.0.1:port takes connections; false if the child exits first (a port taken
// by someone else), and rejects after START_TIMEOUT_MS.
async function listening(proc, port) {
  let exited = false;
  proc.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (await connectable(port)) return true;
    if (exited) return false;
    if (Date.now() > deadline) throw new Error(`nothing listened on port ${port} within ${START_TIMEOUT_MS} ms; it printed:\n${proc.output()}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

// The runtime and whatever it forked (its process group): a fork left running would keep serving,
// and hold the pipes that keep this test process alive after its tests.
async function stop(proc) {
  const group = (signal) => {
    try {
      process.kill(-proc.child.pid, signal);
    } catch {
      // ESRCH: nothing of it is left.
    }
  };
  if (proc.child.exitCode === null && proc.child.signalCode === null) group('SIGTERM');
  const exited = await proc.exited;
  group('SIGKILL');
  for (const stream of [proc.child.stdin, proc.child.stdout, proc.child.stderr]) stream?.destroy();
  return exited;
}

module.exports = { runtime, spawnRuntime, firstLine, listening, stop, ROOT };
