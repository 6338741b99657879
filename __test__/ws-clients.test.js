'use strict';
// Real WebSocket clients other than the `ws` package: Python's `websockets` (Debian's
// python3-websockets, installed by .ci/run) echoing with and without compression and closing from
// either side with codes, and a page in headless Chromium that opens a WebSocket, exchanges text
// and binary, negotiates permessage-deflate (Chromium offers it), picks a subprotocol and sees the
// server's close code.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const { execFile, spawnSync } = require('node:child_process');
const { withRoot, waitUntil } = require('./helpers');
const { serveWs } = require('./support/ws-serve');
const chromium = require('./support/chromium');

const T = { timeout: 60000 };

// /echo (compression as given) and /plain (none) echo; the text '!end' makes the server close with
// 4000 'bye'. The server's view of each message and each close is recorded.
function echoRoutes(app, seen) {
  for (const [path, compression] of [
    ['/echo', 'shared'],
    ['/plain', false],
  ]) {
    app.ws(
      path,
      {
        upgrade(req, res) {
          const offered = (req.get('sec-websocket-protocol') || '').split(',').map((p) => p.trim());
          if (offered.includes('chat.v2')) res.setHeader('Sec-WebSocket-Protocol', 'chat.v2');
        },
        message(ws, data, isBinary) {
          seen.messages.push({ path, isBinary, length: data.length });
          if (!isBinary && data.toString() === '!end') ws.end(4000, 'bye');
          else if (!isBinary && data.toString() === '!info') ws.send(JSON.stringify({ extensions: ws.extensions, protocol: ws.protocol }));
          else ws.send(data, isBinary);
        },
        close(ws, code, reason) {
          seen.closes.push({ path, code, reason });
        },
      },
      { compression },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Python websockets

// A python3 that can import websockets (Debian's python3-websockets, installed by .ci/run), or why not.
const python = (() => {
  for (const exe of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(exe, ['-c', 'import websockets'], { stdio: 'ignore' });
    if (r.status === 0) return { exe };
  }
  return { skip: 'no python3 with the websockets module (Debian package python3-websockets, installed by .ci/run)' };
})();
if (python.skip) console.log(`# Python websockets tests skipped: ${python.skip}`);

const PYTHON_CLIENT = `
import asyncio, json, os, sys, hashlib
import websockets

base = sys.argv[1]

def extensions(ws):
    # The legacy client (websockets < 14) has response_headers; the new one has response.headers.
    headers = getattr(ws, 'response_headers', None)
    if headers is None:
        headers = ws.response.headers
    return headers.get('Sec-WebSocket-Extensions')

async def echo(path, compression):
    out = {}
    async with websockets.connect(base + path, compression=compression, max_size=2 ** 22) as ws:
        out['extensions'] = extensions(ws)
        await ws.send('héllo ✓')
        out['text'] = await ws.recv()
        data = bytes(range(256)) * 4
        await ws.send(data)
        got = await ws.recv()
        out['binary'] = [type(got).__name__, got == data]
        big = json.dumps([{'id': i, 'name': 'user %d' % (i % 50)} for i in range(20000)])
        await ws.send(big)
        got = await ws.recv()
        out['big_text'] = [len(big), got == big]
        noise = os.urandom(300 * 1024)
        await ws.send(noise)
        got = await ws.recv()
        out['random'] = [len(noise), got == noise]
        await ws.send('')
        out['empty'] = await ws.recv()
        await ws.close(code=4001, reason='py-bye')
        out['client_close'] = [ws.close_code, ws.close_reason]
    return out

async def server_close(path):
    async with websockets.connect(base + path) as ws:
        await ws.send('!end')
        try:
            await ws.recv()
            return ['no close', None]
        except websockets.exceptions.ConnectionClosed:
            return [ws.close_code, ws.close_reason]

async def main():
    out = {}
    out['deflate'] = await echo('/echo', 'deflate')
    out['no_compression'] = await echo('/echo', None)
    out['server_off'] = await echo('/plain', 'deflate')
    out['server_close'] = await server_close('/echo')
    print(json.dumps(out))

asyncio.run(main())
`;

function runPython(args) {
  return new Promise((resolve, reject) => {
    // Asynchronous: a synchronous child would block the server's JS thread in this process.
    execFile(python.exe, ['-c', PYTHON_CLIENT, ...args], { encoding: 'utf8', timeout: 50000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`python websockets client: ${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    );
  });
}

test('Python websockets: echo with and without permessage-deflate, close codes both ways', { ...T, skip: python.skip || false }, async (t) => {
  const seen = { messages: [], closes: [] };
  const s = await serveWs(t, (app) => echoRoutes(app, seen));
  const out = await runPython([`ws://127.0.0.1:${s.port}`]);

  assert.match(out.deflate.extensions, /^permessage-deflate\b/, 'negotiated when both sides want it');
  assert.equal(out.no_compression.extensions, null, 'not when the client does not offer it');
  assert.equal(out.server_off.extensions, null, 'not when the route has compression off');
  for (const name of ['deflate', 'no_compression', 'server_off']) {
    const r = out[name];
    assert.equal(r.text, 'héllo ✓', `${name}: text`);
    assert.deepEqual(r.binary, ['bytes', true], `${name}: binary comes back as bytes, identical`);
    assert.equal(r.big_text[1], true, `${name}: ${r.big_text[0]} bytes of JSON`);
    assert.equal(r.random[1], true, `${name}: ${r.random[0]} random bytes`);
    assert.equal(r.empty, '', `${name}: an empty text message`);
    // The code is echoed (RFC 6455 §5.5.1); the reason need not be.
    assert.equal(r.client_close[0], 4001, `${name}: the server echoed the client's close code`);
  }
  assert.deepEqual(out.server_close, [4000, 'bye'], "the client saw ws.end(4000, 'bye')");

  await waitUntil(() => seen.closes.length === 4, { what: 'four close handler calls' });
  const codes = seen.closes.map((c) => `${c.code} ${c.reason}`).sort();
  assert.deepEqual(codes, ['4000 bye', '4001 py-bye', '4001 py-bye', '4001 py-bye']);
  // The server got each message as sent, decompressed: text as text, binary as binary.
  const kinds = seen.messages.filter((m) => m.path === '/echo').slice(0, 5).map((m) => [m.isBinary, m.length]);
  assert.deepEqual(kinds, [
    [false, Buffer.byteLength('héllo ✓')],
    [true, 1024],
    [false, kinds[2][1]],
    [true, 300 * 1024],
    [false, 0],
  ]);
});

// ---------------------------------------------------------------------------------------------
// Headless Chromium

const PAGE = `
const open = (path, protocols) => new Promise((resolve, reject) => {
  const ws = new WebSocket('ws://' + location.host + path, protocols);
  ws.binaryType = 'arraybuffer';
  const queue = [];
  const waiters = [];
  ws.onmessage = (e) => (waiters.length ? waiters.shift()(e.data) : queue.push(e.data));
  ws.next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)));
  ws.closed = new Promise((r) => ws.addEventListener('close', (e) => r({ code: e.code, reason: e.reason, wasClean: e.wasClean })));
  ws.onopen = () => resolve(ws);
  ws.onerror = () => reject(new Error('WebSocket error on ' + path));
});
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

async function exchange(path) {
  const ws = await open(path, ['chat.v1', 'chat.v2']);
  const out = { extensions: ws.extensions, protocol: ws.protocol };
  ws.send('héllo ✓');
  out.text = await ws.next();
  const bytes = new Uint8Array(70000).map((_, i) => (i * 7) & 255);
  ws.send(bytes);
  const back = await ws.next();
  out.binary = [back instanceof ArrayBuffer, same([...new Uint8Array(back)], [...bytes])];
  const big = JSON.stringify(Array.from({ length: 20000 }, (_, i) => ({ id: i, name: 'user ' + (i % 50) })));
  ws.send(big);
  out.bigText = (await ws.next()) === big;
  ws.send('!info');
  out.serverView = JSON.parse(await ws.next());
  ws.send('!end');
  out.close = await ws.closed;
  return out;
}

return { compressed: await exchange('/echo'), plain: await exchange('/plain') };
`;

test('headless Chromium: a page exchanges text and binary, negotiates compression and a subprotocol, sees the close code', { ...T, skip: chromium.skip }, async (t) => {
  const seen = { messages: [], closes: [] };
  let report;
  const s = await serveWs(t, (app) => {
    withRoot(app);
    echoRoutes(app, seen);
    app.get('/page', (req, res) => res.html(chromium.page(PAGE)));
    report = chromium.reports(app);
  });
  const result = await chromium.run(t, `${s.base}/page`, report);

  const { compressed, plain } = result;
  assert.match(compressed.extensions, /^permessage-deflate\b/, 'Chromium negotiated permessage-deflate');
  assert.match(compressed.serverView.extensions, /^permessage-deflate\b/);
  assert.equal(plain.extensions, '', 'no extension on the route with compression off');
  assert.equal(plain.serverView.extensions, '');
  for (const [name, r] of Object.entries(result)) {
    assert.equal(r.protocol, 'chat.v2', `${name}: the subprotocol the hook chose`);
    assert.equal(r.serverView.protocol, 'chat.v2');
    assert.equal(r.text, 'héllo ✓', `${name}: text`);
    assert.deepEqual(r.binary, [true, true], `${name}: binary as an ArrayBuffer, identical`);
    assert.equal(r.bigText, true, `${name}: a large text message`);
    assert.deepEqual(r.close, { code: 4000, reason: 'bye', wasClean: true }, `${name}: the server's close`);
  }
  await waitUntil(() => seen.closes.length === 2, { what: 'two close handler calls' });
  assert.deepEqual(seen.closes.map((c) => c.code), [4000, 4000]);
  const echoKinds = seen.messages.filter((m) => m.path === '/echo').map((m) => m.isBinary);
  assert.deepEqual(echoKinds, [false, true, false, false, false], 'text, binary, text, !info, !end as the server saw them');
});
