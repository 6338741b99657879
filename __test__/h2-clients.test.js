'use strict';
// HTTP/2 with clients other than node's: curl (--http2 over TLS, --http2-prior-knowledge on h2c),
// Python httpx with http2=True (both), h2load (nghttp2's load tool, a short run on both: every
// request must succeed), and headless Chromium over HTTPS trusting the test certificate, whose
// page reports that it talked h2.
const { test } = require('./support/backends').tests(__filename);
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { certs, skip, spkiHash } = require('./support/tls-certs');
const { serveTls, run, missing, pythonWith } = require('./support/tls-client');
const { routes, files, PAGE, BIG } = require('./support/tls-app');
const chromium = require('./support/chromium');

const T = { timeout: 90000, skip };
const APP = { appOptions: { compression: true } };
const MODES = [
  ['TLS', APP, ['--http2']],
  ['h2c', { ...APP, tls: false, http2: true }, ['--http2-prior-knowledge']],
];
// h2load's run: 200 requests over 2 connections, 10 streams each at a time. Short: the machine is
// shared, and what is checked is that every request succeeds, not how fast.
const H2LOAD = { requests: 200, clients: 2, streams: 10 };

for (const [mode, options, flag] of MODES) {
  test(`curl ${flag[0]} (${mode}): HTTP/2 GET, POST, a streamed upload, HEAD, compression`, { ...T, skip: skip || missing.curlHttp2 }, async (t) => {
    const s = await serveTls(t, (app) => routes(app), options);
    const curl = (...args) => run('curl', ['-sS', ...flag, '--cacert', certs().caFile, ...args]);
    assert.equal(await curl('-w', '\n%{http_version} %{http_code}', `${s.origin}/json`), '{"hello":"world","n":42}\n2 200');
    assert.equal(JSON.parse(await curl(`${s.origin}/info`)).httpVersion, '2.0');
    const posted = await curl('-H', 'content-type: application/json', '--data-binary', '{"x":[1,2]}', `${s.origin}/echo`);
    assert.deepEqual(JSON.parse(posted), { got: { x: [1, 2] }, type: 'application/json' });

    const upload = path.join(certs().dir, `upload-${mode}.bin`);
    const data = crypto.randomBytes(1536 * 1024);
    fs.writeFileSync(upload, data);
    const got = JSON.parse(await curl('-H', 'content-type: application/octet-stream', '--data-binary', `@${upload}`, `${s.origin}/upload`));
    assert.equal(got.bytes, data.length);
    assert.equal(got.sha256, crypto.createHash('sha256').update(data).digest('hex'));

    const head = await curl('-I', `${s.origin}/files/page.html`);
    assert.match(head, /^HTTP\/2 200 ?\r\n/);
    assert.match(head, new RegExp(`\\r\\ncontent-length: ${Buffer.byteLength(PAGE)}\\r\\n`));
    assert.doesNotMatch(head, /\r\n(connection|transfer-encoding|keep-alive):/i);

    const compressed = await curl('--compressed', '-D', '-', `${s.origin}/big`);
    assert.match(compressed, /\r\ncontent-encoding: (br|gzip|zstd)\r\n/);
    assert.deepEqual(JSON.parse(compressed.slice(compressed.indexOf('\r\n\r\n') + 4)), BIG);

    const file = await curl('-w', '%{http_version}', '-o', '/dev/null', `${s.origin}/files/data.bin`);
    assert.equal(file, '2');
  });
}

const HTTPX_H2_CLIENT = `
import json, sys, hashlib, httpx
base, ca, tls = sys.argv[1], sys.argv[2], sys.argv[3] == 'tls'
# Over TLS ALPN picks h2; without TLS, http1=False makes httpx speak h2c with prior knowledge.
client = httpx.Client(http2=True, verify=ca) if tls else httpx.Client(http1=False, http2=True)
out = {}
with client as c:
    r = c.get(base + '/json')
    out['json'] = [r.status_code, r.http_version, r.json()]
    out['info'] = c.get(base + '/info').json()
    r = c.post(base + '/echo', json={'k': 'v'})
    out['post'] = [r.http_version, r.json()]
    r = c.get(base + '/big', headers={'accept-encoding': 'gzip'})
    out['big'] = [r.http_version, r.headers.get('content-encoding'), len(r.json()['items'])]
    r = c.get(base + '/files/data.bin')
    out['file'] = [r.http_version, hashlib.sha256(r.content).hexdigest()]
    r = c.get(base + '/nope')
    out['404'] = [r.http_version, r.status_code]
    out['headers'] = sorted(set(r.headers.keys()) & {'connection', 'transfer-encoding', 'keep-alive'})
print(json.dumps(out))
`;

const httpx = pythonWith('httpx', 'h2');
for (const [mode, options] of MODES) {
  test(`Python httpx with http2=True (${mode})`, { ...T, skip: skip || httpx.skip }, async (t) => {
    const s = await serveTls(t, (app) => routes(app), options);
    const out = JSON.parse(await run(httpx.exe, ['-c', HTTPX_H2_CLIENT, s.origin, certs().caFile, mode === 'TLS' ? 'tls' : 'h2c']));
    assert.deepEqual(out.json, [200, 'HTTP/2', { hello: 'world', n: 42 }]);
    assert.equal(out.info.httpVersion, '2.0');
    assert.deepEqual(out.post, ['HTTP/2', { got: { k: 'v' }, type: 'application/json' }]);
    assert.deepEqual(out.big, ['HTTP/2', 'gzip', BIG.items.length]);
    assert.deepEqual(out.file, ['HTTP/2', files().dataSha256]);
    assert.deepEqual(out['404'], ['HTTP/2', 404]);
    assert.deepEqual(out.headers, []);
  });
}

// h2load's summary: { total, started, done, succeeded, failed, errored, timeout, protocol, 2xx }.
function h2loadSummary(out) {
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const status = /status codes: (\d+) 2xx/.exec(out);
  const protocol = /Application protocol: (\S+)/.exec(out);
  assert.ok(req && status && protocol, `h2load printed no summary:\n${out}`);
  const [total, started, done, succeeded, failed, errored, timeout] = req.slice(1).map(Number);
  return { total, started, done, succeeded, failed, errored, timeout, protocol: protocol[1], '2xx': Number(status[1]) };
}

for (const [mode, options] of MODES) {
  test(`h2load -n ${H2LOAD.requests} -c ${H2LOAD.clients} -m ${H2LOAD.streams} (${mode}): every request succeeds`, { ...T, skip: skip || missing.h2load }, async (t) => {
    const s = await serveTls(t, (app) => routes(app), options);
    for (const route of ['/json', '/cached', '/files/page.html']) {
      const out = await run('h2load', ['-n', String(H2LOAD.requests), '-c', String(H2LOAD.clients), '-m', String(H2LOAD.streams), `${s.origin}${route}`]);
      const n = H2LOAD.requests;
      assert.deepEqual(
        h2loadSummary(out),
        { total: n, started: n, done: n, succeeded: n, failed: 0, errored: 0, timeout: 0, protocol: mode === 'TLS' ? 'h2' : 'h2c', '2xx': n },
        `h2load on ${route}:\n${out}`,
      );
    }
  });
}

test('headless Chromium over HTTPS trusting the certificate loads a page and fetches JSON over h2', { ...T, skip: skip || chromium.skip }, async (t) => {
  const seen = [];
  let report;
  const s = await serveTls(
    t,
    (app) => {
      routes(app);
      report = chromium.reports(app);
      app.get('/page', (req, res) => {
        seen.push(req.httpVersion);
        res.type('html').send(
          chromium.page(`
            const res = await fetch('/json');
            const json = await res.json();
            // The resource's timing entry is added once its body is read; wait for it.
            let entry;
            for (let i = 0; i < 200 && !entry; i++) {
              entry = performance.getEntriesByType('resource').find((e) => e.name.endsWith('/json'));
              if (!entry) await new Promise((r) => setTimeout(r, 10));
            }
            const nav = performance.getEntriesByType('navigation')[0];
            return { json, fetched: entry && entry.nextHopProtocol, page: nav && nav.nextHopProtocol, scheme: location.protocol };
          `),
        );
      });
    },
    APP,
  );
  const value = await chromium.run(t, `${s.origin}/page`, report, {
    flags: [`--ignore-certificate-errors-spki-list=${spkiHash(certs().server.cert)}`],
  });
  assert.deepEqual(value, { json: { hello: 'world', n: 42 }, fetched: 'h2', page: 'h2', scheme: 'https:' });
  assert.deepEqual(seen, ['2.0'], 'the page was asked for over HTTP/2');
});
