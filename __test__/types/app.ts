// A TypeScript app that uses the whole public API of index.d.ts, written as a user would. It is only
// type-checked (types.test.js runs `tsc --strict` with skipLibCheck off over it): every line must
// compile, and every `@ts-expect-error` line must NOT compile, so types that grow too loose fail too.
import { createApp, serve } from 'http-native';
import type {
  App,
  AppCache,
  Cluster,
  ErrorHandler,
  EventStream,
  FetchInfo,
  FileError,
  Handler,
  HttpNativeError,
  ListenOptions,
  MultipartFile,
  MultipartPart,
  Middleware,
  NextFunction,
  NotFoundHandler,
  Request,
  Response,
  Router,
  Server,
  ServerStats,
  SseMessage,
} from 'http-native';

// Middleware that attach properties type them by augmenting Request, as index.d.ts documents.
declare module 'http-native' {
  interface Request {
    user?: { id: string };
  }
}

interface Product {
  id: string;
  name: string;
}

async function loadProduct(id: string, signal: AbortSignal): Promise<Product> {
  signal.throwIfAborted();
  return { id, name: `product ${id}` };
}

const app: App = createApp({
  bodyLimit: 1 << 20,
  maxHeaderSize: 16384,
  maxHeaders: 128,
  maxUrlLength: 8192,
  keepAliveTimeout: 5000,
  headersTimeout: 10000,
  requestTimeout: 30000,
  handlerTimeout: 30000,
  streamTimeout: 120000,
  maxInFlight: 10000,
  maxPipelined: 64,
  busyPoll: 50,
  cache: { maxBytes: 32 * 1024 * 1024, maxEntries: 1000 },
  compression: { threshold: 1024, encodings: ['br', 'zstd', 'gzip'], level: { br: 4, zstd: 3, gzip: 6 }, types: ['text/*', '*/*+json'] },
});

const authenticate: Middleware = (req, res, next) => {
  const token = req.get('authorization');
  if (token === undefined) {
    next();
    return;
  }
  req.user = { id: token.slice(7) };
  res.locals.startedAt = Date.now();
  next();
};

const poweredBy: Handler = (req: Request, res: Response, next: NextFunction) => {
  res.set('x-powered-by', 'http-native').header('x-request-id', String(req.id));
  next();
};

app.use(poweredBy);
app.use('/api', authenticate, [poweredBy, [poweredBy]]);

app.get('/', (req, res) => res.send('Hello, World!'));
app.get('/users/:id', (req, res) => res.json({ id: req.params.id, user: req.user?.id ?? null }));
app.get('/files/*path', (req, res) => res.type('text').send(req.params.path));
app.get('/raw', { compression: false }, (req, res) => res.send('never encoded'));
app.get('/gzip', { compression: { encodings: ['gzip'], threshold: 0 } }, (req, res) => res.send('gzip only'));
app.post('/upload', { bodyLimit: 50 * 1024 * 1024 }, (req, res) => {
  const body: unknown = req.body;
  res.status(201).json({ received: Buffer.isBuffer(body) ? body.length : 0 });
});
app.post('/form', { bodyLimit: 50 * 1024 * 1024 }, async (req, res) => {
  const received: Array<{ field: string; bytes: number }> = [];
  for await (const part of req.parts({ limits: { fileSize: 10 * 1024 * 1024, files: 5, headerSize: Infinity } })) {
    if (part.type === 'file') {
      const upload: MultipartFile = part;
      const name: string = upload.filename;
      const bytes: Buffer = name.endsWith('.json') ? await upload.toBuffer() : Buffer.alloc(0);
      if (bytes.length === 0) upload.file.resume();
      received.push({ field: upload.fieldname, bytes: bytes.length });
    } else {
      const value: string = part.value;
      const cut: boolean = part.valueTruncated || part.fieldnameTruncated;
      received.push({ field: `${part.fieldname}=${value}${cut ? '…' : ''}`, bytes: Buffer.byteLength(value) });
    }
  }
  const parts: AsyncIterableIterator<MultipartPart> = req.parts();
  void parts;
  res.json(received);
});
app.put('/items/:id', (req, res) => res.status(204).end());
app.patch('/items/:id', (req, res, next) => next(new Error('not implemented')));
app.delete('/items/:id', (req, res) => res.sendStatus(204));
app.options('/items', (req, res) => res.set({ allow: 'GET, PUT, PATCH, DELETE', 'cache-control': ['no-store'] }).end());
app.head('/ping', (req, res) => res.end());
app.all('/any', (req, res) => res.text(`${req.method} ${req.httpVersion}`));
// Streams both ways.
app.get('/report.csv', async (req, res) => {
  res.type('text/csv');
  res.flushHeaders();
  for (const row of ['a,b', 'c,d']) if (!res.write(`${row}\n`)) await new Promise<void>((resolve) => res.once('drain', resolve));
  res.end();
});
app.get('/gen', (req, res) => res.send((async function* () { yield 'x'; yield new Uint8Array([1]); })()));
app.get('/web', (req, res) => res.send(new ReadableStream<Uint8Array>()));
app.post('/stream-upload', { body: 'stream' }, async (req, res) => {
  let bytes = 0;
  for await (const chunk of req) bytes += chunk.length;
  req.on('error', (err: Error) => err.message);
  res.on('close', () => undefined);
  res.json({ bytes, ended: res.writableEnded });
});
app.get('/old', (req, res) => res.redirect('/new'));
app.get('/older', (req, res) => res.redirect(301, '/new'));
app.get('/page', (req, res) => res.html('<h1>page</h1>'));
app.get('/bytes', (req, res) => res.send(new Uint8Array([1, 2, 3])));
app.get('/nothing', (req, res) => res.send(null));

app.get('/request', (req, res) => {
  const q = req.query.q;
  const first: string | undefined = Array.isArray(q) ? q[0] : q;
  const cookies: string[] | undefined = req.get('set-cookie');
  const ua: string | undefined = req.header('user-agent');
  const raw = req.headers['accept'];
  const accept: string | undefined = Array.isArray(raw) ? raw.join(', ') : raw;
  const header: string | string[] | undefined = res.get('x-powered-by');
  res.json({
    method: req.method,
    url: req.url,
    path: req.path,
    first,
    cookies: cookies?.length ?? 0,
    ua,
    accept,
    ip: req.ip,
    header,
    sent: res.headersSent,
    status: res.statusCode,
    aborted: req.signal.aborted,
  });
});

app.get('/products/:id', async (req, res) => {
  res.ncache(await loadProduct(req.params.id, req.signal), 30, { headers: { 'cache-control': 'max-age=30' } });
});
app.post('/products/:id', async (req, res) => {
  app.cache.invalidate(`/products/${req.params.id}`);
  res.sendStatus(204);
});
app.get('/events', (req, res) => {
  const sse: EventStream = res.sse({ heartbeat: 10000, retry: 2000 });
  let next = Number(sse.lastEventId ?? 0) + 1;
  const tick = (): void => {
    const message: SseMessage = { id: next, event: 'tick', data: { n: next } };
    next++;
    if (!sse.send(message)) sse.comment('slow client');
  };
  const timer = setInterval(tick, 1000);
  sse.signal.addEventListener('abort', () => clearInterval(timer));
  sse.on('close', () => clearInterval(timer));
  const ok: boolean = sse.send('plain') && sse.retry(500);
  if (!ok || sse.closed) sse.close();
});
app.static('/robots.txt', 'User-agent: *\nDisallow:\n', { type: 'text', headers: { 'x-static': '1' }, status: 200 });
app.static('/assets', { root: './public', maxAge: '1y', immutable: true, index: ['index.html'], dotfiles: 'deny', extensions: ['html'] });
app.static('/', { root: new URL('file:///srv/www/'), fallthrough: false, headers: { 'x-frame-options': 'DENY' }, precompressed: true });
app.get('/report', (req, res) => res.sendFile('/srv/reports/q3.pdf'));
app.get('/page/:name', async (req, res) => {
  await res.sendFile(req.params.name, { root: './pages', maxAge: 60000, headers: { 'x-page': '1' } }, (err?: FileError) => {
    if (err !== undefined) res.status(err.status ?? 500).send(err.code ?? 'error');
  });
});
app.get('/export', (req, res) => res.download('./exports/today.csv', 'export.csv'));
app.get('/export2', (req, res) => res.download('today.csv', { root: './exports' }, (err) => err && console.error(err.message)));
app.get('/export3', (req, res) => res.download('./x.csv', null, { dotfiles: 'allow' }));

app.group('/api/v1', (api: Router) => {
  api.get('/health', (req, res) => res.json({ ok: true }));
  api.group('/admin', (admin) => {
    admin.use((req, res, next) => (req.user === undefined ? res.status(401).json({ error: 'Unauthorized' }) : next()));
    admin.post('/cache/clear', (req, res) => {
      const cache: AppCache = app.cache;
      cache.clear();
      res.sendStatus(204);
    });
  });
});

const onError: ErrorHandler = (err, req, res) => {
  const status = typeof err?.status === 'number' ? err.status : 500;
  res.status(status).json({ error: status === 500 ? 'Internal Server Error' : String(err.message) });
};
const onNotFound: NotFoundHandler = (req, res) => res.status(404).json({ error: `no route for ${req.path}` });
app.error(onError).notFound(onNotFound);

async function main(): Promise<void> {
  const options: ListenOptions = { port: process.env.PORT ?? 0, host: '127.0.0.1', driver: 'auto', debug: false };
  const server: Server = await app.listen(options);
  const other: Server = await app.listen(0);
  const url: string = server.url;
  const port: number = server.port;
  const driver: 'io_uring' | 'epoll' | 'kqueue' | 'node' = server.driver;
  const backend: 'native' | 'node' = server.backend;
  const onNode: Server = await app.listen({ port: 0, backend: 'node' });
  console.log(backend, onNode.backend);
  console.log(`listening on ${url} (${server.host}:${port}, ${driver})`);

  const onServerError = (err: HttpNativeError) => console.error(err.code, err.message);
  server.on('error', onServerError);
  server.once('error', (err) => console.error(err.code));
  server.off('error', onServerError);
  server.addListener('error', onServerError).removeListener('error', onServerError);
  server.prependListener('error', onServerError).prependOnceListener('error', onServerError);
  const listeners: number = server.listenerCount('error');

  const stats: ServerStats = server.stats();
  const counted: number =
    stats.connections.open +
    stats.connections.total +
    stats.requests.total +
    stats.requests.native +
    stats.requests.js +
    stats.cache.hits +
    stats.cache.misses +
    stats.cache.entries +
    stats.cache.bytes +
    stats.cache.evictions +
    stats.cache.notModified +
    stats.bridge.calls +
    stats.bridge.requests +
    stats.bridge.direct +
    stats.bridge.polled +
    stats.bridge.requestsPerCall +
    stats.responses['1xx'] +
    stats.responses['2xx'] +
    stats.responses['3xx'] +
    stats.responses['4xx'] +
    stats.responses['5xx'];
  console.log(listeners, counted);

  process.once('SIGTERM', () => {
    void Promise.all([server.close({ timeout: 5000 }), other.close()]);
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

// Misuse the types must refuse. Each line would otherwise be a bug at runtime.
function refused(req: Request, res: Response, server: Server): void {
  // @ts-expect-error deflate is not offered
  createApp({ compression: { encodings: ['deflate'] } });
  // @ts-expect-error a level is a number
  app.get('/bad-level', { compression: { level: { br: 'max' } } }, () => undefined);
  // @ts-expect-error a route's body is streamed or buffered, nothing else
  app.post('/bad-body', { body: 'json' }, () => undefined);
  // @ts-expect-error res.write() takes bytes or a string, not an object
  app.get('/bad-write', (req, res) => res.write({ a: 1 }));
  // @ts-expect-error the method is read-only
  req.method = 'POST';
  // @ts-expect-error status takes a number
  res.status('404');
  // @ts-expect-error ncache needs a TTL
  res.ncache({ a: 1 });
  // @ts-expect-error an SSE id is a string or a number
  res.sse().send({ id: { a: 1 }, data: 'x' });
  // @ts-expect-error unknown SSE option
  res.sse({ keepAlive: 1000 });
  // @ts-expect-error dotfiles is 'ignore', 'deny' or 'allow'
  res.sendFile('/x', { dotfiles: 'hide' });
  // @ts-expect-error sendFile has no index option (one file)
  res.sendFile('/x', { index: false });

  // @ts-expect-error the 'error' listener receives an HttpNativeError, typed (not any)
  server.on('error', (err) => err.nope);
  // @ts-expect-error driver names the one in use: 'auto' is an option, not a driver
  const driver: 'auto' = server.driver;
  // @ts-expect-error close() options take a timeout, nothing else
  void server.close({ timeout: 1, force: true });
  // @ts-expect-error unknown limit
  createApp({ maxBody: 10 });
  // @ts-expect-error a limit is a number
  req.parts({ limits: { fileSize: '1mb' } });
  // @ts-expect-error unknown limit
  req.parts({ limits: { maxFileSize: 10 } });
  // @ts-expect-error a field has no file stream
  void (async () => { for await (const part of req.parts()) if (part.type === 'field') part.file.resume(); })();
  // @ts-expect-error a route needs a path
  app.get((rq: Request, rs: Response) => rs.end());
  void driver;
}
void refused;

// Express's everyday surface: settings, proxies, negotiation, cookies.
function expressSurface(): void {
  const proxied = createApp({ trustProxy: 'loopback, 10.0.0.0/8', cookieSecret: ['new', 'old'] });
  proxied.set('trust proxy', (address: string, hop: number) => hop < 1 || address === '10.0.0.1');
  proxied.set('json spaces', 2).enable('x').disable('y');
  const offset: number = proxied.get('subdomain offset');
  const on: boolean = proxied.enabled('x') && !proxied.disabled('y');
  void proxied.settings['trust proxy'];
  proxied.get('/who', (req, res) => {
    const ip: string = req.ip;
    const ips: string[] = req.ips;
    const host: string | undefined = req.hostname ?? req.host;
    const best: string | false = req.accepts('json', 'html');
    const all: string[] = req.accepts();
    const encoding = req.acceptsEncodings(['br', 'gzip']);
    const isJson: string | false | null = req.is('json');
    const range = req.range(1000, { combine: true });
    if (Array.isArray(range)) void range[0].start, void range.type;
    const fresh: boolean = req.fresh || req.stale || req.xhr || req.secure;
    const sid = req.signedCookies.sid as string | false | undefined;
    const name: unknown = req.cookies.name;
    void [ip, ips, host, best, all, encoding, isJson, fresh, sid, name, req.subdomains, req.app.get('x'), req.secret];
    res.cookie('sid', 'abc', { signed: true, httpOnly: true, sameSite: 'lax', maxAge: 3600_000, partitioned: true, priority: 'high', secure: true });
    res.clearCookie('old', { path: '/app' });
    res.vary('Accept').location('/next').links({ next: '/p/2', alternate: ['/a', '/b'] }).attachment('report.pdf');
    res.format({
      json: () => res.json({ ip }),
      html: (rq, rs) => rs.send('<p>hi</p>'),
      default: (rq, rs, next) => next(),
    });
    res.contentType('png').jsonp({ ok: true });
  });
  // @ts-expect-error sameSite takes the three names or a boolean
  proxied.get('/x', (req, res) => res.cookie('a', 'b', { sameSite: 'sideways' }));
  // @ts-expect-error trust proxy is not an object
  createApp({ trustProxy: { hops: 1 } });
  void offset;
  void on;
}
void expressSurface;
// Sessions: the middleware, its stores, and req.session typed through SessionData.
import { session, MemorySessionStore, RedisSessionStore, RedisRateLimitStore } from 'http-native';
import type { SessionOptions, SessionStoreLike, SessionData } from 'http-native';

declare module 'http-native' {
  interface SessionData {
    views?: number;
  }
}

const sessionOptions: SessionOptions = {
  secret: ['new', 'old'],
  store: new MemorySessionStore({ maxSessions: 1000, maxBytes: 1 << 20 }),
  cookie: { maxAge: 60_000, secure: 'auto', sameSite: 'strict' },
  rolling: true,
};
const sessionApp = createApp();
sessionApp.use(session(sessionOptions));
sessionApp.get('/views', async (req, res) => {
  const s = req.session!;
  s.views = (s.views ?? 0) + 1;
  const left: number | null = s.cookie.maxAge;
  await s.save();
  s.regenerate((err) => {
    if (err) throw err;
    res.json({ views: s.views, left, id: req.sessionID });
  });
});
// @ts-expect-error a secret is required
session({ name: 'sid' });
// @ts-expect-error secure is a boolean or 'auto'
session({ secret: 's', cookie: { secure: 'always' } });

declare const redisClient: { sendCommand(args: string[]): Promise<unknown> };
const redisStore: SessionStoreLike = new RedisSessionStore({ client: redisClient, prefix: 'app:' });
const limiterStore = new RedisRateLimitStore({ client: redisClient });
limiterStore.increment('1.2.3.4', 60_000).then(({ count, resetMs }: { count: number; resetMs: number }) => count + resetMs);
declare const pubsubClient: { sendCommand(args: string[]): Promise<unknown>; duplicate(): unknown };
void app.cache.fanOut(pubsubClient, { channel: 'shop:cache', onError: (err: Error) => console.error(err.message) }).then((fan) => fan.close());
// @ts-expect-error the subscriber is made with duplicate(): a client without it cannot fan out
void app.cache.fanOut(redisClient);
const someData: SessionData = { views: 1 };
void redisStore.set('id', someData, undefined);

// Every core: I/O threads, and workers through serve().
async function everyCore(): Promise<void> {
  const server = await createApp().listen({ port: 0, ioThreads: 'auto' });
  const threads: number = server.ioThreads;
  const perThread = server.stats().threads?.map((s) => s.requests.total);
  void [threads, perThread];
  const cluster: Cluster = await serve('./app.js', { workers: 2, port: 3000, ioThreads: 2 });
  cluster.on('restart', ({ worker, exitCode }) => console.warn(worker, exitCode));
  const stats = await cluster.stats();
  const each: number[] = stats.workers.map((w) => w.requests.js);
  void each;
  await cluster.close({ timeout: 1000 });
  // @ts-expect-error workers is a number or 'auto'
  void serve(new URL('file:///app.mjs'), { workers: 'all' });
}
void everyCore;

// app.inject(): socketless requests, whole or streamed; supertest through app.callback().
async function injected(): Promise<void> {
  const app = createApp();
  const res = await app.inject({ method: 'POST', url: '/users', body: { name: 'ada' }, headers: { 'x-a': ['1', '2'] } });
  const status: number = res.statusCode;
  const text: string = res.body;
  const bytes: Buffer | null = res.rawPayload;
  const parsed = res.json<{ id: number }>();
  void [status, text, bytes, parsed.id];
  const streamed = await app.inject({ url: '/events', query: { a: [1, 2] }, payloadAsStream: true });
  for await (const chunk of streamed.stream()) void chunk;
  app.inject('/x', (err, r) => void [err, r?.statusCode]);
  const hits: number | undefined = app.injectServer?.stats().cache.hits;
  void hits;
  void app.callback();
  await app.close();
  // @ts-expect-error method is a string
  void app.inject({ method: 1 });
}
void injected;
// The fetch entry: a bound WHATWG handler for Bun.serve, Deno.serve and Workers.
async function fetchEntry(): Promise<void> {
  const handler: (request: globalThis.Request, info?: FetchInfo | object) => Promise<globalThis.Response> = app.fetch;
  const answer: globalThis.Response = await handler(new globalThis.Request('http://localhost/users/1'), { ip: '127.0.0.1' });
  const status: number = answer.status;
  // A Worker's module: `export default { fetch: app.fetch }`, called with its env and context.
  const worker = { fetch: app.fetch };
  await worker.fetch(new globalThis.Request('https://example.com/'), { KV: 'binding' });
  void status;
  // @ts-expect-error a Request, not a URL string
  void app.fetch('/users/1');
}
void fetchEntry;
