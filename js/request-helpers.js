'use strict';
// Express's everyday request surface, installed onto Request.prototype (js/request.js calls
// install()): the client's address, scheme and host under 'trust proxy' (js/trust-proxy.js),
// subdomains, content negotiation (accepts), req.is, freshness, ranges, xhr, and cookies
// (js/cookies.js). Each is a getter or method computed when read, with the jshttp package Express
// uses loaded on first use, so a request that reads none of them pays nothing.
const { requestSettings } = require('./settings');
const { peerAddress, addresses, peerTrusted, forwardedValue } = require('./trust-proxy');
const { parseRequestCookies, DEFERRED } = require('./cookies');
const { defineMethods, defineAccessors } = require('./prototype');

// require() on first call, then the module itself (require's own lookup is not free per call).
function lazy(name) {
  let mod;
  return () => (mod === undefined ? (mod = require(name)) : mod);
}
const accepts = lazy('accepts');
const typeis = lazy('type-is');
const fresh = lazy('fresh');
const parseRange = lazy('range-parser');
const { isIP } = require('node:net');

function install(Request) {
  const connectionProtocol = Object.getOwnPropertyDescriptor(Request.prototype, 'protocol').get;

  defineAccessors(Request.prototype, {
    // The client's address: the connection's, or under 'trust proxy' the nearest address no
    // trusted proxy vouches for. Assignable, as before (middleware behind a proxy sets it).
    ip: {
      get() {
        if (this._ip === undefined) {
          const { trust } = requestSettings(this);
          this._ip = trust === null ? peerAddress(this) : addresses(this, trust).at(-1);
        }
        return this._ip;
      },
      set(value) {
        this._ip = value;
      },
    },

    // The addresses the trusted proxies forwarded, farthest (the client) first, without the
    // connection's own; [] when no proxy is trusted.
    ips: {
      get() {
        const { trust } = requestSettings(this);
        if (trust === null) return [];
        const chain = addresses(this, trust).reverse();
        chain.pop();
        return chain;
      },
    },

    // 'http' or 'https': the connection's, or X-Forwarded-Proto (else Forwarded's proto=) when
    // the connection comes from a trusted proxy.
    protocol: {
      get() {
        if (this._protocol === undefined) {
          const own = connectionProtocol.call(this);
          const { trust } = requestSettings(this);
          if (trust !== null && peerTrusted(this, trust)) this._protocol = forwardedValue(this, 'proto') ?? own;
        }
        return this._protocol;
      },
      set(value) {
        this._protocol = value;
      },
    },

    // Host with its port as the client asked for it (Host, or HTTP/2's :authority), or
    // X-Forwarded-Host (else Forwarded's host=) from a trusted proxy; undefined without one.
    host: {
      get() {
        const { trust } = requestSettings(this);
        let value;
        if (trust !== null && peerTrusted(this, trust)) value = forwardedValue(this, 'host');
        if (value === undefined) value = this._firstHeader('host');
        return value || undefined;
      },
    },

    // req.host without the port ('[::1]:80' → '[::1]').
    hostname: {
      get() {
        const host = this.host;
        if (host === undefined) return undefined;
        const offset = host[0] === '[' ? host.indexOf(']') + 1 : 0;
        const colon = host.indexOf(':', offset);
        return colon === -1 ? host : host.slice(0, colon);
      },
    },

    // The host name's labels before the domain, nearest first ('tobi.ferrets.example.com' →
    // ['ferrets', 'tobi']); 'subdomain offset' labels make the domain. [] for an IP address.
    subdomains: {
      get() {
        const hostname = this.hostname;
        if (!hostname) return [];
        const offset = requestSettings(this).get('subdomain offset');
        const labels = isIP(hostname) === 0 ? hostname.split('.').reverse() : [hostname];
        return labels.slice(offset);
      },
    },

    // X-Requested-With: XMLHttpRequest.
    xhr: {
      get() {
        const value = this._firstHeader('x-requested-with');
        return value !== undefined && value.toLowerCase() === 'xmlhttprequest';
      },
    },

    // Whether the client's cached copy is still good for the response as it stands (its ETag and
    // Last-Modified set by the app): GET/HEAD only, 2xx or 304, fresh's rules (RFC 9110 §13.2.2).
    fresh: {
      get() {
        const method = this.method;
        if (method !== 'GET' && method !== 'HEAD' && method !== 'QUERY') return false;
        const res = this._res;
        const status = res.statusCode;
        if ((status >= 200 && status < 300) || status === 304) {
          return fresh()(this.headers, { etag: res.get('etag'), 'last-modified': res.get('last-modified') });
        }
        return false;
      },
    },

    stale: {
      get() {
        return !this.fresh;
      },
    },

    // Parsed on first read of either, together (a signed cookie is in one or the other).
    cookies: {
      get() {
        const cookies = this._cookies;
        if (cookies === DEFERRED) return undefined;
        if (cookies === undefined) parseCookies(this);
        return this._cookies;
      },
      set(value) {
        this._cookies = value;
      },
    },

    signedCookies: {
      get() {
        if (this._signedCookies === undefined) parseCookies(this);
        return this._signedCookies;
      },
      set(value) {
        this._signedCookies = value;
      },
    },

    // The secret res.cookie({ signed: true }) signs with, as cookie-parser sets it: the app's
    // first 'cookie secret' unless a middleware assigned one.
    secret: {
      get() {
        if (this._secret !== undefined) return this._secret;
        const secrets = requestSettings(this).cookieSecrets;
        return secrets === null ? undefined : secrets[0];
      },
      set(value) {
        this._secret = value;
      },
    },
  });

  defineMethods(Request.prototype, {
    // The best of the given types for the Accept header (false when none is acceptable), or the
    // accepted types in order of preference when none is given (accepts' rules, as Express).
    accepts(...types) {
      const accept = accepts()(this);
      return accept.types(...types);
    },

    acceptsEncodings(...encodings) {
      return accepts()(this).encodings(...encodings);
    },

    acceptsCharsets(...charsets) {
      return accepts()(this).charsets(...charsets);
    },

    acceptsLanguages(...languages) {
      return accepts()(this).languages(...languages);
    },

    // The matching type of the request body's Content-Type, false when it matches none, null
    // when the request has no body (type-is).
    is(...types) {
      return typeis()(this, types.length === 1 && Array.isArray(types[0]) ? types[0] : types);
    },

    // The Range header against a resource of `size` bytes (range-parser): an array of
    // { start, end } with .type, -1 unsatisfiable, -2 malformed, undefined without one.
    range(size, options) {
      const range = this._firstHeader('range');
      if (!range) return undefined;
      return parseRange()(size, range, options);
    },
  });
}

function parseCookies(req) {
  const settings = requestSettings(req);
  let secrets = settings.cookieSecrets;
  if (req._secret !== undefined && req._secret !== null) secrets = [req._secret, ...(secrets || [])];
  const parsed = parseRequestCookies(req.headers.cookie, secrets);
  // Kept when a middleware assigned its own (or cookie-parser is about to).
  if (req._cookies === undefined) req._cookies = parsed.cookies;
  req._signedCookies = parsed.signed;
}

module.exports = { install };
