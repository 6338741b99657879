'use strict';
// node:http2 (http2.createSecureServer) for the HTTP/2 rows of the TLS bench (bench/tls.js): the
// plain-node baseline, on the core 'stream' API (node's fastest; the compatibility API adds a
// request and a response object per stream), with the routes of servers/tls-shared.js and the
// certificate in TLS_KEY_FILE / TLS_CERT_FILE. ALPN offers h2 only (allowHTTP1 off, the default).
const http2 = require('node:http2');
const { JSON_TYPE, tlsFromEnv, answer, listenNode } = require('./tls-shared');

const server = http2.createSecureServer(tlsFromEnv());
const sessions = new Set();
server.on('session', (session) => {
  sessions.add(session);
  session.once('close', () => sessions.delete(session));
});
server.on('stream', (stream, headers) => {
  // A client that resets or goes away mid-answer is not a server error.
  stream.on('error', () => {});
  const { status, body } = answer(headers[':method'], headers[':path']);
  stream.respond({ ':status': status, 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) });
  stream.end(body);
});
listenNode(server, () => {
  server.close();
  for (const session of sessions) session.destroy();
});
