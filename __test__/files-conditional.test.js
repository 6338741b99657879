'use strict';
// Conditional requests on a directory mount (RFC 9110 §13): If-None-Match (weak comparison, lists,
// `*`), If-Modified-Since (ignored when If-None-Match is there; all three date formats),
// If-Match and If-Unmodified-Since (412), the precedence of §13.2.2 (also against Range), and what
// a 304 keeps. The file's mtime is set to a fixed date, so every date comparison is exact.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { start, get, buildRequest, RawClient } = require('./helpers');
const { makeTree, mount } = require('./support/files');

const T = { timeout: 20000 };
const BODY = 'conditional body: 0123456789abcdefghijklmnopqrstuvwxyz\n';
const MTIME = new Date('2024-01-02T03:04:05Z');
const LAST_MODIFIED = 'Tue, 02 Jan 2024 03:04:05 GMT';
const EARLIER = 'Tue, 02 Jan 2024 03:04:04 GMT';
const LATER = 'Wed, 03 Jan 2024 00:00:00 GMT';
const CACHE_CONTROL_MAX_AGE = /max-age=3600(\s*,|$)/;

describe('conditional requests on a file', () => {
  let s;
  let etag; // as the server sends it
  let strong; // whether it is a strong validator
  let opaque; // the quoted part, without W/
  const tmp = [];

  before(async () => {
    const tree = makeTree((fn) => tmp.push(fn), { 'doc.txt': BODY });
    fs.utimesSync(path.join(tree.root, 'doc.txt'), MTIME, MTIME);
    s = await start((app) => {
      app.notFound((req, res) => res.status(404).send('js 404'));
      mount(app, '/assets', tree.root, { maxAge: '1h' });
    });
    const res = await get(s.port, '/assets/doc.txt');
    assert.equal(res.status, 200);
    etag = res.headers.etag;
    assert.match(etag, /^(W\/)?"[^"]+"$/);
    strong = !etag.startsWith('W/');
    opaque = strong ? etag : etag.slice(2);
  });
  after(async () => {
    await s.close();
    for (const fn of tmp) fn();
  });

  const req = (headers, method = 'GET') => get(s.port, '/assets/doc.txt', { headers, method });

  function assertFull(res, what) {
    assert.equal(res.status, 200, what);
    assert.equal(res.text, BODY, what);
  }

  function assert304(res, what) {
    assert.equal(res.status, 304, what);
    assert.equal(res.headers.etag, etag, `${what}: a 304 keeps the ETag`);
    assert.match(res.headers['cache-control'] || '', CACHE_CONTROL_MAX_AGE, `${what}: a 304 keeps Cache-Control`);
    assert.ok(res.headers.date, `${what}: a 304 has a Date`);
    assert.equal(res.body.length, 0);
  }

  function assert412(res, what) {
    assert.equal(res.status, 412, what);
    assert.ok(!res.text.includes(BODY), `${what}: no file content in a 412`);
  }

  test('the validators: ETag, and Last-Modified from the mtime; Cache-Control from maxAge', T, async () => {
    const res = await req({});
    assert.equal(res.headers['last-modified'], LAST_MODIFIED);
    assert.match(res.headers['cache-control'] || '', CACHE_CONTROL_MAX_AGE);
    assert.equal((await req({})).headers.etag, etag, 'the same ETag for the same file');
  });

  test('If-None-Match: the ETag, its weak twin, in a list, `*` → 304; another tag or garbage → 200', T, async () => {
    assert304(await req({ 'If-None-Match': etag }), 'the ETag');
    assert304(await req({ 'If-None-Match': `W/${opaque}` }), 'W/ + the tag (weak comparison)');
    assert304(await req({ 'If-None-Match': opaque }), 'the tag without W/ (weak comparison)');
    assert304(await req({ 'If-None-Match': `"nope", ${etag}, "other"` }), 'in a list');
    assert304(await req({ 'If-None-Match': `"nope",${etag}` }), 'in a list without spaces');
    assert304(await req([['If-None-Match', '"nope"'], ['If-None-Match', etag]]), 'in a second header line');
    assert304(await req({ 'If-None-Match': '*' }), '*');
    assert304(await req({ 'If-None-Match': etag }, 'HEAD'), 'HEAD');
    assertFull(await req({ 'If-None-Match': '"nope"' }), 'another tag');
    assertFull(await req({ 'If-None-Match': `"x${opaque.slice(1)}` }), 'a longer tag');
    assertFull(await req({ 'If-None-Match': 'garbage' }), 'garbage');
  });

  test('If-Modified-Since: at or after the mtime → 304 (all three HTTP date formats), before it or invalid → 200', T, async () => {
    assert304(await req({ 'If-Modified-Since': LAST_MODIFIED }), 'equal');
    assert304(await req({ 'If-Modified-Since': LATER }), 'later');
    assert304(await req({ 'If-Modified-Since': 'Tuesday, 02-Jan-24 03:04:05 GMT' }), 'RFC 850 date');
    assert304(await req({ 'If-Modified-Since': 'Tue Jan  2 03:04:05 2024' }), 'asctime date');
    assert304(await req({ 'If-Modified-Since': LAST_MODIFIED }, 'HEAD'), 'HEAD');
    assertFull(await req({ 'If-Modified-Since': EARLIER }), 'a second earlier');
    assertFull(await req({ 'If-Modified-Since': 'yesterday' }), 'not a date');
    assertFull(await req({ 'If-Modified-Since': '' }), 'empty');
  });

  test('If-Modified-Since is ignored when If-None-Match is there', T, async () => {
    assertFull(await req({ 'If-None-Match': '"nope"', 'If-Modified-Since': LATER }), 'INM fails, IMS would 304');
    assert304(await req({ 'If-None-Match': etag, 'If-Modified-Since': EARLIER }), 'INM matches, IMS would 200');
  });

  test('If-Match: `*`, or the strong ETag → 200; another tag, or any weak tag → 412', T, async () => {
    assertFull(await req({ 'If-Match': '*' }), '*');
    assert412(await req({ 'If-Match': '"nope"' }), 'another tag');
    assert412(await req({ 'If-Match': `W/${opaque}` }), 'a weak tag never matches strongly');
    assert412(await req({ 'If-Match': '"nope"' }, 'HEAD'), 'HEAD');
    if (strong) {
      assertFull(await req({ 'If-Match': etag }), 'the strong ETag');
      assertFull(await req({ 'If-Match': `"a", ${etag}` }), 'in a list');
    } else {
      assert412(await req({ 'If-Match': etag }), 'the server\'s own weak ETag (strong comparison)');
    }
  });

  test('If-Unmodified-Since: before the mtime → 412; at or after → 200; invalid → ignored', T, async () => {
    assert412(await req({ 'If-Unmodified-Since': EARLIER }), 'a second earlier');
    assertFull(await req({ 'If-Unmodified-Since': LAST_MODIFIED }), 'equal');
    assertFull(await req({ 'If-Unmodified-Since': LATER }), 'later');
    assertFull(await req({ 'If-Unmodified-Since': 'not a date' }), 'invalid');
  });

  test('precedence (RFC 9110 §13.2.2): If-Match, then If-Unmodified-Since, then If-None-Match, then If-Modified-Since, then Range', T, async () => {
    assertFull(await req({ 'If-Match': '*', 'If-Unmodified-Since': EARLIER }), 'If-Unmodified-Since is ignored when If-Match is there');
    assert412(await req({ 'If-Match': '"nope"', 'If-None-Match': etag }), 'a failed If-Match wins over a matching If-None-Match');
    assert412(await req({ 'If-Unmodified-Since': EARLIER, 'If-None-Match': etag }), 'a failed If-Unmodified-Since wins over If-None-Match');
    assert412(await req({ 'If-Unmodified-Since': EARLIER, 'If-Modified-Since': LATER }), 'a failed If-Unmodified-Since wins over If-Modified-Since');
    assert304(await req({ 'If-Match': '*', 'If-None-Match': etag }), 'If-Match passes, then If-None-Match gives 304');
    assert304(await req({ 'If-None-Match': etag, Range: 'bytes=0-3' }), 'a 304 before Range');
    assert304(await req({ 'If-Modified-Since': LATER, Range: 'bytes=0-3' }), 'a 304 from IMS before Range');
    assert412(await req({ 'If-Match': '"nope"', Range: 'bytes=0-3' }), 'a 412 before Range');
    assert412(await req({ 'If-Unmodified-Since': EARLIER, Range: 'bytes=0-3' }), 'a 412 from IUS before Range');
    const ranged = await req({ 'If-None-Match': '"nope"', Range: 'bytes=0-3' });
    assert.equal(ranged.status, 206, 'conditions that pass leave the Range to apply');
    assert.equal(ranged.text, BODY.slice(0, 4));
  });

  test('a 304 carries no body: the next answer on the connection is intact', T, async (t) => {
    const c = await RawClient.connect(s.port);
    t.after(() => c.destroy());
    await c.write(
      Buffer.concat([
        buildRequest('GET', '/assets/doc.txt', { headers: { 'If-None-Match': etag } }),
        buildRequest('GET', '/assets/doc.txt', { headers: { 'If-Modified-Since': LAST_MODIFIED } }),
        buildRequest('GET', '/assets/doc.txt', { headers: { 'If-Match': '"nope"' } }),
        buildRequest('GET', '/assets/doc.txt'),
      ]),
    );
    const [a, b, c412, full] = await c.readResponses(4);
    assert304(a, 'first');
    assert304(b, 'second');
    assert.equal(c412.status, 412);
    assertFull(full, 'the answer after them');
    assert.equal(c.leftover.length, 0, 'nothing after the last answer');
  });
});
