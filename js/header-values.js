'use strict';
// What a response header may say, for every place that builds one (res.set()/res.type(), static
// answers, file options): header names are tokens, values have no control character but tab, and
// res.type()'s short names for media types.
const { HN_ERR_INVALID_HEADER } = require('./errors');

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Control characters other than HTAB: CR, LF and NUL could split or truncate the response, the
// rest are not field-vchars (RFC 9110 §5.5) and node:http refuses them too (ERR_INVALID_CHAR).
// Bytes from 0x80 up (UTF-8 text) are allowed, as node allows latin1 obs-text.
const FORBIDDEN_VALUE_CHARS = /[\x00-\x08\x0a-\x1f\x7f]/;

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

// res.type()'s rule: a MIME type as given, or a short name ('json', 'html', '.css', ...) from the
// table above, else an extension or file name from mime-types' (Express's; loaded on first such
// name), with the charset it gives text types.
function mimeType(type) {
  if (type.includes('/')) return type;
  return SHORT_TYPES[type.replace(/^\./, '').toLowerCase()] || require('mime-types').contentType(type) || BINARY_TYPE;
}

function headerValue(name, value) {
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new HN_ERR_INVALID_HEADER(`Invalid value for header "${name}": expected a string, a number or an array of them`);
  }
  const text = String(value);
  if (FORBIDDEN_VALUE_CHARS.test(text)) {
    const code = text.charCodeAt(text.search(FORBIDDEN_VALUE_CHARS));
    throw new HN_ERR_INVALID_HEADER(
      `Invalid value for header "${name}": contains the control character 0x${code.toString(16).padStart(2, '0')} (only tab is allowed)`,
    );
  }
  return text;
}

module.exports = { TOKEN, headerValue, mimeType, JSON_TYPE, HTML_TYPE, TEXT_TYPE, BINARY_TYPE };
