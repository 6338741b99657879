'use strict';
// The peer of the cores rows (bench/cores.js): fastify on node:cluster, WORKERS worker processes
// (default 2) serving the TLS rows' two routes (tls-shared.js: the JS route, and the cached body
// sent from JS, serialized once at start-up: fastify has no native cache). The primary forks the
// workers and hands them connections (node:cluster's default round-robin on Linux, as PM2 and
// most home-made clusters run it). PORT picks the port (0 = any: every worker gets the same one).
// The primary prints `READY <port>` once every worker listens; SIGTERM to it stops the workers,
// and it exits once they have.
const cluster = require('node:cluster');
const { KEEP_ALIVE_MS, fastifyRoutes } = require('./tls-shared');

const HOST = '127.0.0.1';

if (cluster.isPrimary) {
  const workers = Number(process.env.WORKERS || 2);
  if (!Number.isInteger(workers) || workers < 1) {
    console.error(`WORKERS must be an integer >= 1, got ${process.env.WORKERS}`);
    process.exit(1);
  }
  let listening = 0;
  let alive = workers;
  let stopping = false;
  cluster.on('listening', (worker, address) => {
    listening += 1;
    if (listening === workers) process.stdout.write(`READY ${address.port}\n`);
  });
  // A worker that dies before the runner stops it is a failed run, not something to hide.
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      console.error(`worker ${worker.process.pid} exited (code ${code}, signal ${signal})`);
      process.exitCode = 1;
    }
    alive -= 1;
    if (alive === 0) process.exit();
  });
  process.once('SIGTERM', () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.kill('SIGTERM');
  });
  for (let i = 0; i < workers; i++) cluster.fork();
} else {
  const app = require('fastify')({ logger: false, keepAliveTimeout: KEEP_ALIVE_MS });
  fastifyRoutes(app);
  app.listen({ port: Number(process.env.PORT || 0), host: HOST }).catch((err) => {
    console.error(err);
    process.exit(1);
  });
  process.once('SIGTERM', () => app.close().then(() => process.exit(0)));
}
