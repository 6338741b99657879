'use strict';
// node:https for the HTTPS/1.1 rows of the TLS bench (bench/tls.js): the plain-node baseline, as
// node-http.js is for the route rows, with the routes of servers/tls-shared.js and the
// certificate in TLS_KEY_FILE / TLS_CERT_FILE.
const https = require('node:https');
const { JSON_TYPE, KEEP_ALIVE_MS, tlsFromEnv, answer, listenNode } = require('./tls-shared');

const server = https.createServer(tlsFromEnv(), (req, res) => {
  const { status, body } = answer(req.method, req.url);
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = KEEP_ALIVE_MS;
listenNode(server, () => {
  server.close();
  server.closeAllConnections();
});
