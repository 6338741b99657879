'use strict';
// helpers.serve() for WebSocket tests: the test's clients are dropped before its server closes.
// server.close() sends every open socket a close frame and waits for the answer up to its timeout;
// a raw client never answers, and a test's clients are finished with once its body ends.
const { start } = require('../helpers');
const { destroyAll } = require('./ws-raw');
const { terminateAll } = require('./ws-client');

async function serveWs(t, setup, options) {
  const s = await start(setup, options);
  t.after(async () => {
    destroyAll();
    terminateAll();
    await s.close();
  });
  return s;
}

module.exports = { serveWs };
