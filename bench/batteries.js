'use strict';
// The battery rows of `npm run bench` (issue 15), run by bench/run.js after the TLS rows, or alone
// with `npm run bench -- --only batteries`. A JS route with one battery enabled — CORS, a rate
// limit, cookies, a session, body validation — served side by side by
//   http-native      its native batteries: cors(), rateLimit(), res.cookie / req.cookies, session(),
//                    the route option `schema` (bench/servers/http-native-batteries.js)
//   http-native-npm  http-native with the npm middleware instead: cors, express-rate-limit,
//                    cookie-parser, express-session, a zod body check (http-native-npm-batteries.js)
//   fastify          its plugins: @fastify/cors, @fastify/rate-limit, @fastify/cookie,
//                    @fastify/session, its own schema validation (fastify-batteries.js)
//   express          the same npm middleware as http-native-npm (express-batteries.js)
// with the same options everywhere (bench/servers/batteries-shared.js). Scenarios, each on a fresh
// server process with only its battery enabled:
//   none             GET /users/42, no battery: each framework's JS route, the figure the battery
//                    cost (CPU per request over this one) is taken from
//   cors             GET /users/42 from an allowed Origin (Access-Control-Allow-Origin on the answer)
//   cors-preflight   OPTIONS with Origin and Access-Control-Request-Method: the preflight answer
//                    (http-native answers it in Rust)
//   rate-limit       GET /users/42 under the limit: counted, RateLimit headers, the route runs
//   rate-limit-over  every request over the limit: 429 (http-native answers it in Rust)
//   cookies          GET /cookies with two plain cookies and a signed one: the route reads them and
//                    sets one (Set-Cookie on every answer)
//   session          GET /session with a logged-in session's cookie: the session loaded from the
//                    memory store, the user read
//   session-write    GET /session/count: the same, and the session changed and saved every request
//   validation       POST /validate with a valid JSON body (JSON Schema in Rust for http-native,
//                    ajv for fastify, zod for the npm rows)
//   validation-bad   the same with an invalid body: 400 listing the failures (http-native
//                    answers it in Rust)
// Before measuring, each scenario checks its server's answers: what the battery must produce (the
// CORS headers, the right origin refused, RateLimit counting down, a 429 with Retry-After, the
// signed cookie read and a cookie set, the session cookie round-tripping, a 400 for a bad body and
// a 200 for a good one). A server that fails its check is not measured: the row is listed as
// failed and the bench exits non-zero. A battery an http-native build lacks fails the same way
// (the server stops before READY saying what is missing). Under load every answer's status is
// counted: any other than the scenario's makes the run invalid (✗, left out of the ratios, and
// the bench exits non-zero).
// Per run: requests/s, the server's CPU per request (utime + stime from /proc), the battery's cost
// (CPU per request over the same framework's `none` row), RSS, and for http-native the share of
// requests that woke JS (its bridge counters, read on a second port).
//
// Environment (besides BENCH_QUICK / --quick, BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS and
// BENCH_CLIENT, which mean what they mean for the route rows):
//   BENCH_BATTERIES   subset of the scenarios above
//   BENCH_SERVERS     as for the route rows; here http-native, http-native-npm, fastify, express
//   BENCH_PIPELINING  pipelining depths (1 unless set: middleware cost is per request, and a
//                     second depth doubles a long section)

const os = require('node:os');
const http = require('node:http');
const { STOP_GRACE_MS, readRssBytes, startServer, stopServer, diedDuring } = require('./proc');
const { measureLoad } = require('./load');
const { bounds } = require('./tls-report');
const shared = require('./servers/batteries-shared');
const { pickList, pickServers, packageVersion, sectionResult } = require('./config');
const { round, fmt, fmtInt, fmtRatio, table } = require('./format');

const CHECK_TIMEOUT_MS = 10000;
const JSON_TYPE = { 'content-type': 'application/json' };

const SERVERS = [
  { name: 'http-native', label: 'http-native (native)', script: 'http-native-batteries.js', native: true },
  { name: 'http-native-npm', label: 'http-native + npm', script: 'http-native-npm-batteries.js', native: true, baselineOf: 'http-native' },
  { name: 'fastify', label: 'fastify + plugins', script: 'fastify-batteries.js', peer: true, cookieFormat: 'fastify' },
  { name: 'express', label: 'express + npm', script: 'express-batteries.js', peer: true },
];
const SERVER_NAMES = SERVERS.map((s) => s.name);

// ---------------------------------------------------------------------------------------------
// Checks: what each battery must produce, asserted before a scenario is measured

function request(port, { method = 'GET', path, headers = {}, body }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(CHECK_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${path}: no answer within ${CHECK_TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end(body);
  });
}

function fail(what, res) {
  throw new Error(`${what} (status ${res.status}, body ${JSON.stringify(res.body.slice(0, 160))})`);
}

function expectAnswer(res, status, body, what) {
  if (res.status !== status) fail(`${what}: expected status ${status}`, res);
  if (body !== undefined && res.body !== body) fail(`${what}: expected body ${body}`, res);
}

function header(res, name) {
  const v = res.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function hasToken(list, token) {
  return Boolean(list) && list.toLowerCase().split(/\s*,\s*/).includes(token.toLowerCase());
}

async function checkNone(port) {
  expectAnswer(await request(port, { path: shared.JS_PATH }), 200, shared.JS_BODY, 'GET /users/42');
}

async function checkCors(port, scenario) {
  const res = await request(port, scenario.request);
  expectAnswer(res, 200, shared.JS_BODY, 'GET from an allowed origin');
  if (header(res, 'access-control-allow-origin') !== shared.ORIGIN) fail(`Access-Control-Allow-Origin is ${header(res, 'access-control-allow-origin')}, not the request's origin`, res);
  if (header(res, 'access-control-allow-credentials') !== 'true') fail('no Access-Control-Allow-Credentials: true', res);
  if (!hasToken(header(res, 'vary'), 'origin')) fail(`Vary is ${header(res, 'vary')}, without Origin`, res);
  const other = await request(port, { path: shared.JS_PATH, headers: { origin: shared.OTHER_ORIGIN } });
  if (header(other, 'access-control-allow-origin') === shared.OTHER_ORIGIN || header(other, 'access-control-allow-origin') === '*') {
    fail(`an origin not on the list was allowed (Access-Control-Allow-Origin ${header(other, 'access-control-allow-origin')})`, other);
  }
}

async function checkPreflight(port, scenario) {
  const res = await request(port, scenario.request);
  expectAnswer(res, 204, '', 'the preflight');
  if (header(res, 'access-control-allow-origin') !== shared.ORIGIN) fail(`the preflight's Access-Control-Allow-Origin is ${header(res, 'access-control-allow-origin')}`, res);
  if (!hasToken(header(res, 'access-control-allow-methods'), 'POST')) fail(`Access-Control-Allow-Methods ${header(res, 'access-control-allow-methods')} has no POST`, res);
  if (!hasToken(header(res, 'access-control-allow-headers'), 'content-type')) fail(`Access-Control-Allow-Headers ${header(res, 'access-control-allow-headers')} does not allow content-type`, res);
  if (header(res, 'access-control-max-age') !== String(shared.CORS_MAX_AGE)) fail(`Access-Control-Max-Age is ${header(res, 'access-control-max-age')}`, res);
}

// The limit and remaining count of an answer, from draft-7's `RateLimit: limit=L, remaining=R,
// reset=S` (http-native, express-rate-limit) or draft-6's RateLimit-Limit/-Remaining
// (@fastify/rate-limit's enableDraftSpec).
function rateLimitOf(res) {
  const combined = header(res, 'ratelimit');
  if (combined) {
    const limit = /\blimit=(\d+)/.exec(combined);
    const remaining = /\bremaining=(\d+)/.exec(combined);
    if (limit && remaining) return { limit: Number(limit[1]), remaining: Number(remaining[1]) };
  }
  const limit = header(res, 'ratelimit-limit');
  const remaining = header(res, 'ratelimit-remaining');
  if (limit !== undefined && remaining !== undefined) return { limit: Number(limit), remaining: Number(remaining) };
  return fail('no RateLimit headers on the answer', res);
}

async function checkRateLimit(port) {
  const first = await request(port, { path: shared.JS_PATH });
  const second = await request(port, { path: shared.JS_PATH });
  for (const res of [first, second]) expectAnswer(res, 200, shared.JS_BODY, 'a request under the limit');
  const a = rateLimitOf(first);
  const b = rateLimitOf(second);
  if (a.limit !== shared.RATE_LIMIT) fail(`the RateLimit limit is ${a.limit}, not ${shared.RATE_LIMIT}`, first);
  if (b.remaining !== a.remaining - 1) fail(`remaining went from ${a.remaining} to ${b.remaining}, not down by one`, second);
}

async function checkOverLimit(port) {
  for (let i = 0; i < shared.OVER_LIMIT; i++) {
    expectAnswer(await request(port, { path: shared.JS_PATH }), 200, shared.JS_BODY, `request ${i + 1} of the ${shared.OVER_LIMIT} allowed`);
  }
  const res = await request(port, { path: shared.JS_PATH });
  expectAnswer(res, 429, undefined, 'a request over the limit');
  if (!/^\d+$/.test(header(res, 'retry-after') || '')) fail(`Retry-After is ${header(res, 'retry-after')}`, res);
}

async function checkCookies(port, scenario) {
  const res = await request(port, scenario.request);
  expectAnswer(res, 200, shared.COOKIE_ANSWER, 'the cookies route (the plain and the signed cookie read back)');
  const set = (res.headers['set-cookie'] || []).find((c) => c.startsWith(`${shared.SET_COOKIE.name}=`));
  if (!set) fail(`no Set-Cookie for ${shared.SET_COOKIE.name} (got ${JSON.stringify(res.headers['set-cookie'])})`, res);
  if (!set.startsWith(`${shared.SET_COOKIE.name}=${shared.SET_COOKIE.value};`) || !/;\s*HttpOnly/i.test(set) || !/;\s*SameSite=Lax/i.test(set) || !/;\s*Max-Age=3600/i.test(set)) {
    fail(`Set-Cookie ${set} lacks the value, HttpOnly, SameSite=Lax or Max-Age=3600`, res);
  }
  // A forged signature is not read as the user.
  const forged = scenario.request.headers.cookie.replace(/user=[^;]*/, `user=${encodeURIComponent(`s:${shared.COOKIE_USER}.forged`)}`);
  const refused = await request(port, { path: shared.COOKIE_PATH, headers: { cookie: forged } });
  if (refused.status !== 200 || JSON.parse(refused.body).user) fail('a cookie with a forged signature was read as the user', refused);
}

// Logs in and returns the session cookie (`name=value`), after checking that it carries the session
// and that without it there is none.
async function login(port) {
  const res = await request(port, { method: 'POST', path: shared.LOGIN_PATH });
  expectAnswer(res, 200, '{"ok":true}', 'the login');
  const set = res.headers['set-cookie'];
  if (!set || !set.length) fail('the login set no session cookie', res);
  const cookie = set[0].split(';')[0];
  const anonymous = await request(port, { path: shared.SESSION_PATH });
  expectAnswer(anonymous, 200, '{"user":null}', 'GET /session without the cookie');
  return cookie;
}

async function checkSession(port) {
  const cookie = await login(port);
  for (let i = 0; i < 2; i++) {
    expectAnswer(await request(port, { path: shared.SESSION_PATH, headers: { cookie } }), 200, `{"user":"${shared.SESSION_USER}"}`, `GET /session with the session cookie (${cookie})`);
  }
  return { cookie };
}

async function checkSessionWrite(port) {
  const cookie = await login(port);
  for (const count of [1, 2]) {
    expectAnswer(await request(port, { path: `${shared.SESSION_PATH}/count`, headers: { cookie } }), 200, `{"count":${count}}`, 'the session counter (saved between requests)');
  }
  return { cookie };
}

async function checkValid(port) {
  const res = await request(port, { method: 'POST', path: shared.VALIDATE_PATH, headers: JSON_TYPE, body: shared.GOOD_BODY });
  expectAnswer(res, 200, shared.VALIDATE_ANSWER, 'a valid body');
  await checkInvalidOnly(port);
}

async function checkInvalidOnly(port) {
  const res = await request(port, { method: 'POST', path: shared.VALIDATE_PATH, headers: JSON_TYPE, body: shared.BAD_BODY });
  expectAnswer(res, 400, undefined, 'an invalid body');
  if (!/^application\/json\b/.test(header(res, 'content-type') || '')) fail(`the 400 is ${header(res, 'content-type')}, not JSON`, res);
}

async function checkInvalid(port) {
  await checkInvalidOnly(port);
  expectAnswer(await request(port, { method: 'POST', path: shared.VALIDATE_PATH, headers: JSON_TYPE, body: shared.GOOD_BODY }), 200, shared.VALIDATE_ANSWER, 'a valid body');
}

// `request` is what the load sends (a function of the server for the cookie formats); `status` what
// every answer must be; `native` marks the answers http-native gives without waking JS; `check`
// resolves with headers the load adds (the session cookie).
const SCENARIOS = [
  { id: 'none', battery: 'none', request: { path: shared.JS_PATH }, status: 200, check: checkNone },
  { id: 'cors', battery: 'cors', request: { path: shared.JS_PATH, headers: { origin: shared.ORIGIN } }, status: 200, check: checkCors },
  {
    id: 'cors-preflight',
    battery: 'cors',
    request: { method: 'OPTIONS', path: shared.JS_PATH, headers: { origin: shared.ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } },
    status: 204,
    native: true,
    check: checkPreflight,
  },
  { id: 'rate-limit', battery: 'rate-limit', request: { path: shared.JS_PATH }, status: 200, check: checkRateLimit },
  { id: 'rate-limit-over', battery: 'rate-limit-over', request: { path: shared.JS_PATH }, status: 429, native: true, check: checkOverLimit },
  {
    id: 'cookies',
    battery: 'cookies',
    request: (server) => ({ path: shared.COOKIE_PATH, headers: { cookie: shared.cookieHeader(server.cookieFormat) } }),
    status: 200,
    check: checkCookies,
  },
  { id: 'session', battery: 'session', request: { path: shared.SESSION_PATH }, status: 200, check: checkSession },
  { id: 'session-write', battery: 'session', request: { path: `${shared.SESSION_PATH}/count` }, status: 200, check: checkSessionWrite },
  { id: 'validation', battery: 'validation', request: { method: 'POST', path: shared.VALIDATE_PATH, headers: JSON_TYPE, body: shared.GOOD_BODY }, status: 200, check: checkValid },
  { id: 'validation-bad', battery: 'validation', request: { method: 'POST', path: shared.VALIDATE_PATH, headers: JSON_TYPE, body: shared.BAD_BODY }, status: 400, native: true, check: checkInvalid },
];

// ---------------------------------------------------------------------------------------------
// Runs

function batteriesConfig(env, config) {
  return {
    scenarios: pickList('BENCH_BATTERIES', env.BENCH_BATTERIES, SCENARIOS, (s) => s.id).map((s) => s.id),
    durationSeconds: config.duration,
    warmupSeconds: config.warmup,
    connections: config.connections,
    pipelining: env.BENCH_PIPELINING ? config.pipelining : [1],
    clients: config.clients,
  };
}

function requestOf(scenario, server) {
  const r = typeof scenario.request === 'function' ? scenario.request(server) : scenario.request;
  return { method: 'GET', headers: {}, ...r };
}

// http-native's bridge counters, from the second port its battery servers listen on.
async function bridgeCounters(proc) {
  if (!proc.statsPort) return null;
  const res = await request(proc.statsPort, { path: '/__bridge' });
  return res.status === 200 ? JSON.parse(res.body) : null;
}

// Answers whose status was not the scenario's: from autocannon's status counts, or wrk's non-2xx.
function unexpectedAnswers(run, status) {
  if (run.statusCodes) return Object.entries(run.statusCodes).reduce((n, [code, count]) => (Number(code) === status ? n : n + count), 0);
  return status < 400 ? run.non2xx : Math.max(0, run.requests - run.non2xx);
}

async function measure(proc, route, scenario, pipelining, client, settings, clk) {
  const config = { connections: settings.connections, pipelining, warmup: 0, duration: settings.durationSeconds };
  // The warm-up apart, so the bridge counters around the measured run count only its requests.
  if (settings.warmupSeconds > 0) await measureLoad(proc, route, { ...config, duration: settings.warmupSeconds }, clk, client);
  const before = await bridgeCounters(proc);
  const run = await measureLoad(proc, route, config, clk, client);
  const after = await bridgeCounters(proc);
  const unexpected = unexpectedAnswers(run, scenario.status);
  return {
    ...run,
    status: scenario.status,
    unexpected,
    valid: unexpected === 0 && run.errors + run.timeouts === 0 && run.requests > 0,
    // Requests handed to JS per request answered: 0 where Rust answered alone.
    jsPerRequest: before && after && run.requests > 0 ? round((after.requests - before.requests) / run.requests, 3) : null,
    ...bounds(run.serverCpuCores, run.clientCpuCores, 1),
  };
}

async function runOne(server, scenario, settings, clk, result, note) {
  const label = `${server.label} ${scenario.id}`;
  const proc = await startServer({ ...server, env: { BATTERY: scenario.battery } }).catch((err) => {
    throw new Error(`the server did not start: ${err.message}`);
  });
  try {
    const base = requestOf(scenario, server);
    let extra;
    try {
      extra = await scenario.check(proc.port, { ...scenario, request: base }, server);
    } catch (err) {
      throw new Error(`check failed: ${err.message}`);
    }
    const route = { ...base, headers: { ...base.headers, ...(extra || {}) } };
    for (const client of settings.clients) {
      for (const pipelining of settings.pipelining) {
        let run;
        try {
          run = await measure(proc, route, scenario, pipelining, client, settings, clk);
        } catch (err) {
          throw diedDuring(proc, err, `${scenario.id} pipelining ${pipelining}`);
        }
        result.runs.push({ scenario: scenario.id, battery: scenario.battery, server: server.name, label: server.label, client, pipelining, ...run });
        console.log(`  ${scenario.id} ×${pipelining} (${client}): ${fmtInt(run.rps)} req/s, ${fmt(run.serverCpuUsPerRequest, 2)} µs CPU/req${run.jsPerRequest === null ? '' : `, ${run.jsPerRequest} JS/req`}${run.valid ? '' : ` — INVALID: ${run.unexpected} answers not ${scenario.status}, ${run.errors + run.timeouts} errors`}`);
        if (!run.valid) note(`${label} ×${pipelining}: ${run.unexpected} of ${run.requests} answers were not ${scenario.status} (${JSON.stringify(run.statusCodes || { non2xx: run.non2xx })}), ${run.errors} errors, ${run.timeouts} timeouts: left out of the ratios`);
        if (scenario.native && server.name === 'http-native' && run.jsPerRequest > 0) note(`${label}: ${run.jsPerRequest} requests woke JS per answer; the native path should answer without JS`);
      }
    }
  } finally {
    const exit = await stopServer(proc);
    if (proc.driver) result.servers[server.name].driver = proc.driver;
    if (exit.killed) note(`${label} did not exit within ${STOP_GRACE_MS / 1000} s of SIGTERM: killed`);
  }
}

// ---------------------------------------------------------------------------------------------
// Ratios and the report

const ratio = (a, b) => (a !== null && a !== undefined && b !== null && b !== undefined && b > 0 ? round(a / b, 2) : null);

// vsNpm (http-native's native row over its npm row), vsFastify, vsExpress ({ rate, cpu }: over 1
// and under 1 are better), and batteryCpuUs: CPU per request over the same framework's `none` row.
function addRatios(runs) {
  const same = (a, b) => a.client === b.client && a.pipelining === b.pipelining && b.valid;
  for (const run of runs.filter((r) => r.valid)) {
    for (const [key, peer] of [['vsNpm', 'http-native-npm'], ['vsFastify', 'fastify'], ['vsExpress', 'express']]) {
      if (key === 'vsNpm' && run.server !== 'http-native') continue;
      const base = run.server !== peer && runs.find((r) => r.server === peer && r.scenario === run.scenario && same(r, run));
      if (base) run[key] = { rate: ratio(run.rps, base.rps), cpu: ratio(run.serverCpuUsPerRequest, base.serverCpuUsPerRequest) };
    }
    const framework = (SERVERS.find((s) => s.name === run.server) || {}).baselineOf || run.server;
    const none = runs.find((r) => r.server === framework && r.scenario === 'none' && same(r, run));
    if (none && run.scenario !== 'none') run.batteryCpuUs = round(run.serverCpuUsPerRequest - none.serverCpuUsPerRequest, 2);
  }
}

const NUMERIC = /^[-\d.,x%/*†✗ ]+$/;
const pct = (x) => (x === null || x === undefined ? '-' : `${Math.round(x * 100)}%`);
const marks = (r) => `${r.clientBound ? '*' : ''}${r.machineBound ? '†' : ''}`;

function printBatteries(result) {
  const scenarios = SCENARIOS.map((s) => s.id);
  const runs = [...result.runs].sort(
    (a, b) =>
      a.client.localeCompare(b.client) ||
      scenarios.indexOf(a.scenario) - scenarios.indexOf(b.scenario) ||
      a.pipelining - b.pipelining ||
      SERVER_NAMES.indexOf(a.server) - SERVER_NAMES.indexOf(b.server),
  );
  if (runs.length) {
    console.log('');
    console.log(
      table(
        ['client', 'scenario', 'server', 'pipe', 'req/s', 'vs npm', 'vs fastify', 'vs express', 'CPU µs/req', 'battery µs', 'JS/req', 'RSS MiB', 'err/unexpected', 'server CPU', 'client CPU'],
        runs.map((r) => [
          r.client,
          r.scenario,
          r.label,
          r.pipelining,
          `${fmtInt(r.rps)}${r.valid ? '' : ' ✗'}`,
          fmtRatio(r.vsNpm && r.vsNpm.rate),
          fmtRatio(r.vsFastify && r.vsFastify.rate),
          fmtRatio(r.vsExpress && r.vsExpress.rate),
          fmt(r.serverCpuUsPerRequest, 2),
          fmt(r.batteryCpuUs, 2),
          fmt(r.jsPerRequest, 2),
          fmt(r.rssBytes / 2 ** 20, 1),
          `${r.errors + r.timeouts}/${r.unexpected}`,
          pct(r.serverCpuCores),
          `${pct(r.clientCpuCores)}${marks(r)}`,
        ]),
        NUMERIC,
      ),
    );
    console.log(
      `${result.settings.connections} connections, ${result.settings.durationSeconds} s per run. vs X = req/s over X's in the same scenario (vs npm: http-native's native ` +
        "batteries over the npm middleware on http-native). CPU µs/req = server utime + stime / requests; battery µs = that over the same framework's `none` row " +
        '(http-native + npm: over http-native\'s). JS/req = requests handed to JS per answer (0: Rust answered alone). unexpected = answers whose status was not ' +
        "the scenario's; ✗ = an invalid run, left out of the ratios. client CPU = the load generator's share of one core; * = 90% or more (client-bound); " +
        '† = server and client together at 90% of the machine\'s cores or more (compare CPU per request).',
    );
  }
  if (result.failures.length) {
    console.log('');
    console.log('FAILED (not measured):');
    for (const f of result.failures) console.log(`  ${f.server} ${f.scenario}: ${f.reason}`);
  }
  for (const n of result.notes) console.log(`note: ${n}`);
}

// ---------------------------------------------------------------------------------------------
// The section

/**
 * Runs the battery rows and returns them ({ settings, versions, servers, runs, failures, notes }).
 * A scenario whose server fails to start or fails its check is in `failures`; that, or an invalid
 * run (an unexpected status or socket errors under load), sets process.exitCode = 1.
 * @param {object} o
 * @param {object} o.env process.env
 * @param {{ duration: number, warmup: number, connections: number, pipelining: number[], clients: string[] }} o.config run.js's
 * @param {string[]} o.serverNames BENCH_SERVERS as resolved by run.js
 * @param {boolean} o.serversNamed whether BENCH_SERVERS was set
 * @param {{ path: string, version: string }} o.self the Node running the bench (http-native's)
 * @param {{ path: string, version: string }} o.peers the Node the peers run on
 * @param {number} o.clk clock ticks per second
 */
async function runBatteries({ env, config, serverNames, serversNamed, self, peers, clk }) {
  const settings = batteriesConfig(env, config);
  const { result, note } = sectionResult({
    settings,
    loadAverage: os.loadavg().map((l) => round(l, 2)),
    versions: Object.fromEntries(
      ['autocannon', 'fastify', 'express', 'cors', 'express-rate-limit', 'cookie-parser', 'express-session', 'zod', '@fastify/cors', '@fastify/rate-limit', '@fastify/cookie', '@fastify/session'].map((p) => [p, packageVersion(p)]),
    ),
    failures: [],
  });
  result.versions.httpNative = require('../package.json').version;
  result.versions.peersNode = peers.version;
  const servers = pickServers(SERVERS, serverNames, serversNamed);
  if (!servers.length) {
    note(`no battery server among BENCH_SERVERS (${SERVER_NAMES.join(', ')})`);
    return result;
  }
  const scenarios = SCENARIOS.filter((s) => settings.scenarios.includes(s.id));
  console.log(
    `Batteries: ${settings.scenarios.join(', ')}; ${settings.durationSeconds} s per run after ${settings.warmupSeconds} s of warm-up, ` +
      `${settings.connections} connections, pipelining ${settings.pipelining.join(' and ')}, ${settings.clients.join(' and ')}; load average ${result.loadAverage.join(' ')}`,
  );
  for (const server of servers) {
    const node = server.peer ? peers : self;
    result.servers[server.name] = { label: server.label, node: node.version, driver: undefined };
    console.log(`${server.label} (Node ${node.version})`);
    for (const scenario of scenarios) {
      if (scenario.id === 'none' && server.baselineOf) continue;
      await runOne({ ...server, node }, scenario, settings, clk, result, note).catch((err) => {
        result.failures.push({ server: server.name, scenario: scenario.id, reason: err.message });
        console.log(`  ${scenario.id}: FAILED: ${err.message}`);
      });
    }
  }
  // A failed check or an invalid run is a broken server (or build), not a figure: the bench says so.
  if (result.failures.length || result.runs.some((r) => !r.valid)) process.exitCode = 1;
  addRatios(result.runs);
  return result;
}

module.exports = { runBatteries, printBatteries, SERVER_NAMES, SCENARIOS };
