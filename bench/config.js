'use strict';
// What the bench's sections (bench/files.js, bench/streams.js, bench/ws.js) share in setting up:
// numbers and scenario lists read from the environment, which servers run, the versions recorded,
// the section's result with its notes, and the waits and reserves their runs have in common.

const fs = require('node:fs');
const path = require('node:path');

// Quiet time before a baseline RSS reading and before a measured window.
const SETTLE_MS = 2000;
// Descriptors each process needs besides its sockets.
const FD_RESERVE = 256;

function positive(name, value, fallback, min = 1, integer = false) {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (integer ? !Number.isInteger(n) || n < min : !Number.isFinite(n) || n < min) {
    throw new Error(`${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${value}`);
  }
  return n;
}

// The entries of `all` (in its order) that the comma-separated `value` of env variable `name`
// names by `idOf`; all of them when it is unset.
function pickList(name, value, all, idOf = (s) => s) {
  if (!value) return all;
  const wanted = value.split(',').map((s) => s.trim()).filter(Boolean);
  const ids = all.map(idOf);
  const unknown = wanted.filter((w) => !ids.includes(w));
  if (unknown.length) throw new Error(`${name}: unknown ${unknown.join(', ')}; choose from ${ids.join(', ')}`);
  return all.filter((s) => wanted.includes(idOf(s)));
}

// The servers `names` (BENCH_SERVERS, already resolved by run.js) asks for; all but the opt-in
// ones when BENCH_SERVERS is unset.
function pickServers(servers, names, named) {
  return servers.filter((s) => names.includes(s.name) && (named || !s.onlyWhenNamed));
}

// A package's version, read from its package.json in node_modules (some packages' exports do not
// let `require('x/package.json')` through: express-rate-limit).
function packageVersion(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

// A section's result, `head` followed by its servers, runs and notes, and note(), which keeps a
// note in it and prints it as it happens.
function sectionResult(head) {
  const result = { ...head, servers: {}, runs: [], notes: [] };
  const note = (text) => {
    result.notes.push(text);
    console.log(`  note: ${text}`);
  };
  return { result, note };
}

module.exports = { SETTLE_MS, FD_RESERVE, positive, pickList, pickServers, packageVersion, sectionResult };
