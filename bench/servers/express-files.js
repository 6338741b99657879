'use strict';
// express.static for the file rows of `npm run bench` (bench/files.js), as its docs teach: the
// directory FILES_ROOT at /files with serve-static's defaults (ETag, Last-Modified, ranges).
// FILES_COMPRESS=1 puts the `compression` middleware in front, with its defaults. PORT picks the
// port (0 = any); prints one line `READY <port>` once listening.
const express = require('express');
const { listenExpress } = require('./express-listen');

const app = express();
if (process.env.FILES_COMPRESS === '1') app.use(require('compression')());
app.use('/files', express.static(process.env.FILES_ROOT));

listenExpress(app);
