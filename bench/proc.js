'use strict';
// The bench's server child processes and what it reads of them in /proc: starting a server
// script (bench/servers/) or the raw ceiling and waiting for its READY line (pinned to some CPUs
// with taskset when asked), stopping it, and its CPU time and RSS, of the process alone or of it
// and its children (nginx's workers, node:cluster's). Shared by every section. Linux only.

const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { spawn, execFileSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..');
const READY_TIMEOUT_MS = 20000;
const STOP_GRACE_MS = 5000;

let current = null; // the running server child, killed if the runner dies

function clockTicks() {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (n > 0) return n;
  } catch {
    // getconf missing: Linux has used 100 on every mainstream architecture for decades.
  }
  return 100;
}

// utime + stime of the whole process (all threads, the dead ones included), in ticks.
function readCpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // comm (field 2) may contain spaces and parentheses: count fields after its closing paren.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  return Number(fields[14 - 3]) + Number(fields[15 - 3]);
}

function readRssBytes(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

// The server's children, its children's children, ...: its whole tree, itself first.
function childrenOf(pid) {
  const out = [];
  let tasks;
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const list = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (list) out.push(...list.split(/\s+/).map(Number));
    } catch {
      // the task ended
    }
  }
  return out;
}

function processTree(pid) {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childrenOf(all[i]));
  return all;
}

function sumOver(pid, read) {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      total += read(p);
    } catch {
      // exited between the listing and the read
    }
  }
  return total;
}

// CPU ticks and RSS of a server and every process under it (threads are in their process's).
const treeCpuTicks = (pid) => sumOver(pid, readCpuTicks);
const treeRssBytes = (pid) => sumOver(pid, readRssBytes);

function serverCommand(server, rawBin) {
  // node itself, not npm or a shell: the PID we measure must be the server's.
  const [cmd, args] = server.raw ? [rawBin, []] : [server.node.path, [path.join(__dirname, 'servers', server.script)]];
  // taskset execs the command: the PID stays the server's, and every thread and child it makes
  // inherits the CPU list.
  return server.cpus ? ['taskset', ['-c', server.cpus, cmd, ...args]] : [cmd, args];
}

// Spawns a server and resolves once it printed `READY <port> [driver] [stats=<port>]` (the battery
// server's second port, where its bridge counters are read: bench/batteries.js).
function startServer(server, rawBin) {
  const [cmd, args] = serverCommand(server, rawBin);
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...server.env, PORT: '0', NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  current = child;
  const proc = { child, pid: child.pid, port: undefined, driver: undefined, statsPort: undefined, lastError: undefined, exited: undefined };
  // stderr is passed on; raw-ceiling reports its driver there (`raw-ceiling: driver io_uring`).
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    console.error(`  [${server.name}] ${line}`);
    if (line.trim()) proc.lastError = line.trim();
    const m = /\bdriver:? (io_uring|epoll|kqueue)\b/.exec(line);
    if (m && !proc.driver) proc.driver = m[1];
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  proc.exited = exited;
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`no READY line within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
    const lines = readline.createInterface({ input: child.stdout });
    function fail(err) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    }
    child.once('error', fail);
    // The server's last stderr line says why, if it said anything (a missing feature, a bad option).
    exited.then(({ code, signal }) =>
      fail(new Error(`exited before READY (code ${code}, signal ${signal})${proc.lastError ? `: ${proc.lastError}` : ''}`)),
    );
    // The rest of stdout is still read (and ignored), so a chatty server never blocks on a full pipe.
    lines.on('line', (line) => {
      const m = /^READY (\d+)(?: (?!stats=)(\S+))?(?: stats=(\d+))?/.exec(line);
      if (!m || settled) return;
      settled = true;
      clearTimeout(timer);
      proc.port = Number(m[1]);
      if (m[2]) proc.driver = m[2];
      if (m[3]) proc.statsPort = Number(m[3]);
      resolve(proc);
    });
  });
}

// SIGTERM, then SIGKILL after STOP_GRACE_MS. Resolves with how it ended.
async function stopServer(proc) {
  proc.child.kill('SIGTERM');
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), STOP_GRACE_MS);
  });
  let exit = await Promise.race([proc.exited, late]);
  clearTimeout(timer);
  let killed = false;
  if (!exit) {
    killed = true;
    proc.child.kill('SIGKILL');
    exit = await proc.exited;
  }
  if (current === proc.child) current = null;
  return { ...exit, killed };
}

// A server that died mid-run shows up as a missing /proc entry: say what really happened.
function diedDuring(proc, err, what) {
  const { exitCode, signalCode } = proc.child;
  if (exitCode === null && signalCode === null) return err;
  return new Error(`server died during ${what} (${signalCode ? `signal ${signalCode}` : `exit code ${exitCode}`})`);
}

// Kills the running server, if any: a runner that dies must not leave it holding the CPU.
function killCurrent() {
  if (current) current.kill('SIGKILL');
}

module.exports = {
  STOP_GRACE_MS,
  clockTicks,
  readCpuTicks,
  readRssBytes,
  processTree,
  treeCpuTicks,
  treeRssBytes,
  startServer,
  stopServer,
  diedDuring,
  killCurrent,
};
