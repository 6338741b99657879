'use strict';
// fastify over HTTPS/1.1 for the TLS bench (bench/tls.js): its `https` option with the certificate
// in TLS_KEY_FILE / TLS_CERT_FILE, the routes of servers/tls-shared.js, otherwise its defaults (no
// logger). PORT picks the port (0 = any); prints one line `READY <port>` once listening.
const Fastify = require('fastify');
const { listenFastify } = require('./fastify-listen');
const { KEEP_ALIVE_MS, tlsFromEnv, fastifyRoutes } = require('./tls-shared');

const app = Fastify({ logger: false, keepAliveTimeout: KEEP_ALIVE_MS, https: tlsFromEnv() });
fastifyRoutes(app);
listenFastify(app);
