'use strict';
// Many WebSocket clients (the registry's `ws`) open at once, each keeping what it received as
// strings in `got`: for the tests that need sockets spread over several threads or workers.
const WebSocket = require('ws');

function openSockets(url, n) {
  return Promise.all(
    Array.from({ length: n }, () => {
      const ws = new WebSocket(url);
      ws.got = [];
      ws.on('message', (m) => ws.got.push(m.toString()));
      return new Promise((resolve, reject) => {
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    }),
  );
}

module.exports = { openSockets };
