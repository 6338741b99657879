'use strict';
// req.body from the raw bytes Rust collected (already de-chunked and within bodyLimit), chosen by
// content type the way express.json/text/urlencoded/raw would be if all four were installed.
const querystring = require('node:querystring');
const { HN_ERR_BAD_JSON } = require('./errors');

function readBody(req) {
  const start = req._bodyStart;
  const end = req._bodyEnd;
  if (start === end) return undefined;
  const buf = req._buf;
  const type = mediaType(req._firstHeader('content-type'));

  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      return JSON.parse(buf.utf8Slice(start, end));
    } catch (err) {
      throw new HN_ERR_BAD_JSON(`Request body is not valid JSON: ${err.message}`, { cause: err });
    }
  }
  if (type.startsWith('text/')) return buf.utf8Slice(start, end);
  if (type === 'application/x-www-form-urlencoded') return querystring.parse(buf.utf8Slice(start, end));
  // Read with req.parts() (js/multipart.js), as Express leaves it to multer or busboy: a copy of
  // an upload here would double its memory for nothing.
  if (type === 'multipart/form-data') return undefined;
  // A copy, so a body the app keeps does not pin the whole batch in memory.
  return Buffer.from(buf.subarray(start, end));
}

// 'Application/JSON; charset=utf-8' -> 'application/json'; '' when absent.
function mediaType(contentType) {
  if (typeof contentType !== 'string') return '';
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

module.exports = { readBody, mediaType };
