// The ESM side of the typed sample (types.test.js type-checks it): the default and the named
// import of 'http-native' both give a typed createApp, and top-level await works.
import httpNative, { createApp } from 'http-native';
import type { App, Server } from 'http-native';

const app: App = createApp();
const same: App = httpNative.createApp({ bodyLimit: 1024 });
app.get('/', (req, res) => res.send('Hello, World!'));
same.post('/echo', (req, res) => res.json(req.body));

const server: Server = await app.listen(process.env.PORT ?? 0);
server.on('error', (err) => console.error(err.code));
console.log(`listening on ${server.url}`);
process.once('SIGTERM', () => void server.close());
