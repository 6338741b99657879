'use strict';
// How every http-native bench server listens and stops (bench/servers/http-native*.js): PORT picks
// the port (0 = any), one line `READY <port> <driver>` once listening, and SIGTERM closes the
// server so the process exits by itself (the runner's SIGKILL after 5 s is only a fallback).
const { tlsFromEnv } = require('./tls-shared');

// `onListening(server)` runs before READY is printed. TLS_KEY_FILE / TLS_CERT_FILE (the TLS rows,
// bench/tls.js) serve HTTPS with that certificate; HTTP2=1 or 0 turns HTTP/2 on or off (unset: the
// default, on with TLS, off without).
function listenForBench(app, onListening = () => {}) {
  const tls = tlsFromEnv();
  const http2 = process.env.HTTP2 === undefined || process.env.HTTP2 === '' ? undefined : process.env.HTTP2 === '1';
  app
    .listen({ port: Number(process.env.PORT || 0), host: '127.0.0.1', ...(tls && { tls }), ...(http2 !== undefined && { http2 }) })
    .then((server) => {
      onListening(server);
      process.stdout.write(`READY ${server.port} ${server.driver}\n`);
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

module.exports = { listenForBench };
