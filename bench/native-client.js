'use strict';
// Runs a native load generator (wrk, h2load, openssl s_time) for a bench section: through sh, which
// reports the generator's CPU time afterwards (the children's times of sh's own /proc entry
// include it once it is reaped), and killed if it runs past a deadline (h2load, for one, never
// ends a timed run whose server closes every connection). Shared by bench/wrk.js and bench/tls.js.

const { spawn, spawnSync } = require('node:child_process');

// The grace a generator gets past its own duration (connection set-up, the last answers, exit).
const DEADLINE_GRACE_MS = 15000;

// Whether `cmd` runs at all (`args` should make it print and exit, e.g. --version).
function available(cmd, args = ['--version']) {
  return !spawnSync(cmd, args, { encoding: 'utf8' }).error;
}

// Resolves with { code, stdout, stderr, cpuTicks } (cpuTicks: utime + stime of the generator, null
// when unknown); rejects when it cannot start or runs past `seconds` + DEADLINE_GRACE_MS.
function runClient(cmd, args, seconds) {
  const sh = '"$@"; code=$?; echo "CHILD_TICKS $(cut -d" " -f16,17 /proc/$$/stat)"; exit $code';
  return new Promise((resolve, reject) => {
    // detached: its own process group, so the deadline kills the generator with sh.
    const child = spawn('sh', ['-c', sh, 'sh', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, seconds * 1000 + DEADLINE_GRACE_MS);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (late) return reject(new Error(`${cmd} was still running ${DEADLINE_GRACE_MS / 1000} s after its ${seconds} s: killed`));
      const ticks = /CHILD_TICKS (\d+) (\d+)/.exec(stdout);
      resolve({ code, stdout, stderr, cpuTicks: ticks ? Number(ticks[1]) + Number(ticks[2]) : null });
    });
  });
}

module.exports = { available, runClient, DEADLINE_GRACE_MS };
