'use strict';
// http-native's fetch entry under Bun: the same app and routes as bench/servers/http-native.js,
// served by Bun.serve({ fetch: app.fetch }) (js/host/fetch.js on the JavaScript core: no addon,
// no Rust; the cached and static answers come from the JS core). Started by bench/run.js with the
// `bun` devDependency's binary; PORT picks the port (0 = any); prints one line `READY <port> fetch`
// once listening, and SIGTERM stops the server so the process exits by itself.
const { createApp } = require('../..');

// As the native server: long keep-alive, so the idle-connection measurement never races Bun's idle
// timeout (Bun.serve's own, in seconds, at its maximum).
const IDLE_TIMEOUT_S = 255;

const app = createApp();
app.get('/', (req, res) => res.send('Hello, World!'));
app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
app.post('/echo', (req, res) => res.json(req.body));
app.get('/cached', (req, res) => res.ncache({ hello: 'world' }, 60)); // TTL is in seconds
app.static('/static', 'Hello, World!');

const server = Bun.serve({ port: Number(process.env.PORT || 0), hostname: '127.0.0.1', idleTimeout: IDLE_TIMEOUT_S, fetch: app.fetch });
process.stdout.write(`READY ${server.port} fetch\n`);
process.once('SIGTERM', () => server.stop(true));
