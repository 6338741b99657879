'use strict';
// `npm run artifacts [-- --target <platform> ...] [--addon <file>] [--out <dir>]`: the packages
// to publish. For each platform (js/platforms.js) it builds the addon, copies it into
// npm/<platform>/ and packs that package; then it packs the main package with an
// optionalDependencies entry for every platform package at its own version. Tarballs go to
// artifacts/ (or --out).
//
// Builds (release, without the symbol table): on Linux x64 the four Linux platforms with the
// toolchains scripts/cross-env.js sets up, the -gnu ones (this machine's own included) linked
// against an old glibc (GLIBC_FLOOR) by zig so that they load on older systems than this one;
// elsewhere the platform this machine is, with scripts/build.js; darwin and win32 on a machine of
// their own (`npm run artifacts -- --target darwin-arm64` on a Mac, docs/install.md). Without --target: this machine's platform and every platform whose
// cross toolchain is installed here (the others are named, with the command that installs them).
// --addon <file>: package that addon for the one --target instead of building it (an addon
// built elsewhere, or the one a test already has).
//
// Why the main package's optionalDependencies are written into its tarball only: the platform
// packages are published with it, not before, so in a clone they do not exist on the registry;
// `npm install` shrugs off an optional dependency it cannot find, but `npm ci` refuses a
// package.json whose dependencies package-lock.json cannot record ("Missing: ... from lock file").
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { PLATFORMS, currentPlatform } = require('../js/platforms');

const root = path.resolve(__dirname, '..');
const mainManifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
// ELF e_machine of each cpu, Mach-O cputype, PE machine: a binary for another one is refused.
const ELF_MACHINE = { x64: 62, arm64: 183 };
const MACHO_CPU = { x64: 0x01000007, arm64: 0x0100000c };
const PE_MACHINE = { x64: 0x8664, arm64: 0xaa64 };
// glibc's soname: in every addon linked against glibc, in none linked against musl (libc.so).
const GLIBC_SONAME = 'libc.so.6';
// The oldest glibc the -gnu binaries load on: they are linked (by zig, scripts/cross-env.js)
// against its symbols, not this machine's. 2.28: Debian 10, Ubuntu 18.10, RHEL 8 and newer (a
// build on Debian 12 would need 2.34, which Ubuntu 20.04's 2.31 does not have: the old-glibc
// failure uWS.js users meet).
const GLIBC_FLOOR = '2.28';

function usage(message) {
  console.error(`artifacts: ${message}\nusage: npm run artifacts -- [--target <${PLATFORMS.map((p) => p.id).join('|')}> ...] [--addon <file>] [--out <dir>]`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { targets: [], addon: undefined, out: path.join(root, 'artifacts') };
  for (let i = 0; i < argv.length; i++) {
    const value = () => argv[++i] ?? usage(`${argv[i - 1]} needs a value`);
    if (argv[i] === '--target') o.targets.push(...value().split(','));
    else if (argv[i] === '--addon') o.addon = path.resolve(value());
    else if (argv[i] === '--out') o.out = path.resolve(value());
    else usage(`unknown argument ${argv[i]}`);
  }
  for (const t of o.targets) if (!PLATFORMS.some((p) => p.id === t)) usage(`unknown platform ${t}`);
  if (o.addon !== undefined && o.targets.length !== 1) usage('--addon needs exactly one --target');
  return o;
}

// How scripts/cross-env.js builds `p`: the -gnu platforms against GLIBC_FLOOR.
const crossOptions = (p) => (p.libc === 'glibc' ? { glibc: GLIBC_FLOOR } : {});

function crossEnv() {
  try {
    return require('./cross-env');
  } catch (err) {
    if (err.code === 'MODULE_NOT_FOUND' && String(err.message).includes('cross-env')) return undefined;
    throw err;
  }
}

// Every platform this machine can build now, and why each other one is left out.
function defaultTargets() {
  const here = currentPlatform().id;
  const cross = crossEnv();
  const targets = [];
  for (const p of PLATFORMS) {
    if (p.id === here) targets.push(p.id);
    else if (cross === undefined || !cross.PLATFORMS.includes(p.id)) console.error(`artifacts: skipped ${p.id}: it is built on a ${p.os} ${p.cpu} machine (docs/install.md)`);
    else {
      let absent;
      try {
        absent = cross.missing(p.id, crossOptions(p));
      } catch (err) {
        absent = [err.message];
      }
      if (absent.length === 0) targets.push(p.id);
      else console.error(`artifacts: skipped ${p.id}: missing ${absent.join('; ')} (\`node scripts/cross-env.js --setup${p.libc === 'glibc' ? ` --glibc ${GLIBC_FLOOR}` : ''} ${p.id}\` installs it)`);
    }
  }
  return targets;
}

function run(cmd, args, options) {
  console.error(`artifacts: $ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 2, 2], ...options });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
}

// What every published binary is built with: the release profile, without the symbol table
// (what a debugger or profiler of the binary would want; the exported symbols Node-API needs stay):
// about 15 % less to download.
const RELEASE_ENV = { HTTP_NATIVE_PROFILE: 'release', CARGO_PROFILE_RELEASE_STRIP: 'symbols' };

// Builds `p`'s addon; returns the file cargo made.
function build(p) {
  const cross = crossEnv();
  const crossable = cross !== undefined && cross.PLATFORMS.includes(p.id) && process.platform === 'linux' && process.arch === 'x64';
  // On Linux x64 the -gnu platforms, this machine's own included, are linked against GLIBC_FLOOR.
  if (crossable && (p.id !== currentPlatform().id || p.libc === 'glibc')) {
    const b = cross.crossBuild(p.id, crossOptions(p));
    run(b.cmd, b.args, { cwd: b.cwd, env: { ...b.env, ...RELEASE_ENV } });
    return b.artifact;
  }
  if (p.id === currentPlatform().id) {
    // A target directory of its own: the clone's ./target keeps its unstripped build (cargo would
    // rebuild everything each time the profile changed).
    const env = { ...process.env, ...RELEASE_ENV, CARGO_TARGET_DIR: path.join(root, 'target', 'artifacts') };
    run(process.execPath, [path.join(__dirname, 'build.js')], { env });
    return path.join(root, 'http-native.node');
  }
  throw new Error(`${p.id} is built on a ${p.os} ${p.cpu} machine: run \`npm run artifacts -- --target ${p.id}\` there (docs/install.md)`);
}

// The newest glibc symbol version a Linux binary asks for ('2.34'), or undefined.
function glibcNeeded(bytes) {
  const versions = bytes.toString('latin1').match(/GLIBC_2\.\d+/g) ?? [];
  return versions.map((v) => v.slice('GLIBC_'.length)).sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1])).pop();
}
const newer = (a, b) => Number(a.split('.')[1]) > Number(b.split('.')[1]);

// Why `file` is not an addon for `p` (another CPU, format or C library), or undefined.
function wrongBinary(file, p) {
  const bytes = fs.readFileSync(file);
  if (p.os === 'linux') {
    if (bytes.readUInt32BE(0) !== 0x7f454c46) return 'not an ELF file';
    if (bytes.readUInt16LE(18) !== ELF_MACHINE[p.cpu]) return `an ELF file for machine ${bytes.readUInt16LE(18)}, not ${p.cpu}`;
    const glibc = bytes.includes(GLIBC_SONAME);
    if (p.libc === 'glibc' && !glibc) return `not linked against glibc (no ${GLIBC_SONAME})`;
    const needed = p.libc === 'glibc' ? glibcNeeded(bytes) : undefined;
    if (needed !== undefined && newer(needed, GLIBC_FLOOR)) {
      // Still a working binary (an --addon built elsewhere, a test's): said, not refused.
      console.error(`artifacts: warning: ${file} needs glibc ${needed}, newer than ${GLIBC_FLOOR}: it will not load on older systems`);
    }
    if (p.libc === 'musl' && glibc) return `linked against glibc (${GLIBC_SONAME}), not musl`;
  } else if (p.os === 'darwin') {
    if (bytes.readUInt32LE(0) !== 0xfeedfacf) return 'not a 64-bit Mach-O file';
    if (bytes.readUInt32LE(4) !== MACHO_CPU[p.cpu]) return `a Mach-O file for another CPU than ${p.cpu}`;
  } else if (p.os === 'win32') {
    if (bytes.readUInt16LE(0) !== 0x5a4d) return 'not a PE file';
    const pe = bytes.readUInt32LE(0x3c);
    if (bytes.readUInt16LE(pe + 4) !== PE_MACHINE[p.cpu]) return `a PE file for another CPU than ${p.cpu}`;
  }
  return undefined;
}

// The platform package's manifest must be the main package's version (the loader loads no other).
function checkManifest(p) {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'npm', p.id, 'package.json'), 'utf8'));
  if (manifest.version !== mainManifest.version) {
    throw new Error(`npm/${p.id}/package.json is version ${manifest.version}, http-native ${mainManifest.version}: make them equal`);
  }
  if (manifest.name !== p.packageName || manifest.main !== p.addonFile) throw new Error(`npm/${p.id}/package.json does not name ${p.packageName} and ${p.addonFile}`);
}

function pack(dir, out) {
  const r = spawnSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out, dir], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm pack ${dir} failed:\n${r.stderr}`);
  return path.join(out, JSON.parse(r.stdout)[0].filename);
}

// The main package as published: its files as `npm pack` would take them, and a package.json that
// names every platform package as an optional dependency. npm installs the one whose os/cpu/libc
// match (and none where none does: the install script then builds from source).
function packMain(out) {
  const listed = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`npm pack --dry-run failed:\n${listed.stderr}`);
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'http-native-pack-'));
  try {
    for (const { path: rel } of JSON.parse(listed.stdout)[0].files) {
      fs.mkdirSync(path.dirname(path.join(stage, rel)), { recursive: true });
      fs.copyFileSync(path.join(root, rel), path.join(stage, rel));
    }
    const optionalDependencies = Object.fromEntries(PLATFORMS.map((p) => [p.packageName, mainManifest.version]));
    fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify({ ...mainManifest, optionalDependencies }, null, 2)}\n`);
    return pack(stage, out);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  const targets = (o.targets.length > 0 ? o.targets : defaultTargets()).map((id) => PLATFORMS.find((p) => p.id === id));
  fs.mkdirSync(o.out, { recursive: true });
  const made = [];
  const failed = [];
  for (const p of targets) {
    try {
      checkManifest(p);
      const file = o.addon ?? build(p);
      const wrong = wrongBinary(file, p);
      if (wrong !== undefined) throw new Error(`${file} is ${wrong}: not an addon for ${p.id}`);
      const dest = path.join(root, 'npm', p.id, p.addonFile);
      fs.copyFileSync(file, `${dest}.tmp`);
      fs.renameSync(`${dest}.tmp`, dest);
      made.push(pack(path.join(root, 'npm', p.id), o.out));
    } catch (err) {
      console.error(`artifacts: ${p.id}: ${err.message}`);
      failed.push(p.id);
    }
  }
  made.push(packMain(o.out));
  for (const f of made) console.log(f);
  if (failed.length > 0) {
    console.error(`artifacts: not built: ${failed.join(', ')}`);
    process.exitCode = 1;
  }
}

main();
