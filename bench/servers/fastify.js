'use strict';
// fastify benchmark server, with its defaults (no logger). PORT picks the port (0 = any);
// prints one line `READY <port>` once listening.
const Fastify = require('fastify');
const { listenFastify } = require('./fastify-listen');

// Long keep-alive so the idle-connection measurement never races the server's idle timeout.
const app = Fastify({ logger: false, keepAliveTimeout: 60000 });

app.get('/', (request, reply) => {
  reply.type('text/plain; charset=utf-8').send('Hello, World!');
});
app.get('/users/:id', (request, reply) => {
  reply.send({ id: request.params.id });
});
app.post('/echo', (request, reply) => {
  reply.send(request.body);
});

listenFastify(app);
