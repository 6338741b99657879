'use strict';
// How the fastify bench servers listen and stop (bench/servers/fastify*.js): PORT picks the port
// (0 = any), one line `READY <port>` once listening, and SIGTERM closes the app. `ready` (a
// promise) is awaited first, for plugins the app registers.
function listenFastify(app, ready = Promise.resolve()) {
  ready
    .then(() => app.listen({ port: Number(process.env.PORT || 0), host: '127.0.0.1' }))
    .then(() => process.stdout.write(`READY ${app.server.address().port}\n`))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
  process.once('SIGTERM', () => {
    app.close();
  });
}

module.exports = { listenFastify };
