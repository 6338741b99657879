'use strict';
// res.sendFile() and res.download(): one file, answered by Rust (docs/bridge.md, "File answers").
// JS checks the path as Express's `send` does and stats it first, so that a missing file, a
// directory or a forbidden path reaches the app's error path (or the callback) as in Express. The
// answer is then one response record flagged FLAG_FILE whose body is the path: Rust opens the file
// and writes headers, validators, conditionals and ranges itself, from the headers the app set and
// the pseudo headers (names starting with ':') built here.
const fsp = require('node:fs/promises');
const nodePath = require('node:path');
const {
  HN_ERR_INVALID_ARG,
  HN_ERR_HEADERS_SENT,
  HN_ERR_FILE_FORBIDDEN,
  HN_ERR_FILE_NOT_FOUND,
  HN_ERR_BAD_FILE_PATH,
} = require('./errors');
const { headerValue } = require('./header-values');
const fileOptions = require('./file-options');

const OPTIONS = ['root', 'maxAge', 'immutable', 'headers', 'dotfiles', 'lastModified', 'etag', 'acceptRanges', 'cacheControl'];
const BOOLEANS = ['immutable', 'lastModified', 'etag', 'acceptRanges', 'cacheControl'];
// The request headers Rust needs to answer conditionals, ranges and precompressed variants; the
// request itself is gone from the native side once JS has it.
const REQUEST_FACTS = ['range', 'if-range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'accept-encoding'];
const PSEUDO = REQUEST_FACTS.map((name) => `:${name}`);
// Framing is Rust's: the length of a file answer (or of its range) is never the app's to say.
const FRAMING = new Set(['content-length', 'transfer-encoding']);
const REFUSED_HEADERS = new Map([...FRAMING].map((name) => [name, 'is written by the server']));
// send's "malicious path": a '..' segment, with either separator.
const UP_PATH = /(?:^|[\\/])\.\.(?:[\\/]|$)/;
// stat() errors that mean "no such file", answered 404 as send does; others are 500.
const NOT_FOUND_CODES = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG']);

// res.sendFile(path[, options][, callback]).
function sendFile(res, path, options, callback) {
  if (typeof options === 'function' && callback === undefined) {
    callback = options;
    options = undefined;
  }
  const plan = planOf(res, path, options, callback, 'res.sendFile()', false);
  return serve(res, plan, callback);
}

// res.download(path[, filename][, options][, callback]): sendFile with Content-Disposition:
// attachment, the name being `filename` (or the path's) without its directories. As in Express 5,
// a relative path without `root` is resolved against process.cwd().
function download(res, path, filename, options, callback) {
  if (typeof filename === 'function') {
    callback = filename;
    filename = undefined;
    options = undefined;
  } else if (typeof options === 'function') {
    callback = options;
    options = undefined;
  }
  if (typeof filename === 'object' && filename !== null && options === undefined) {
    options = filename;
    filename = undefined;
  }
  const where = 'res.download()';
  if (filename !== undefined && filename !== null && typeof filename !== 'string') {
    throw new HN_ERR_INVALID_ARG(`${where}: filename must be a string, got ${typeof filename}`);
  }
  const hasRoot = options !== undefined && options !== null && options.root !== undefined;
  const full = typeof path === 'string' && path !== '' && !hasRoot ? nodePath.resolve(path) : path;
  const plan = planOf(res, full, options, callback, where, true);
  const name = nodePath.basename(filename || (typeof path === 'string' ? path : ''));
  plan.pseudo.push(':download', ':download', checkedValue(':download', name || nodePath.basename(full), where));
  return serve(res, plan, callback);
}

// Everything that can be checked before touching the disk, checked now, so that a call the app
// got wrong throws from the handler (TypeError HN_ERR_INVALID_ARG, HN_ERR_HEADERS_SENT).
function planOf(res, path, options, callback, where, isDownload) {
  if (path === undefined || path === null || path === '') throw new HN_ERR_INVALID_ARG(`${where}: the path argument is required`);
  if (typeof path !== 'string') throw new HN_ERR_INVALID_ARG(`${where}: path must be a string, got ${typeof path}`);
  if (callback !== undefined && typeof callback !== 'function') {
    throw new HN_ERR_INVALID_ARG(`${where}: the callback must be a function, got ${typeof callback}`);
  }
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) throw new HN_ERR_INVALID_ARG(`${where}: options must be an object`);
  for (const key of Object.keys(options)) {
    if (!OPTIONS.includes(key)) throw new HN_ERR_INVALID_ARG(`${where}: unknown option "${key}" (known: ${OPTIONS.join(', ')})`);
  }
  const given = (key) => options[key] !== undefined;
  for (const key of BOOLEANS) if (given(key)) fileOptions.bool(key, options[key], HN_ERR_INVALID_ARG, where);
  let root;
  if (given('root')) {
    if (typeof options.root !== 'string' || options.root === '') {
      throw new HN_ERR_INVALID_ARG(`${where}: root must be a directory path (a non-empty string), got ${fileOptions.show(options.root)}`);
    }
    root = nodePath.resolve(options.root);
  } else if (!nodePath.isAbsolute(path)) {
    throw new HN_ERR_INVALID_ARG(`${where}: path must be absolute or specify root, got ${JSON.stringify(path)}`);
  }
  const dotfiles = given('dotfiles') ? fileOptions.dotfiles(options.dotfiles, HN_ERR_INVALID_ARG, where) : 'ignore';
  const maxAge = given('maxAge') ? fileOptions.maxAgeMs(options.maxAge, HN_ERR_INVALID_ARG, where) : 0;
  let headers;
  if (given('headers')) {
    fileOptions.headerList(options.headers, REFUSED_HEADERS, HN_ERR_INVALID_ARG, where);
    headers = options.headers;
  }
  if (res._sent) {
    throw new HN_ERR_HEADERS_SENT(`${where} after the response's headers were sent (${res._req.method} ${res._req.url})`);
  }

  const pseudo = [];
  if (root !== undefined) pseudo.push(':root', ':root', root);
  if (dotfiles !== 'ignore') pseudo.push(':dotfiles', ':dotfiles', dotfiles);
  if (options.etag === false) pseudo.push(':etag', ':etag', '0');
  if (options.lastModified === false) pseudo.push(':last-modified', ':last-modified', '0');
  if (options.acceptRanges === false) pseudo.push(':accept-ranges', ':accept-ranges', '0');
  return {
    path,
    root,
    dotfiles,
    headers,
    isDownload,
    cacheControl: options.cacheControl === false ? null : fileOptions.cacheControlValue(maxAge, options.immutable === true),
    pseudo,
  };
}

// Resolves the path as send does, stats it, and answers; the promise never rejects: a failure goes
// to the callback, or down the app's error path as a throw from the handler would.
async function serve(res, plan, callback) {
  let target;
  let err;
  try {
    target = resolvePath(plan);
    const stat = await fsp.stat(target.full);
    if (stat.isDirectory()) err = isDirectory(target.full);
    else if (!stat.isFile()) err = new HN_ERR_FILE_NOT_FOUND(`${target.full} is not a regular file`);
    else if (plan.root !== undefined && !(await beneath(plan.root, target.full))) {
      // Rust opens below a root without leaving it (RESOLVE_BENEATH) and would answer 404
      // itself: found here, the miss goes to the app like any other.
      err = new HN_ERR_FILE_NOT_FOUND(`${target.full} leads outside root through a symbolic link`);
    }
  } catch (statErr) {
    err = statErr;
    if (err.status === undefined) setStatus(err, NOT_FOUND_CODES.has(err.code) ? 404 : 500);
  }
  if (err === undefined && res._aborted) err = aborted();
  else if (err === undefined && res._sent) {
    // Something else answered while the file was being looked at.
    err = new HN_ERR_HEADERS_SENT(`res.sendFile(): the response was sent while the file was being opened (${res._req.method} ${res._req.url})`);
  }
  if (err === undefined) {
    try {
      answer(res, plan, target.body);
    } catch (sendErr) {
      err = sendErr;
    }
  }
  settle(res, err, callback);
}

// The absolute path to stat and the path the record carries (relative to `:root` when there is
// one), or throws what send answers: 400 for a NUL byte, 403 for a '..' segment, 403/404 for a
// dotfile under 'deny'/'ignore'. With a root only the part below it is checked for dotfiles;
// without one, every segment of the path, as in Express.
function resolvePath({ path, root, dotfiles }) {
  if (path.includes('\0')) throw new HN_ERR_BAD_FILE_PATH('The file path contains a NUL byte');
  let full;
  let body;
  let parts;
  if (root !== undefined) {
    const relative = nodePath.normalize(`.${nodePath.sep}${path}`);
    if (UP_PATH.test(relative)) throw new HN_ERR_FILE_FORBIDDEN(`The file path ${JSON.stringify(path)} leaves its root`);
    parts = relative.split(nodePath.sep);
    full = nodePath.join(root, relative);
    body = relative;
  } else {
    if (UP_PATH.test(path)) throw new HN_ERR_FILE_FORBIDDEN(`The file path ${JSON.stringify(path)} has a '..' segment`);
    parts = nodePath.normalize(path).split(nodePath.sep);
    full = nodePath.resolve(path);
    body = full;
  }
  if (dotfiles !== 'allow' && parts.some((part) => part.length > 1 && part[0] === '.')) {
    if (dotfiles === 'deny') throw new HN_ERR_FILE_FORBIDDEN(`The file path ${JSON.stringify(path)} has a dotfile segment (dotfiles: 'deny')`);
    throw new HN_ERR_FILE_NOT_FOUND(`The file path ${JSON.stringify(path)} has a dotfile segment (dotfiles: 'ignore')`);
  }
  return { full, body };
}

// Writes the file record: the app's headers (those of `options.headers` set on res first, as
// Express does, and Cache-Control unless one is set), then the pseudo headers.
function answer(res, plan, body) {
  if (plan.headers !== undefined) res.set(plan.headers);
  if (plan.cacheControl !== null && res.get('cache-control') === undefined) res.set('Cache-Control', plan.cacheControl);
  const encodedByApp = res.hasHeader('content-encoding');
  res._implicitHeader();
  // A writeHead wrapper that set Content-Encoding (compression's) meant to encode a body it
  // writes itself; this body is the file, sent by Rust as it is on disk.
  if (!encodedByApp) res.removeHeader('content-encoding');
  const own = res._headers;
  const headers = [];
  for (let i = 0; i < own.length; i += 3) {
    const lower = own[i];
    // download's Content-Disposition wins over one the app set, as in Express.
    if (FRAMING.has(lower) || (plan.isDownload && lower === 'content-disposition')) continue;
    headers.push(lower, own[i + 1], own[i + 2]);
  }
  const facts = res._req.headers;
  for (let i = 0; i < REQUEST_FACTS.length; i++) {
    const value = facts[REQUEST_FACTS[i]];
    if (typeof value === 'string') headers.push(PSEUDO[i], PSEUDO[i], value);
  }
  for (const entry of plan.pseudo) headers.push(entry);
  res._sendFileRecord(headers, body);
}

// Tells the callback, or sends an error down the app's error path; a client that left is no
// error there (Express ignores ECONNABORTED too). A callback that throws or rejects takes the
// error path: it costs one 500 (or nothing, once the file answer went), never the process.
function settle(res, err, callback) {
  if (callback !== undefined) {
    try {
      const result = callback(err);
      if (result && typeof result.then === 'function') result.then(undefined, (cbErr) => raise(res, cbErr));
    } catch (cbErr) {
      raise(res, cbErr);
    }
    return;
  }
  if (err !== undefined && err.code !== 'ECONNABORTED') raise(res, err);
}

// What a throw from the code that called sendFile would do (set by js/dispatch.js for every
// request it runs; a Response it did not run has nowhere to send the error but a warning).
function raise(res, err) {
  if (res._fail !== null) res._fail(err);
  else process.emitWarning(err);
}

// Whether `full`, symbolic links resolved, is still below `root` (resolved too).
async function beneath(root, full) {
  const [realRoot, realFull] = await Promise.all([fsp.realpath(root), fsp.realpath(full)]);
  return realFull.startsWith(realRoot.endsWith(nodePath.sep) ? realRoot : realRoot + nodePath.sep);
}

function isDirectory(path) {
  const err = new Error(`EISDIR: illegal operation on a directory, sendFile '${path}'`);
  err.code = 'EISDIR';
  err.syscall = 'sendFile';
  err.path = path;
  return setStatus(err, 404);
}

function aborted() {
  const err = new Error('Request aborted: the client went away before the file was sent');
  err.code = 'ECONNABORTED';
  return err;
}

// http-errors' fields, as send sets them on the errors it passes on.
function setStatus(err, status) {
  err.status = status;
  err.statusCode = status;
  err.expose = false;
  return err;
}

function checkedValue(name, value, where) {
  try {
    return headerValue(name, value);
  } catch (err) {
    throw new HN_ERR_INVALID_ARG(`${where}: ${err.message}`);
  }
}

module.exports = { sendFile, download };
