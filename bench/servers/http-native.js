'use strict';
// http-native benchmark server. Started by bench/run.js as `node bench/servers/http-native.js`
// (directly, so the runner's PID is the server's PID). PORT picks the port (0 = any); prints
// one line `READY <port> <driver>` once listening. HTTP_NATIVE_DRIVER=legacy forces epoll. The TLS
// rows (bench/tls.js) run it too, over TLS and HTTP/2 (see http-native-listen.js), on its
// /users/:id and /cached routes.
const { createApp } = require('../..');
const { listenForBench } = require('./http-native-listen');

// Long keep-alive so the idle-connection measurement never races the server's idle timeout.
const app = createApp({ keepAliveTimeout: 60000 });

app.get('/', (req, res) => res.send('Hello, World!'));
app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
app.post('/echo', (req, res) => res.json(req.body));
// Only http-native has these two: they show what the Rust-only answer paths cost.
app.get('/cached', (req, res) => res.ncache({ hello: 'world' }, 60)); // TTL is in seconds
app.static('/static', 'Hello, World!');
// The bridge's counters, which the runner reads around the lone-client run: how many answers JS
// wrote itself and how many batches a waiting JS thread took (busyPoll). Set once listening.
let stats = () => ({});
app.get('/__bridge', (req, res) => res.json(stats().bridge));

listenForBench(app, (server) => {
  stats = () => server.stats();
});
