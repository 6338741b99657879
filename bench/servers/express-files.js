'use strict';
// express.static for the file rows of `npm run bench` (bench/files.js), as its docs teach: the
// directory FILES_ROOT at /files with serve-static's defaults (ETag, Last-Modified, ranges).
// FILES_COMPRESS=1 puts the `compression` middleware in front, with its defaults. PORT picks the
// port (0 = any); prints one line `READY <port>` once listening.
const express = require('express');

const app = express();
if (process.env.FILES_COMPRESS === '1') app.use(require('compression')());
app.use('/files', express.static(process.env.FILES_ROOT));

const server = app.listen(Number(process.env.PORT || 0), '127.0.0.1', (err) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  process.stdout.write(`READY ${server.address().port}\n`);
});
// Long keep-alive so a run never races the server's idle timeout.
server.keepAliveTimeout = 60000;
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
