'use strict';
// Loopback ports for the servers tests start themselves (redis-server, nginx, PM2's app): a free
// one to hand them, and whether one takes connections yet.
const net = require('node:net');

// A port free a moment ago: another process can take it before the server binds, so callers
// retry their start on a fresh one.
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function connectable(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

module.exports = { freePort, connectable };
