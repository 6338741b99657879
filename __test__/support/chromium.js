'use strict';
// Headless Chromium for tests that need a real browser (EventSource, a browser's multipart form).
// The browser opens a page served by the test's own server; the page runs its script and POSTs its
// results back to that server, so no DevTools protocol is needed. The browser runs in its own
// process group with a fresh profile in a temp dir, and both are removed on every path: the test's
// end, a failure, or the test process exiting.
//
// Where Chromium is: $HTTP_NATIVE_CHROMIUM when set (.ci/run sets it after installing Debian's
// `chromium`: then a browser that does not start fails the test rather than skipping it), else the
// usual install paths. Without one, `chromium.skip` is the reason to pass as node:test's `skip`,
// so the test is reported skipped with that reason, never passed.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/snap/bin/chromium',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];

// A cold start of Chromium plus a page's work, on a loaded 2-core machine: generous, since it only
// bounds a failure (a page whose script never reports).
const PAGE_TIMEOUT_MS = 60000;
// The end of the browser's stderr kept for a failure message.
const STDERR_TAIL_BYTES = 4000;

const FLAGS = [
  '--headless=new',
  // CI runs as root, where Chromium's sandbox cannot start.
  '--no-sandbox',
  '--disable-gpu',
  // Containers often have a small /dev/shm.
  '--disable-dev-shm-usage',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-extensions',
  '--disable-sync',
  '--disable-component-update',
  '--disable-background-networking',
  '--disable-default-apps',
  '--mute-audio',
  // The page talks to 127.0.0.1 only; an http_proxy in the environment must not reroute it.
  '--no-proxy-server',
  // A headless page counts as hidden: its timers must not be throttled while a test waits on it.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

// { path } or { reason }: why there is no browser to run.
function find() {
  const named = process.env.HTTP_NATIVE_CHROMIUM;
  if (named) {
    // Named explicitly: a wrong path is an error in the setup, never a reason to skip.
    if (!isExecutable(named)) throw new Error(`HTTP_NATIVE_CHROMIUM=${named} is not an executable file`);
    return { path: named };
  }
  const found = CANDIDATES.find(isExecutable);
  if (found !== undefined) return { path: found };
  return {
    reason:
      'no Chromium found (Debian package `chromium`, installed by .ci/run; or set HTTP_NATIVE_CHROMIUM): ' +
      `looked for ${CANDIDATES.join(', ')}`,
  };
}

const found = find();
if (found.reason !== undefined) console.log(`# headless Chromium tests skipped: ${found.reason}`);

// Every browser still running, killed if the test process exits without its cleanup (an
// uncaught error, process.exit()).
const running = new Set();
process.on('exit', () => {
  for (const child of running) killGroup(child);
});

function killGroup(child) {
  try {
    // The browser leads its own process group (spawned detached): this reaches its renderer, GPU
    // and utility processes too, and nothing else.
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

// Opens `url` in a new headless Chromium, with `flags` added to the usual ones (a test's own, such
// as a certificate to trust). Returns { exited, stderr() }: `exited` resolves with { code, signal }
// when the browser process ends. The browser is killed and its profile removed in t.after().
function launch(t, url, { flags = [] } = {}) {
  if (found.path === undefined) throw new Error(found.reason);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'http-native-chromium-'));
  const child = spawn(found.path, [...FLAGS, ...flags, `--user-data-dir=${profile}`, url], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  running.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-STDERR_TAIL_BYTES);
  });
  const exited = new Promise((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  t.after(async () => {
    killGroup(child);
    await exited;
    running.delete(child);
    // Helpers of the group may still be writing into the profile for a moment after the kill.
    fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });
  return { exited, stderr: () => stderr };
}

// An HTML page that runs `body` (the source of an async function's body, which may use `await` and
// returns the page's results) and POSTs { ok: true, value } or { ok: false, error } as JSON to
// `reportPath` on the same server. `head` is extra markup (a form, say) placed before the script.
function page(body, { head = '', reportPath = '/done' } = {}) {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>http-native test</title></head>
<body>${head}
<script>
const report = (result) => fetch(${JSON.stringify(reportPath)}, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(result),
});
window.addEventListener('error', (e) => report({ ok: false, error: 'uncaught: ' + e.message }));
window.addEventListener('unhandledrejection', (e) => report({ ok: false, error: 'unhandled rejection: ' + (e.reason && e.reason.stack || e.reason) }));
(async () => {
${body}
})().then(
  (value) => report({ ok: true, value }),
  (e) => report({ ok: false, error: String(e && e.stack || e) }),
);
</script>
</body></html>
`;
}

// Registers POST `reportPath` on `app` and returns a promise of the first report a page posts to
// it (the route answers 204).
function reports(app, reportPath = '/done') {
  let resolve;
  const first = new Promise((r) => (resolve = r));
  app.post(reportPath, (req, res) => {
    resolve(req.body);
    res.sendStatus(204);
  });
  return first;
}

// Opens `url` in Chromium and waits for the page's report (a promise from reports()). Rejects if
// the page reports an error, the browser exits first, or nothing comes within `timeout`. `flags`
// go to launch().
async function run(t, url, report, { timeout = PAGE_TIMEOUT_MS, flags } = {}) {
  const browser = launch(t, url, { flags });
  let timer;
  try {
    const result = await Promise.race([
      report,
      browser.exited.then(({ code, signal, error }) => {
        throw new Error(`Chromium exited (${error ? error.message : code ?? signal}) before the page reported:\n${browser.stderr()}`);
      }),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the page at ${url} did not report within ${timeout} ms; Chromium's stderr:\n${browser.stderr()}`)),
          timeout,
        );
      }),
    ]);
    if (result === null || typeof result !== 'object' || !('ok' in result)) {
      throw new Error(`the page reported ${JSON.stringify(result)}`);
    }
    if (!result.ok) throw new Error(`the page's script failed: ${result.error}`);
    return result.value;
  } finally {
    clearTimeout(timer);
  }
}

module.exports = {
  // The node:test `skip` option: false when there is a browser, else the reason.
  skip: found.reason === undefined ? false : found.reason,
  executable: found.path,
  launch,
  page,
  reports,
  run,
};
