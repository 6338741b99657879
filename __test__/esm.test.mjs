// The package must load through its ESM entry point as well as through require().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as esm from 'http-native';
import { createApp } from 'http-native';

const require = createRequire(import.meta.url);

test('ESM import by package name exposes createApp', () => {
  assert.equal(typeof createApp, 'function');
  assert.equal(typeof esm.createApp, 'function');
});

test('require() by package name exposes createApp too', () => {
  assert.equal(typeof require('http-native').createApp, 'function');
});

test('ESM exposes session() and its stores, the same objects as require()', () => {
  const cjs = require('http-native');
  for (const name of ['session', 'MemorySessionStore', 'RedisSessionStore', 'RedisRateLimitStore']) {
    assert.equal(typeof esm[name], 'function', name);
    assert.equal(esm[name], cjs[name], name);
  }
});

test('an app created through the ESM entry serves requests', { timeout: 10000 }, async (t) => {
  const app = createApp();
  app.get('/users/:id', (req, res) => res.json({ id: req.params.id, esm: true }));
  const server = await app.listen({ port: 0 });
  t.after(() => server.close());
  const res = await fetch(`${server.url}/users/5`, { signal: AbortSignal.timeout(5000) });
  assert.deepEqual(await res.json(), { id: '5', esm: true });
});
