'use strict';
// Minimal http-native app. Run with `npm start` (builds the addon first if needed) or
// `node examples/hello.js`; PORT picks the port (0 = any free one), HOST the address (default:
// every interface; HOST=127.0.0.1 accepts only clients on this machine).
const { createApp } = require('..');

const app = createApp();

// Registered before the routes, so it runs before their handlers (order is Express's).
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
  const server = await app.listen(process.env.PORT ?? 3000, process.env.HOST);
  // '::' or '0.0.0.0' is every interface; server.url is where to point a browser on this machine.
  const { host, port } = server;
  const bound = host === '::' || host === '0.0.0.0' ? `every interface (${host})` : host;
  console.log(`Listening on ${bound}, port ${port}: ${server.url} (driver: ${server.driver})`);

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
