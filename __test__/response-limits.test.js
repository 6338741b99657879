'use strict';
// Responses the bridge's record cannot carry (docs/bridge.md, "Response record": u16 header count
// and name length, u32 record length) fail at once through the error path, before the response
// counts as sent; and a record whose encoding fails is replaced by a 500, never left half-written.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { start, get, buildRequest, RawClient } = require('./helpers');

const T = { timeout: 20000 };
const MAX_LINES = 0xffff;

describe('responses too large for the record', () => {
  let s;
  before(async () => {
    s = await start((app) => {
      const values = (n) => Array.from({ length: n }, (_, i) => String(i));
      app.get('/lines/:n', (req, res) => res.set('x-many', values(Number(req.params.n))).send('many'));
      app.get('/split', (req, res) => res.set({ 'x-a': values(40000), 'x-b': values(30000) }).send('split'));
      app.get('/name/:n', (req, res) => res.set('x'.repeat(Number(req.params.n)), 'v').send('name'));
      // 2^32 bytes: one more than the record's u32 length allows. Never written to, so it costs
      // address space, not memory.
      app.get('/body', (req, res) => res.send(Buffer.allocUnsafe(2 ** 32)));
      app.get('/default', (req, res) => res.set('x-many', values(MAX_LINES + 1)).send('many'));
      app.use('/default', (err, req, res, next) => next(err));
      app.use((err, req, res, next) => {
        if (req.path === '/default') return next(err);
        res.status(err.status).json({ code: err.code, headersSent: res.headersSent });
      });
    });
  });
  after(() => s.close());

  test('more than 65,535 header lines is refused when set, and the error path answers 500 at once', T, async () => {
    // 65,535 values leave no line for the content type send() adds.
    for (const path of [`/lines/${MAX_LINES}`, `/lines/${MAX_LINES + 1}`, '/split']) {
      const res = await get(s.port, path);
      assert.equal(res.status, 500, path);
      assert.deepEqual(res.json(), { code: 'HN_ERR_RESPONSE_TOO_LARGE', headersSent: false }, path);
    }
    const res = await get(s.port, '/default');
    assert.equal(res.status, 500);
    assert.deepEqual(res.json(), { error: 'Internal Server Error' });
  });

  test('65,535 header lines, the content type included, still go through', T, async () => {
    const res = await get(s.port, `/lines/${MAX_LINES - 1}`);
    assert.equal(res.status, 200);
    assert.equal(res.rawHeaders.filter(([n]) => n === 'x-many').length, MAX_LINES - 1);
    assert.equal(res.rawHeaders.filter(([n]) => n.toLowerCase() === 'content-type').length, 1);
    assert.equal(res.text, 'many');
  });

  test('a header name over 65,535 bytes is refused when set', T, async () => {
    const res = await get(s.port, `/name/${0xffff + 1}`);
    assert.equal(res.status, 500);
    assert.deepEqual(res.json(), { code: 'HN_ERR_INVALID_HEADER', headersSent: false });
  });

  test('a body over 2^32-1 bytes is an immediate 500 through the error path', T, async () => {
    const res = await get(s.port, '/body');
    assert.equal(res.status, 500);
    assert.deepEqual(res.json(), { code: 'HN_ERR_RESPONSE_TOO_LARGE', headersSent: false });
  });
});

describe('headers grown past the checks of res.set()', () => {
  test('too many lines: the default answer drops them, the server keeps serving', T, async (t) => {
    const s = await start((app) => {
      // res.get() hands out the stored array, as node's getHeader() does.
      app.get('/grown', async (req, res) => {
        await new Promise((resolve) => setImmediate(resolve));
        res.set('x-list', ['a']);
        const list = res.get('x-list');
        for (let i = 0; i < MAX_LINES; i++) list.push('v');
        res.send('never sent');
      });
      app.get('/ok', (req, res) => res.send('ok'));
    });
    t.after(() => s.close());
    const res = await get(s.port, '/grown');
    assert.equal(res.status, 500);
    assert.deepEqual(res.json(), { error: 'Internal Server Error' });
    assert.equal(res.headers['x-list'], undefined);
    assert.equal((await get(s.port, '/ok')).text, 'ok');
  });
});

describe('a record whose encoding fails', () => {
  let s;
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  before(async () => {
    process.on('warning', onWarning);
    s = await start((app) => {
      // Pushing a non-string into the array res.get() hands out gets past set()'s checks and makes
      // the encoder throw, as a bug in it would.
      app.get('/broken', (req, res) => {
        res.set('x-list', ['a']);
        res.get('x-list').push(['not a string']);
        res.send('never sent');
      });
      app.get('/ok', (req, res) => res.send('ok'));
    });
  });
  after(() => {
    process.off('warning', onWarning);
    return s.close();
  });

  test('is replaced by a 500, and the records around it in the same batch are intact', T, async () => {
    const c = await RawClient.connect(s.port);
    try {
      await c.write(Buffer.concat([buildRequest('GET', '/ok'), buildRequest('GET', '/broken'), buildRequest('GET', '/ok')]));
      const [first, broken, last] = await c.readResponses(3);
      assert.equal(first.status, 200);
      assert.equal(first.text, 'ok');
      assert.equal(broken.status, 500);
      assert.deepEqual(broken.json(), { error: 'Internal Server Error' });
      assert.equal(broken.headers['x-list'], undefined);
      assert.equal(last.status, 200);
      assert.equal(last.text, 'ok');
    } finally {
      c.destroy();
    }
    // A bug of the bridge, not of the app: reported as a process warning.
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(warnings.some((w) => w instanceof TypeError), `warnings: ${warnings.map(String).join('; ')}`);
  });
});
