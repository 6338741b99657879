'use strict';
// http-proxy-middleware (over http-proxy), unmodified, to a real node:http upstream: it pipes req
// into its client request, copies the upstream answer onto res with writeHead/pipe, reads
// req.socket for X-Forwarded-*, and answers 504 itself when the upstream is down.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const express = require('express');
const { createProxyMiddleware, fixRequestBody } = require('http-proxy-middleware');
const { serve, request, get } = require('./helpers');

const T = { timeout: 15000 };

// The upstream echoes what reached it.
async function upstream(t) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('x-upstream', 'yes');
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
      res.writeHead(req.url.startsWith('/missing') ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() }));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${server.address().port}`;
}

test('mounted: the path below the mount is proxied, with the query, status, headers and a streamed body', T, async (t) => {
  const target = await upstream(t);
  const s = await serve(t, (app) => {
    app.use('/api', createProxyMiddleware({ target, changeOrigin: true, xfwd: true }));
    app.get('/local', (req, res) => res.send('not proxied'));
  });
  const res = await request(s.base, '/api/things/1?sort=asc', { method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain', 'x-client': 'c' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-upstream'), 'yes');
  assert.deepEqual(res.headers.getSetCookie(), ['a=1; Path=/', 'b=2; Path=/']);
  const seen = await res.json();
  assert.equal(seen.method, 'POST');
  assert.equal(seen.url, '/things/1?sort=asc');
  assert.equal(seen.body, 'payload');
  assert.equal(seen.headers['x-client'], 'c');
  // changeOrigin: Host is the target's.
  assert.equal(seen.headers.host, new URL(target).host);
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');

  const missing = await get(s.port, '/api/missing');
  assert.equal(missing.status, 404);
  assert.equal((await get(s.port, '/local')).text, 'not proxied');
});

test('pathFilter and pathRewrite, hooks on the proxied request and answer, and a body parsed before it', T, async (t) => {
  const target = await upstream(t);
  const s = await serve(t, (app) => {
    app.use(express.json());
    app.use(
      createProxyMiddleware({
        target,
        pathFilter: '/v1',
        pathRewrite: { '^/v1': '/internal' },
        on: {
          proxyReq: (proxyReq, req) => {
            proxyReq.setHeader('x-added', 'by-hook');
            fixRequestBody(proxyReq, req);
          },
          proxyRes: (proxyRes) => {
            proxyRes.headers['x-seen-by'] = 'proxyRes';
          },
        },
      }),
    );
    app.get('/other', (req, res) => res.send('app'));
  });
  const res = await request(s.base, '/v1/users', { method: 'POST', body: JSON.stringify({ a: 1 }), headers: { 'content-type': 'application/json' } });
  const seen = await res.json();
  assert.equal(seen.url, '/internal/users');
  assert.equal(seen.headers['x-added'], 'by-hook');
  assert.deepEqual(JSON.parse(seen.body), { a: 1 });
  assert.equal(res.headers.get('x-seen-by'), 'proxyRes');
  assert.equal((await get(s.port, '/other')).text, 'app');
});

test('an upstream that is down: 504 from the proxy, and the server keeps serving', T, async (t) => {
  // A port nothing listens on: bound, then closed.
  const probe = http.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = probe.address().port;
  await new Promise((resolve) => probe.close(resolve));
  const s = await serve(t, (app) => {
    app.use('/down', createProxyMiddleware({ target: `http://127.0.0.1:${port}` }));
    app.get('/', (req, res) => res.send('ok'));
  });
  const res = await get(s.port, '/down/x');
  assert.equal(res.status, 504);
  assert.match(res.text, /^Error occurred while trying to proxy: /);
  assert.equal((await get(s.port, '/')).text, 'ok');
});
