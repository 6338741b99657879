'use strict';
// app.static(): responses known at startup. They are built here once, checked with the same rules
// as res.set()/res.type()/res.send(), and handed to Rust at listen(), which answers GET and HEAD on
// their path by itself: no middleware, no handler, no JS at all.
const { mimeType, headerValue, TOKEN, JSON_TYPE, HTML_TYPE, BINARY_TYPE } = require('./response');
const { HN_ERR_ROUTE } = require('./errors');

// Written by Rust for every response; a static response cannot choose them.
const SERVER_HEADERS = new Set(['content-length', 'transfer-encoding', 'date', 'connection']);
const OPTIONS = ['type', 'headers', 'status'];

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
    if (!OPTIONS.includes(key)) throw new HN_ERR_ROUTE(`${where}: unknown option "${key}" (known: ${OPTIONS.join(', ')})`);
  }
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

module.exports = { staticResponse };
