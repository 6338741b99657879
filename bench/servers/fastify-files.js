'use strict';
// @fastify/static for the file rows of `npm run bench` (bench/files.js), as its docs teach: the
// directory FILES_ROOT at /files/ with the plugin's defaults. FILES_COMPRESS=1 registers
// @fastify/compress first, with its defaults. PORT picks the port (0 = any); prints one line
// `READY <port>` once listening.
const Fastify = require('fastify');
const { listenFastify } = require('./fastify-listen');

// Long keep-alive so a run never races the server's idle timeout.
const app = Fastify({ logger: false, keepAliveTimeout: 60000 });

async function plugins() {
  if (process.env.FILES_COMPRESS === '1') await app.register(require('@fastify/compress'));
  await app.register(require('@fastify/static'), { root: process.env.FILES_ROOT, prefix: '/files/' });
}

listenFastify(app, plugins());
