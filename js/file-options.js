'use strict';
// The options files are served with, shared by both places that serve them (app.static's
// directory form, js/static.js, and res.sendFile()/res.download(), js/files.js): each one's check,
// the cache-control header built from maxAge/immutable, and extra headers. Every check takes the
// error class and the call it reports (`where`), so registration and request time word their
// errors alike.
const { headerValue, TOKEN } = require('./header-values');

// send/serve-static cap max-age at one year (RFC 2616 §14.21 asked servers not to send an
// Expires more than a year ahead; caches treat more as a year anyway).
const MAX_MAX_AGE_MS = 365 * 24 * 60 * 60 * 1000;
// maxAge as a string ('1y', '2d', '10m', '500ms', '1.5h'), the `ms` package's units.
const MAX_AGE_STRING = /^(\d+(?:\.\d+)?)\s*(ms|msecs?|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?|y|yrs?|years?)?$/i;
const UNIT_MS = { ms: 1, s: 1000, m: 60 * 1000, h: 60 * 60 * 1000, d: 24 * 60 * 60 * 1000, w: 7 * 24 * 60 * 60 * 1000, y: 365.25 * 24 * 60 * 60 * 1000 };
const DOTFILES = ['ignore', 'deny', 'allow'];

// maxAge in milliseconds, from a number of milliseconds or a string with a unit (no unit: ms).
// Negative, non-finite and unparseable values throw rather than silently meaning 0.
function maxAgeMs(value, Err, where) {
  let ms;
  if (typeof value === 'number') {
    ms = value;
  } else if (typeof value === 'string') {
    const match = MAX_AGE_STRING.exec(value.trim());
    if (match === null) {
      throw new Err(`${where}: maxAge ${JSON.stringify(value)} is not a duration: use milliseconds or a string such as '1y', '2d', '10m', '30s'`);
    }
    ms = Number(match[1]) * unitMs(match[2]);
  } else {
    throw new Err(`${where}: maxAge must be a number of milliseconds or a string such as '1y', got ${typeof value}`);
  }
  if (!Number.isFinite(ms) || ms < 0) throw new Err(`${where}: maxAge must be a finite duration >= 0, got ${String(value)}`);
  return Math.min(ms, MAX_MAX_AGE_MS);
}

function unitMs(unit) {
  if (unit === undefined) return 1;
  const u = unit.toLowerCase();
  if (u.startsWith('ms') || u.startsWith('mil')) return UNIT_MS.ms;
  if (u.startsWith('mi') || u === 'm') return UNIT_MS.m;
  return UNIT_MS[u[0]];
}

// The Cache-Control value serve-static and send write: `public, max-age=<seconds>[, immutable]`.
function cacheControlValue(ms, immutable) {
  return `public, max-age=${Math.floor(ms / 1000)}${immutable ? ', immutable' : ''}`;
}

function bool(name, value, Err, where) {
  if (typeof value !== 'boolean') throw new Err(`${where}: ${name} must be true or false, got ${show(value)}`);
  return value;
}

function dotfiles(value, Err, where) {
  if (!DOTFILES.includes(value)) throw new Err(`${where}: dotfiles must be 'ignore', 'deny' or 'allow', got ${show(value)}`);
  return value;
}

// An object of extra headers as [[name, value], ...] (an array value gives one line each).
// `refused` maps lowercase names that cannot be set here to the reason.
function headerList(headers, refused, Err, where) {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new Err(`${where}: headers must be an object of header names to values`);
  }
  const list = [];
  for (const name of Object.keys(headers)) {
    if (!TOKEN.test(name)) throw new Err(`${where}: invalid header name ${JSON.stringify(name)}`);
    const reason = refused.get(name.toLowerCase());
    if (reason !== undefined) throw new Err(`${where}: the ${name.toLowerCase()} header ${reason}`);
    const value = headers[name];
    try {
      if (Array.isArray(value)) for (const v of value) list.push([name, headerValue(name, v)]);
      else list.push([name, headerValue(name, value)]);
    } catch (err) {
      throw new Err(`${where}: ${err.message}`);
    }
  }
  return list;
}

function hasHeader(list, lowerName) {
  return list.some(([name]) => name.toLowerCase() === lowerName);
}

function show(value) {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

module.exports = { maxAgeMs, cacheControlValue, bool, dotfiles, headerList, hasHeader, show, MAX_MAX_AGE_MS };
