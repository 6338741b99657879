'use strict';
// How every http-native bench server listens and stops (bench/servers/http-native*.js): PORT picks
// the port (0 = any), one line `READY <port> <driver>` once listening, and SIGTERM closes the
// server so the process exits by itself (the runner's SIGKILL after 5 s is only a fallback).
const { tlsFromEnv } = require('./tls-shared');

// `onListening(server)` runs before READY is printed; what it returns (or resolves with), if
// anything, is added to the READY line (the battery server's `stats=<port>`). TLS_KEY_FILE /
// TLS_CERT_FILE (the TLS rows, bench/tls.js) serve HTTPS with that certificate; HTTP2=1 or 0 turns
// HTTP/2 on or off (unset: the default, on with TLS, off without).
function listenForBench(app, onListening = () => {}) {
  const tls = tlsFromEnv();
  const http2 = process.env.HTTP2 === undefined || process.env.HTTP2 === '' ? undefined : process.env.HTTP2 === '1';
  app
    .listen({ port: Number(process.env.PORT || 0), host: '127.0.0.1', ...(tls && { tls }), ...(http2 !== undefined && { http2 }) })
    .then(async (server) => {
      const extra = await onListening(server);
      process.stdout.write(`READY ${server.port} ${server.driver}${extra ? ` ${extra}` : ''}\n`);
      process.once('SIGTERM', () => {
        server.close({ timeout: 2000 }).catch((err) => {
          console.error(err);
          process.exitCode = 1;
        });
      });
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}

// For listenForBench's onListening: a second app on its own port answering GET /__bridge with
// `server`'s bridge counters, so a runner reads them without sending a request through the app
// measured (the battery rows: a rate limit would count it). Resolves with `stats=<port>` for READY.
async function bridgeStatsPort(server) {
  const control = require('../..').createApp();
  control.get('/__bridge', (req, res) => res.json(server.stats().bridge));
  const stats = await control.listen({ port: 0, host: '127.0.0.1' });
  process.once('SIGTERM', () => stats.close({ timeout: 2000 }));
  return `stats=${stats.port}`;
}

module.exports = { listenForBench, bridgeStatsPort };
