'use strict';
// http-native with npm middleware instead of its native batteries (bench/batteries.js): the same
// middleware and routes as the Express row (batteries-shared.js installNpm: cors, express-rate-limit,
// cookie-parser, express-session, a zod body check), one battery per process from BATTERY. Cookies
// are set with the `cookie` package's serialize, so http-native's own res.cookie stays out of it.
const { createApp } = require('../..');
const cookie = require('cookie');
const shared = require('./batteries-shared');
const { listenForBench, bridgeStatsPort } = require('./http-native-listen');

const app = createApp({ keepAliveTimeout: 60000 });
shared.installNpm(app, shared.batteryFromEnv(), {
  // http-native parses a JSON body itself on first read of req.body.
  jsonBody: [],
  // Max-Age and Expires, the attributes Express's res.cookie (and http-native's) write for a maxAge.
  setCookie: (res, name, value, { maxAgeSeconds, ...options }) => {
    const expires = new Date(Date.now() + maxAgeSeconds * 1000);
    res.append('Set-Cookie', cookie.serialize(name, value, { ...options, maxAge: maxAgeSeconds, expires }));
  },
});

listenForBench(app, bridgeStatsPort);
