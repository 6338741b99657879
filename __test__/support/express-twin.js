'use strict';
// The same app twice, as an Express 5 app on node:http and as an http-native app, so a test can
// send one request to both over real sockets and assert they answer alike: Express is the
// reference for its own surface. `setup(app, kind)` registers the same routes on either ('express'
// or 'native'); Express's own ETag and X-Powered-By are off (http-native sends neither from JS).
const http = require('node:http');
const assert = require('node:assert/strict');
const express = require('express');
const { start, exchange, buildRequest } = require('../helpers');

async function twins(t, setup, { appOptions } = {}) {
  const expressApp = express();
  expressApp.set('etag', false);
  expressApp.disable('x-powered-by');
  setup(expressApp, 'express');
  const expressServer = http.createServer(expressApp);
  await new Promise((resolve) => expressServer.listen(0, '127.0.0.1', resolve));
  const native = await start((app) => setup(app, 'native'), { appOptions });
  t.after(async () => {
    await native.close();
    expressServer.closeAllConnections();
    await new Promise((resolve) => expressServer.close(resolve));
  });
  const ports = { express: expressServer.address().port, native: native.port };
  return {
    expressApp,
    app: native.app,
    // One raw request (helpers.buildRequest's options) to each; { express, native } responses.
    async both(method, target, options = {}) {
      const bytes = buildRequest(method, target, options);
      const head = method === 'HEAD';
      const [e, n] = await Promise.all([exchange(ports.express, bytes, { head }), exchange(ports.native, bytes, { head })]);
      return { express: e, native: n };
    },
  };
}

// The two responses agree on status, on each of `headers` (absent in both counts) and, unless
// `body: false`, on the body.
function assertSame({ express: e, native: n }, { headers = [], body = true, what = '' } = {}) {
  assert.equal(n.status, e.status, `${what}: status (Express said ${e.status}: ${e.text.slice(0, 200)})`);
  for (const name of headers) assert.equal(n.headers[name], e.headers[name], `${what}: ${name}`);
  if (body) assert.equal(n.text, e.text, `${what}: body`);
}

module.exports = { twins, assertSame };
