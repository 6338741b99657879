'use strict';
// The app of the cores rows (bench/cores.js), as a module exporting it without listening, so that
// serve() can load it in every worker thread and http-native-cores.js can listen with it in one:
//   GET /users/:id   {"id":"<id>"}, serialized per request (the JS route)
//   GET /cached      {"hello":"world"} through res.ncache: answered by Rust once stored, from the
//                    cache every I/O thread and worker shares
// The same routes and bodies as the TLS rows' servers (tls-shared.js), which fastify-cluster.js
// serves from fastify.
const { createApp } = require('../..');
const { CACHED_PATH, KEEP_ALIVE_MS } = require('./tls-shared');

const app = createApp({ keepAliveTimeout: KEEP_ALIVE_MS });

app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
// TTL in seconds: longer than any run, so every request after the first is a hit.
app.get(CACHED_PATH, (req, res) => res.ncache({ hello: 'world' }, 3600));

module.exports = app;
