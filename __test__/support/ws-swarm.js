'use strict';
// A child process holding many WebSocket clients on raw sockets, for the pub/sub test with 10,000
// subscribers: in the test's own process, the server's sockets and the clients' would together pass
// the file-descriptor limit, and 10,000 `ws` instances would cost more than the thing under test.
//
// Run with fork(this file, [port, path, count]). Over IPC it sends { ready: count } once every
// client got its 101 (or { error }), then, on { expect: [text, ...] } from the parent, waits until
// every client has received at least that many data frames and answers { report } with how many
// got exactly those texts, in order and nothing else, and the first few that did not. On
// { exit: true } it closes everything and exits.
const net = require('node:net');
const crypto = require('node:crypto');
const { parseFrame } = require('./ws-frames');

const [port, path, countArg] = process.argv.slice(2);
const COUNT = Number(countArg);
// Handshakes in flight at once: well under the server's listen backlog, so no SYN is dropped
// (a dropped SYN costs a retransmission second, not a failure, but slows the test).
const IN_FLIGHT = 256;
// Clients whose problems are described in the report (the rest are only counted).
const DESCRIBED = 5;

const clients = [];
let expected = null;

function send(msg) {
  process.send(msg);
}

// One client: the handshake, then every data frame's text in `texts`.
function openOne(index) {
  return new Promise((resolve, reject) => {
    const key = crypto.randomBytes(16).toString('base64');
    const socket = net.connect({ port: Number(port), host: '127.0.0.1' });
    const client = { index, socket, buf: Buffer.alloc(0), upgraded: false, texts: [], problems: [], ended: false };
    socket.setNoDelay(true);
    socket.on('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on('data', (d) => {
      client.buf = client.buf.length === 0 ? d : Buffer.concat([client.buf, d]);
      if (!client.upgraded) {
        const end = client.buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = client.buf.subarray(0, end).toString('latin1');
        if (!head.startsWith('HTTP/1.1 101 ')) {
          reject(new Error(`client ${index}: ${head.split('\r\n')[0]}`));
          socket.destroy();
          return;
        }
        client.upgraded = true;
        client.buf = client.buf.subarray(end + 4);
        resolve(client);
      }
      for (;;) {
        const f = parseFrame(client.buf);
        if (f === null) break;
        client.buf = client.buf.subarray(f.size);
        if (f.opcode === 0x1 && f.fin) client.texts.push(f.payload.toString('utf8'));
        else if (f.opcode !== 0x9 && f.opcode !== 0xa) client.problems.push(`frame opcode ${f.opcode} fin ${f.fin}`);
      }
      check();
    });
    socket.on('error', (err) => {
      client.problems.push(`socket error ${err.code || err.message}`);
      if (!client.upgraded) reject(err);
    });
    socket.on('close', () => {
      client.ended = true;
      if (!client.upgraded) reject(new Error(`client ${index}: closed before the 101`));
      check();
    });
    clients.push(client);
  });
}

async function openAll() {
  let next = 0;
  const worker = async () => {
    while (next < COUNT) await openOne(next++);
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, COUNT) }, worker));
}

// Once every client has as many texts as expected (or ended, or had a problem), reports.
function check() {
  if (expected === null) return;
  const waiting = clients.some((c) => c.texts.length < expected.length && !c.ended && c.problems.length === 0);
  if (waiting) return;
  const bad = [];
  let exact = 0;
  for (const c of clients) {
    const same = c.texts.length === expected.length && c.texts.every((t, i) => t === expected[i]);
    if (same && c.problems.length === 0 && !c.ended) exact++;
    else if (bad.length < DESCRIBED) bad.push({ index: c.index, texts: c.texts.slice(0, 4).map((t) => t.slice(0, 40)), problems: c.problems, ended: c.ended });
  }
  expected = null;
  send({ report: { clients: clients.length, exact, bad } });
}

process.on('message', (msg) => {
  if (msg.expect) {
    expected = msg.expect;
    check();
  } else if (msg.exit) {
    for (const c of clients) c.socket.destroy();
    process.disconnect();
  }
});

openAll().then(
  () => send({ ready: clients.length }),
  (err) => send({ error: String(err && err.stack ? err.stack : err) }),
);
