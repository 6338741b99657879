'use strict';
// What the TLS bench servers (bench/tls.js: https-node.js, http2-node.js, fastify-https.js,
// fastify-http2.js, and http-native.js through http-native-listen.js) share: the certificate the
// runner generated, named by the environment (TLS_KEY_FILE, TLS_CERT_FILE: PEM files; unset =
// plain TCP), and the two routes every one of them answers the same way:
//   GET /users/:id   {"id":"<id>"}, serialized per request (the JS route)
//   GET /cached      {"hello":"world"}: http-native's res.ncache (answered by Rust); node and fastify
//                    have no such cache, so they send the same JSON serialized once at start-up,
//                    the cheapest answer they can give (the closest thing they have to it)
// and how the node servers listen: PORT picks the port (0 = any), one line `READY <port>` once
// listening, SIGTERM closes.
const fs = require('node:fs');

const USERS_PREFIX = '/users/';
const CACHED_PATH = '/cached';
const CACHED_BODY = JSON.stringify({ hello: 'world' });
const JSON_TYPE = 'application/json; charset=utf-8';
// Long keep-alive so a run never races the server's idle timeout.
const KEEP_ALIVE_MS = 60000;

// { key, cert } from the files the environment names, or undefined for plain TCP.
function tlsFromEnv() {
  const { TLS_KEY_FILE, TLS_CERT_FILE } = process.env;
  if (!TLS_KEY_FILE) return undefined;
  return { key: fs.readFileSync(TLS_KEY_FILE), cert: fs.readFileSync(TLS_CERT_FILE) };
}

// The answer to GET `url` for the node servers: { status, body }.
function answer(method, url) {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (method === 'GET' && path === CACHED_PATH) return { status: 200, body: CACHED_BODY };
  if (method === 'GET' && path.startsWith(USERS_PREFIX)) {
    const id = path.slice(USERS_PREFIX.length);
    if (id !== '' && !id.includes('/')) {
      try {
        return { status: 200, body: JSON.stringify({ id: decodeURIComponent(id) }) };
      } catch {
        return { status: 400, body: '{"error":"bad id"}' };
      }
    }
  }
  return { status: 404, body: '{"error":"not found"}' };
}

// The same routes on a fastify app.
function fastifyRoutes(app) {
  app.get('/users/:id', (request, reply) => {
    reply.send({ id: request.params.id });
  });
  app.get(CACHED_PATH, (request, reply) => {
    reply.type(JSON_TYPE).send(CACHED_BODY);
  });
}

function listenNode(server, close) {
  server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
    process.stdout.write(`READY ${server.address().port}\n`);
  });
  process.once('SIGTERM', close);
}

module.exports = { CACHED_PATH, CACHED_BODY, JSON_TYPE, KEEP_ALIVE_MS, tlsFromEnv, answer, fastifyRoutes, listenNode };
