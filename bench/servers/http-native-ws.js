'use strict';
// http-native server for the WebSocket rows of `npm run bench` (bench/ws.js), written with the
// surfaces issue 13 gives a user: app.ws() with an echo route, and a broadcast route whose sockets
// subscribe in `open` and whose "pub" message (or POST /publish) calls app.publish(), fanned out
// by Rust. The same routes as ws-node.js (see servers/ws-shared.js); every option at its default.
// Started directly, so the runner's PID is the server's; PORT picks the port (0 = any); prints
// one line `READY <port> <driver>` once listening. HTTP_NATIVE_DRIVER=legacy forces epoll.
const { createApp } = require('../..');
const { listenForBench } = require('./http-native-listen');
const shared = require('./ws-shared');

// Long keep-alive so a run never races the server's idle timeout.
const app = createApp({ keepAliveTimeout: 60000 });

function publish() {
  app.publish(shared.TOPIC, shared.BROADCAST_MESSAGE, false);
}

app.ws(shared.ECHO_PATH, {
  message(ws, data, isBinary) {
    ws.send(data, isBinary);
  },
});

app.ws(shared.BROADCAST_PATH, {
  open(ws) {
    if (shared.wantsSubscription(ws.query.subscribe)) ws.subscribe(shared.TOPIC);
  },
  message(ws, data) {
    if (data.equals(shared.PUBLISH_COMMAND)) publish();
  },
});

app.post('/publish', (req, res) => {
  publish();
  res.status(204).end();
});

app.get('/subscribers', (req, res) => {
  res.json({ subscribers: app.numSubscribers(shared.TOPIC) });
});

listenForBench(app);
