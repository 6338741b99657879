'use strict';
// Express benchmark server, with its defaults (ETag and X-Powered-By stay on, as most apps
// run it). PORT picks the port (0 = any); prints one line `READY <port>` once listening.
const express = require('express');

const app = express();

app.get('/', (req, res) => {
  res.send('Hello, World!');
});
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id });
});
// The JSON parser only on the route that needs it, as the other servers do.
app.post('/echo', express.json(), (req, res) => {
  res.json(req.body);
});

const server = app.listen(Number(process.env.PORT || 0), '127.0.0.1', (err) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  process.stdout.write(`READY ${server.address().port}\n`);
});
// Long keep-alive so the idle-connection measurement never races the server's idle timeout.
server.keepAliveTimeout = 60000;
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
