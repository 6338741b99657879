'use strict';
// res.send()/res.end() of binary views send their bytes; res.send() of a stream streams it, and
// res.end() refuses one with a coded error instead of JSON-stringifying it (which leaked a file
// stream's path).
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { Readable } = require('node:stream');
const { start, get } = require('./helpers');

const T = { timeout: 10000 };
const BYTES = Buffer.from([0x00, 0x01, 0x41, 0x42, 0x7f, 0x80, 0xfe, 0xff]);

// A fresh ArrayBuffer holding BYTES at `offset`, with garbage around it that must never be sent.
function padded(offset) {
  const ab = new ArrayBuffer(offset + BYTES.length + 8);
  new Uint8Array(ab).fill(0xee);
  new Uint8Array(ab, offset, BYTES.length).set(BYTES);
  return ab;
}

describe('binary bodies', () => {
  let s;
  before(async () => {
    s = await start((app) => {
      app.get('/uint16', (req, res) => res.send(new Uint16Array(padded(8), 8, BYTES.length / 2)));
      app.get('/float64', (req, res) => res.send(new Float64Array(padded(8), 8, 1)));
      app.get('/int8', (req, res) => res.send(new Int8Array(padded(3), 3, BYTES.length)));
      app.get('/dataview', (req, res) => res.send(new DataView(padded(5), 5, BYTES.length)));
      app.get('/arraybuffer', (req, res) => res.send(padded(0).slice(0, BYTES.length)));
      app.get('/shared', (req, res) => {
        const sab = new SharedArrayBuffer(BYTES.length);
        new Uint8Array(sab).set(BYTES);
        res.send(sab);
      });
      app.get('/typed', (req, res) => res.type('image/png').send(new Uint8ClampedArray(padded(2), 2, BYTES.length)));
      app.get('/ncache', (req, res) => res.ncache(new Uint32Array(padded(4), 4, 2), 60));
      app.get('/end-dataview', (req, res) => res.end(new DataView(padded(1), 1, BYTES.length)));
      app.get('/end-arraybuffer', (req, res) => res.end(padded(0).slice(0, BYTES.length)));
    });
  });
  after(() => s.close());

  test('TypedArrays, DataViews and ArrayBuffers send exactly their bytes as application/octet-stream', T, async () => {
    for (const path of ['/uint16', '/float64', '/int8', '/dataview', '/arraybuffer', '/shared']) {
      const res = await get(s.port, path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers['content-type'], 'application/octet-stream', path);
      assert.deepEqual(res.body, BYTES, path);
    }
  });

  test('a Content-Type set before wins; ncache stores the same bytes', T, async () => {
    let res = await get(s.port, '/typed');
    assert.equal(res.headers['content-type'], 'image/png');
    assert.deepEqual(res.body, BYTES);
    for (let i = 0; i < 2; i++) {
      res = await get(s.port, '/ncache');
      assert.equal(res.headers['content-type'], 'application/octet-stream');
      assert.deepEqual(res.body, BYTES);
    }
    assert.ok(s.server.stats().cache.hits >= 1);
  });

  test('res.end() takes them too, without a Content-Type', T, async () => {
    for (const path of ['/end-dataview', '/end-arraybuffer']) {
      const res = await get(s.port, path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers['content-type'], undefined, path);
      assert.deepEqual(res.body, BYTES, path);
    }
  });
});

describe('streams', () => {
  let s;
  const errors = [];
  before(async () => {
    s = await start((app) => {
      const streams = {
        file: () => fs.createReadStream(__filename),
        readable: () => Readable.from(['a', 'b']),
        web: () => new ReadableStream({ start: (c) => c.close() }),
        blob: () => new Blob(['secret blob']),
        asyncgen: () => (async function* gen() { yield 'x'; })(),
      };
      for (const [name, make] of Object.entries(streams)) {
        app.get(`/send/${name}`, (req, res) => res.send(make()));
        app.get(`/end/${name}`, (req, res) => res.end(make()));
      }
      app.use('/send', (err, req, res, next) => {
        errors.push(err.code);
        res.status(err.status).json({ code: err.code, headersSent: res.headersSent });
      });
      app.use('/end', (err, req, res, next) => {
        errors.push(err.code);
        res.status(err.status).json({ code: err.code, headersSent: res.headersSent });
      });
    });
  });
  after(() => s.close());

  test('res.send() of a stream sends its content; res.end() of one fails with HN_ERR_INVALID_ARG before anything is sent', T, async () => {
    const expected = {
      file: fs.readFileSync(__filename, 'utf8'),
      readable: 'ab',
      web: '',
      blob: 'secret blob',
      asyncgen: 'x',
    };
    for (const [name, body] of Object.entries(expected)) {
      const sent = await get(s.port, `/send/${name}`);
      assert.equal(sent.status, 200, `send ${name}`);
      assert.equal(sent.text, body, `send ${name}`);
      const ended = await get(s.port, `/end/${name}`);
      assert.equal(ended.status, 500, `end ${name}`);
      assert.deepEqual(ended.json(), { code: 'HN_ERR_INVALID_ARG', headersSent: false }, `end ${name}`);
    }
  });
});
