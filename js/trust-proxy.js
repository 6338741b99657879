'use strict';
// Who the client is behind proxies: the 'trust proxy' setting compiled into a function (Express's
// values: true, a hop count, addresses and CIDR lists with the names loopback / linklocal /
// uniquelocal, or a function), and the address chain, scheme and host the trusted proxies
// forwarded, from X-Forwarded-For / -Proto / -Host or else RFC 7239's Forwarded. proxy-addr does
// the walk, as in Express; it is loaded only by an app that trusts a proxy.
const { HN_ERR_BAD_OPTION } = require('./errors');

// Forwarded headers longer than this are ignored (treated as absent) rather than parsed: a proxy
// chain's is a few hundred bytes, and the header fits in the request head (maxHeaderSize) anyway;
// this only bounds the per-request parse for a setting that opted into it.
const MAX_FORWARDED_LENGTH = 8 * 1024;

// A setting's value to the function proxy-addr takes ((address, hop) → trusted), or null when it
// trusts nothing, so that the common case costs one comparison per request and loads nothing.
function compileTrust(value) {
  if (typeof value === 'function') return value;
  if (value === true) return () => true;
  if (value === false || value === undefined || value === null) return null;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) {
      throw new HN_ERR_BAD_OPTION(`'trust proxy' as a number is a hop count: an integer >= 0, got ${value}`);
    }
    return value === 0 ? null : (address, hop) => hop < value;
  }
  let list = value;
  if (typeof value === 'string') list = value.split(',').map((v) => v.trim());
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'string')) {
    throw new HN_ERR_BAD_OPTION(
      "'trust proxy' must be true, false, a hop count, a string or array of addresses, CIDR ranges or 'loopback' / 'linklocal' / 'uniquelocal', or a function",
    );
  }
  list = list.filter((v) => v !== '');
  if (list.length === 0) return null;
  try {
    return require('proxy-addr').compile(list);
  } catch (err) {
    throw new HN_ERR_BAD_OPTION(`'trust proxy': ${err.message}`, { cause: err });
  }
}

// The connection's own address (request.js's ip before any proxy is trusted).
function peerAddress(req) {
  return req._peerIp();
}

// Every address from the connection's outwards, cut after the first one not trusted (proxy-addr's
// `all`): [peer, ..., client]. X-Forwarded-For when the request has one, else Forwarded's `for=`.
function addresses(req, trust) {
  const peer = peerAddress(req);
  let chain = req._firstHeader('x-forwarded-for') === undefined ? undefined : req.headers['x-forwarded-for'];
  if (chain === undefined) {
    const forwarded = forwardedElements(req);
    if (forwarded !== null) chain = forwarded.map((element) => forNode(element.for)).join(', ');
  }
  // proxy-addr reads the header and the socket's address from a request; this is that request.
  const view = { headers: { 'x-forwarded-for': chain }, socket: { remoteAddress: peer }, connection: { remoteAddress: peer } };
  return require('proxy-addr').all(view, trust);
}

// Whether the connection's peer is a proxy the setting trusts (the test for scheme and host).
function peerTrusted(req, trust) {
  return trust !== null && Boolean(trust(peerAddress(req), 0));
}

// What the nearest trusted proxy said of the original request for `name` ('proto' or 'host'):
// the first value of X-Forwarded-<Name>, as Express takes it, else the first Forwarded element's
// parameter; undefined when neither says.
function forwardedValue(req, name) {
  const header = req._firstHeader(name === 'proto' ? 'x-forwarded-proto' : 'x-forwarded-host');
  if (header !== undefined && header !== '') {
    const comma = header.indexOf(',');
    return (comma === -1 ? header : header.slice(0, comma)).trim();
  }
  const elements = forwardedElements(req);
  if (elements === null || elements.length === 0) return undefined;
  const value = elements[0][name];
  return value === undefined || value === '' ? undefined : value;
}

// The Forwarded header (RFC 7239 §4) as a list of elements (objects of lower-cased parameters),
// or null when the request has none or it does not parse: a malformed header is ignored whole, so
// that an unterminated quote from the client cannot swallow the element the proxy appended.
function forwardedElements(req) {
  if (req._firstHeader('forwarded') === undefined) return null;
  const header = req.headers.forwarded;
  if (typeof header !== 'string' || header.length > MAX_FORWARDED_LENGTH) return null;
  return parseForwarded(header);
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
// An unquoted value may also hold ':' and brackets: RFC 7239 wants "192.0.2.1:80" quoted, but
// proxies send it bare, and neither character can be mistaken for a separator.
const VALUE_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:[\]]/;

function parseForwarded(header) {
  const elements = [];
  let element = {};
  let i = 0;
  const n = header.length;
  const skipSpace = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  for (;;) {
    skipSpace();
    // An empty element (`a, , b`) is allowed, as in every comma list (RFC 9110 §5.6.1).
    if (i < n && header[i] !== ',') {
      const nameStart = i;
      while (i < n && TOKEN_CHAR.test(header[i])) i++;
      const name = header.slice(nameStart, i).toLowerCase();
      if (name === '' || header[i] !== '=') return null;
      i++;
      let value;
      if (header[i] === '"') {
        value = '';
        for (i++; i < n && header[i] !== '"'; i++) {
          if (header[i] === '\\') i++;
          if (i < n) value += header[i];
        }
        if (i >= n) return null;
        i++;
      } else {
        const valueStart = i;
        while (i < n && VALUE_CHAR.test(header[i])) i++;
        value = header.slice(valueStart, i);
      }
      // A repeated parameter makes the element ambiguous (§4: it must not repeat).
      if (Object.hasOwn(element, name)) return null;
      element[name] = value;
      skipSpace();
    }
    if (i >= n) break;
    if (header[i] === ';') {
      i++;
      continue;
    }
    if (header[i] !== ',') return null;
    i++;
    if (Object.keys(element).length !== 0) elements.push(element);
    element = {};
  }
  if (Object.keys(element).length !== 0) elements.push(element);
  return elements;
}

// A `for=` node (§6) as an address proxy-addr can test: "[2001:db8::1]:80" → 2001:db8::1,
// "192.0.2.1:80" → 192.0.2.1; "unknown" and obfuscated names stay as they are (never trusted).
function forNode(node) {
  if (node === undefined) return 'unknown';
  if (node.startsWith('[')) {
    const end = node.indexOf(']');
    return end === -1 ? node : node.slice(1, end);
  }
  const colon = node.indexOf(':');
  return colon !== -1 && colon === node.lastIndexOf(':') ? node.slice(0, colon) : node;
}

module.exports = { compileTrust, peerAddress, addresses, peerTrusted, forwardedValue, parseForwarded };
