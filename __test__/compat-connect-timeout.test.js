'use strict';
// connect-timeout, unmodified: after the delay, req.timedout and an error (503, code ETIMEDOUT)
// down the error path; an answer in time clears it; respond: false only flags it.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const timeout = require('connect-timeout');
const { serve, get, deferred } = require('./helpers');

const T = { timeout: 15000 };

test('a handler that does not answer in time: 503 from the error path, the late answer dropped', T, async (t) => {
  const late = deferred();
  const s = await serve(t, (app) => {
    app.use(timeout('150ms'));
    app.get('/slow', (req, res) => {
      // Answers only once the timeout has fired; the package says to check req.timedout.
      req.on('timeout', () =>
        setImmediate(() => {
          late.resolve({ timedout: req.timedout, headersSent: res.headersSent });
          if (!req.timedout) res.send('late');
        }),
      );
    });
    app.get('/fast', (req, res) => res.send('in time'));
    app.use((err, req, res, next) => res.status(err.status).json({ code: err.code, timeout: err.timeout, timedout: req.timedout }));
  });
  const slow = await get(s.port, '/slow');
  assert.equal(slow.status, 503);
  assert.deepEqual(slow.json(), { code: 'ETIMEDOUT', timeout: 150, timedout: true });
  assert.deepEqual(await late.promise, { timedout: true, headersSent: true });

  const fast = await get(s.port, '/fast');
  assert.equal(fast.status, 200);
  assert.equal(fast.text, 'in time');
});

test('respond: false only flags the request; req.clearTimeout() stops the timer', T, async (t) => {
  const flagged = deferred();
  const s = await serve(t, (app) => {
    app.get('/flag', timeout('100ms', { respond: false }), (req, res) => {
      req.on('timeout', () => {
        flagged.resolve(req.timedout);
        res.status(504).send('handled by the app');
      });
    });
    app.get('/cleared', timeout('100ms'), (req, res) => {
      req.clearTimeout();
      setTimeout(() => res.send(`timedout=${req.timedout}`), 250);
    });
  });
  const flag = await get(s.port, '/flag');
  assert.equal(flag.status, 504);
  assert.equal(flag.text, 'handled by the app');
  assert.equal(await flagged.promise, true);
  const cleared = await get(s.port, '/cleared');
  assert.equal(cleared.status, 200);
  assert.equal(cleared.text, 'timedout=false');
});
