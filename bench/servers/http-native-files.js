'use strict';
// http-native server for the file rows of `npm run bench` (bench/files.js): the directory
// FILES_ROOT mounted at /files/ with app.static, answered by Rust. FILES_COMPRESS=1 turns on
// compression (createApp({ compression: true })), as an app that compresses would. Started
// directly, so the runner's PID is the server's; PORT picks the port (0 = any); prints one line
// `READY <port> <driver>` once listening. HTTP_NATIVE_DRIVER=legacy forces epoll.
const { createApp } = require('../..');
const { listenForBench } = require('./http-native-listen');

const compress = process.env.FILES_COMPRESS === '1';
// Long keep-alive so a run never races the server's idle timeout.
const app = createApp({ keepAliveTimeout: 60000, ...(compress ? { compression: true } : {}) });
app.static('/files', { root: process.env.FILES_ROOT });

listenForBench(app);
