'use strict';
// Express's everyday response surface, installed onto Response.prototype (js/response.js calls
// install()): location, vary, attachment, format, links, contentType, jsonp, cookie and
// clearCookie (js/cookies.js), and res.json under the 'json spaces' / 'json replacer' settings.
// Built with the jshttp packages Express uses, each loaded on first use.
const { basename, extname } = require('node:path');
const { requestSettings } = require('./settings');
const { setCookieValue, clearCookieOptions } = require('./cookies');
const { HN_ERR_NOT_ACCEPTABLE } = require('./errors');
const { JSON_TYPE, mimeType } = require('./header-values');
const { defineMethods } = require('./prototype');

const JAVASCRIPT_TYPE = 'text/javascript; charset=utf-8';
// What a JSONP callback name may contain (Express's rule): identifiers, dots and brackets, so a
// query parameter cannot inject script.
const NOT_CALLBACK_CHARS = /[^[\]\w$.]/g;

function install(Response) {
  const plainJson = Response.prototype.json;

  defineMethods(Response.prototype, {
    // JSON.stringify with the app's 'json replacer' and 'json spaces' when either is set.
    json(value) {
      const format = requestSettings(this._req).jsonFormat;
      if (format === null) return plainJson.call(this, value);
      if (this._ended) return this;
      if (!this.hasHeader('content-type')) this.set('content-type', JSON_TYPE);
      return this.send(JSON.stringify(value, format.replacer, format.spaces) ?? '');
    },

    // res.json, wrapped in the callback named by the query parameter 'jsonp callback name'
    // ('callback') when the request has one, as Express sends it (text/javascript, nosniff, the
    // /**/ and typeof guard against Rosetta Flash and a missing function).
    jsonp(value) {
      const settings = requestSettings(this._req);
      const format = settings.jsonFormat;
      let body = format === null ? JSON.stringify(value) : JSON.stringify(value, format.replacer, format.spaces);
      let callback = this._req.query[settings.get('jsonp callback name')];
      if (!this.hasHeader('content-type')) {
        this.set('x-content-type-options', 'nosniff');
        this.set('content-type', JSON_TYPE);
      }
      if (Array.isArray(callback)) callback = callback[0];
      if (typeof callback === 'string' && callback.length !== 0) {
        this.set('x-content-type-options', 'nosniff');
        this.set('content-type', JAVASCRIPT_TYPE);
        callback = callback.replace(NOT_CALLBACK_CHARS, '');
        // U+2028/2029 are valid in JSON strings but end a line in older JavaScript.
        body = body === undefined ? '' : body.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
        body = `/**/ typeof ${callback} === 'function' && ${callback}(${body});`;
      }
      return this.send(body ?? '');
    },

    contentType(type) {
      return this.type(type);
    },

    // Location, percent-encoded as Express does (encodeurl: characters a URL cannot hold, never
    // an existing %XX escape).
    location(url) {
      return this.set('location', require('encodeurl')(String(url)));
    },

    // Adds fields to Vary once each (`*` wins), as the vary package merges them.
    vary(field) {
      require('vary')(this, field);
      return this;
    },

    // Content-Disposition: attachment, with the file name's base name (RFC 6266, a latin1
    // fallback and filename* for the rest), and the Content-Type its extension implies.
    attachment(filename) {
      const name = filename === undefined ? undefined : basename(String(filename));
      if (name) this.type(extname(name));
      return this.set('content-disposition', require('content-disposition').create(name));
    },

    // Appends to Link: { rel: url | [url, ...] } → `<url>; rel="rel"`, Express 5's format.
    links(links) {
      const parts = [];
      for (const rel of Object.keys(links)) {
        const urls = Array.isArray(links[rel]) ? links[rel] : [links[rel]];
        for (const url of urls) parts.push(`<${url}>; rel="${rel}"`);
      }
      const prev = this.get('link');
      return this.set('link', (prev ? `${prev}, ` : '') + parts.join(', '));
    },

    // Runs the callback for the type the client prefers among the object's keys (types or short
    // names), with Content-Type set and Vary: Accept; `default` when none is acceptable, else a
    // 406 (HN_ERR_NOT_ACCEPTABLE, thrown to the error path). Callbacks get (req, res, next), next
    // being req.next when the dispatcher provides one, else a function that sends an error down
    // the error path.
    format(handlers) {
      const req = this._req;
      const keys = Object.keys(handlers).filter((key) => key !== 'default');
      const key = keys.length > 0 ? req.accepts(keys) : false;
      this.vary('Accept');
      const next = typeof req.next === 'function' ? req.next : (err) => err && this._fail(err);
      if (key) {
        this.set('content-type', formatType(key));
        handlers[key](req, this, next);
      } else if (handlers.default) {
        handlers.default(req, this, next);
      } else {
        const err = new HN_ERR_NOT_ACCEPTABLE(`None of the types offered is acceptable: ${keys.map(formatType).join(', ')}`);
        err.types = keys.map((k) => formatType(k).split(';')[0]);
        throw err;
      }
      return this;
    },

    // Set-Cookie, appended (every attribute of RFC 6265bis: maxAge in ms, expires, domain, path
    // ('/' by default), secure, httpOnly, sameSite, partitioned, priority; signed with the app's
    // first cookie secret).
    cookie(name, value, options) {
      return this.append('set-cookie', setCookieValue(name, value, options, this._req.secret));
    },

    clearCookie(name, options) {
      return this.cookie(name, '', clearCookieOptions(options));
    },
  });
}

// res.format()'s key as a Content-Type: a type as given without its parameters (with the charset
// mime-types gives text), or a short name as res.type() takes it.
function formatType(key) {
  return key.includes('/') ? withCharset(key.split(';')[0].trim()) : mimeType(key);
}

function withCharset(type) {
  return require('mime-types').contentType(type) || type;
}

module.exports = { install };
