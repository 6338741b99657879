'use strict';
// listen({ tls, http2 }) and server.setSecureContext(): checked and normalized here, so Rust gets
// PEM text only (Buffers decoded; an encrypted key decrypted with node:crypto, since rustls takes
// no passphrase) and well-typed limits. The defaults (ALPN, handshake timeout, HTTP/2 settings)
// live in Rust (src/tls/config.rs, src/h2/mod.rs).
const crypto = require('node:crypto');
const { HN_ERR_BAD_OPTION, HN_ERR_TLS } = require('./errors');

const TLS_KEYS = ['key', 'cert', 'ca', 'passphrase', 'minVersion', 'alpn', 'requestCert', 'rejectUnauthorized', 'handshakeTimeout', 'sni'];
// rustls speaks TLS 1.2 and 1.3 only; older versions are broken and no browser offers them.
const VERSIONS = ['TLSv1.2', 'TLSv1.3'];
const HTTP2_KEYS = ['maxConcurrentStreams', 'initialWindowSize', 'maxHeaderListSize', 'maxFrameSize'];
const U32_MAX = 0xffffffff;

const show = (v) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

// `tls` as Rust's TlsOptions; `where` names the call in messages.
function tlsOptions(value, where = 'listen()') {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HN_ERR_BAD_OPTION(`${where}: "tls" must be an object with key and cert, got ${show(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!TLS_KEYS.includes(key)) {
      throw new HN_ERR_BAD_OPTION(`${where}: unknown tls option "${key}" (known: ${TLS_KEYS.join(', ')})`);
    }
  }
  const out = {
    key: privateKey(value.key, value.passphrase, `${where} tls.key`),
    cert: pem(value.cert, `${where} tls.cert`),
  };
  if (value.ca !== undefined) out.ca = (Array.isArray(value.ca) ? value.ca : [value.ca]).map((c) => pem(c, `${where} tls.ca`)).join('\n');
  if (value.minVersion !== undefined) {
    if (!VERSIONS.includes(value.minVersion)) {
      throw new HN_ERR_BAD_OPTION(`${where}: tls.minVersion must be ${VERSIONS.map(show).join(' or ')} (older versions are insecure and not offered), got ${show(value.minVersion)}`);
    }
    out.minVersion = value.minVersion;
  }
  if (value.alpn !== undefined) {
    if (!Array.isArray(value.alpn) || value.alpn.length === 0 || !value.alpn.every((p) => typeof p === 'string' && p !== '')) {
      throw new HN_ERR_BAD_OPTION(`${where}: tls.alpn must be a non-empty array of protocol names such as ['h2', 'http/1.1'], got ${show(value.alpn)}`);
    }
    out.alpn = value.alpn;
  }
  for (const key of ['requestCert', 'rejectUnauthorized']) {
    if (value[key] === undefined) continue;
    if (typeof value[key] !== 'boolean') throw new HN_ERR_BAD_OPTION(`${where}: tls.${key} must be a boolean, got ${show(value[key])}`);
    out[key] = value[key];
  }
  if (out.requestCert && out.ca === undefined) {
    throw new HN_ERR_BAD_OPTION(`${where}: tls.requestCert needs tls.ca, the CAs that sign client certificates`);
  }
  if (value.handshakeTimeout !== undefined) out.handshakeTimeout = u32(value.handshakeTimeout, `${where}: tls.handshakeTimeout`);
  if (value.sni !== undefined) {
    if (typeof value.sni !== 'object' || value.sni === null || Array.isArray(value.sni)) {
      throw new HN_ERR_BAD_OPTION(`${where}: tls.sni must map host names to { key, cert }, got ${show(value.sni)}`);
    }
    out.sni = Object.entries(value.sni).map(([name, ctx]) => ({
      name,
      key: privateKey(ctx?.key, ctx?.passphrase, `${where} tls.sni[${show(name)}].key`),
      cert: pem(ctx?.cert, `${where} tls.sni[${show(name)}].cert`),
    }));
  }
  return out;
}

// `http2: boolean | { ...settings }` as Rust's Http2Options; `secure` says whether TLS is on,
// where HTTP/2 is offered by default.
function http2Options(value, secure) {
  if (value === undefined) return { enabled: secure };
  if (typeof value === 'boolean') return { enabled: value };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HN_ERR_BAD_OPTION(`listen(): "http2" must be a boolean or an object of settings, got ${show(value)}`);
  }
  const out = { enabled: true };
  for (const [key, v] of Object.entries(value)) {
    if (!HTTP2_KEYS.includes(key)) {
      throw new HN_ERR_BAD_OPTION(`listen(): unknown http2 option "${key}" (known: ${HTTP2_KEYS.join(', ')})`);
    }
    if (v !== undefined) out[key] = u32(v, `listen(): http2.${key}`);
  }
  return out;
}

function pem(value, what) {
  if (Buffer.isBuffer(value)) return value.toString('latin1');
  if (typeof value === 'string' && value !== '') return value;
  throw new HN_ERR_BAD_OPTION(`${what} must be PEM text (a string or a Buffer), got ${show(value)}`);
}

// An encrypted PEM key decrypted here, re-exported as unencrypted PKCS#8 for rustls. The
// plaintext key never leaves the process: it goes to Rust and nowhere else.
function privateKey(value, passphrase, what) {
  const text = pem(value, what);
  if (passphrase === undefined) return text;
  if (typeof passphrase !== 'string' && !Buffer.isBuffer(passphrase)) {
    throw new HN_ERR_BAD_OPTION(`${what}: passphrase must be a string or a Buffer`);
  }
  try {
    return crypto.createPrivateKey({ key: text, passphrase }).export({ type: 'pkcs8', format: 'pem' });
  } catch (err) {
    throw new HN_ERR_TLS(`${what}: cannot decrypt the key with that passphrase (${err.message})`, { cause: err });
  }
}

function u32(value, what) {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new HN_ERR_BAD_OPTION(`${what} must be a non-negative integer, got ${show(value)}`);
  }
  return value;
}

// Rust's messages about certificates and keys start with the option they concern ("tls.cert: …").
function tlsError(err) {
  if (!/^(tls|setSecureContext)\b/.test(err.message)) return err;
  return new HN_ERR_TLS(err.message, { cause: err });
}

module.exports = { tlsOptions, http2Options, tlsError };
