'use strict';
// http-native with its native batteries (issue 15), the battery rows' main server
// (bench/batteries.js): one battery per process, from BATTERY (bench/servers/batteries-shared.js),
// on the same routes and options as the npm and fastify rows. A battery this build does not have
// stops the server before READY with the reason: the row fails, it never falls back to something
// else. READY carries `stats=<port>` (http-native-listen.js bridgeStatsPort), where the runner
// reads how many requests woke JS.
const http = require('../..');
const { Request } = require('../../js/request');
const { Response } = require('../../js/response');
const shared = require('./batteries-shared');
const { listenForBench, bridgeStatsPort } = require('./http-native-listen');

const battery = shared.batteryFromEnv();

// The battery's entry point in this build, or an error naming what is missing.
function need(what, present) {
  if (!present) throw new Error(`the ${battery} battery needs ${what}, which this build of http-native does not have`);
}

function build() {
  const options = { keepAliveTimeout: 60000 };
  if (battery === 'cookies') options.cookieSecret = shared.SECRET;
  const app = http.createApp(options);
  switch (battery) {
    case 'cors':
      need('cors() exported', typeof http.cors === 'function');
      app.use(http.cors(shared.CORS_OPTIONS));
      break;
    case 'rate-limit':
    case 'rate-limit-over':
      need('rateLimit() exported', typeof http.rateLimit === 'function');
      app.use(http.rateLimit({ windowMs: shared.RATE_WINDOW_MS, limit: battery === 'rate-limit' ? shared.RATE_LIMIT : shared.OVER_LIMIT }));
      break;
    case 'cookies':
      need('res.cookie()', typeof Response.prototype.cookie === 'function');
      need('req.cookies and req.signedCookies', 'cookies' in Request.prototype && 'signedCookies' in Request.prototype);
      app.get(shared.COOKIE_PATH, (req, res) => {
        res.cookie(shared.SET_COOKIE.name, shared.SET_COOKIE.value, { httpOnly: true, sameSite: 'lax', path: '/', maxAge: shared.SET_COOKIE.maxAgeSeconds * 1000 });
        res.json({ theme: req.cookies.theme, user: req.signedCookies.user || null });
      });
      break;
    case 'session':
      need('session() exported', typeof http.session === 'function');
      app.use(http.session({ secret: shared.SECRET, cookie: { httpOnly: true, sameSite: 'lax', path: '/' } }));
      shared.sessionRoutes(app);
      break;
    case 'validation':
      // A build without route schemas refuses the option (unknown route option "schema").
      app.post(shared.VALIDATE_PATH, { schema: { body: shared.USER_SCHEMA } }, (req, res) => {
        res.json({ name: req.body.name, age: req.body.age });
      });
      break;
    default:
  }
  shared.jsRoute(app);
  return app;
}

let app;
try {
  app = build();
} catch (err) {
  console.error(`http-native-batteries: ${err.message}`);
  process.exit(1);
}
listenForBench(app, bridgeStatsPort);
