'use strict';
// The clients of the TLS rows (bench/tls.js) besides h2load: the one request that checks a server
// before it is measured (node's https, http and http2 clients, trusting the run's certificate, so
// a wrong certificate, protocol or answer is caught), and the handshake load: `openssl s_time -new`
// processes, each looping a new connection, a full handshake (no session resumption), one
// HTTP/1.0 request and a read to the server's close.

const http = require('node:http');
const https = require('node:https');
const http2 = require('node:http2');
const tls = require('node:tls');
const { runClient } = require('./native-client');

// A check that takes longer than this means a broken server.
const CHECK_TIMEOUT_MS = 10000;

function timeoutAfter(what, onTimeout) {
  const timer = setTimeout(onTimeout, CHECK_TIMEOUT_MS, new Error(`${what}: nothing within ${CHECK_TIMEOUT_MS / 1000} s`));
  return () => clearTimeout(timer);
}

function expectAnswer(status, body, scenario) {
  if (status !== 200) throw new Error(`status ${status}`);
  if (body !== scenario.body) throw new Error(`unexpected body ${JSON.stringify(body.slice(0, 80))}`);
}

function checkH1(port, scenario, ca) {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path: scenario.path, agent: false };
    const get = scenario.tls ? (cb) => https.get({ ...options, ca, ALPNProtocols: ['http/1.1'] }, cb) : (cb) => http.get(options, cb);
    const req = get((res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        try {
          expectAnswer(res.statusCode, Buffer.concat(chunks).toString('utf8'), scenario);
          resolve({});
        } catch (err) {
          reject(err);
        }
      });
    });
    req.setTimeout(CHECK_TIMEOUT_MS, () => req.destroy(new Error('no answer')));
    req.on('error', reject);
  });
}

function checkH2(port, scenario, ca) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`${scenario.tls ? 'https' : 'http'}://127.0.0.1:${port}`, scenario.tls ? { ca } : {});
    const fail = (err) => {
      session.destroy();
      reject(err);
    };
    const done = timeoutAfter('HTTP/2 check', fail);
    session.on('error', (err) => {
      done();
      fail(err);
    });
    session.once('connect', () => {
      if (scenario.tls && session.alpnProtocol !== 'h2') {
        done();
        return fail(new Error(`ALPN chose ${session.alpnProtocol}, not h2`));
      }
      const req = session.request({ ':path': scenario.path });
      let status;
      const chunks = [];
      req.on('response', (headers) => (status = headers[':status']));
      req.on('data', (c) => chunks.push(c));
      req.on('error', (err) => {
        done();
        fail(err);
      });
      req.on('end', () => {
        done();
        session.close();
        try {
          expectAnswer(status, Buffer.concat(chunks).toString('utf8'), scenario);
          resolve({});
        } catch (err) {
          reject(err);
        }
      });
    });
  });
}

// One request as the load will send it: resolves with {}, or rejects with what is wrong.
function checkRoute(port, scenario, ca) {
  return scenario.proto === 'h2' ? checkH2(port, scenario, ca) : checkH1(port, scenario, ca);
}

// The request s_time sends (`GET <path> HTTP/1.0`, no Host, no ALPN), read to the server's close:
// s_time waits for that close, so a server that keeps an HTTP/1.0 connection open would stall it.
// Resolves with { responseBytes }, the bytes each s_time connection should read.
function checkHandshakeRoute(port, scenario, ca) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca });
    const chunks = [];
    const done = timeoutAfter('HTTP/1.0 over TLS: an answer and the close', (err) => {
      socket.destroy();
      reject(err);
    });
    socket.once('secureConnect', () => socket.write(`GET ${scenario.path} HTTP/1.0\r\n\r\n`));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (err) => {
      done();
      reject(err);
    });
    socket.on('end', () => {
      done();
      socket.destroy();
      const raw = Buffer.concat(chunks);
      const text = raw.toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const split = text.indexOf('\r\n\r\n');
      try {
        expectAnswer(status ? Number(status[1]) : `line ${JSON.stringify(text.slice(0, 40))}`, split === -1 ? '' : text.slice(split + 4), scenario);
        resolve({ responseBytes: raw.length });
      } catch (err) {
        reject(err);
      }
    });
  });
}

// `clients` s_time processes for `seconds` (s_time runs whole seconds, and up to one more):
// resolves with { connections, bytesRead, wallSeconds, clientCpuTicks } over all of them.
async function runHandshakes({ port, path, clients, seconds }) {
  const args = ['s_time', '-connect', `127.0.0.1:${port}`, '-new', '-time', String(seconds), '-www', path];
  const t0 = process.hrtime.bigint();
  const runs = await Promise.all(Array.from({ length: clients }, () => runClient('openssl', args, seconds + 1)));
  const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  let connections = 0;
  let bytesRead = 0;
  let clientCpuTicks = 0;
  for (const run of runs) {
    const m = /(\d+) connections in [\d.]+s; [\d.]+ connections\/user sec, bytes read (\d+)/.exec(run.stdout);
    if (run.code !== 0 || !m) {
      throw new Error(`openssl s_time exited with ${run.code}: ${`${run.stdout}\n${run.stderr}`.replace(/\*+/g, '').trim().split('\n').slice(-3).join(' / ')}`);
    }
    connections += Number(m[1]);
    bytesRead += Number(m[2]);
    clientCpuTicks += run.cpuTicks || 0;
  }
  return { connections, bytesRead, wallSeconds, clientCpuTicks };
}

module.exports = { checkRoute, checkHandshakeRoute, runHandshakes };
