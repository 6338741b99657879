'use strict';
// How a Linux x64 (Debian) machine builds the addon for the other Linux platforms: for each
// platform name, the cargo command, its arguments and its environment, and what must be installed
// first — all of it from the package registries (Debian's, PyPI, crates.io), since rustup cannot
// download a target's standard library where only those answer.
//
//   const cross = require('./cross-env');
//   cross.PLATFORMS                          the platform names this file knows
//   cross.crossBuild(platform, options?)  →  { cmd, args, env, cwd, triple, artifact }
//       spawn `cmd args` with exactly `env` (process.env plus the additions) in `cwd`; the built
//       library is then at `artifact` (copy it to http-native.node). Throws, naming the missing
//       pieces and `node scripts/cross-env.js --setup <platform>`, when the toolchain is not there.
//       options: targetDir (default target/cross/<platform>: one per platform, as each uses its own
//       rustc), lto (default: Cargo.toml's release profile; false with more codegen units when a
//       build must cost less: several times faster here), rust ('auto' | 'rustup' | 'debian').
//   cross.setup(platform, options?)          installs what crossBuild needs (idempotent; says
//       what it does on stderr). options: rust as above.
//   cross.missing(platform, options?)        what is not installed yet, as sentences ([] if nothing).
//
//   node scripts/cross-env.js <platform>            prints the build command as a shell line
//   node scripts/cross-env.js --setup <platform>    installs what it needs
//   node scripts/cross-env.js --build <platform>    installs nothing; builds and prints the library's path
//   (with --quick: lto false, as above; --target-dir <dir>: options.targetDir; --glibc 2.28: options.glibc)
//
// The toolchains, per platform:
// - linux-x64-gnu: this machine's own cargo.
// - linux-arm64-gnu: Debian's cross gcc (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross) as linker
//   and C compiler (zstd and ring have C in them); Rust's aarch64 standard library from rustup when
//   it is installed there, else Debian's rustc-web (below) with its arm64 standard library.
// - linux-x64-musl, linux-arm64-musl: cargo-zigbuild, with zig (PyPI's ziglang) as linker and C
//   compiler for musl; the standard library is built from source (-Zbuild-std, rust-web-src) by
//   Debian's rustc-web, as rustup has no musl target here. `-crt-static`: a Node-API addon is a
//   shared library that uses the musl libc of the node that loads it. zig links its own
//   libunwind in, so the addon needs nothing but libc.so (Debian's musl-gcc would need a musl
//   libgcc_s, which Debian does not have).
// Debian's rustc-web is not installed with apt (its /usr/bin/rustc would shadow rustup's): its
// packages are downloaded and unpacked under the cache directory, and cargo (rustup's) is pointed
// at that rustc with RUSTC. RUSTC_BOOTSTRAP=1 lets a stable rustc take -Zbuild-std.
//
// HTTP_NATIVE_CROSS_CACHE names the cache directory (default ~/.cache/http-native-cross: outside
// the clone, so `npm ci` and a new clone keep its ~1.5 GB).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const LIB_FILE = 'libhttp_native.so';
const CACHE = process.env.HTTP_NATIVE_CROSS_CACHE || path.join(os.homedir(), '.cache', 'http-native-cross');
const RUSTC_DIR = path.join(CACHE, 'rustc-web');
const DEBS_DIR = path.join(CACHE, 'debs');
const ZIG_VENV = path.join(CACHE, 'zig-venv');
// Debian's packages of the rustc-web toolchain: these two, and their dependencies of the same
// family (libstd-rust-web-<version>, libstd-rust-web-dev, libllvm<N>), found from the packages
// themselves so a new version in bookworm-security needs no edit here.
const RUSTC_DEB_ROOTS = ['rustc-web', 'rust-web-src'];
const RUSTC_DEB_FAMILY = /^(rustc-web|rust-web-src|libstd-rust-web|libllvm)/;
// The Debian libraries libLLVM loads (all in a base Debian, named here for a slimmer one).
const RUSTC_RUNTIME_DEBS = ['libedit2', 'libffi8', 'libxml2', 'libz3-4', 'libzstd1', 'zlib1g'];
const ZIG_PYPI = ['ziglang', 'cargo-zigbuild'];
// With LTO off, more codegen units: each unit is compiled in parallel and optimised alone.
const QUICK_CODEGEN_UNITS = 16;

const PLATFORMS = {
  'linux-x64-gnu': { triple: 'x86_64-unknown-linux-gnu', libc: 'gnu', kind: 'host' },
  'linux-arm64-gnu': { triple: 'aarch64-unknown-linux-gnu', libc: 'gnu', kind: 'gcc', gcc: 'aarch64-linux-gnu', debs: ['gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross'], debArch: 'arm64' },
  'linux-x64-musl': { triple: 'x86_64-unknown-linux-musl', libc: 'musl', debArch: 'amd64' },
  'linux-arm64-musl': { triple: 'aarch64-unknown-linux-musl', libc: 'musl', debArch: 'arm64' },
};

function platformOf(name) {
  const p = PLATFORMS[name];
  if (p === undefined) throw new Error(`unknown platform ${name}: one of ${Object.keys(PLATFORMS).join(', ')}`);
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`cross-building is set up for Linux x64 hosts (Debian), not ${process.platform}-${process.arch}`);
  }
  return p;
}

function run(cmd, args, options = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', ...options });
}

function ok(cmd, args, options) {
  const r = run(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  return r.status === 0 ? r.stdout : undefined;
}

function say(line) {
  console.error(`cross-env: ${line}`);
}

function must(cmd, args, options = {}) {
  say(`$ ${cmd} ${args.join(' ')}`);
  const r = run(cmd, args, { stdio: ['ignore', 2, 2], ...options });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
}

const cargo = () => process.env.CARGO || 'cargo';

// The sysroot of rustup's (or the PATH's) rustc, if it has the standard library for `triple`.
function rustupHas(triple) {
  const sysroot = ok(process.env.RUSTC || 'rustc', ['--print', 'sysroot']);
  if (sysroot === undefined) return false;
  const dir = path.join(sysroot.trim(), 'lib', 'rustlib', triple, 'lib');
  return fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.startsWith('libstd-'));
}

const debianRustc = () => path.join(RUSTC_DIR, 'usr', 'bin', 'rustc');
const debianLibDir = () => path.join(RUSTC_DIR, 'usr', 'lib', 'x86_64-linux-gnu');
const debianHasStd = (triple) => {
  const dir = path.join(RUSTC_DIR, 'usr', 'lib', 'rustlib', triple, 'lib');
  return fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.startsWith('libstd-'));
};
const debianHasSrc = () => fs.existsSync(path.join(RUSTC_DIR, 'usr', 'lib', 'rustlib', 'src', 'rust', 'library', 'std'));

const debInstalled = (name) => (ok('dpkg-query', ['-W', '-f', '${Status}', name]) || '').includes('install ok installed');
const venvBin = (name) => path.join(ZIG_VENV, 'bin', name);
const zigReady = () => fs.existsSync(venvBin('cargo-zigbuild')) && ok(venvBin('python3'), ['-m', 'ziglang', 'version']) !== undefined;

// How `name` is built, from its platform and the options:
//   linker: 'host' (this machine's cc), 'gcc' (Debian's cross gcc) or 'zig' (musl, or a glibc
//     version given: zig links against that glibc's symbols, so the addon loads on any newer one);
//   rust: 'rustup' (its standard library for the target is installed) or 'debian' (rustc-web);
//   buildStd: the standard library built from source (musl with Debian's rustc, which has none).
function plan(name, options = {}) {
  const p = platformOf(name);
  const choice = options.rust || process.env.HTTP_NATIVE_CROSS_RUST || 'auto';
  if (!['auto', 'rustup', 'debian'].includes(choice)) throw new Error(`rust must be auto, rustup or debian, not ${choice}`);
  const glibc = options.glibc || undefined;
  if (glibc !== undefined && (p.libc !== 'gnu' || !/^2\.\d+$/.test(glibc))) throw new Error(`glibc ${glibc}: a version like 2.28, for a -gnu platform`);
  const rust = p.kind === 'host' ? 'rustup' : choice === 'auto' ? (rustupHas(p.triple) ? 'rustup' : 'debian') : choice;
  const linker = p.libc === 'musl' || glibc !== undefined ? 'zig' : p.kind;
  return { ...p, name, glibc, rust, linker, buildStd: p.libc === 'musl' && rust === 'debian' };
}

function missing(name, options = {}) {
  const b = plan(name, options);
  const out = [];
  if (b.linker === 'gcc') for (const deb of b.debs) if (!debInstalled(deb)) out.push(`the Debian package ${deb}`);
  if (b.linker === 'zig' && !zigReady()) out.push(`zig and cargo-zigbuild (PyPI: ${ZIG_PYPI.join(', ')}) in ${ZIG_VENV}`);
  if (b.rust === 'rustup' && !rustupHas(b.triple)) out.push(`rustup's standard library for ${b.triple}`);
  if (b.rust === 'debian') {
    if (!fs.existsSync(debianRustc())) out.push(`Debian's rustc-web unpacked in ${RUSTC_DIR}`);
    else if (b.buildStd && !debianHasSrc()) out.push(`Debian's rust-web-src unpacked in ${RUSTC_DIR}`);
    else if (!b.buildStd && !debianHasStd(b.triple)) out.push(`Debian's ${b.debArch} standard library (libstd-rust-web-dev:${b.debArch}) unpacked in ${RUSTC_DIR}`);
  }
  return out;
}

function crossBuild(name, options = {}) {
  const b = plan(name, options);
  const absent = missing(name, options);
  if (absent.length > 0) {
    throw new Error(`cannot build ${name} yet: missing ${absent.join('; ')}. Run \`node scripts/cross-env.js --setup ${name}\``);
  }
  const targetDir = options.targetDir || path.join(root, 'target', 'cross', name);
  const add = { CARGO_TARGET_DIR: targetDir };
  if (options.lto === false) {
    add.CARGO_PROFILE_RELEASE_LTO = 'false';
    add.CARGO_PROFILE_RELEASE_CODEGEN_UNITS = String(QUICK_CODEGEN_UNITS);
  }
  const T = b.triple.toUpperCase().replace(/-/g, '_');
  const t = b.triple.replace(/-/g, '_');
  let cmd = cargo();
  // cargo-zigbuild reads the glibc version from the target's suffix, and builds into the target's own directory.
  const args = ['build', '--release', '--lib', '--target', b.glibc ? `${b.triple}.${b.glibc}` : b.triple];
  if (b.linker === 'gcc') {
    add[`CARGO_TARGET_${T}_LINKER`] = `${b.gcc}-gcc`;
    add[`CC_${t}`] = `${b.gcc}-gcc`;
    add[`AR_${t}`] = `${b.gcc}-ar`;
  }
  if (b.linker === 'zig') {
    cmd = venvBin('cargo-zigbuild');
    // cargo-zigbuild runs `python3 -m ziglang` when there is no zig on PATH: the venv's python3.
    add.PATH = `${path.join(ZIG_VENV, 'bin')}${path.delimiter}${process.env.PATH}`;
  }
  if (b.libc === 'musl') add[`CARGO_TARGET_${T}_RUSTFLAGS`] = '-C target-feature=-crt-static';
  if (b.buildStd) {
    args.push('-Zbuild-std');
    add.RUSTC_BOOTSTRAP = '1';
  }
  if (b.rust === 'debian') {
    add.RUSTC = debianRustc();
    add.RUSTDOC = path.join(RUSTC_DIR, 'usr', 'bin', 'rustdoc');
    add.LD_LIBRARY_PATH = [debianLibDir(), process.env.LD_LIBRARY_PATH].filter(Boolean).join(path.delimiter);
  }
  const artifact = path.join(targetDir, b.triple, 'release', LIB_FILE);
  return { cmd, args, env: { ...process.env, ...add }, added: add, cwd: root, triple: b.triple, artifact };
}

// --- setup ---

function aptInstall(names) {
  const absent = names.filter((n) => !debInstalled(n));
  if (absent.length === 0) return;
  // The lists may be missing or old on a new machine: refresh them once before installing.
  if (ok('apt-cache', ['show', absent[0]]) === undefined) must('apt-get', ['update', '-qq']);
  must('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...absent], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

// Downloads the Debian package `name` (for `arch`, at `version` when given) into DEBS_DIR with apt
// itself, so its signature and checksum are checked; returns the .deb's path (kept: the next setup
// finds it there).
function aptDownload(name, { arch, version, aptOptions = [] } = {}) {
  fs.mkdirSync(DEBS_DIR, { recursive: true });
  const mine = (f) => f.startsWith(`${name}_`) && (f.endsWith(`_${arch || 'amd64'}.deb`) || (!arch && f.endsWith('_all.deb')));
  const have = fs.readdirSync(DEBS_DIR).find(mine);
  if (have) return path.join(DEBS_DIR, have);
  must('apt-get', [...aptOptions, 'download', `${name}${arch ? `:${arch}` : ''}${version ? `=${version}` : ''}`], { cwd: DEBS_DIR });
  const got = fs.readdirSync(DEBS_DIR).find(mine);
  if (got === undefined) throw new Error(`apt-get download ${name} left no ${name}_*.deb in ${DEBS_DIR}`);
  return path.join(DEBS_DIR, got);
}

function depsOf(deb) {
  const field = ok('dpkg-deb', ['-f', deb, 'Depends']) || '';
  return field
    .split(',')
    .map((d) => d.trim().split(/[\s(|]/)[0])
    .filter((d) => RUSTC_DEB_FAMILY.test(d));
}

// apt options for another architecture's packages, with lists of its own under the cache: the
// machine's apt configuration (dpkg's architectures, /var/lib/apt/lists) stays as it was.
function foreignApt(arch) {
  const state = path.join(CACHE, `apt-${arch}`);
  fs.mkdirSync(path.join(state, 'lists', 'partial'), { recursive: true });
  fs.mkdirSync(path.join(state, 'cache', 'archives', 'partial'), { recursive: true });
  const opts = [
    '-o', `APT::Architecture=${arch}`,
    '-o', `APT::Architectures::=${arch}`,
    '-o', `Dir::State::Lists=${path.join(state, 'lists')}`,
    '-o', `Dir::Cache=${path.join(state, 'cache')}`,
    '-o', 'Dir::State::status=/dev/null',
  ];
  if (!fs.readdirSync(path.join(state, 'lists')).some((f) => f.endsWith('Packages') || f.endsWith('Packages.lz4'))) {
    must('apt-get', [...opts, 'update', '-qq']);
  }
  return opts;
}

function unpackRustc(b) {
  fs.mkdirSync(RUSTC_DIR, { recursive: true });
  const marker = (deb) => path.join(RUSTC_DIR, `.${path.basename(deb)}.unpacked`);
  const unpack = (deb) => {
    if (fs.existsSync(marker(deb))) return;
    must('dpkg-deb', ['-x', deb, RUSTC_DIR]);
    fs.writeFileSync(marker(deb), '');
  };
  if (ok('apt-cache', ['show', 'rustc-web']) === undefined) must('apt-get', ['update', '-qq']);
  aptInstall(RUSTC_RUNTIME_DEBS);
  // rustc-web and rust-web-src, then their family's dependencies, each once.
  const seen = new Set();
  const queue = b.buildStd ? [...RUSTC_DEB_ROOTS] : RUSTC_DEB_ROOTS.filter((n) => n !== 'rust-web-src');
  while (queue.length > 0) {
    const name = queue.shift();
    if (seen.has(name)) continue;
    seen.add(name);
    const deb = aptDownload(name);
    unpack(deb);
    queue.push(...depsOf(deb));
  }
  if (!b.buildStd) {
    // The target's standard library: the same version's libstd-rust-web-dev for its architecture.
    // (libstd-rust-web-<version> beside it; libLLVM, which runs on the host only, not).
    const dev = aptDownload('libstd-rust-web-dev');
    const version = ok('dpkg-deb', ['-f', dev, 'Version']).trim();
    const aptOptions = foreignApt(b.debArch);
    for (const name of ['libstd-rust-web-dev', ...depsOf(dev).filter((d) => d.startsWith('libstd-rust-web'))]) {
      unpack(aptDownload(name, { arch: b.debArch, version, aptOptions }));
    }
  }
  const v = ok(debianRustc(), ['--version'], { env: { ...process.env, LD_LIBRARY_PATH: debianLibDir() } });
  if (v === undefined) throw new Error(`${debianRustc()} does not run after unpacking`);
  say(`Debian's rustc in ${RUSTC_DIR}: ${v.trim()}`);
}

function setupZig() {
  if (zigReady()) return;
  if (!fs.existsSync(venvBin('python3'))) must('python3', ['-m', 'venv', ZIG_VENV]);
  must(venvBin('python3'), ['-m', 'pip', 'install', '--quiet', ...ZIG_PYPI]);
}

function setup(name, options = {}) {
  const b = plan(name, options);
  if (b.linker === 'gcc') aptInstall(b.debs);
  if (b.linker === 'zig') setupZig();
  if (b.rust === 'rustup' && !rustupHas(b.triple)) {
    // Where rustup can download (a developer's machine), its target is the quickest way.
    must('rustup', ['target', 'add', b.triple]);
  }
  if (b.rust === 'debian') unpackRustc(b);
  const left = missing(name, options);
  if (left.length > 0) throw new Error(`still missing after setup: ${left.join('; ')}`);
  say(`${name}: ready`);
}

module.exports = { PLATFORMS: Object.keys(PLATFORMS), crossBuild, setup, missing, CACHE };

if (require.main === module) {
  const argv = process.argv.slice(2);
  const dirAt = argv.indexOf('--target-dir');
  const targetDir = dirAt >= 0 ? path.resolve(argv.splice(dirAt, 2)[1]) : undefined;
  const glibcAt = argv.indexOf('--glibc');
  const glibc = glibcAt >= 0 ? argv.splice(glibcAt, 2)[1] : undefined;
  const name = argv.find((a) => !a.startsWith('--'));
  const quick = argv.includes('--quick');
  try {
    if (name === undefined) throw new Error(`usage: node scripts/cross-env.js [--setup|--build] [--quick] [--target-dir <dir>] [--glibc <2.N>] <${Object.keys(PLATFORMS).join('|')}>`);
    if (argv.includes('--setup')) {
      setup(name, { glibc });
    } else {
      const b = crossBuild(name, { lto: quick ? false : undefined, targetDir, glibc });
      const quote = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
      const shown = (k, v) => (k === 'PATH' ? `PATH=${quote(v.slice(0, -process.env.PATH.length))}"$PATH"` : `${k}=${quote(v)}`);
      const line = [...Object.entries(b.added).map(([k, v]) => shown(k, v)), ...[b.cmd, ...b.args].map(quote)].join(' ');
      if (!argv.includes('--build')) {
        console.log(line);
      } else {
        say(`$ ${line}`);
        const r = run(b.cmd, b.args, { cwd: b.cwd, env: b.env, stdio: 'inherit' });
        if (r.status !== 0) throw new Error(`build failed (exit ${r.status})`);
        console.log(b.artifact);
      }
    }
  } catch (err) {
    console.error(`cross-env: ${err.message}`);
    process.exitCode = 1;
  }
}
