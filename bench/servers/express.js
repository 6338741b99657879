'use strict';
// Express benchmark server, with its defaults (ETag and X-Powered-By stay on, as most apps
// run it). PORT picks the port (0 = any); prints one line `READY <port>` once listening.
const express = require('express');
const { listenExpress } = require('./express-listen');

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

listenExpress(app);
