'use strict';
// Writes js/host/mime-table.json: the extension → media type table of the `mime_guess` crate the
// native addon types files with (src/files/headers.rs), read from its source in the Cargo
// registry, so the JavaScript backend (js/host/file-rules.js) types every file as Rust does.
// Run after Cargo.lock moves mime_guess: `node scripts/mime-table.js [path/to/mime_guess-x.y.z]`.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const lock = fs.readFileSync(path.join(__dirname, '..', 'Cargo.lock'), 'utf8');
const version = /name = "mime_guess"\nversion = "([^"]+)"/.exec(lock)?.[1];
let dir = process.argv[2];
if (dir === undefined) {
  const registry = path.join(process.env.CARGO_HOME || path.join(os.homedir(), '.cargo'), 'registry', 'src');
  for (const index of fs.existsSync(registry) ? fs.readdirSync(registry) : []) {
    const candidate = path.join(registry, index, `mime_guess-${version}`);
    if (fs.existsSync(candidate)) dir = candidate;
  }
}
if (dir === undefined) {
  console.error(`mime_guess ${version} is not in the Cargo registry: run \`cargo fetch\` first, or give its directory`);
  process.exit(1);
}
const source = fs.readFileSync(path.join(dir, 'src', 'mime_types.rs'), 'utf8');
const table = {};
// Each entry: ("ext", &["first/type", ...]); the first type is what `from_path().first()` gives.
for (const [, ext, type] of source.matchAll(/^\s+\("([^"]+)", &\["([^"]+)"/gm)) table[ext.toLowerCase()] = type;
const out = path.join(__dirname, '..', 'js', 'host', 'mime-table.json');
fs.writeFileSync(out, `${JSON.stringify({ source: `mime_guess ${version}`, types: table })}\n`);
console.log(`${Object.keys(table).length} extensions from mime_guess ${version} → ${path.relative(process.cwd(), out)}`);
