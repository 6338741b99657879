'use strict';
// The http-native server of the cores rows (bench/cores.js), on the app of cores-app.js:
//   IO_THREADS=n           listen({ ioThreads: n }) in this thread: n I/O threads, one JS thread
//   WORKERS=n              serve(cores-app.js, { workers: n }): n worker threads, each its own JS
//                          thread and I/O thread (IO_THREADS, when set, is passed on to each)
//   BALANCE=acceptor       listen's `balance`: one I/O thread accepts and hands connections out,
//                          instead of each thread's own SO_REUSEPORT socket (the default)
// PORT picks the port (0 = any). Prints `READY <port> <driver> stats=<port>` once listening: the
// second port (node:http, so reading it costs the server measured nothing) answers GET / with
// what the server says it runs and its request counters, summed and per thread or per worker,
// which the runner reads around each run (the balance between threads). SIGTERM closes the
// server (every worker drained) so the process exits by itself.
const http = require('node:http');
const path = require('node:path');
const httpNative = require('../..');

const HOST = '127.0.0.1';
// The drain a SIGTERM grants (the runner's SIGKILL follows 5 s after it).
const CLOSE_TIMEOUT_MS = 2000;

function count(name) {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be an integer >= 1, got ${value}`);
  return n;
}

// Request counters of one server's stats(): { total, native, js }.
const requestsOf = (stats) => ({ total: stats.requests.total, native: stats.requests.native, js: stats.requests.js });

async function start() {
  const ioThreads = count('IO_THREADS');
  const workers = count('WORKERS');
  const port = Number(process.env.PORT || 0);
  // ioThreads only when asked for: a build without it rejects the option, and 1 is its default.
  const threads = {
    ...(ioThreads !== undefined && ioThreads > 1 && { ioThreads }),
    ...(process.env.BALANCE && { balance: process.env.BALANCE }),
  };
  if (workers !== undefined) {
    if (typeof httpNative.serve !== 'function') throw new Error('this build of http-native has no serve() (issue 17)');
    const cluster = await httpNative.serve(path.join(__dirname, 'cores-app.js'), { workers, port, host: HOST, ...threads });
    return {
      port: cluster.port,
      driver: cluster.driver,
      close: () => cluster.close({ timeout: CLOSE_TIMEOUT_MS }),
      describe: async () => {
        const stats = await cluster.stats();
        return { workers: cluster.workers, ioThreads: ioThreads || 1, requests: requestsOf(stats), parts: (stats.workers || []).map(requestsOf) };
      },
    };
  }
  const server = await require('./cores-app').listen({ port, host: HOST, ...threads });
  return {
    port: server.port,
    driver: server.driver,
    close: () => server.close({ timeout: CLOSE_TIMEOUT_MS }),
    describe: async () => {
      const stats = server.stats();
      // A build before issue 17 has neither: it runs one I/O thread.
      return { workers: 0, ioThreads: server.ioThreads === undefined ? 1 : server.ioThreads, requests: requestsOf(stats), parts: (stats.threads || []).map(requestsOf) };
    },
  };
}

function statsPort(running) {
  const control = http.createServer((req, res) => {
    running
      .describe()
      .then((d) => res.end(JSON.stringify(d)))
      .catch((err) => {
        res.statusCode = 500;
        res.end(String(err && err.message));
      });
  });
  return new Promise((resolve) => control.listen(0, HOST, () => resolve(control)));
}

start()
  .then(async (running) => {
    const control = await statsPort(running);
    process.stdout.write(`READY ${running.port} ${running.driver || 'unknown'} stats=${control.address().port}\n`);
    process.once('SIGTERM', () => {
      control.close();
      running.close().catch((err) => {
        console.error(err);
        process.exitCode = 1;
      });
    });
  })
  .catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
