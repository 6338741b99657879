'use strict';
// The WebSocket rows' peer (bench/ws.js): the `ws` package on node:http, written as its README
// teaches — WebSocketServers with `noServer` sharing one http.Server through its 'upgrade' event,
// and a broadcast that loops over the subscribers in JS, sending to each one that is OPEN. ws
// has no topics: the subscribers are a Set, as ws users keep them. The same routes as
// http-native-ws.js (see servers/ws-shared.js). Started directly, so the runner's PID is the
// server's; PORT picks the port (0 = any); prints one line `READY <port>` once listening.
const http = require('node:http');
const { WebSocketServer, WebSocket } = require('ws');
const shared = require('./ws-shared');

// ws's defaults but for maxPayload, which is http-native's default (1 MiB; ws's is 100 MiB), and
// compression off, as on the http-native routes.
const OPTIONS = { noServer: true, maxPayload: 1024 * 1024, perMessageDeflate: false };
const echo = new WebSocketServer(OPTIONS);
const broadcast = new WebSocketServer(OPTIONS);
const subscribers = new Set();

function publish() {
  for (const client of subscribers) {
    if (client.readyState === WebSocket.OPEN) client.send(shared.BROADCAST_MESSAGE, { binary: false });
  }
}

echo.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

broadcast.on('connection', (ws, req) => {
  if (shared.wantsSubscription(new URL(req.url, 'http://x').searchParams.get('subscribe'))) {
    subscribers.add(ws);
    ws.on('close', () => subscribers.delete(ws));
  }
  ws.on('message', (data) => {
    if (data.equals(shared.PUBLISH_COMMAND)) publish();
  });
});

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/publish') {
    publish();
    res.writeHead(204);
    return res.end();
  }
  if (req.method === 'GET' && req.url === '/subscribers') {
    const body = JSON.stringify({ subscribers: subscribers.size });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    return res.end(body);
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('Not Found');
});

server.on('upgrade', (req, socket, head) => {
  const { pathname } = new URL(req.url, 'http://x');
  const wss = pathname === shared.ECHO_PATH ? echo : pathname === shared.BROADCAST_PATH ? broadcast : null;
  if (!wss) return socket.destroy();
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});

// Long keep-alive so a run never races the server's idle timeout.
server.keepAliveTimeout = 60000;
server.listen({ port: Number(process.env.PORT || 0), host: '127.0.0.1' }, () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});
process.once('SIGTERM', () => {
  for (const wss of [echo, broadcast]) for (const ws of wss.clients) ws.terminate();
  server.close();
  server.closeAllConnections();
});
