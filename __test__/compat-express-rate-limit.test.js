'use strict';
// express-rate-limit, unmodified (its MemoryStore): counting per client IP, its 429, the IETF
// RateLimit headers and the legacy X-RateLimit-* ones, custom keys and skipFailedRequests (which
// listens to res 'finish'). The built-in rateLimit() is rate-limit.test.js's.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { createHash } = require('node:crypto');
const { rateLimit } = require('express-rate-limit');
const { serve, get, waitUntil } = require('./helpers');

const T = { timeout: 15000 };

test('past the limit: 429 with its message, Retry-After and draft-8 RateLimit headers; req.rateLimit', T, async (t) => {
  const s = await serve(t, (app) => {
    app.use(rateLimit({ windowMs: 60_000, limit: 3, standardHeaders: 'draft-8', legacyHeaders: false, identifier: 'api' }));
    app.get('/', (req, res) => res.json({ used: req.rateLimit.used, remaining: req.rateLimit.remaining }));
  });
  // draft-8's partition key: the client's key (its IP) hashed, as the draft describes.
  const pk = Buffer.from(createHash('sha256').update('127.0.0.1').digest('hex').slice(0, 12)).toString('base64');
  for (let i = 1; i <= 3; i++) {
    const res = await get(s.port, '/');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { used: i, remaining: 3 - i });
    assert.equal(res.headers['ratelimit-policy'], `"api"; q=3; w=60; pk=:${pk}:`);
    assert.match(res.headers.ratelimit, new RegExp(`^"api"; r=${3 - i}; t=\\d+$`));
    assert.equal(res.headers['x-ratelimit-limit'], undefined);
  }
  const limited = await get(s.port, '/');
  assert.equal(limited.status, 429);
  assert.equal(limited.text, 'Too many requests, please try again later.');
  assert.match(limited.headers['retry-after'], /^\d+$/);
  assert.ok(Number(limited.headers['retry-after']) <= 60);
});

test('legacy headers, a key of the app\'s own, a custom handler, and skipFailedRequests', T, async (t) => {
  const s = await serve(t, (app) => {
    app.use(
      rateLimit({
        windowMs: 60_000,
        limit: 2,
        standardHeaders: false,
        legacyHeaders: true,
        keyGenerator: (req) => req.get('x-api-key') || 'anonymous',
        skipFailedRequests: true,
        handler: (req, res, next, options) => res.status(options.statusCode).json({ error: 'slow down', key: req.get('x-api-key') }),
      }),
    );
    app.get('/ok', (req, res) => res.send('ok'));
    app.get('/fail', (req, res) => res.status(500).send('failed'));
  });
  const a = [['x-api-key', 'a']];
  const first = await get(s.port, '/ok', { headers: a });
  assert.equal(first.headers['x-ratelimit-limit'], '2');
  assert.equal(first.headers['x-ratelimit-remaining'], '1');
  assert.match(first.headers['x-ratelimit-reset'], /^\d+$/);

  // Failed answers are given back once finished ('finish' → requestWasSuccessful → decrement).
  for (let i = 0; i < 3; i++) assert.equal((await get(s.port, '/fail', { headers: a })).status, 500);
  const second = await waitUntil(async () => {
    const res = await get(s.port, '/ok', { headers: [['x-api-key', 'probe']] });
    return res.status === 200 ? res : undefined;
  });
  assert.equal(second.status, 200);
  assert.equal((await get(s.port, '/ok', { headers: a })).status, 200);
  const limited = await get(s.port, '/ok', { headers: a });
  assert.equal(limited.status, 429);
  assert.deepEqual(limited.json(), { error: 'slow down', key: 'a' });
  // Another key has its own count.
  assert.equal((await get(s.port, '/ok', { headers: [['x-api-key', 'b']] })).status, 200);
});
