'use strict';
// Response header values: control characters other than HTAB are refused when set, as node:http
// refuses them (ERR_INVALID_CHAR); tab and UTF-8 text are sent as they are.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { createApp } = require('..');
const { start, get } = require('./helpers');

const T = { timeout: 10000 };
// Every control character but HTAB (0x09).
const CONTROLS = [...Array.from({ length: 0x20 }, (_, c) => c).filter((c) => c !== 0x09), 0x7f];

describe('response header values', () => {
  let s;
  before(async () => {
    s = await start((app) => {
      app.get('/set/:code', (req, res) => {
        res.set('x-bad', `a${String.fromCharCode(Number(req.params.code))}b`).send('sent anyway');
      });
      app.get('/array/:code', (req, res) => {
        res.set('x-bad', ['fine', `a${String.fromCharCode(Number(req.params.code))}b`]).send('sent anyway');
      });
      app.get('/ncache/:code', (req, res) => {
        res.ncache('sent anyway', 60, { headers: { 'x-bad': `a${String.fromCharCode(Number(req.params.code))}` } });
      });
      app.get('/good', (req, res) => res.set({ 'x-tab': 'a\tb', 'x-utf8': 'héllo ✓', 'x-high': 'ÿ' }).send('ok'));
      app.use((err, req, res, next) => res.status(err.status).json({ code: err.code, headersSent: res.headersSent }));
    });
  });
  after(() => s.close());

  test('a control character other than tab is refused when set, before anything is sent', T, async () => {
    for (const route of ['set', 'array', 'ncache']) {
      for (const code of CONTROLS) {
        const res = await get(s.port, `/${route}/${code}`);
        assert.equal(res.status, 500, `${route} 0x${code.toString(16)}`);
        assert.deepEqual(res.json(), { code: 'HN_ERR_INVALID_HEADER', headersSent: false }, `${route} 0x${code.toString(16)}`);
        assert.equal(res.headers['x-bad'], undefined);
      }
    }
    assert.equal(s.server.stats().cache.entries, 0, 'nothing was cached');
  });

  test('tab and UTF-8 text are sent as they are', T, async () => {
    const res = await get(s.port, '/good');
    assert.equal(res.status, 200);
    const raw = Object.fromEntries(res.rawHeaders.map(([n, v]) => [n.toLowerCase(), Buffer.from(v, 'latin1').toString('utf8')]));
    assert.equal(raw['x-tab'], 'a\tb');
    assert.equal(raw['x-utf8'], 'héllo ✓');
    assert.equal(raw['x-high'], 'ÿ');
  });

  test('app.static() headers follow the same rule at registration', T, () => {
    const app = createApp();
    for (const code of CONTROLS) {
      assert.throws(
        () => app.static(`/s${code}`, 'x', { headers: { 'x-bad': `a${String.fromCharCode(code)}` } }),
        { code: 'HN_ERR_ROUTE', message: /control character/ },
        `0x${code.toString(16)}`,
      );
    }
    app.static('/ok', 'x', { headers: { 'x-tab': 'a\tb', 'x-utf8': 'é' } });
  });
});
