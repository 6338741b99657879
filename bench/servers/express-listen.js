'use strict';
// How the express bench servers listen and stop (bench/servers/express*.js): PORT picks the port
// (0 = any), one line `READY <port>` once listening, a keep-alive long enough that a run never
// races the server's idle timeout, and SIGTERM closes the server and its connections.
function listenExpress(app) {
  const server = app.listen(Number(process.env.PORT || 0), '127.0.0.1', (err) => {
    if (err) {
      console.error(err);
      process.exit(1);
    }
    process.stdout.write(`READY ${server.address().port}\n`);
  });
  server.keepAliveTimeout = 60000;
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
  });
  return server;
}

module.exports = { listenExpress };
