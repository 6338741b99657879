'use strict';
// Minimal http-native app. Run with `npm start` (builds the addon first if needed) or
// `node examples/hello.js`; PORT picks the port (0 = any free one).
const { createApp } = require('..');

const app = createApp();

// Middleware runs before the route handlers of every request it matches.
app.use((req, res, next) => {
  res.set('x-powered-by', 'http-native');
  next();
});

app.get('/', (req, res) => res.send('Hello, World!'));
app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
app.post('/echo', (req, res) => res.json(req.body)); // body parsed by content type

app.group('/api/v1', (api) => {
  api.get('/health', (req, res) => res.json({ ok: true }));
});

// Throwing handlers and next(err) land here; never send err.message to the client.
app.error((err, req, res) => {
  console.error(err);
  res.status(500).json({ error: 'Internal Server Error' });
});

async function main() {
  const server = await app.listen({ port: Number(process.env.PORT ?? 3000) });
  console.log(`Listening on ${server.url} (driver: ${server.driver})`);

  // close() finishes in-flight requests and releases everything, so the process then exits by itself.
  let closing = false;
  /** @param {NodeJS.Signals} signal */
  const shutdown = async (signal) => {
    if (closing) return;
    closing = true;
    console.log(`${signal} received, closing`);
    await server.close();
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
