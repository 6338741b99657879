'use strict';
// fastify over HTTP/2 for the TLS bench (bench/tls.js): `http2: true` with `https` (the
// certificate in TLS_KEY_FILE / TLS_CERT_FILE; ALPN h2 only, as fastify's http2 docs set it up),
// the routes of servers/tls-shared.js, otherwise its defaults (no logger). PORT picks the port
// (0 = any); prints one line `READY <port>` once listening.
const Fastify = require('fastify');
const { listenFastify } = require('./fastify-listen');
const { tlsFromEnv, fastifyRoutes } = require('./tls-shared');

const app = Fastify({ logger: false, http2: true, https: tlsFromEnv() });
fastifyRoutes(app);
listenFastify(app);
