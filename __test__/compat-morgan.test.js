'use strict';
// morgan, unmodified: it reads req.httpVersionMajor/Minor, the client address (req.ip, else
// req.socket.remoteAddress), res.getHeader() after the answer, and times the answer with
// on-headers/on-finished.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const morgan = require('morgan');
const { serve, get, waitUntil } = require('./helpers');

const T = { timeout: 15000 };

function capture() {
  const lines = [];
  return { lines, stream: { write: (line) => lines.push(line) } };
}

test("the 'combined' format logs address, request line, status, length, referrer and user agent", T, async (t) => {
  const log = capture();
  const s = await serve(t, (app) => {
    app.use(morgan('combined', { stream: log.stream }));
    app.get('/page', (req, res) => res.status(203).send('héllo'));
  });
  await get(s.port, '/page?q=1', { headers: [['referer', 'http://from.example/'], ['user-agent', 'test-agent/1.0']] });
  await waitUntil(() => log.lines.length === 1);
  assert.match(
    log.lines[0],
    /^127\.0\.0\.1 - - \[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET \/page\?q=1 HTTP\/1\.1" 203 6 "http:\/\/from\.example\/" "test-agent\/1\.0"\n$/,
  );
});

test('tokens: response time, response headers, remote address, HTTP version; skip; immediate', T, async (t) => {
  const timed = capture();
  const immediate = capture();
  const s = await serve(t, (app) => {
    app.use(morgan(':method :url :status :res[x-app] :response-time ms :remote-addr :http-version', { stream: timed.stream, skip: (req, res) => res.statusCode === 404 }));
    app.use(morgan(':method :url', { immediate: true, stream: immediate.stream }));
    app.get('/a', (req, res) => res.set('x-app', 'yes').json({ ok: true }));
    app.get('/stream', (req, res) => {
      res.write('x');
      setImmediate(() => res.end('y'));
    });
  });
  await get(s.port, '/a');
  await get(s.port, '/stream');
  await get(s.port, '/missing');
  await waitUntil(() => timed.lines.length === 2 && immediate.lines.length === 3);
  assert.match(timed.lines[0], /^GET \/a 200 yes \d+\.\d{3} ms 127\.0\.0\.1 1\.1\n$/);
  assert.match(timed.lines[1], /^GET \/stream 200 - \d+\.\d{3} ms 127\.0\.0\.1 1\.1\n$/);
  assert.deepEqual(immediate.lines, ['GET /a\n', 'GET /stream\n', 'GET /missing\n']);
});
