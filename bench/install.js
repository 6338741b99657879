#!/usr/bin/env node
'use strict';
// `node bench/install.js`: how long `npm install` of the packed package takes into an empty app,
// offline (every runtime dependency from a tarball, npm's cache private and empty), with this
// platform's prebuilt package and without it (the install script then compiles the addon with
// cargo, release profile, in a fresh target directory, as a user's install does). The prebuilt
// package holds the addon already built here (`npm run build`), packed by scripts/artifacts.js.
// Prints one row per case; --json prints them as JSON too. Each case is run RUNS times (--runs N)
// and the median is shown: a from-source install is minutes of compiling, so 1 by default.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { userEnv, packRuntimeDependencies, newApp } = require('../__test__/support/install');
const { currentPlatform } = require('../js/platforms');

const root = path.join(__dirname, '..');
const INSTALL_TIMEOUT_MS = 20 * 60 * 1000;
const argv = process.argv.slice(2);
const runsArg = argv.indexOf('--runs');
const RUNS = runsArg >= 0 ? Number(argv[runsArg + 1]) : 1;

const { platform, id } = currentPlatform();
if (platform === undefined) throw new Error(`no prebuilt package is made for ${id}`);
const addon = path.join(root, 'http-native.node');
if (!fs.existsSync(addon)) throw new Error(`build the addon first (npm run build): ${addon} is packed as the prebuilt one`);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'http-native-bench-install-'));
try {
  const out = path.join(work, 'artifacts');
  const packed = spawnSync(process.execPath, [path.join(root, 'scripts', 'artifacts.js'), '--target', platform.id, '--addon', addon, '--out', out], { encoding: 'utf8', env: userEnv(work) });
  if (packed.status !== 0) throw new Error(packed.stderr);
  const [platformTarball, mainTarball] = packed.stdout.trim().split('\n');
  const dependencies = packRuntimeDependencies(work, work);

  const cases = [
    { name: `with ${platform.packageName}`, tarballs: [mainTarball, platformTarball, ...dependencies] },
    { name: 'without it (cargo builds the addon)', tarballs: [mainTarball, ...dependencies] },
  ];
  const rows = [];
  for (const c of cases) {
    const times = [];
    for (let i = 0; i < RUNS; i++) {
      const app = newApp(work, `app-${rows.length}-${i}`);
      // A cache of its own each time: nothing of an earlier run is reused.
      const env = userEnv(work, { npm_config_cache: path.join(app, '.npm-cache') });
      const started = process.hrtime.bigint();
      const r = spawnSync('npm', ['install', '--offline', '--no-audit', '--no-fund', ...c.tarballs], { cwd: app, env, encoding: 'utf8', timeout: INSTALL_TIMEOUT_MS });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // A timeout (INSTALL_TIMEOUT_MS) leaves no status and no output: say which it was.
      if (r.status !== 0) throw new Error(`npm install (${c.name}) failed${r.error ? ` (${r.error.code}, after ${seconds.toFixed(0)} s)` : ''}:\n${r.stdout}\n${r.stderr}`);
      times.push(seconds);
    }
    times.sort((a, b) => a - b);
    rows.push({ case: c.name, seconds: Number(times[Math.floor(times.length / 2)].toFixed(1)), runs: RUNS });
  }
  console.log(`npm install of the packed package, offline, ${os.cpus().length} CPUs, Node ${process.version}:`);
  for (const r of rows) console.log(`  ${r.case.padEnd(40)} ${r.seconds.toFixed(1).padStart(7)} s`);
  if (argv.includes('--json')) console.log(JSON.stringify(rows));
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
