'use strict';
// Express with npm middleware, the battery rows' Express server (bench/batteries.js): cors,
// express-rate-limit, cookie-parser (+ Express's res.cookie), express-session, express.json and a
// zod body check (batteries-shared.js installNpm, the same code as http-native's npm row), one
// battery per process from BATTERY.
const express = require('express');
const shared = require('./batteries-shared');
const { listenExpress } = require('./express-listen');

const app = express();
shared.installNpm(app, shared.batteryFromEnv(), {
  jsonBody: [express.json()],
  setCookie: (res, name, value, { maxAgeSeconds, ...options }) => {
    res.cookie(name, value, { ...options, maxAge: maxAgeSeconds * 1000 });
  },
});

listenExpress(app);
