'use strict';
// The Express-style response API. Nothing is written until the response is finished: then the
// bridge encodes status, headers and body into the shared output buffer in one go.
const { STATUS_CODES } = require('node:http');
const { HN_ERR_INVALID_HEADER, HN_ERR_INVALID_STATUS, HN_ERR_INVALID_ARG } = require('./errors');

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FORBIDDEN_VALUE_CHARS = /[\r\n\0]/;

const JSON_TYPE = 'application/json; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const BINARY_TYPE = 'application/octet-stream';
const SHORT_TYPES = {
  json: JSON_TYPE,
  html: HTML_TYPE,
  text: TEXT_TYPE,
  txt: TEXT_TYPE,
  xml: 'application/xml; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  bin: BINARY_TYPE,
};

class Response {
  constructor(bridge, id) {
    this._bridge = bridge;
    this._id = id;
    this.statusCode = 200;
    // Flat [lowerName, name, value, ...] triples: responses carry a handful of headers, for which
    // a linear scan beats a Map and keeps every response the same shape.
    this._headers = [];
    this._sent = false;
    this._locals = undefined;
  }

  get headersSent() {
    return this._sent;
  }

  get locals() {
    if (this._locals === undefined) this._locals = {};
    return this._locals;
  }

  set locals(value) {
    this._locals = value;
  }

  status(code) {
    if (!Number.isInteger(code) || code < 100 || code > 999) {
      throw new HN_ERR_INVALID_STATUS(`Invalid status code: ${String(code)}`);
    }
    this.statusCode = code;
    return this;
  }

  set(name, value) {
    if (typeof name === 'object' && name !== null && value === undefined) {
      for (const key of Object.keys(name)) this._setHeader(key, name[key]);
    } else {
      this._setHeader(name, value);
    }
    return this;
  }

  header(name, value) {
    return this.set(name, value);
  }

  get(name) {
    const i = this._indexOf(String(name).toLowerCase());
    return i === -1 ? undefined : this._headers[i + 2];
  }

  type(type) {
    if (typeof type !== 'string') throw new HN_ERR_INVALID_ARG('res.type() expects a string');
    const mime = type.includes('/') ? type : SHORT_TYPES[type.replace(/^\./, '').toLowerCase()] || BINARY_TYPE;
    return this.set('content-type', mime);
  }

  send(body) {
    if (this._sent) return this;
    if (typeof body === 'string') {
      this._defaultType(HTML_TYPE);
      return this._finish(body);
    }
    if (body instanceof Uint8Array) {
      this._defaultType(BINARY_TYPE);
      return this._finish(body);
    }
    if (body === undefined || body === null) return this._finish('');
    return this.json(body);
  }

  json(value) {
    if (this._sent) return this;
    const body = JSON.stringify(value);
    this._defaultType(JSON_TYPE);
    return this._finish(body === undefined ? '' : body);
  }

  text(value) {
    if (this._sent) return this;
    this._defaultType(TEXT_TYPE);
    return this._finish(value === undefined ? '' : String(value));
  }

  html(value) {
    if (this._sent) return this;
    this._defaultType(HTML_TYPE);
    return this._finish(value === undefined ? '' : String(value));
  }

  redirect(status, url) {
    if (url === undefined) {
      url = status;
      status = 302;
    }
    if (typeof url !== 'string') throw new HN_ERR_INVALID_ARG('res.redirect() expects a URL string');
    if (this._sent) return this;
    this.status(status).set('location', url).set('content-type', TEXT_TYPE);
    return this._finish(`${STATUS_CODES[status] || 'Redirecting'}. Redirecting to ${url}`);
  }

  sendStatus(code) {
    if (this._sent) return this;
    this.status(code).set('content-type', TEXT_TYPE);
    return this._finish(STATUS_CODES[code] || String(code));
  }

  end(data) {
    if (data !== undefined && typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw new HN_ERR_INVALID_ARG('res.end() expects a string, a Buffer or a Uint8Array');
    }
    return this._finish(data === undefined ? '' : data);
  }

  _finish(body) {
    if (!this._sent) {
      this._sent = true;
      this._bridge.send(this, body);
    }
    return this;
  }

  _defaultType(mime) {
    if (this._indexOf('content-type') === -1) this._headers.push('content-type', 'content-type', mime);
  }

  _indexOf(lowerName) {
    const headers = this._headers;
    for (let i = 0; i < headers.length; i += 3) if (headers[i] === lowerName) return i;
    return -1;
  }

  // Validated here, where the handler can still see the error, rather than silently dropped by
  // Rust: a header that would split the response is a bug in the app.
  _setHeader(name, value) {
    if (typeof name !== 'string' || !TOKEN.test(name)) {
      throw new HN_ERR_INVALID_HEADER(`Invalid header name: ${JSON.stringify(String(name))}`);
    }
    let stored;
    if (Array.isArray(value)) {
      stored = value.map((v) => headerValue(name, v));
    } else {
      stored = headerValue(name, value);
    }
    const lowerName = name.toLowerCase();
    const i = this._indexOf(lowerName);
    if (i === -1) {
      this._headers.push(lowerName, name, stored);
    } else {
      this._headers[i + 1] = name;
      this._headers[i + 2] = stored;
    }
  }
}

function headerValue(name, value) {
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new HN_ERR_INVALID_HEADER(`Invalid value for header "${name}": expected a string, a number or an array of them`);
  }
  const text = String(value);
  if (FORBIDDEN_VALUE_CHARS.test(text)) {
    throw new HN_ERR_INVALID_HEADER(`Invalid value for header "${name}": contains CR, LF or NUL`);
  }
  return text;
}

module.exports = { Response };
