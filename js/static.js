'use strict';
// app.static(): what Rust answers at listen() by itself, without middleware, handler or any JS.
// Two forms, told apart by the second argument alone:
// - app.static(path, body[, { type, headers, status }]): one response known at startup, built here
//   once and checked with the same rules as res.set()/res.type()/res.send();
// - app.static(prefix, { root, ...options }): a directory mount, the DirSpec of docs/bridge.md.
// A string is always a body, never a directory: a body that names an existing file or directory,
// or body options that only mean something for a directory, throw instead of serving the wrong
// thing.
const fs = require('node:fs');
const nodePath = require('node:path');
const { fileURLToPath } = require('node:url');
const { mimeType, headerValue, TOKEN, JSON_TYPE, HTML_TYPE, BINARY_TYPE } = require('./header-values');
const { HN_ERR_ROUTE, HN_ERR_BAD_OPTION, HN_ERR_STATIC_ROOT } = require('./errors');
const fileOptions = require('./file-options');

// Written by Rust for every response; a static response cannot choose them.
const SERVER_HEADERS = new Set(['content-length', 'transfer-encoding', 'date', 'connection']);
const OPTIONS = ['type', 'headers', 'status'];
// The directory form's options and their defaults: serve-static's, plus precompressed siblings and
// symlinks leaving the root, both off unless asked for.
const DIR_DEFAULTS = {
  index: ['index.html'],
  dotfiles: 'ignore',
  fallthrough: true,
  redirect: true,
  etag: true,
  lastModified: true,
  acceptRanges: true,
  cacheControl: true,
  precompressed: false,
  followSymlinks: false,
  extensions: [],
  // Files compress under the app's `compression` option; false keeps this mount's as they are.
  compression: true,
};
const DIR_OPTIONS = ['root', 'maxAge', 'immutable', 'headers', ...Object.keys(DIR_DEFAULTS)];
const DIR_BOOLEANS = ['fallthrough', 'redirect', 'etag', 'lastModified', 'acceptRanges', 'cacheControl', 'precompressed', 'followSymlinks', 'immutable', 'compression'];
// Options of serve-static / @fastify/static that mean something else here or cannot work when no
// JS runs, with what to write instead.
const DIR_HINTS = {
  setHeaders: 'cannot run: Rust serves the directory without JS. Give fixed headers with `headers`',
  preCompressed: 'is spelt `precompressed` here',
  prefix: 'is the first argument of app.static()',
  dir: 'is spelt `root` here',
  hidden: 'is `dotfiles` here',
  list: 'is not supported: directories are never listed',
};
// Per-file headers Rust writes from each file (or from the options that turn them off).
const DIR_REFUSED_HEADERS = new Map([
  ...[...SERVER_HEADERS].map((name) => [name, 'is written by the server']),
  ['content-type', 'is chosen per file from its extension'],
  ['content-range', 'is written by the server for ranges'],
  ['content-encoding', 'is written by the server (see precompressed)'],
  ['etag', 'is computed per file (etag: false turns it off)'],
  ['last-modified', 'is computed per file (lastModified: false turns it off)'],
  ['accept-ranges', 'is written by the server (acceptRanges: false turns it off)'],
]);
// A body string shaped like a filesystem path is checked against the disk: a user who meant a
// directory mount (Express's express.static('./public')) must not get the text "./public" served.
const PATH_LIKE = /^(?:\.{1,2}|\.{0,2}\/[^\0\r\n]*)$/;
// Longer strings are page bodies, never paths (PATH_MAX on Linux).
const MAX_PATH_LIKE = 4096;

// The directory form: a plain object with an own `root`. Any other value is a body.
function isDirectoryForm(body) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const proto = Object.getPrototypeOf(body);
  return (proto === Object.prototype || proto === null) && Object.hasOwn(body, 'root');
}

// Returns { path, status, headers: [[name, value], ...], body: Buffer }, the shape
// NativeServer.start takes (docs/bridge.md).
function staticResponse(path, body, options = {}) {
  const where = `static('${path}')`;
  if (path.includes(':') || path.includes('*')) {
    throw new HN_ERR_ROUTE(`${where}: a static path cannot have parameters or wildcards`);
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new HN_ERR_ROUTE(`${where}: options must be an object`);
  }
  for (const key of Object.keys(options)) {
    if (OPTIONS.includes(key)) continue;
    if (DIR_OPTIONS.includes(key) || Object.hasOwn(DIR_HINTS, key)) {
      throw new HN_ERR_ROUTE(
        `${where}: "${key}" is an option of a directory mount, but ${showBody(body)} is a response body. ` +
          `To serve a directory write app.static('${path}', { root: './public', ${key}: ... })`,
      );
    }
    throw new HN_ERR_ROUTE(`${where}: unknown option "${key}" (known: ${OPTIONS.join(', ')})`);
  }
  refusePathBody(where, path, body);
  const { type, headers = {}, status = 200 } = options;

  if (!Number.isInteger(status) || status < 200 || status > 999) {
    throw new HN_ERR_ROUTE(`${where}: status must be an integer from 200 to 999, got ${String(status)}`);
  }

  let bytes;
  let defaultType;
  if (typeof body === 'string') {
    bytes = Buffer.from(body, 'utf8');
    defaultType = HTML_TYPE;
  } else if (body instanceof Uint8Array) {
    // A copy: the app may reuse its buffer before listen() sends this one to Rust.
    bytes = Buffer.from(body);
    defaultType = BINARY_TYPE;
  } else if (body === undefined || body === null) {
    bytes = Buffer.alloc(0);
    defaultType = null;
  } else {
    const json = JSON.stringify(body);
    bytes = Buffer.from(json === undefined ? '' : json, 'utf8');
    defaultType = JSON_TYPE;
  }

  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new HN_ERR_ROUTE(`${where}: headers must be an object of header names to values`);
  }
  const list = [];
  let contentType = null;
  for (const name of Object.keys(headers)) {
    if (!TOKEN.test(name)) throw new HN_ERR_ROUTE(`${where}: invalid header name ${JSON.stringify(name)}`);
    const lower = name.toLowerCase();
    if (SERVER_HEADERS.has(lower)) throw new HN_ERR_ROUTE(`${where}: the ${lower} header is written by the server`);
    const value = headers[name];
    let values;
    try {
      values = Array.isArray(value) ? value.map((v) => headerValue(name, v)) : [headerValue(name, value)];
    } catch (err) {
      throw new HN_ERR_ROUTE(`${where}: ${err.message}`);
    }
    if (lower === 'content-type') contentType = values[values.length - 1];
    else for (const v of values) list.push([name, v]);
  }
  if (type !== undefined) {
    if (typeof type !== 'string') throw new HN_ERR_ROUTE(`${where}: type must be a string`);
    try {
      contentType = headerValue('content-type', mimeType(type));
    } catch (err) {
      throw new HN_ERR_ROUTE(`${where}: ${err.message}`);
    }
  }
  if (contentType === null) contentType = defaultType;
  if (contentType !== null) list.unshift(['content-type', contentType]);

  return { path, status, headers: list, body: bytes };
}

// A string body that names something on disk is refused: it is served as the text itself, which is
// never what such a call means.
function refusePathBody(where, path, body) {
  if (typeof body !== 'string' || body.length > MAX_PATH_LIKE || !PATH_LIKE.test(body)) return;
  let stat;
  try {
    stat = fs.statSync(body, { throwIfNoEntry: false });
  } catch {
    // ENOTDIR, EACCES, ENAMETOOLONG...: nothing there that the app could have meant.
    return;
  }
  if (stat === undefined) return;
  if (stat.isDirectory()) {
    throw new HN_ERR_ROUTE(
      `${where}: the body ${JSON.stringify(body)} names a directory, but a string is served as the response body itself. ` +
        `To serve the directory write app.static('${path}', { root: ${JSON.stringify(body)} })`,
    );
  }
  throw new HN_ERR_ROUTE(
    `${where}: the body ${JSON.stringify(body)} names a file, but a string is served as the response body itself. ` +
      `To serve the file, mount its directory (app.static(prefix, { root })), send it with res.sendFile(), ` +
      `or pass its contents (fs.readFileSync(${JSON.stringify(body)}))`,
  );
}

function showBody(body) {
  if (typeof body === 'string') return body.length > 40 ? 'the string given' : JSON.stringify(body);
  return 'the value given';
}

// app.static(prefix, { root, ...options }): the DirSpec NativeServer.start takes (docs/bridge.md,
// "Native surface"). `prefix` is the full mount path (group prefix applied by the caller).
function staticDirectory(prefix, options) {
  const where = `static('${prefix}', { root })`;
  checkPrefix(prefix, where);
  for (const key of Object.keys(options)) {
    if (DIR_OPTIONS.includes(key)) continue;
    if (Object.hasOwn(DIR_HINTS, key)) throw new HN_ERR_BAD_OPTION(`${where}: "${key}" ${DIR_HINTS[key]}`);
    throw new HN_ERR_BAD_OPTION(`${where}: unknown option "${key}" (known: ${DIR_OPTIONS.join(', ')})`);
  }
  const spec = { prefix: prefix.replace(/\/+$/, '') || '/', root: rootDirectory(options.root, where) };
  const given = (key) => options[key] !== undefined;
  for (const key of DIR_BOOLEANS) if (given(key)) fileOptions.bool(key, options[key], HN_ERR_BAD_OPTION, where);

  spec.index = given('index') ? indexFiles(options.index, where) : DIR_DEFAULTS.index;
  spec.dotfiles = given('dotfiles') ? fileOptions.dotfiles(options.dotfiles, HN_ERR_BAD_OPTION, where) : DIR_DEFAULTS.dotfiles;
  for (const key of ['fallthrough', 'redirect', 'etag', 'lastModified', 'acceptRanges', 'precompressed', 'followSymlinks', 'compression']) {
    spec[key] = given(key) ? options[key] : DIR_DEFAULTS[key];
  }
  spec.extensions = given('extensions') ? extensionList(options.extensions, where) : DIR_DEFAULTS.extensions;

  const maxAge = given('maxAge') ? fileOptions.maxAgeMs(options.maxAge, HN_ERR_BAD_OPTION, where) : 0;
  const headers = given('headers') ? fileOptions.headerList(options.headers, DIR_REFUSED_HEADERS, HN_ERR_BAD_OPTION, where) : [];
  // As in send: a Cache-Control given explicitly wins; cacheControl: false leaves it out.
  const cacheControl = given('cacheControl') ? options.cacheControl : DIR_DEFAULTS.cacheControl;
  if (cacheControl && !fileOptions.hasHeader(headers, 'cache-control')) {
    headers.unshift(['cache-control', fileOptions.cacheControlValue(maxAge, options.immutable === true)]);
  }
  spec.headers = headers;
  return spec;
}

// A mount path: no parameters, wildcards, empty or dot segments; '/' mounts at the root.
function checkPrefix(prefix, where) {
  if (prefix.includes(':') || prefix.includes('*')) {
    throw new HN_ERR_ROUTE(`${where}: a directory prefix cannot have parameters or wildcards (it covers every path below it)`);
  }
  const segments = prefix.replace(/\/+$/, '').split('/').slice(1);
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new HN_ERR_ROUTE(`${where}: a directory prefix cannot have empty, "." or ".." segments`);
  }
}

// The root as an absolute, symlink-free path: resolved against process.cwd() now, so a later
// process.chdir() does not move the mount, and checked to be a directory.
function rootDirectory(root, where) {
  let dir = root;
  if (dir instanceof URL) {
    try {
      dir = fileURLToPath(dir);
    } catch (err) {
      throw new HN_ERR_BAD_OPTION(`${where}: root ${dir.href} is not a file: URL (${err.message})`);
    }
  }
  if (typeof dir !== 'string' || dir === '') {
    throw new HN_ERR_BAD_OPTION(`${where}: root must be a directory path (a non-empty string or a file: URL), got ${fileOptions.show(root)}`);
  }
  if (dir.includes('\0')) throw new HN_ERR_BAD_OPTION(`${where}: root contains a NUL byte`);
  const resolved = nodePath.resolve(dir);
  let real;
  try {
    real = fs.realpathSync(resolved);
  } catch (err) {
    throw new HN_ERR_STATIC_ROOT(`${where}: root ${JSON.stringify(dir)} (${resolved}) cannot be served: ${err.code || err.message}`, { cause: err });
  }
  if (!fs.statSync(real).isDirectory()) {
    throw new HN_ERR_STATIC_ROOT(`${where}: root ${JSON.stringify(dir)} (${resolved}) is not a directory: use res.sendFile() for one file`);
  }
  if (real === nodePath.parse(real).root) {
    throw new HN_ERR_STATIC_ROOT(`${where}: root ${JSON.stringify(dir)} is the filesystem's root: every file of the machine would be served`);
  }
  return real;
}

// index: a file name, a list of them (tried in order), or false for none.
function indexFiles(value, where) {
  if (value === false) return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list)) throw new HN_ERR_BAD_OPTION(`${where}: index must be a file name, an array of them, or false`);
  for (const name of list) {
    if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
      throw new HN_ERR_BAD_OPTION(`${where}: index entries must be plain file names (no slashes), got ${fileOptions.show(name)}`);
    }
  }
  return [...list];
}

// extensions: ['html', 'htm'] (a leading dot is allowed), or false for none.
function extensionList(value, where) {
  if (value === false) return [];
  if (!Array.isArray(value)) throw new HN_ERR_BAD_OPTION(`${where}: extensions must be an array of extensions such as ['html'], or false`);
  return value.map((ext) => {
    const bare = typeof ext === 'string' ? ext.replace(/^\./, '') : ext;
    if (typeof bare !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(bare)) {
      throw new HN_ERR_BAD_OPTION(`${where}: extensions entries must be extensions such as 'html', got ${fileOptions.show(ext)}`);
    }
    return bare;
  });
}

module.exports = { staticResponse, staticDirectory, isDirectoryForm };
