'use strict';
// The one app the TLS and HTTP/2 tests serve over every transport (plain HTTP/1.1, HTTPS, h2 over
// TLS, h2c), so a test can ask the same question of each and expect the same answer: JSON,
// parameters and query, JSON and streamed request bodies, a streamed response, SSE, res.ncache,
// an app.static body and a directory mount, res.sendFile, a compressible answer, a throwing
// handler, and /info, which says how the request arrived. Compression is on, as an app that
// serves browsers would have it.
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// Above the compression threshold (1024 bytes) and very compressible, so an encoded answer shows.
const BIG = { items: Array.from({ length: 300 }, (_, i) => ({ id: i, name: `item number ${i}`, tags: ['a', 'b', 'c'] })) };
const PAGE = `<!doctype html><title>page</title><p>${'a page served by sendFile and by the mount. '.repeat(60)}</p>\n`;
const ROBOTS = 'User-agent: *\nDisallow:\n';
const STREAM_LINES = 5;

// The files under the mount (and the one sendFile answers), written once per process.
let tree;
function files() {
  if (tree) return tree;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-tls-files-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'page.html'), PAGE);
  fs.mkdirSync(path.join(dir, 'docs'));
  fs.writeFileSync(path.join(dir, 'docs', 'index.html'), '<p>docs index</p>\n');
  fs.writeFileSync(path.join(dir, 'data.bin'), crypto.randomBytes(200 * 1024));
  tree = { dir, dataSha256: crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, 'data.bin'))).digest('hex') };
  return tree;
}

// Registers the routes on `app`; `seen` (optional) counts handler runs by name, so a test can tell
// an answer from Rust's cache from one a handler made.
function routes(app, seen = {}) {
  const count = (name) => (seen[name] = (seen[name] || 0) + 1);
  const { dir } = files();
  app.get('/', (req, res) => res.send('ok'));
  app.get('/json', (req, res) => res.json({ hello: 'world', n: 42 }));
  app.get('/info', (req, res) => {
    const cert = req.clientCertificate;
    res.json({
      protocol: req.protocol,
      secure: req.secure,
      httpVersion: req.httpVersion,
      hasClientCertificate: cert !== undefined,
      clientSubject: cert ? cert.subject : null,
      isX509: cert ? cert instanceof crypto.X509Certificate : null,
    });
  });
  app.get('/users/:id', (req, res) => res.json({ id: req.params.id, query: req.query }));
  app.get('/id/:n', (req, res) => res.json({ n: Number(req.params.n) }));
  app.post('/echo', (req, res) => res.json({ got: req.body, type: req.get('content-type') }));
  app.post('/upload', { body: 'stream' }, async (req, res) => {
    // How the body was cut into pieces depends on the transport: only what arrived is answered.
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    for await (const chunk of req) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    res.json({ bytes, sha256: hash.digest('hex') });
  });
  app.get('/stream', async (req, res) => {
    res.type('text');
    for (let i = 0; i < STREAM_LINES; i++) {
      res.write(`line ${i}\n`);
      // One write per turn of the event loop, so each piece goes out on its own.
      await new Promise((resolve) => setImmediate(resolve));
    }
    res.end();
  });
  app.get('/sse', (req, res) => {
    count('sse');
    const sse = res.sse({ heartbeat: 0 });
    let id = 0;
    const timer = setInterval(() => sse.send({ id: ++id, event: 'tick', data: { id } }), 10);
    sse.on('close', () => {
      clearInterval(timer);
      count('sseClosed');
    });
  });
  app.get('/cached', (req, res) => {
    count('cached');
    res.ncache({ cached: true, runs: seen.cached }, 60);
  });
  app.get('/big', (req, res) => res.json(BIG));
  app.get('/file', (req, res) => res.sendFile(path.join(dir, 'page.html')));
  app.get('/throw', () => {
    throw new Error('boom');
  });
  app.get('/throw-async', async () => {
    await new Promise((resolve) => setImmediate(resolve));
    throw new Error('async boom');
  });
  app.static('/robots.txt', ROBOTS, { type: 'text' });
  app.static('/files', { root: dir });
  return seen;
}

module.exports = { routes, files, BIG, PAGE, ROBOTS, STREAM_LINES };
