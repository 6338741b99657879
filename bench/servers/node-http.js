'use strict';
// Plain node:http benchmark server: the baseline without any framework. PORT picks the port
// (0 = any); prints one line `READY <port>` once listening.
const http = require('node:http');

const HELLO = 'Hello, World!';

function sendJson(res, value) {
  const body = JSON.stringify(value);
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function sendStatus(res, status) {
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(http.STATUS_CODES[status]);
}

function echo(req, res) {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    let value;
    try {
      value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return sendStatus(res, 400);
    }
    sendJson(res, value);
  });
}

function handle(req, res) {
  const q = req.url.indexOf('?');
  const path = q === -1 ? req.url : req.url.slice(0, q);
  if (req.method === 'GET' && path === '/') {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': HELLO.length });
    return res.end(HELLO);
  }
  if (req.method === 'GET' && path.startsWith('/users/')) {
    const id = path.slice('/users/'.length);
    if (id !== '' && !id.includes('/')) {
      try {
        return sendJson(res, { id: decodeURIComponent(id) });
      } catch {
        return sendStatus(res, 400);
      }
    }
  }
  if (req.method === 'POST' && path === '/echo') return echo(req, res);
  sendStatus(res, 404);
}

const server = http.createServer(handle);
// Long keep-alive so the idle-connection measurement never races the server's idle timeout.
server.keepAliveTimeout = 60000;
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
