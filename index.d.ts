/// <reference types="node" />
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';

/** Limits enforced by the native HTTP layer before a request reaches JavaScript. */
export interface Limits {
  /** Bytes of request line plus headers; larger requests get 431. Default 16384. */
  maxHeaderSize?: number;
  /** Number of request headers; more get 431. Default 128. */
  maxHeaders?: number;
  /** Bytes of the request target; longer get 414. Default 8192. */
  maxUrlLength?: number;
  /** Body bytes (inclusive); larger bodies get 413 and the connection is closed. Default 1048576. */
  bodyLimit?: number;
  /** Milliseconds an idle keep-alive connection stays open. Default 5000. */
  keepAliveTimeout?: number;
  /** Milliseconds a client has to finish sending a request head, else 408. Default 10000. */
  headersTimeout?: number;
  /**
   * Milliseconds from the end of the head to the end of the body, else 408; also the longest a
   * response write may make no progress before the connection is dropped. Default 30000.
   */
  requestTimeout?: number;
  /**
   * Milliseconds a handler has to answer; past it Rust answers 503, `req.signal` aborts and the
   * late answer is dropped. Default 30000. Also bounds how long single-flight waiters wait.
   */
  handlerTimeout?: number;
  /**
   * Milliseconds a streamed response (`res.write()`, `res.sse()`, `res.send(stream)`) may go
   * without the handler sending a byte (time spent waiting for a slow client to take bytes does
   * not count); past it the server ends it (the connection closes, so
   * the client sees it cut off), `res` emits 'close' and `req.signal` aborts
   * (`HN_ERR_STREAM_TIMEOUT`). Once a response has begun streaming, `handlerTimeout` no longer
   * applies to it. `res.sse()` heartbeats keep a quiet stream alive. 0 disables. Default 120000.
   */
  streamTimeout?: number;
  /** Requests waiting on JavaScript at once; past it Rust answers 503 with `Retry-After: 1`. Default 10000. */
  maxInFlight?: number;
  /**
   * Bytes of request bodies the server holds at once: bodies being received plus bodies handed
   * to JavaScript whose answers are not written yet. Past it the server stops reading bodies
   * (TCP backpressure holds the clients back) until answers make room. A body of known length
   * waits until it fits whole; one larger than the budget is read when nothing else is held.
   * Default 67108864 (64 MiB).
   */
  maxInFlightBytes?: number;
  /**
   * Requests parsed ahead on one connection before their responses are written; the rest waits
   * in the socket (backpressure, not an error). Default 64.
   */
  maxPipelined?: number;
  /**
   * Microseconds (0–1000) the JavaScript thread waits, after answering a client that sends
   * requests back to back, for that client's next request instead of going to sleep; it then
   * serves it without being woken. Back in the event loop after 32 in a row; after 8 waits in a
   * row that caught nothing, it skips the next 64 chances to wait. 0 never waits. Default 50.
   */
  busyPoll?: number;
}

/** Options a route may take before its handlers: `app.post('/upload', { bodyLimit: 10e6 }, handler)`. */
export interface RouteOptions {
  /**
   * This route's body limit in bytes, overriding the server's `bodyLimit` (decided before the
   * body is read). A streamed body (`body: 'stream'`) has no limit unless this sets one.
   */
  bodyLimit?: number;
  /**
   * `'stream'`: the handler runs as soon as the head arrives and reads the body as it comes
   * (`for await (const chunk of req)`, `req.pipe()`, `pipeline(req, dest)`), with backpressure:
   * the server stops reading the client's socket while the handler has not read what it got.
   * `req.body` is then undefined. A body that stops arriving for `requestTimeout` gets the client
   * 408 and errors the stream (`HN_ERR_BODY_TIMEOUT`). Default `'buffer'`: the whole body is
   * collected (within `bodyLimit`) and parsed into `req.body`.
   */
  body?: 'stream' | 'buffer';
  /**
   * This route's compression, overriding the app's: `false` turns it off here, `true` uses the
   * app's settings (or the defaults), an object refines them field by field.
   */
  compression?: boolean | CompressionOptions;
  /**
   * Schemas the request must satisfy before the route's handlers run (README, "Validation"):
   * each part a JSON Schema or a Standard Schema (zod, valibot, arktype). JSON Schemas, and the
   * JSON Schema a Standard Schema exposes, are checked by Rust before any JS runs. Params, query
   * and headers are coerced to the scalar types their JSON Schema declares. A failing request
   * gets 400 `{ error: 'Bad Request', issues: [{ in, path, message }] }` (415 for a body that is
   * not JSON). The handlers' `req` is typed from the schemas.
   */
  schema?: RouteSchema;
}

/** A route's `schema` option. */
export interface RouteSchema {
  params?: AnySchema;
  query?: AnySchema;
  headers?: AnySchema;
  body?: AnySchema;
}

/** A JSON Schema (an object, or `true`/`false`) or a Standard Schema. */
export type AnySchema = StandardSchema | JsonSchema | boolean;

/** The JSON Schema keywords the handler types are inferred from; any other keyword is allowed. */
export interface JsonSchema {
  type?: JsonSchemaTypeName | readonly JsonSchemaTypeName[];
  properties?: { readonly [name: string]: JsonSchema | boolean };
  required?: readonly string[];
  items?: JsonSchema | boolean;
  enum?: readonly unknown[];
  const?: unknown;
  [keyword: string]: unknown;
}
export type JsonSchemaTypeName = 'string' | 'integer' | 'number' | 'boolean' | 'null' | 'array' | 'object';

/**
 * The Standard Schema interface (standardschema.dev) that zod 4, valibot and arktype implement:
 * only what the types need.
 */
export interface StandardSchema<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => unknown;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/** The value a schema yields: a Standard Schema's output, or what a JSON Schema describes. */
export type InferSchema<S> = S extends { readonly '~standard': { readonly types?: infer T } }
  ? NonNullable<T> extends { readonly output: infer O }
    ? O
    : unknown
  : S extends true
    ? unknown
    : S extends JsonSchema
      ? FromJsonSchema<S>
      : unknown;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type FromJsonSchema<S> = S extends { readonly const: infer C }
  ? C
  : S extends { readonly enum: readonly (infer E)[] }
    ? E
    : S extends { readonly type: infer T }
      ? T extends readonly (infer U)[]
        ? FromJsonType<S, U>
        : FromJsonType<S, T>
      : S extends { readonly properties: object }
        ? FromJsonType<S, 'object'>
        : unknown;
type FromJsonType<S, T> = T extends 'string'
  ? string
  : T extends 'integer' | 'number'
    ? number
    : T extends 'boolean'
      ? boolean
      : T extends 'null'
        ? null
        : T extends 'array'
          ? S extends { readonly items: infer I }
            ? FromJsonSchema<I>[]
            : unknown[]
          : T extends 'object'
            ? S extends { readonly properties: infer P }
              ? Simplify<
                  { -readonly [K in keyof P as K extends RequiredOf<S> ? K : never]: FromJsonSchema<P[K]> } & {
                    -readonly [K in keyof P as K extends RequiredOf<S> ? never : K]?: FromJsonSchema<P[K]>;
                  }
                >
              : Record<string, unknown>
            : unknown;
type RequiredOf<S> = S extends { readonly required: readonly (infer R)[] } ? R : never;
type LowercaseKeys<T> = { [K in keyof T as K extends string ? Lowercase<K> : K]: T[K] };

/**
 * The request of a route with schemas: each part with a schema typed from it (header names
 * lower-cased, as they arrive), the others as on `Request`.
 */
export type SchemaRequest<S extends RouteSchema> = Omit<Request, 'params' | 'query' | 'headers' | 'body'> & {
  params: S extends { params: infer P } ? InferSchema<P> : Record<string, string>;
  query: S extends { query: infer Q } ? InferSchema<Q> : Record<string, string | string[]>;
  headers: S extends { headers: infer H } ? LowercaseKeys<InferSchema<H>> & { readonly [name: string]: unknown } : IncomingHeaders;
  body: S extends { body: infer B } ? InferSchema<B> : any;
};

/** A handler of a route with schemas. */
export type SchemaHandler<S extends RouteSchema> = (req: SchemaRequest<S>, res: Response, next: NextFunction) => unknown;

/**
 * Response compression (br, zstd, gzip), negotiated from `Accept-Encoding` and done on the
 * server thread. `true` takes every default.
 */
export interface CompressionOptions {
  /** Bytes; a shorter body goes out unencoded (a streamed one is always encoded). Default 1024. */
  threshold?: number;
  /** The codings offered, in the server's order of preference. Default `['br', 'zstd', 'gzip']`. */
  encodings?: Array<'br' | 'zstd' | 'gzip'>;
  /** Levels: br 0–11 (default 4), zstd 1–19 (default 3), gzip 1–9 (default 6). */
  level?: { br?: number; zstd?: number; gzip?: number };
  /**
   * Media types compressed, replacing the default list (every `text/` type, `+json`/`+xml` types,
   * JSON, JavaScript, XML, WebAssembly, ...). Each is a type (`'text/html'`), a whole top-level
   * type (`'text/'` followed by `*`), or a structured suffix (`'*'`, `'/'`, `'*'`, then `'+json'`,
   * written together; see the README's Compression section).
   */
  types?: string[];
}

/** Bounds of the native response cache (`res.ncache()`); least recently used entries are evicted first. */
export interface CacheOptions {
  /** Bytes of stored responses (status, headers, key and body). A positive integer up to 2^32-1. Default 64 MiB. */
  maxBytes?: number;
  /** Number of stored responses. A positive integer. Default 100000. */
  maxEntries?: number;
}

/**
 * Bounds of the in-memory copy of small files served from directory mounts and `res.sendFile()`.
 * A kept file is served while its identity on disk (device, inode, size, mtime, ctime) is
 * unchanged, checked with one `stat` per request; any write is seen by the next request.
 */
export interface FileCacheOptions {
  /** Bytes of all kept files (and their compressed variants). Default 32 MiB. */
  maxBytes?: number;
  /** Files larger than this are read from disk on every request. Default 256 KiB. */
  maxFileSize?: number;
}

/** Options of `createApp()`: default limits for every server the app starts. */
export interface AppOptions extends Limits {
  /** Response cache bounds; `listen({ cache })` overrides them field by field. */
  cache?: CacheOptions;
  /** The small-file cache; `false` keeps no file in memory. `listen({ fileCache })` overrides it. */
  fileCache?: FileCacheOptions | false;
  /**
   * Compress answers (JS, streamed, `res.ncache()`, `app.static()`, files) for clients that
   * accept it. Default `false`: as with Express and Fastify, it is opted into.
   */
  compression?: boolean | CompressionOptions;
  /** The `'trust proxy'` setting (`app.set('trust proxy', value)`), Express's forms. Default `false`. */
  trustProxy?: TrustProxy;
  /**
   * The `'cookie secret'` setting: the secret `res.cookie(..., { signed: true })` signs with, and
   * `req.signedCookies` verifies with. A list rotates: the first signs, any verifies.
   */
  cookieSecret?: CookieSecret | CookieSecret[];
}

/**
 * Which proxies' forwarded headers to believe (Express's `'trust proxy'`): `true` (any), a hop
 * count (the nearest n), addresses and CIDR ranges as a comma-separated string or an array, with
 * the names `'loopback'`, `'linklocal'`, `'uniquelocal'`, or a function of the address and its hop
 * number (0 = the connection's peer). `false` (the default) believes none.
 */
export type TrustProxy = boolean | number | string | readonly string[] | ((address: string, hop: number) => boolean);

export type CookieSecret = string | Buffer;

/** `res.cookie()`'s options: the attributes of RFC 6265bis, as Express takes them. */
export interface CookieOptions {
  /** Lifetime in milliseconds: sets `Max-Age` (in seconds) and `Expires` from it. */
  maxAge?: number;
  expires?: Date;
  domain?: string;
  /** Default `'/'`. */
  path?: string | null;
  secure?: boolean;
  httpOnly?: boolean;
  /** `true` is `Strict`. */
  sameSite?: boolean | 'lax' | 'strict' | 'none' | 'Lax' | 'Strict' | 'None';
  /** CHIPS: the cookie is kept per top-level site. */
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high' | 'Low' | 'Medium' | 'High';
  /** Signs the value with the app's first cookie secret (`s:` + HMAC, cookie-parser's format). */
  signed?: boolean;
  /** Encodes the value; default `encodeURIComponent`. */
  encode?: (value: string) => string;
}

/** `req.range()`'s satisfiable answer: byte ranges (inclusive) and the unit they are in. */
export type Ranges = Array<{ start: number; end: number }> & { type: string };

/** Options of `app.listen()`. Limits given here override those given to `createApp()`. */
export interface ListenOptions extends Limits {
  /** Port to bind; 0 (the default) picks a free one. A numeric string is accepted. */
  port?: number | string;
  /**
   * Address to bind, exactly (`'127.0.0.1'`, `'0.0.0.0'`, `'::1'`, a name such as `'localhost'`,
   * which binds the first address it resolves to). Default: every interface, as in node and
   * Express: `'::'` accepting IPv4 too, or `'0.0.0.0'` where IPv6 is unavailable. That is what a
   * server in a container needs (one bound to `127.0.0.1` is unreachable through a published
   * port); fastify defaults to localhost instead. Give `'127.0.0.1'` to accept only local clients.
   */
  host?: string;
  /** Connections the kernel queues before they are accepted (capped by `net.core.somaxconn`). Default 1024. */
  backlog?: number;
  /**
   * SO_REUSEPORT: servers (in this or other processes) that all set it share the port, the
   * kernel spreading connections between them. Default `false`, except in a `node:cluster`
   * worker (PM2's cluster mode included), where it is `true` so that every worker can
   * `listen(port)` as with node:http.
   */
  reusePort?: boolean;
  /**
   * Native I/O threads on the port, each binding it with SO_REUSEPORT: `'auto'` is one per core
   * (`os.availableParallelism()`). They share the response cache; handlers run in this JS
   * thread. Default 1; at most 256.
   */
  ioThreads?: number | 'auto';
  /**
   * How connections reach several I/O threads: `'acceptor'` (default), the first accepting for
   * all and handing each connection to the thread with the fewest open; `'reuseport'`, each
   * thread accepting on its own SO_REUSEPORT socket (the kernel hashes each connection to one).
   */
  balance?: 'reuseport' | 'acceptor';
  /**
   * `'auto'` (default) uses io_uring when the kernel allows it, else the legacy driver
   * (epoll/kqueue); `'legacy'` forces the latter. `HTTP_NATIVE_DRIVER=legacy` forces it too.
   */
  driver?: 'auto' | 'legacy';
  /**
   * Which server runs the app: `'native'` (the Rust addon) or `'node'` (the same app on
   * node:http; no WebSocket, TLS or HTTP/2: README "Backends"). Default: `HTTP_NATIVE_BACKEND`,
   * else the addon where it loads.
   */
  backend?: 'native' | 'node';
  /**
   * Print the listening address, and errors reaching the error handler, to stderr.
   * Defaults to whether `NODE_DEBUG` lists `http-native`.
   */
  debug?: boolean;
  /** Response cache bounds for this server; fields given here override those of `createApp()`. */
  cache?: CacheOptions;
  /** The small-file cache for this server; `false` keeps no file in memory. */
  fileCache?: FileCacheOptions | false;
  /** Serve HTTPS on this port (rustls: TLS 1.2 and 1.3). */
  tls?: TlsOptions;
  /**
   * HTTP/2. Default: on with `tls` (offered by ALPN, next to HTTP/1.1), off without. `true`
   * without `tls` serves h2c with prior knowledge on the same port, next to HTTP/1.1. An object
   * turns it on with these settings.
   */
  http2?: boolean | Http2Options;
}

/** PEM text as a string or a Buffer. */
export type Pem = string | Buffer;

export interface TlsOptions {
  /** The private key (PKCS#8, PKCS#1 or SEC1 PEM; encrypted keys need `passphrase`). */
  key: Pem;
  /** The certificate, followed by its chain. */
  cert: Pem;
  /** CAs that sign client certificates (with `requestCert`). */
  ca?: Pem | Pem[];
  /** Decrypts an encrypted `key` (with node:crypto, before it reaches Rust). */
  passphrase?: string | Buffer;
  /** Default `'TLSv1.2'`. Older versions are not supported. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** Protocols offered by ALPN in order of preference. Default `['h2', 'http/1.1']` with HTTP/2 on, else `['http/1.1']`. */
  alpn?: string[];
  /** Ask clients for a certificate, verified against `ca` (mTLS); see `req.clientCertificate`. */
  requestCert?: boolean;
  /** With `requestCert`: `true` (default) refuses a client without a valid certificate; `false` lets one without a certificate in (one that sends a certificate must still send a valid one). */
  rejectUnauthorized?: boolean;
  /** Milliseconds a client has to finish its handshake; 0 waits for ever. Default 10000. */
  handshakeTimeout?: number;
  /** Further certificates by the host name a client asks for (SNI): exact names or `*.example.com`. Others get `key`/`cert`. */
  sni?: Record<string, { key: Pem; cert: Pem; passphrase?: string | Buffer }>;
}

export interface Http2Options {
  /** Streams one connection may have open at once. Default 100. */
  maxConcurrentStreams?: number;
  /** Each stream's receive window (and the connection's), in bytes. Default 1 MiB. */
  initialWindowSize?: number;
  /** The most decoded header bytes a request may have (HPACK bombs, CONTINUATION floods). Default 16 KiB. */
  maxHeaderListSize?: number;
  /** The largest frame the server accepts. Default 16 KiB (the protocol's minimum). */
  maxFrameSize?: number;
}

export interface CloseOptions {
  /** Milliseconds to let in-flight requests finish before their connections are forced closed. Default 10000. */
  timeout?: number;
}

/**
 * The errors http-native throws, rejects with or emits: an `Error` (or `TypeError`, `RangeError`,
 * `SyntaxError`) whose `code` is one of the `HN_ERR_*` codes, the stable part to test against.
 */
export interface HttpNativeError extends Error {
  /** `'HN_ERR_INTERNAL'`, `'HN_ERR_BAD_OPTION'`, ...: see the README. */
  code: string;
  /** The status the default error handler answers when such an error reaches it during a request. */
  status?: number;
  /** Same as `status`. */
  statusCode?: number;
}

/** A listener for a server's `'error'` event. */
export type ServerErrorListener = (err: HttpNativeError) => void;

/**
 * A running server, as resolved by `app.listen()`. It emits `'error'` (an `HN_ERR_INTERNAL`
 * Error) when the native server thread contained an internal failure and kept serving; without
 * a listener the error is logged to stderr instead of being thrown. It emits no other event.
 */
export interface Server extends EventEmitter {
  on(event: 'error', listener: ServerErrorListener): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'error', listener: ServerErrorListener): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  off(event: 'error', listener: ServerErrorListener): this;
  off(event: string | symbol, listener: (...args: any[]) => void): this;
  addListener(event: 'error', listener: ServerErrorListener): this;
  addListener(event: string | symbol, listener: (...args: any[]) => void): this;
  removeListener(event: 'error', listener: ServerErrorListener): this;
  removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
  prependListener(event: 'error', listener: ServerErrorListener): this;
  prependListener(event: string | symbol, listener: (...args: any[]) => void): this;
  prependOnceListener(event: 'error', listener: ServerErrorListener): this;
  prependOnceListener(event: string | symbol, listener: (...args: any[]) => void): this;
  /**
   * A URL a client on this machine can use: `http://127.0.0.1:port` when listening on every
   * interface, else the bound address (an IPv6 one in brackets).
   */
  readonly url: string;
  /** The bound port (the chosen one when listening on port 0). */
  readonly port: number;
  /** The bound address: `'::'` or `'0.0.0.0'` when listening on every interface. */
  readonly host: string;
  /** Where the server listens, as node's `server.address()` gives it; `null` once `close()` was called. */
  address(): ServerAddress | null;
  /** The I/O driver actually in use (`'node'` on the node backend). */
  readonly driver: 'io_uring' | 'epoll' | 'kqueue' | 'node';
  /** The backend serving: the Rust addon, or node:http (README "Backends"). */
  readonly backend: 'native' | 'node';
  /**
   * Stops accepting connections, lets in-flight requests finish, closes idle connections and
   * resolves once nothing of the server keeps the process alive. Repeated calls return the same promise.
   */
  close(options?: CloseOptions): Promise<void>;
  /** Counters since the server started: a fresh object of plain numbers on every call (also after close()). */
  stats(): ServerStats & { threads?: ServerStats[] };
  /** The native I/O threads serving the port (`listen({ ioThreads })`). */
  readonly ioThreads: number;
  /** Whether the server speaks TLS (`url` is then `https://...`). */
  readonly secure: boolean;
  /**
   * As node's `tls.Server#setSecureContext()`: handshakes from now on use these certificates
   * (and any other `tls` option given; the rest stay as `listen()` set them); connections already
   * open keep theirs. Throws `HN_ERR_TLS`, changing nothing, when they cannot be used.
   */
  setSecureContext(options: TlsOptions): void;
}

/** What `server.address()` returns: node's `AddressInfo` shape. */
export interface ServerAddress {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

/**
 * The callback of `listen()`: called once listening with the server as `this` and no argument,
 * or with the error if listening failed (the returned promise then rejects too, but counts as
 * handled).
 */
export type ListenCallback = (this: Server, error?: Error) => void;

/** What `server.stats()` returns. Every field counts since the server started. */
export interface ServerStats {
  connections: {
    /** Connections open right now. */
    open: number;
    /** Connections accepted. */
    total: number;
  };
  requests: {
    /** Requests read; each is also counted in `native` or `js`, depending on who answers it. */
    total: number;
    /** Answered by Rust alone, without running JS: cache hits, 304s, static responses, 404s of apps without middleware or notFound handler, protocol errors (400, 408, 413, 414, 431, ...). */
    native: number;
    /** Dispatched to JS (route handlers, middleware, the not-found handler). */
    js: number;
  };
  cache: {
    /** Requests answered from the response cache, 304s included (static responses are not counted here). */
    hits: number;
    /** GET/HEAD requests on a route that has cached a response, for which no fresh entry existed. */
    misses: number;
    /** Responses stored right now. */
    entries: number;
    /** Bytes stored right now, as counted against `cache.maxBytes`. */
    bytes: number;
    /** Entries dropped to stay within `maxBytes`/`maxEntries` (not expiry or invalidation). */
    evictions: number;
    /** Cache hits answered 304 because `If-None-Match` matched the ETag. */
    notModified: number;
  };
  bridge: {
    /** Batches of requests handed to JS. */
    calls: number;
    /** Requests those batches carried. */
    requests: number;
    /** Answers to lone requests the JS thread wrote to the socket itself. */
    direct: number;
    /** Batches (among `calls`) taken by a JS thread waiting for them (`busyPoll`). */
    polled: number;
    /** Waits for such a batch (`busyPoll`); `polled / waited` is how often a wait caught one. */
    waited: number;
    /** `requests / calls` rounded to 2 decimals (0 before the first call): the average batch size. */
    requestsPerCall: number;
  };
  /** Request bodies held against `maxInFlightBytes`. */
  bodies: {
    /** Bytes held now: bodies being received and bodies waiting on JS. */
    bytes: number;
    /** Connections waiting now for room before reading a body. */
    waiting: number;
  };
  /** Responses sent, by status class, whoever answered. */
  responses: {
    '1xx': number;
    '2xx': number;
    '3xx': number;
    '4xx': number;
    '5xx': number;
  };
  /** WebSockets (`app.ws()`). */
  ws: {
    /** Sockets open now. */
    open: number;
    /** Upgrades accepted. */
    total: number;
    /** Messages received from clients. */
    messagesIn: number;
    /** Messages queued for clients (a publish counts once per subscriber it reached). */
    messagesOut: number;
    /** Bytes read from WebSocket connections, frame headers included. */
    bytesIn: number;
    /** Bytes written to WebSocket connections, frame headers included. */
    bytesOut: number;
    /** Publishes (`ws.publish()`, `app.publish()`) that reached the server thread. */
    published: number;
    /** Published messages a subscriber missed for being over its `maxBackpressure`. */
    dropped: number;
  };
  tls: {
    /** TLS handshakes completed. */
    handshakes: number;
    /** Connections to the TLS port that ended before a handshake did: not TLS, a bad or too slow handshake, a refused client certificate. */
    failures: number;
  };
  h2: {
    /** HTTP/2 connections (over TLS or h2c). */
    connections: number;
    /** HTTP/2 streams (requests) accepted. */
    streams: number;
  };
}

/** Header values as they appear in `req.headers` (node:http's shape). */
export interface IncomingHeaders {
  'set-cookie'?: string[];
  [name: string]: string | string[] | undefined;
}

/**
 * The request. Middleware that attach properties can type them by augmenting this interface:
 * `declare module 'http-native' { interface Request { user?: User } }`.
 */
export interface Request extends AsyncIterable<Buffer> {
  /** Upper-case method, e.g. `'GET'`. A HEAD request answered by a GET route keeps `'HEAD'`. */
  readonly method: string;
  /** Path plus `?query` when the request had one, as sent (not percent-decoded; raw non-ASCII bytes decoded as UTF-8). */
  url: string;
  /** Path without the query, as sent (not percent-decoded; raw non-ASCII bytes decoded as UTF-8). */
  path: string;
  /** The query string parsed with node:querystring; repeated keys become arrays. */
  query: Record<string, string | string[]>;
  /** Route parameters, percent-decoded. A bare trailing `*` wildcard is `params['*']`. */
  params: Record<string, string>;
  /**
   * Request headers with lower-case names. Repeats are joined with `', '` (`cookie` with `'; '`),
   * `set-cookie` is an array, and headers that may not repeat keep their first value, as in node:http.
   */
  headers: IncomingHeaders;
  /**
   * The body, parsed by content type just before the route's first handler (or at the first read,
   * if a middleware reads it earlier): JSON (`application/json`, `+json`) to its value, `text/*` to
   * a string, urlencoded forms to an object, anything else to a Buffer; `undefined` when the body is
   * empty, and for `multipart/form-data` (read it with `req.parts()`). Invalid JSON throws `HN_ERR_BAD_JSON` (status 400) from that read, which takes the error
   * path; later reads give `undefined`. Assigning it replaces the parsed value.
   */
  body: any;
  /**
   * The client's address, e.g. `'127.0.0.1'` or `'::1'`: the connection's, or under `'trust
   * proxy'` the nearest address of `X-Forwarded-For` (else `Forwarded`'s `for=`) that no trusted
   * proxy vouches for. Assignable.
   */
  ip: string;
  /** Under `'trust proxy'`, the forwarded addresses the trusted proxies vouch for, the client first; else `[]`. */
  readonly ips: string[];
  /** Set by `rateLimit()` for the requests it counted. */
  rateLimit?: RateLimitInfo;
  readonly httpVersion: '1.0' | '1.1' | '2.0';
  /**
   * `'https'` over TLS, else `'http'`; from a trusted proxy (`'trust proxy'`), the first value of
   * `X-Forwarded-Proto` (else `Forwarded`'s `proto=`). Assignable.
   */
  protocol: 'http' | 'https' | string;
  /** `Host` (or HTTP/2's `:authority`) with its port; from a trusted proxy, `X-Forwarded-Host` (else `Forwarded`'s `host=`). */
  readonly host: string | undefined;
  /** `req.host` without its port. */
  readonly hostname: string | undefined;
  /** The host name's labels before the domain (`'subdomain offset'` labels, default 2), nearest first. */
  readonly subdomains: string[];
  /** `X-Requested-With: XMLHttpRequest`. */
  readonly xhr: boolean;
  /**
   * Whether the client's cached copy matches the response as set so far (its `ETag` /
   * `Last-Modified`): GET and HEAD, 2xx or 304, `If-None-Match` / `If-Modified-Since`.
   */
  readonly fresh: boolean;
  readonly stale: boolean;
  /**
   * Cookies, parsed on first read with the `cookie` package: `j:` JSON cookies decoded; with a
   * cookie secret, signed (`s:`) cookies are in `signedCookies` instead. Assignable.
   */
  cookies: Record<string, any>;
  /** Signed cookies that a secret verified (their values), or `false` for those none did. */
  signedCookies: Record<string, any>;
  /** The secret signed cookies are made with: the app's first `'cookie secret'`, unless a middleware set one. */
  secret: CookieSecret | undefined;
  /** The app serving the request. */
  readonly app: App;
  /**
   * The best of `types` (extensions like `'json'` or types like `'text/html'`) for the request's
   * `Accept`, `false` when none is acceptable; with no argument, the accepted types by preference.
   */
  accepts(): string[];
  accepts(...types: Array<string | string[]>): string | false;
  acceptsEncodings(): string[];
  acceptsEncodings(...encodings: Array<string | string[]>): string | false;
  acceptsCharsets(): string[];
  acceptsCharsets(...charsets: Array<string | string[]>): string | false;
  acceptsLanguages(): string[];
  acceptsLanguages(...languages: Array<string | string[]>): string | false;
  /** The type among `types` the body's Content-Type matches, `false` if none, `null` without a body. */
  is(...types: Array<string | string[]>): string | false | null;
  /**
   * `Range` against a resource of `size` bytes: the ranges, `-1` when none is satisfiable, `-2`
   * when the header is malformed, `undefined` without one. `combine` merges overlapping ranges.
   */
  range(size: number, options?: { combine?: boolean }): Ranges | -1 | -2 | undefined;
  /** `protocol === 'https'`. */
  readonly secure: boolean;
  /** The client certificate the TLS handshake verified (mTLS), or undefined. */
  readonly clientCertificate: import('node:crypto').X509Certificate | undefined;
  /** Identifier of this request on its server, unique among requests in flight. */
  readonly id: number;
  /** The URL as received, before a mount stripped its prefix (Express's `req.originalUrl`). */
  originalUrl: string;
  /** The mount prefix of the middleware now running (`app.use('/x', fn)` → `'/x'`), else `''`. */
  baseUrl: string;
  /** The response to this request. */
  readonly res: Response;
  /** node:http's raw header list, `[name, value, ...]` as received (names lower-cased). */
  readonly rawHeaders: string[];
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  /** The whole body has arrived. */
  readonly complete: boolean;
  /** The client went away (or the handler timed out) before the answer was complete. */
  readonly aborted: boolean;
  /** A facade over the connection for middleware (see `CompatSocket`); `connection` is the same. */
  readonly socket: CompatSocket;
  readonly connection: CompatSocket;
  /** A no-op kept for middleware: Rust's `requestTimeout`/`handlerTimeout` govern. */
  setTimeout(ms: number, callback?: () => void): this;
  /**
   * Aborts when the client goes away before the response is sent (reason: `HN_ERR_CLIENT_GONE`)
   * or when the handler exceeded `handlerTimeout` (reason: `HN_ERR_HANDLER_TIMEOUT`); sending
   * afterwards does nothing. Pass it to `fetch()`, database drivers and timers to stop work nobody
   * will read. A client leaving is noticed once the request has waited about 100 ms. A client that
   * only shut down its sending side (a FIN) still gets its answer: from then on, leaving is
   * noticed when the connection is reset, or when the answer cannot be written.
   */
  readonly signal: AbortSignal;
  /** A request header by case-insensitive name (`referer` and `referrer` are interchangeable). */
  get(name: 'set-cookie' | 'Set-Cookie'): string[] | undefined;
  get(name: string): string | undefined;
  /** Same as `get()`. */
  header(name: 'set-cookie' | 'Set-Cookie'): string[] | undefined;
  header(name: string): string | undefined;
  /**
   * The raw body as a Node Readable, built on first use: on a `{ body: 'stream' }` route the
   * bytes as they arrive, elsewhere the collected body as one chunk. `req` is also an async
   * iterable of Buffers.
   */
  pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T;
  unpipe(destination?: NodeJS.WritableStream): this;
  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'end' | 'close', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'data', listener: (chunk: Buffer) => void): this;
  once(event: 'end' | 'close', listener: () => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  off(event: string | symbol, listener: (...args: any[]) => void): this;
  removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
  read(size?: number): Buffer | null;
  pause(): this;
  resume(): this;
  isPaused(): boolean;
  setEncoding(encoding: BufferEncoding): this;
  destroy(error?: Error): this;
  readonly readable: boolean;
  readonly readableEnded: boolean;
  /**
   * The parts of a `multipart/form-data` body, in body order, as @fastify/multipart's `req.parts()`
   * yields them: `for await (const part of req.parts()) ...`. Each file is a stream: read it (or
   * `await part.toBuffer()`) before asking for the next part, or it is skipped. The iterator
   * throws `HN_ERR_MULTIPART_LIMIT` (413, `err.limit` names the limit) past a limit,
   * `HN_ERR_MULTIPART_MALFORMED` (400) for a body that does not parse, `HN_ERR_NOT_MULTIPART`
   * (400) for another content type, and the `req.signal` reason when the client leaves. Invalid
   * options throw `HN_ERR_BAD_OPTION` from this call.
   */
  parts(options?: MultipartOptions): AsyncIterableIterator<MultipartPart>;
}

/** `req.parts()` options. */
export interface MultipartOptions {
  limits?: MultipartLimits;
}

/** Limits of `req.parts()`: non-negative integers, or `Infinity` for none. Past one: 413. */
export interface MultipartLimits {
  /** Bytes of one file; past it the file's stream errors too. Default 1048576. */
  fileSize?: number;
  /** Number of files. Default Infinity (bounded by `parts`). */
  files?: number;
  /** Number of fields (parts that are not files). Default Infinity (bounded by `parts`). */
  fields?: number;
  /** Number of parts, files and fields together. Default 1000. */
  parts?: number;
  /** Bytes of one field's value. Default 1048576. */
  fieldSize?: number;
  /** Bytes of one part's field name. Default 100. */
  fieldNameSize?: number;
  /** Header lines of one part. Default 2000. */
  headerPairs?: number;
  /** Bytes of one part's header lines, the CRLFs between them included. Default 81920. */
  headerSize?: number;
}

/** A part of a multipart body that is not a file (no filename, not application/octet-stream). */
export interface MultipartField {
  type: 'field';
  /** The part's `name`; undefined when its Content-Disposition has none. */
  fieldname: string;
  value: string;
  /** The part's Content-Type, `'text/plain'` when it has none. */
  mimetype: string;
  /** The part's Content-Transfer-Encoding, `'7bit'` when it has none. */
  encoding: string;
  /** Always false: a name past `limits.fieldNameSize` throws instead (kept for @fastify/multipart code). */
  fieldnameTruncated: boolean;
  /** Always false: a value past `limits.fieldSize` throws instead (kept for @fastify/multipart code). */
  valueTruncated: boolean;
}

/** A file of a multipart body: a part with a filename, or of type application/octet-stream. */
export interface MultipartFile {
  type: 'file';
  fieldname: string;
  /** The name the client gave, without any directory; undefined when it gave none. */
  filename: string;
  mimetype: string;
  encoding: string;
  /** The file's bytes as they arrive. Destroyed with the iterator's error when parsing fails. */
  file: Readable;
  /** Reads the whole file into memory (at most `limits.fileSize` bytes). */
  toBuffer(): Promise<Buffer>;
}

export type MultipartPart = MultipartField | MultipartFile;

/**
 * What middleware learn of the connection through `req.socket` (one per request). `'close'` is the
 * response's (the answer is done, or the client left); socket options are no-ops.
 */
export interface CompatSocket {
  /** The peer's address as the server saw it (not the one `trust proxy` derives). */
  readonly remoteAddress: string;
  readonly remoteFamily: 'IPv4' | 'IPv6';
  /** Not known to JS. */
  readonly remotePort: undefined;
  /** `true` over TLS. */
  readonly encrypted: true | undefined;
  readonly writable: boolean;
  readonly readable: boolean;
  readonly destroyed: boolean;
  /** Closes the connection, cutting off an incomplete answer. */
  destroy(err?: Error): this;
  end(): this;
  setTimeout(ms?: number, callback?: () => void): this;
  setNoDelay(noDelay?: boolean): this;
  setKeepAlive(enable?: boolean, delay?: number): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  off(event: string | symbol, listener: (...args: any[]) => void): this;
  removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
}

export type HeaderValue = string | number | ReadonlyArray<string | number>;

/** A body sent as its bytes. */
export type BinaryBody = ArrayBufferView | ArrayBufferLike;

export interface Response {
  /** Status that will be sent; 200 unless changed. */
  statusCode: number;
  /** Whether the response has been sent (a later send/end is ignored). */
  readonly headersSent: boolean;
  /** A place for middleware to pass values to later handlers of the same request. */
  locals: Record<string, any>;
  /** Kept for code that reads it back; the standard reason phrase is sent. */
  statusMessage: string | undefined;
  /** The request this answers. */
  readonly req: Request;
  /** The same facade as `req.socket`. */
  readonly socket: CompatSocket;
  readonly connection: CompatSocket;
  /** Always `true`: Rust writes `Date` on every answer. */
  readonly sendDate: boolean;
  /** A no-op kept for middleware: Rust's `handlerTimeout`/`streamTimeout` govern. */
  setTimeout(ms: number, callback?: () => void): this;
  /** A no-op: trailers are not sent. */
  addTrailers(headers: Record<string, string> | ReadonlyArray<[string, string]>): void;

  /** Sets the status (an integer from 100 to 999, else RangeError). */
  status(code: number): this;
  /**
   * Sets a header (replacing any previous value of that name); an array sends one header line per
   * element (e.g. Set-Cookie). Throws TypeError for names that are not HTTP tokens or values with
   * control characters other than tab (`HN_ERR_INVALID_HEADER`; UTF-8 text is allowed), and names
   * over 65,535 bytes. Throws RangeError `HN_ERR_RESPONSE_TOO_LARGE` past 65,535 header lines in all
   * (one per array element, the content type included). Content-Length, Date and Connection are
   * written by the server.
   */
  set(name: string, value: HeaderValue): this;
  set(headers: Record<string, HeaderValue>): this;
  /** Same as `set(name, value)`. */
  header(name: string, value: HeaderValue): this;
  /** A header set so far, by case-insensitive name. */
  get(name: string): string | string[] | undefined;
  /** node:http's ServerResponse header methods, over the same headers (for middleware written against them). */
  setHeader(name: string, value: HeaderValue): this;
  getHeader(name: string): string | string[] | undefined;
  hasHeader(name: string): boolean;
  removeHeader(name: string): void;
  /** Lower-case names of the headers set so far. */
  getHeaderNames(): string[];
  getHeaders(): Record<string, string | string[]>;
  /**
   * Sets Content-Type from a short name (`'json'`, `'html'`, `'text'`, `'txt'`, `'xml'`, `'css'`,
   * `'js'`, `'bin'`), an extension or file name (`'png'`, `'.pdf'`, `'a.csv'`: mime-types' table,
   * a charset for text), or a full MIME type, set as given.
   */
  type(type: string): this;
  /** `res.type()`. */
  contentType(type: string): this;
  /** The app serving the request. */
  readonly app: App;
  /** Sets `Location`, percent-encoding what a URL cannot hold (encodeurl; existing escapes kept). */
  location(url: string): this;
  /** Adds fields to `Vary`, once each. */
  vary(field: string | string[]): this;
  /**
   * `Content-Disposition: attachment` with the file name's base name (RFC 6266), and the
   * Content-Type its extension implies.
   */
  attachment(filename?: string): this;
  /** Appends to `Link`: `{ next: url, last: [url, ...] }` → `<url>; rel="next", ...`. */
  links(links: Record<string, string | string[]>): this;
  /**
   * Runs the callback for the type the client prefers (keys: types or short names), with
   * Content-Type set and `Vary: Accept`; `default` when none is acceptable, else throws
   * `HN_ERR_NOT_ACCEPTABLE` (406, `err.types`) to the error path.
   */
  format(handlers: Record<string, (req: Request, res: Response, next: NextFunction) => unknown>): this;
  /**
   * `res.json()`, wrapped in the function named by the query parameter `'jsonp callback name'`
   * (`'callback'`) when the request has it (text/javascript, `X-Content-Type-Options: nosniff`).
   */
  jsonp(value: any): this;
  /** Appends a `Set-Cookie`; an object value is sent as `j:` + JSON. */
  cookie(name: string, value: any, options?: CookieOptions): this;
  /** Expires the cookie: give the `path` and `domain` it was set with. */
  clearCookie(name: string, options?: CookieOptions): this;
  /**
   * Sends the body: a string as text/html; a Buffer, any TypedArray, a DataView or an ArrayBuffer as
   * its bytes, application/octet-stream (unless a Content-Type was set); other values as JSON;
   * `null`/`undefined` as an empty body. A Node Readable, web ReadableStream, Blob or async
   * iterable is streamed with backpressure (application/octet-stream, or the Blob's type, unless
   * a Content-Type was set; chunked unless a Content-Length was set): a source that fails before
   * its first chunk gets the client a 500, after it a cut-off response. More than 4 GiB in one
   * record throws `HN_ERR_RESPONSE_TOO_LARGE` before the response counts as sent.
   */
  send(body?: string | BinaryBody | StreamBody | object | number | boolean | null): this;
  /**
   * Sends `JSON.stringify(value)` as application/json (unless a Content-Type was set), with the
   * app's `'json replacer'` and `'json spaces'` settings when set.
   */
  json(value: any): this;
  /** Sends a string as text/plain (unless a Content-Type was set). */
  text(value: string): this;
  /** Sends a string as text/html (unless a Content-Type was set). */
  html(value: string): this;
  /** Redirects with Location set to `url`; the status defaults to 302. */
  redirect(url: string): this;
  redirect(status: number, url: string): this;
  /** Sends the status with its reason phrase as a text/plain body. */
  sendStatus(code: number): this;
  /**
   * Finishes the response with `data` (or nothing) as the body, without setting a Content-Type;
   * after `write()`, the last chunk of a streamed body.
   */
  end(callback?: () => void): this;
  end(data: string | BinaryBody, callback?: () => void): this;
  end(data: string, encoding: BufferEncoding, callback?: () => void): this;
  /**
   * Streams a chunk of the body, as node:http does: the status and headers go with the first
   * write; without a Content-Length set before it the body is chunked (HTTP/1.1) or ends with the
   * connection (HTTP/1.0). Returns false once `writableHighWaterMark` (256 KiB) bytes are on their
   * way to a client that has not taken them yet: stop writing until `'drain'`. After the client
   * left (`'close'`, `req.signal` aborted), writes do nothing and return false.
   */
  write(chunk: string | BinaryBody, callback?: (err?: Error | null) => void): boolean;
  write(chunk: string, encoding: BufferEncoding, callback?: (err?: Error | null) => void): boolean;
  /** Sends the status and headers now; the body follows with `write()`/`end()`. */
  flushHeaders(): void;
  /** Cuts the response off (the client sees it incomplete, or gets no answer) and closes the connection. */
  destroy(error?: Error): this;
  /** `'drain'`: write again; `'finish'`: the response is complete; `'close'`: after finish, or when the client left or the stream timed out. */
  on(event: 'drain' | 'finish' | 'close', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'drain' | 'finish' | 'close', listener: () => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  off(event: string | symbol, listener: (...args: any[]) => void): this;
  removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
  emit(event: string | symbol, ...args: any[]): boolean;
  listenerCount(event: string | symbol): number;
  readonly writable: boolean;
  readonly writableEnded: boolean;
  readonly writableFinished: boolean;
  readonly writableNeedDrain: boolean;
  readonly writableHighWaterMark: number;
  readonly writableLength: number;
  readonly destroyed: boolean;
  /**
   * Sends like `send(body)` (same Content-Type rules) and stores the whole response (status,
   * headers, body) in Rust for `ttlSeconds`: until then, GET and HEAD requests for the same target
   * (path and query, byte for byte as received) are answered by Rust without running any JS,
   * middleware included, with a strong ETag (kept if the handler set one), 304 for a matching
   * `If-None-Match`, a current `Date` and an `Age`.
   *
   * Throws before anything is sent (so the error handler answers): TypeError `HN_ERR_INVALID_ARG`
   * unless `ttlSeconds` is a finite number > 0; `HN_ERR_CACHE_METHOD` for a request other than GET
   * or HEAD; `HN_ERR_CACHE_COOKIE` when the response sets cookies (a cached response is replayed to
   * every client); `HN_ERR_CACHE_STREAM` for a stream (the cache holds whole answers). Ignored,
   * like `send()`, once the response was sent.
   */
  ncache(body: string | BinaryBody | object | number | boolean | null | undefined, ttlSeconds: number, options?: NcacheOptions): this;
  /**
   * Starts a Server-Sent Events stream: sets `Content-Type: text/event-stream; charset=utf-8`,
   * `Cache-Control: no-cache` and `X-Accel-Buffering: no` (the last two only where not set
   * already), sends the headers at once and returns the stream to send events on (for a HEAD
   * request, the response ends there and the stream is closed). Throws
   * `HN_ERR_INVALID_ARG` for bad options and `HN_ERR_HEADERS_SENT` once the headers were sent.
   */
  sse(options?: SseOptions): EventStream;
  /**
   * Sends a file, served by Rust (no file bytes pass through JS): Content-Type from the extension
   * unless one was set, Content-Length, `ETag` and `Last-Modified`, `Accept-Ranges: bytes`,
   * `Cache-Control: public, max-age=0` (see `maxAge`) unless one was set, and the answers to
   * `Range` (206, 416), `If-None-Match`/`If-Modified-Since` (304), `If-Match`/
   * `If-Unmodified-Since` (412) and `If-Range`. The status is Rust's (200, 206, 304, ...).
   *
   * `path` must be absolute unless `options.root` is given, in which case it is taken relative to
   * `root` and a `..` segment is refused. As in Express, the file is looked up first: a missing
   * file (`err.code` `'ENOENT'`), a directory (`'EISDIR'`) or a dotfile under `dotfiles: 'ignore'`
   * (`HN_ERR_FILE_NOT_FOUND`) is a 404, a `..` segment or a dotfile under `'deny'` a 403
   * (`HN_ERR_FILE_FORBIDDEN`), a NUL byte a 400 (`HN_ERR_BAD_FILE_PATH`). That error goes to
   * `callback` when one is given (the app answers), else down the error path as with `next(err)`
   * (error middleware, then `app.error`). `callback()` without an error is called once the answer
   * was handed to the server, not when the client has it (Express: after the transfer).
   *
   * Throws TypeError `HN_ERR_INVALID_ARG` for a bad path, option or callback and
   * `HN_ERR_HEADERS_SENT` once the headers were sent. The promise resolves when the file was handed
   * over or the error passed on; it never rejects.
   */
  sendFile(path: string, callback?: FileCallback): Promise<void>;
  sendFile(path: string, options?: SendFileOptions | null, callback?: FileCallback): Promise<void>;
  /**
   * `sendFile()` with `Content-Disposition: attachment` naming the file `filename` (default: the
   * path's last segment; directories in it are dropped), encoded per RFC 6266/5987: an ASCII
   * `filename=` and a UTF-8 `filename*=` when the name is not plain ASCII. It replaces any
   * Content-Disposition the app or `options.headers` set. Unlike `sendFile()`, a relative path
   * without `root` is resolved against `process.cwd()` (Express 5).
   */
  download(path: string, callback?: FileCallback): Promise<void>;
  download(path: string, filename: string | null | undefined, callback?: FileCallback): Promise<void>;
  download(path: string, options: SendFileOptions, callback?: FileCallback): Promise<void>;
  download(path: string, filename: string | null | undefined, options: SendFileOptions | null | undefined, callback?: FileCallback): Promise<void>;
}

/** What `res.sendFile()`/`res.download()` pass their callback: nothing once the answer was handed over, else the error (see `sendFile`). */
export type FileCallback = (err?: FileError) => unknown;

/** An error of `res.sendFile()`/`res.download()`: a node `stat()` error (`'ENOENT'`, ...), `'EISDIR'`, or an `HN_ERR_FILE_*` error. */
export interface FileError extends Error {
  code?: string;
  /** 404, 403, 400 or 500: what the default error handler answers. */
  status?: number;
  /** Same as `status`. */
  statusCode?: number;
}

/** Durations for `maxAge`: milliseconds, or a string such as `'1y'`, `'2d'`, `'10m'`, `'30s'`, `'500ms'`, `'1.5h'`. */
export type Duration = number | string;

/** Options shared by the directory form of `app.static()` and `res.sendFile()`. */
export interface FileServeOptions {
  /**
   * `Cache-Control: public, max-age=<seconds>`; capped at one year as in serve-static. Default 0
   * (`public, max-age=0`). A Cache-Control header given explicitly wins.
   */
  maxAge?: Duration;
  /** Adds `, immutable` to the Cache-Control. Default false. */
  immutable?: boolean;
  /** false: no Cache-Control is added (maxAge and immutable then do nothing). Default true. */
  cacheControl?: boolean;
  /** Extra headers (an array value sends one line per element). Content-Length and Transfer-Encoding are refused. */
  headers?: Record<string, HeaderValue>;
  /** Files or directories whose name starts with a dot: `'ignore'` (404, the default), `'deny'` (403) or `'allow'`. */
  dotfiles?: 'ignore' | 'deny' | 'allow';
  /** Whether an ETag is sent (and If-None-Match/If-Match answered). Default true. */
  etag?: boolean;
  /** Whether Last-Modified is sent (and If-Modified-Since/If-Unmodified-Since answered). Default true. */
  lastModified?: boolean;
  /** Whether `Range` is answered (206) and `Accept-Ranges: bytes` sent. Default true. */
  acceptRanges?: boolean;
}

export interface SendFileOptions extends FileServeOptions {
  /**
   * The directory `path` is relative to (resolved against `process.cwd()`); a `..` segment in
   * `path` is refused (403). With a root only the part of the path below it is checked for
   * dotfiles; without one, every segment of the path is (as in Express: `/home/me/.cache/x` is a
   * dotfile path).
   */
  root?: string;
}

/**
 * The directory form of `app.static()`: `app.static(prefix, { root, ...options })`. Told apart from
 * a body by being a plain object with a `root`; every option is checked at registration
 * (`HN_ERR_BAD_OPTION`, and `HN_ERR_STATIC_ROOT` when root is not an existing directory).
 */
export interface StaticDirectoryOptions extends FileServeOptions {
  /** The directory, resolved against `process.cwd()` when registered (a string or a `file:` URL). */
  root: string | URL;
  /**
   * Extra headers for every file. Besides those of `FileServeOptions`, the per-file ones are
   * refused: Content-Type, Content-Encoding, Content-Range, ETag, Last-Modified, Accept-Ranges.
   */
  headers?: Record<string, HeaderValue>;
  /** The file served for a directory, or a list tried in order, or false for none. Default `'index.html'`. */
  index?: string | readonly string[] | false;
  /**
   * true (default): a request no file answers goes on to JS (middleware, routes, the app's 404),
   * as with serve-static. false: Rust answers 404 itself (and 400/403 for bad paths).
   */
  fallthrough?: boolean;
  /** Redirect `/dir` to `/dir/` (301) when `dir` is a directory. Default true. */
  redirect?: boolean;
  /** Extensions tried when no file has the path's name: `['html']` serves `/about` from `about.html`. Default none. */
  extensions?: readonly string[] | false;
  /** Serve a `.br`, `.zst` or `.gz` sibling to a client that accepts that encoding (with `Vary: Accept-Encoding`). Default false. */
  precompressed?: boolean;
  /** Serve files through symbolic links that lead outside `root`. Default false: such links are 404. */
  followSymlinks?: boolean;
  /** `false`: never compress this mount's files, whatever the app's `compression` option says. Default true. */
  compression?: boolean;
}

export interface SseOptions {
  /**
   * Milliseconds of silence after which a comment line (`:`) is sent, so proxies and the server's
   * `streamTimeout` never cut a quiet stream; every event restarts the wait. `0` disables it.
   * Default 15000.
   */
  heartbeat?: number;
  /** Sent first as `retry:`: how many milliseconds the client waits before reconnecting. */
  retry?: number;
}

/** One event. At least one field must be given. */
export interface SseMessage {
  /**
   * The event's data: a string as it is (each line break, CRLF, CR or LF, starts a new `data:`
   * line, which the client joins back with `\n`); any other value as its JSON text.
   */
  data?: unknown;
  /** The event type (`addEventListener(type)` in the browser; `message` when absent). No CR or LF. */
  event?: string;
  /** The event id, sent back by a reconnecting client as `Last-Event-ID`. No CR, LF or NUL. */
  id?: string | number;
  /** Reconnection delay in milliseconds, a non-negative integer. */
  retry?: number;
}

/**
 * A Server-Sent Events stream, from `res.sse()`. It emits `'close'` once, when the stream ends:
 * closed by the app or the client left. Writing methods return what `res.write()` returned:
 * `false` means the client is not keeping up (wait for the response's `'drain'`) or the stream is
 * closed, where they do nothing.
 */
export interface EventStream extends EventEmitter {
  /**
   * Sends one event: a string is its data, an object its fields. An `id` or `event` that would end
   * its line throws `HN_ERR_SSE_INVALID_FIELD`, other bad fields `HN_ERR_INVALID_ARG`; nothing is
   * sent then.
   */
  send(message: string | SseMessage): boolean;
  /** Sends a comment (`: text`), which clients ignore: a heartbeat, or a note for someone reading the raw stream. */
  comment(text?: string): boolean;
  /** Sends `retry: ms`. */
  retry(ms: number): boolean;
  /** Ends the response. An EventSource reconnects after its retry delay. */
  close(): void;
  /** The request's `Last-Event-ID` header (the last id a reconnecting client saw), or undefined. */
  readonly lastEventId: string | undefined;
  /** Whether the stream has ended. */
  readonly closed: boolean;
  /** Aborts when the stream ends, either way. */
  readonly signal: AbortSignal;
  on(event: 'close', listener: () => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'close', listener: () => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** What `res.send()` streams. */
export type StreamBody = NodeJS.ReadableStream | ReadableStream | Blob | AsyncIterable<string | BinaryBody>;

export interface NcacheOptions {
  /** Extra headers, set as with `res.set(headers)` before sending. */
  headers?: Record<string, HeaderValue>;
}

export interface StaticOptions {
  /** Content type as for `res.type()`: `'json'`, `'html'`, `'text'`, `'css'`... or a MIME type. Wins over a Content-Type in `headers`. */
  type?: string;
  /** Extra headers (an array value sends one line per element). Content-Length, Transfer-Encoding, Date and Connection are refused: the server writes them. */
  headers?: Record<string, HeaderValue>;
  /** Status, an integer from 200 to 999. Default 200. */
  status?: number;
}

/**
 * Continues with the next matching function of the stack. With an error (any truthy value but
 * `'route'`), skips to the next error middleware; `'route'` skips the rest of the route's handlers.
 */
export type NextFunction = (err?: unknown) => void;

/** `ws.send()`: the message was queued and the socket's buffered amount is at or under its drain mark. */
export declare const WS_SENT: 1;
/** `ws.send()`: the message was queued, the buffered amount is over the drain mark; `drain` will fire. */
export declare const WS_BACKPRESSURE: 0;
/**
 * `ws.send()`: nothing was sent: the socket is closing or closed, or the message would take a
 * non-empty buffer past `maxBackpressure` (with `closeOnBackpressureLimit`, the socket is then
 * ended with 1008).
 */
export declare const WS_DROPPED: 2;
/** What `ws.send()` returns: `WS_SENT` (1), `WS_BACKPRESSURE` (0) or `WS_DROPPED` (2). */
export type SendResult = 0 | 1 | 2;

/** A WebSocket message: text (a string, sent as UTF-8) or bytes (a Buffer, any TypedArray, a DataView, an ArrayBuffer). */
export type WebSocketMessage = string | BinaryBody;
/** A topic: a string, or bytes that are valid UTF-8 (the same topic as the string they spell); at most 65,535 bytes. */
export type Topic = string | BinaryBody;

/** The parameter names of an Express-style path: `'/chat/:room'` → `'room'`, `'/files/*path'` → `'path'`, `'/files/*'` → `'*'`. */
type PathParamNames<P extends string> = P extends `${infer Head}/${infer Rest}`
  ? PathParamName<Head> | PathParamNames<Rest>
  : PathParamName<P>;
type PathParamName<S extends string> = S extends `:${infer Name}` ? Name : S extends `*${infer Name}` ? (Name extends '' ? '*' : Name) : never;
/**
 * A route's parameters, each named one typed as a string (a group's prefix may add more, so any
 * other name is a string too, as in `req.params`).
 */
export type RouteParams<P extends string> = { [K in PathParamNames<P>]: string } & Record<string, string>;

/**
 * A WebSocket connection, as the handlers of `app.ws()` get it. `Data` is what the `upgrade` hook
 * returned, `Params` the route's parameters.
 */
export interface WebSocket<Data = Record<string, any>, Params = Record<string, string>> {
  /**
   * Sends a message. `isBinary` defaults to `typeof message !== 'string'`; `compress` (default
   * true) matters only when the socket negotiated permessage-deflate. Returns `WS_SENT` (1),
   * `WS_BACKPRESSURE` (0: queued, but the client is behind; `drain` will fire) or `WS_DROPPED`
   * (2). Throws TypeError `HN_ERR_INVALID_ARG` for anything but a string or bytes.
   */
  send(message: WebSocketMessage, isBinary?: boolean, compress?: boolean): SendResult;
  /**
   * The close handshake: a close frame with `code` (1000-1003, 1007-1014 or 3000-4999, else
   * TypeError `HN_ERR_INVALID_ARG`; default 1000) and `reason` (cut to 123 bytes of UTF-8). The
   * `close` handler runs once the client answered (or the connection ended). Later sends are dropped.
   */
  end(code?: number, reason?: string): void;
  /** Drops the connection at once, without a close frame; the `close` handler gets 1006. */
  close(): void;
  /** Subscribes to a topic; whether the socket was not subscribed already (false once closing). */
  subscribe(topic: Topic): boolean;
  /** Whether the socket was subscribed. */
  unsubscribe(topic: Topic): boolean;
  isSubscribed(topic: Topic): boolean;
  /** The topics this socket subscribes to (none once it is closed). */
  getTopics(): string[];
  /**
   * Sends `message` to every subscriber of `topic` except this socket (as uWS.js), fanned out by
   * the server thread. Returns whether any other socket subscribes. Works in the `close` handler too.
   */
  publish(topic: Topic, message: WebSocketMessage, isBinary?: boolean, compress?: boolean): boolean;
  /** Bytes sent that the client's socket has not taken yet. */
  getBufferedAmount(): number;
  /** Runs `fn` (uWS.js's cork; sends are batched per event-loop turn anyway). */
  cork(fn: () => void): this;
  /** The route's parameters, percent-decoded. */
  readonly params: Params;
  /** The upgrade request's query string, parsed as `req.query`. */
  readonly query: Record<string, string | string[]>;
  /** The upgrade request's headers, as `req.headers`. */
  readonly headers: IncomingHeaders;
  /** The client's address (`req.ip` of the upgrade request). */
  readonly remoteAddress: string;
  /** What the `upgrade` hook returned (an empty object when it returned nothing, or there is none). */
  data: Data;
  /** `ws.data`, under uWS.js's name. */
  getUserData(): Data;
  /** True once `end()` or `close()` was called or the connection ended: sends are dropped. */
  readonly closed: boolean;
  /** The subprotocol the `upgrade` hook chose (`res.setHeader('Sec-WebSocket-Protocol', name)`), or `''`. */
  readonly protocol: string;
  /** `'permessage-deflate'` when the handshake agreed on compression, else `''`. */
  readonly extensions: string;
  readonly SENT: 1;
  readonly BACKPRESSURE: 0;
  readonly DROPPED: 2;
}

/**
 * The handlers of a WebSocket route. Each may be async. A throw or a rejection from `open`,
 * `message` or `drain` is logged as a handler error is (not under NODE_ENV=test) and the socket is
 * closed with 1011; one from `upgrade` takes the app's error path (500, error middleware first).
 */
export interface WebSocketHandlers<Data = Record<string, any>, Params = Record<string, string>> {
  /**
   * Decides the upgrade, after the middleware registered before the route. Answering through
   * `res` (`res.status(401).end()`) rejects it with that answer; otherwise the connection
   * switches protocols with the headers set on `res`, and what this returns becomes `ws.data`.
   */
  upgrade?: (req: Request, res: Response) => Data | Response | void | Promise<Data | Response | void>;
  /** The 101 is on its way; sends made here follow it. */
  open?: (ws: WebSocket<Data, Params>) => unknown;
  /** A whole message. `data` stays valid after the call; text messages are valid UTF-8 (`data.toString()`). */
  message?: (ws: WebSocket<Data, Params>, data: Buffer, isBinary: boolean) => unknown;
  /** The buffered amount fell back to the drain mark after a send returned `WS_BACKPRESSURE`. */
  drain?: (ws: WebSocket<Data, Params>) => unknown;
  /**
   * Once per opened socket, when the connection is gone (it no longer subscribes to anything).
   * `code`: the client's (1005 if it gave none), yours from `end()`, 1001 when the server closes,
   * 1002/1007/1009 for protocol errors, 1006 when the connection ended without a close handshake.
   */
  close?: (ws: WebSocket<Data, Params>, code: number, reason: string) => unknown;
}

/** Options of `app.ws()`. */
export interface WebSocketOptions {
  /** Bytes of the largest message accepted (after decompression); a larger one closes the socket with 1009. 1 to 2^31-1, default 1048576. */
  maxPayload?: number;
  /**
   * Seconds without anything received before the connection is closed (1006); a ping goes out at
   * half of it (with `sendPingsAutomatically`). 0 disables, default 120.
   */
  idleTimeout?: number;
  /**
   * permessage-deflate (RFC 7692), when the client offers it. `true`/`'shared'`: no server context
   * takeover, so a message or a publish is compressed once for every socket. `'dedicated'`: a
   * compression context per socket (better ratio, about 100 KiB more per socket). Default `false`.
   */
  compression?: boolean | 'shared' | 'dedicated';
  /** Bytes a socket may have queued before `send()` drops; 0 is unbounded. Default 1048576. */
  maxBackpressure?: number;
  /** Close the socket (1008) when a send is dropped for `maxBackpressure`. Default false. */
  closeOnBackpressureLimit?: boolean;
  /** Ping a quiet client at half of `idleTimeout`. Default true. */
  sendPingsAutomatically?: boolean;
}

/** A route handler. A thrown error or a rejected promise goes to the error middleware / handler. */
export type Handler = (req: Request, res: Response, next: NextFunction) => unknown;

/**
 * Error middleware: a function declaring four parameters. Runs only while an error is being
 * handled (raised by `next(err)`, a throw or a rejection earlier in the stack); `next()` resumes
 * normal flow, `next(err)` passes the error on.
 */
export type ErrorMiddleware = (err: any, req: Request, res: Response, next: NextFunction) => unknown;

/**
 * Middleware have the same shape as handlers (they call `next()` to continue). Error middleware
 * have their own type, `ErrorMiddleware`: one type for both would leave the parameters of an
 * annotated `const m: Middleware = (req, res, next) => …` untyped.
 */
export type Middleware = Handler;

/**
 * Answers a failed request once no error middleware is left. Without one, the answer is a JSON
 * `{"error": <reason phrase>}` with status 500, or the error's own 4xx/5xx `status`/`statusCode`;
 * the message is never sent. If this handler throws, the default 500 is sent.
 */
export type ErrorHandler = (err: any, req: Request, res: Response) => unknown;

/** Answers requests that no route matched (default: 404 JSON `{"error":"Not Found"}`). */
export type NotFoundHandler = (req: Request, res: Response) => unknown;

/** A handler argument: functions, or (nested) arrays of them. */
export type Handlers = Array<Handler | ReadonlyArray<Handler | ReadonlyArray<Handler>>>;

/**
 * Error middleware arguments, or a mix of both kinds. Separate overloads rather than one union, so
 * that an inline `(req, res) => ...` still gets its parameter types from `Handler`. As with
 * Express's types, inline error middleware needs its parameters typed (or an `ErrorMiddleware`
 * annotation): TypeScript types an inline function's parameters from the first overload it tries.
 */
export type ErrorHandlers = Array<ErrorMiddleware | ReadonlyArray<ErrorMiddleware | ReadonlyArray<ErrorMiddleware>>>;
type AnyMiddleware = Handler | ErrorMiddleware;
export type MixedHandlers = Array<AnyMiddleware | ReadonlyArray<AnyMiddleware | ReadonlyArray<AnyMiddleware>>>;

/**
 * The registration API of an app and of the objects `group()` hands out.
 *
 * Paths are Express-style: `/users/:id` (a parameter is a whole segment), `/files/*path` (a named
 * wildcard for the rest of the path, in `req.params.path`) or a bare trailing `/files/*`
 * (in `req.params['*']`). Registering the same method and path again adds handlers to that route.
 */
export interface Router {
  get<const S extends RouteSchema>(path: string, options: RouteOptions & { schema: S }, ...handlers: Array<SchemaHandler<S>>): this;
  get(path: string, ...handlers: Handlers): this;
  get(path: string, options: RouteOptions, ...handlers: Handlers): this;
  get(path: string, ...handlers: MixedHandlers): this;
  get(path: string, options: RouteOptions, ...handlers: MixedHandlers): this;
  post<const S extends RouteSchema>(path: string, options: RouteOptions & { schema: S }, ...handlers: Array<SchemaHandler<S>>): this;
  post(path: string, ...handlers: Handlers): this;
  post(path: string, options: RouteOptions, ...handlers: Handlers): this;
  post(path: string, ...handlers: MixedHandlers): this;
  post(path: string, options: RouteOptions, ...handlers: MixedHandlers): this;
  put<const S extends RouteSchema>(path: string, options: RouteOptions & { schema: S }, ...handlers: Array<SchemaHandler<S>>): this;
  put(path: string, ...handlers: Handlers): this;
  put(path: string, options: RouteOptions, ...handlers: Handlers): this;
  put(path: string, ...handlers: MixedHandlers): this;
  put(path: string, options: RouteOptions, ...handlers: MixedHandlers): this;
  patch<const S extends RouteSchema>(path: string, options: RouteOptions & { schema: S }, ...handlers: Array<SchemaHandler<S>>): this;
  patch(path: string, ...handlers: Handlers): this;
  patch(path: string, options: RouteOptions, ...handlers: Handlers): this;
  patch(path: string, ...handlers: MixedHandlers): this;
  patch(path: string, options: RouteOptions, ...handlers: MixedHandlers): this;
  delete<const S extends RouteSchema>(path: string, options: RouteOptions & { schema: S }, ...handlers: Array<SchemaHandler<S>>): this;
  delete(path: string, ...handlers: Handlers): this;
  delete(path: string, options: RouteOptions, ...handlers: Handlers): this;
  delete(path: string, ...handlers: MixedHandlers): this;
  delete(path: string, options: RouteOptions, ...handlers: MixedHandlers): this;
  options<const S extends RouteSchema>(path: string, options: RouteOptions & { schema: S }, ...handlers: Array<SchemaHandler<S>>): this;
  options(path: string, ...handlers: Handlers): this;
  options(path: string, options: RouteOptions, ...handlers: Handlers): this;
  options(path: string, ...handlers: MixedHandlers): this;
  options(path: string, options: RouteOptions, ...handlers: MixedHandlers): this;
  /** HEAD requests are answered by the GET route (without its body) unless a HEAD route exists. */
  head<const S extends RouteSchema>(path: string, options: RouteOptions & { schema: S }, ...handlers: Array<SchemaHandler<S>>): this;
  head(path: string, ...handlers: Handlers): this;
  head(path: string, options: RouteOptions, ...handlers: Handlers): this;
  head(path: string, ...handlers: MixedHandlers): this;
  head(path: string, options: RouteOptions, ...handlers: MixedHandlers): this;
  /** Every method. */
  all<const S extends RouteSchema>(path: string, options: RouteOptions & { schema: S }, ...handlers: Array<SchemaHandler<S>>): this;
  all(path: string, ...handlers: Handlers): this;
  all(path: string, options: RouteOptions, ...handlers: Handlers): this;
  all(path: string, ...handlers: MixedHandlers): this;
  all(path: string, options: RouteOptions, ...handlers: MixedHandlers): this;
  /**
   * Adds middleware, optionally scoped to a path prefix on segment boundaries (`/api` covers `/api`
   * and `/api/x`, not `/apix`); inside a group, scoped to the group's prefix.
   *
   * Order is Express's: registration order decides. A request runs the middleware registered
   * before its route, the route's handlers, then the middleware registered after it if the handlers
   * call `next()`. Requests no route matched run the middleware, then the not-found handler.
   * Four-parameter functions are error middleware (see `ErrorMiddleware`).
   */
  use(...middleware: Handlers): this;
  use(path: string, ...middleware: Handlers): this;
  use(...middleware: ErrorHandlers): this;
  use(path: string, ...middleware: ErrorHandlers): this;
  use(...middleware: MixedHandlers): this;
  use(path: string, ...middleware: MixedHandlers): this;
  /**
   * A WebSocket route. An upgrade request for `path` runs the middleware registered before it
   * (as a GET would), then `handlers.upgrade`; the path may also have HTTP routes (a request
   * without an upgrade goes to them). Throws `HN_ERR_ROUTE` for unknown handlers or a path
   * registered twice, TypeError `HN_ERR_BAD_OPTION` for bad options.
   */
  ws<Path extends string, Data = Record<string, any>>(
    path: Path,
    handlers: WebSocketHandlers<Data, RouteParams<Path>>,
    options?: WebSocketOptions,
  ): this;
  /** Registers routes and middleware under `prefix` through `fn`'s argument; groups nest. */
  group(prefix: string, fn: (group: Router) => void): this;
  /**
   * A response known at startup, served by Rust for GET and HEAD on exactly `path` (no parameters
   * or wildcards) without running any JS: **middleware never run for it**. The body is a string
   * (text/html), a Buffer/Uint8Array (application/octet-stream) or any other value as JSON, copied
   * when registered. Rust adds a strong ETag (unless `headers` has one) and answers a matching
   * `If-None-Match` with 304. A GET, HEAD or `all()` route on the same path is refused, whichever is
   * registered first (TypeError `HN_ERR_ROUTE`); other methods on that path go to their routes.
   */
  static(path: string, body: string | Uint8Array | object | number | boolean | null, options?: StaticOptions): this;
  /**
   * The files under `root`, served by Rust for GET and HEAD under `prefix` (no parameters or
   * wildcards; `'/'` allowed) without running any JS, **middleware included**: Content-Type from
   * the extension, ETag, Last-Modified, conditionals (304, 412), ranges (206, 416), index files,
   * the `/dir` → `/dir/` redirect, dotfiles hidden, no path escaping `root`. With `fallthrough`
   * (the default) a miss goes on to JS. Inside a group the group's prefix applies. See
   * `StaticDirectoryOptions`. A string is never a directory: `app.static('/assets', './public')`
   * throws `HN_ERR_ROUTE` when `./public` exists, pointing at this form.
   */
  static(prefix: string, directory: StaticDirectoryOptions): this;
}

/** `app.cache`: the response cache of every running server of the app. Before listen() and after close(), calls do nothing. */
export interface AppCache {
  /**
   * Drops cached responses: `'/users/1'` drops that path with any query string; a pattern ending in
   * `*` (`'/users/*'`) drops every key (path plus query) starting with what precedes the `*`. In
   * force for every request a server reads after this returns. Static responses are not affected.
   */
  invalidate(pattern: string): void;
  /** Drops every cached response (static responses stay). */
  clear(): void;
  /**
   * From now on, `invalidate()` and `clear()` on this app also reach every instance (process,
   * machine) that fanned out on the same Redis channel, through pub/sub; a change from another
   * instance is applied here. `client` is a connected node-redis (v4+) or ioredis client; the
   * subscriber is `client.duplicate()`. Resolves once subscribed. Rejects with
   * `HN_ERR_INVALID_ARG` for a client that is neither or when the app already fans out,
   * `HN_ERR_BAD_OPTION` for bad options.
   */
  fanOut(client: RedisClientLike & { duplicate(): unknown }, options?: CacheFanOutOptions): Promise<CacheFanOut>;
}

export interface CacheFanOutOptions {
  /** The pub/sub channel shared by the instances. Default `'http-native:cache'`. */
  channel?: string;
  /**
   * A message that could not be published, a subscriber connection error, a message on the
   * channel that is not a cache change. Default: a process warning (code `HN_CACHE_FANOUT`).
   */
  onError?: (err: Error) => void;
}

export interface CacheFanOut {
  /** Stops publishing and applying changes, and disconnects the subscriber (the client stays open). */
  close(): Promise<void>;
}

export interface App extends Router {
  /** The response cache (`res.ncache()`) of the app's running servers. */
  readonly cache: AppCache;
  /**
   * Sends `message` to every WebSocket subscribed to `topic`, on every running server of the app,
   * fanned out by the server thread. Returns whether any subscribes (false before `listen()` and
   * once `close()` was called).
   */
  publish(topic: Topic, message: WebSocketMessage, isBinary?: boolean, compress?: boolean): boolean;
  /** WebSockets subscribed to `topic`, over every running server of the app. */
  numSubscribers(topic: Topic): number;
  /**
   * A setting's value (Express's `app.get(name)` with one argument). The helpers read `'trust
   * proxy'`, `'subdomain offset'` (2), `'json spaces'`, `'json replacer'`, `'jsonp callback name'`
   * (`'callback'`) and `'cookie secret'`.
   */
  get(setting: string): any;
  get<const S extends RouteSchema>(path: string, options: RouteOptions & { schema: S }, ...handlers: Array<SchemaHandler<S>>): this;
  get(path: string, ...handlers: Handlers): this;
  get(path: string, options: RouteOptions, ...handlers: Handlers): this;
  get(path: string, ...handlers: MixedHandlers): this;
  get(path: string, options: RouteOptions, ...handlers: MixedHandlers): this;
  /** Sets a setting (checked and compiled now: a bad `'trust proxy'` throws `HN_ERR_BAD_OPTION`); with one argument, reads it. */
  set(setting: 'trust proxy', value: TrustProxy): this;
  set(setting: 'cookie secret', value: CookieSecret | CookieSecret[] | undefined): this;
  set(setting: string, value: any): this;
  set(setting: string): any;
  enable(setting: string): this;
  disable(setting: string): this;
  enabled(setting: string): boolean;
  disabled(setting: string): boolean;
  /** Every setting's value by name. */
  readonly settings: Record<string, any>;
  /** Replaces the error handler. */
  error(fn: ErrorHandler): this;
  /** Replaces the not-found handler. */
  notFound(fn: NotFoundHandler): this;
  /**
   * Starts a server with the routes and middleware registered so far, with node's and Express's
   * signatures: `listen(port[, host][, backlog][, callback])` or `listen(options[, callback])`.
   * Rejects on bind errors (e.g. EADDRINUSE) and invalid options.
   */
  listen(callback?: ListenCallback): Promise<Server>;
  listen(port: number | string | undefined, callback?: ListenCallback): Promise<Server>;
  listen(port: number | string | undefined, host: string | undefined | null, callback?: ListenCallback): Promise<Server>;
  listen(port: number | string | undefined, backlog: number, callback?: ListenCallback): Promise<Server>;
  listen(
    port: number | string | undefined,
    host: string | undefined | null,
    backlog: number,
    callback?: ListenCallback,
  ): Promise<Server>;
  listen(options: ListenOptions, callback?: ListenCallback): Promise<Server>;
  /**
   * The app as a WHATWG fetch handler, on the JavaScript backend (no socket, no addon):
   * `Bun.serve({ fetch: app.fetch })`, `Deno.serve(app.fetch)`, `export default app` in a
   * Cloudflare Worker, or called directly. A function bound to the app. The app is compiled on
   * the first call, as `listen()` compiles it: routes registered afterwards do not reach it.
   * Resolves to the answer (a streamed one with a `ReadableStream` body, read at the reader's
   * pace); rejects with `HN_ERR_ANSWER_ABORTED` when the app destroyed the response before
   * anything was sent, `HN_ERR_CLIENT_GONE` when `request.signal` aborted first, and
   * `HN_ERR_INVALID_ARG` for what is not a Request.
   */
  readonly fetch: (request: globalThis.Request, info?: FetchInfo | object) => Promise<globalThis.Response>;
  /**
   * One request through the app with no socket and no port (light-my-request's shape): through
   * the Rust parser, router, cache and writer over an in-memory connection. A string is `{ url }`.
   * Rejects `HN_ERR_INJECT_OPTION` / `HN_ERR_INVALID_HEADER` for options that cannot be sent.
   */
  inject(options: InjectOptions | string): Promise<InjectResponse>;
  inject(options: InjectOptions | string, callback: (err: Error | null, res?: InjectResponse) => void): void;
  /** The socketless server `inject()` uses, once the first inject started it. */
  readonly injectServer: Server | undefined;
  /** A node:http request listener serving each request through `inject()` (supertest: `request(app.callback())`). */
  callback(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
  /** Closes every server the app started (`listen()`'s and `inject()`'s). */
  close(options?: CloseOptions): Promise<void>;
}

/** `app.inject()`'s options (light-my-request's). */
export interface InjectOptions {
  /** Default `'GET'`. */
  method?: string;
  /** The target as sent on the request line (escapes untouched), an absolute URL, or its parts. */
  url?: string | URL | { pathname?: string; query?: InjectQuery; hostname?: string; port?: number | string };
  /** An alias of `url`. */
  path?: string;
  /** Appended to the URL's query; arrays are repeated keys. */
  query?: InjectQuery;
  /** An array value sends one line each. `content-length` and `transfer-encoding` are the body's own. */
  headers?: Record<string, string | number | Array<string | number> | undefined>;
  /** A string, bytes, a stream (read whole first), or an object sent as JSON. */
  body?: string | Uint8Array | NodeJS.ReadableStream | AsyncIterable<Uint8Array | string> | object;
  /** An alias of `body`. */
  payload?: InjectOptions['body'];
  /** Sent as one `cookie` header. */
  cookies?: Record<string, string>;
  /** The `Host`; default `'localhost:80'`. */
  authority?: string;
  /** `req.ip`; default `'127.0.0.1'`. */
  remoteAddress?: string;
  /** Resolve at the head and read the body with `res.stream()`. */
  payloadAsStream?: boolean;
}

export type InjectQuery = string | Record<string, string | number | boolean | Array<string | number | boolean> | undefined>;

/** What `app.inject()` resolves to. */
export interface InjectResponse {
  statusCode: number;
  statusMessage: string;
  /** As node's IncomingMessage has them: lower-cased, `set-cookie` an array, repeats joined with ', '. */
  headers: Record<string, string | string[]>;
  rawHeaders: string[];
  /** The body as UTF-8 (throws `HN_ERR_INJECT_OPTION` with `payloadAsStream`). */
  readonly body: string;
  readonly payload: string;
  /** The body's bytes (`null` with `payloadAsStream`). */
  rawPayload: Buffer | null;
  /** Trailer fields of a chunked answer (with `payloadAsStream`, once the stream ended). */
  trailers: Record<string, string>;
  json<T = any>(): T;
  /** With `payloadAsStream`: the body as it arrives; destroying it is a client leaving. */
  stream(): import('node:stream').Readable;
}

/**
 * `app.fetch()`'s second argument (the WHATWG Request and Response here are the global ones, not
 * this package's `Request`/`Response` interfaces), where `req.ip` comes from: `{ ip }`, Bun's server (which
 * `Bun.serve` passes) or Deno's `ServeHandlerInfo`. Without one (a Worker's `env`, nothing), `req.ip`
 * is `''`.
 */
export interface FetchInfo {
  /** The client's address. */
  ip?: string;
  /** Bun's `server.requestIP(request)`. */
  requestIP?(request: globalThis.Request): { address: string } | null;
  /** Deno's peer address. */
  remoteAddr?: { hostname: string };
}

/** Creates an application. Throws TypeError for invalid options. */
export declare function createApp(options?: AppOptions): App;

/** `serve()`'s options: how many workers, and any `listen()` option each worker listens with. */
export interface ServeOptions extends ListenOptions {
  /** Worker threads, each running the app: `'auto'` (default) is one per core. At most 256. */
  workers?: number | 'auto';
}

/** What `serve()` resolves to: the workers behind one port. */
export interface Cluster extends EventEmitter {
  readonly port: number;
  readonly url: string;
  readonly driver: 'io_uring' | 'epoll' | 'kqueue';
  readonly workers: number;
  /** Workers restarted after dying, so far. */
  readonly restarts: number;
  /** Every worker's counters summed, and each worker's own. */
  stats(): Promise<ServerStats & { workers: ServerStats[] }>;
  /** Every worker's server closes as `server.close()` does, then the worker exits. */
  close(options?: CloseOptions): Promise<void>;
  on(event: 'restart', listener: (info: { worker: number; exitCode: number }) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'restart', listener: (info: { worker: number; exitCode: number }) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/**
 * Runs the app a module exports (`module.exports = app`, `export default app` or
 * `export const app`) in worker threads listening on one port, sharing the native response
 * cache, rate-limit counters and memory sessions. A worker that dies is restarted.
 */
export declare function serve(module: string | URL, options?: ServeOptions): Promise<Cluster>;

/** A `cors()` origin rule, as the `cors` package takes it. */
export type CorsOrigin = boolean | string | RegExp | ReadonlyArray<string | RegExp>;
export type CorsOriginCallback = (err: Error | null, origin?: CorsOrigin) => void;

/** `cors()` options: the `cors` package's, plus `privateNetworkAccess`. */
export interface CorsOptions {
  /**
   * Allowed origins: `'*'` (default), one origin (always sent), `true` (the request's reflected),
   * an array of origins or RegExps, a RegExp, or `(origin, cb)` deciding per request. Static forms
   * (not a function or a RegExp) let Rust answer preflights without running JS.
   */
  origin?: CorsOrigin | ((origin: string | undefined, callback: CorsOriginCallback) => void);
  /** `Access-Control-Allow-Methods`. Default `'GET,HEAD,PUT,PATCH,POST,DELETE'`. */
  methods?: string | ReadonlyArray<string>;
  /** `Access-Control-Allow-Headers`; default: the preflight's `Access-Control-Request-Headers`. */
  allowedHeaders?: string | ReadonlyArray<string>;
  /** The `cors` package's alias of `allowedHeaders`. */
  headers?: string | ReadonlyArray<string>;
  /** `Access-Control-Expose-Headers`. */
  exposedHeaders?: string | ReadonlyArray<string>;
  /** `Access-Control-Allow-Credentials: true`. */
  credentials?: boolean;
  /** `Access-Control-Max-Age`, in seconds. */
  maxAge?: number | string;
  /** Pass preflights on to the next handler instead of answering them (keeps them in JS). */
  preflightContinue?: boolean;
  /** The preflight's status. Default 204. */
  optionsSuccessStatus?: number;
  /** Answer Private Network Access preflights with `Access-Control-Allow-Private-Network: true`. */
  privateNetworkAccess?: boolean;
}

/** Per-request `cors()` options, as the `cors` package takes them. */
export type CorsOptionsDelegate = (req: Request, callback: (err: Error | null, options?: CorsOptions) => void) => void;

/** CORS middleware; Rust answers preflights itself when the options are static (README, "CORS"). */
export declare function cors(options?: CorsOptions | CorsOptionsDelegate): Middleware;

/** What a `rateLimit()` store counts with (e.g. `RedisRateLimitStore`). */
export interface RateLimitStore {
  /** Counts one request for `key` in its window; `resetMs`: milliseconds until that window ends. */
  increment(key: string, windowMs: number): Promise<{ count: number; resetMs: number }>;
  decrement?(key: string): Promise<unknown> | unknown;
  resetKey?(key: string): Promise<unknown> | unknown;
}

/** `rateLimit()` options. */
export interface RateLimitOptions {
  /** The window, in milliseconds. Default 60000. */
  windowMs?: number;
  /** Requests allowed per key and window. Default 100. */
  limit?: number;
  /** express-rate-limit's older name for `limit`. */
  max?: number;
  /** The key to count by. Default: `req.ip`. A function keeps the limiter in JS. */
  key?: (req: Request, res: Response) => string | Promise<string>;
  /** Where counts live; default: native memory shared by the app's servers. */
  store?: RateLimitStore;
  /** The refusal's status. Default 429. */
  statusCode?: number;
  /** The refusal's body: a string (text/plain) or a JSON value. Default `{ error: 'Too Many Requests' }`. */
  message?: string | object | ((req: Request, res: Response) => string | object);
  /** Requests for which it returns true are neither counted nor refused. */
  skip?: (req: Request, res: Response) => boolean | Promise<boolean>;
  /** `RateLimit`, `RateLimit-Policy` and (refused) `Retry-After` headers. Default true. */
  headers?: boolean;
  /** Keys the native counter keeps at most (the windows ending soonest go first). Default 100000. */
  maxKeys?: number;
}

/** What `rateLimit()` puts on `req` (as express-rate-limit does). */
export interface RateLimitInfo {
  limit: number;
  used: number;
  remaining: number;
  resetTime: Date;
}

export interface RateLimitMiddleware extends Middleware {
  /** Forgets `key`'s count. */
  resetKey(key: string): unknown;
}

/** Fixed-window rate limiting; Rust counts and refuses natively when keyed by IP (README, "Rate limiting"). */
export declare function rateLimit(options?: RateLimitOptions): RateLimitMiddleware;

// Sessions -------------------------------------------------------------------------------------

/** `req.session.cookie`: express-session's Cookie. */
export interface SessionCookie {
  path: string;
  httpOnly: boolean;
  secure: boolean;
  sameSite: boolean | 'lax' | 'strict' | 'none';
  domain?: string;
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high';
  /** When the cookie (and the session) expires; null for a browser-session cookie. */
  expires: Date | null;
  /** Milliseconds left; null for a browser-session cookie. Assigning sets `expires` from now. */
  maxAge: number | null;
  /** The maxAge the session started with (restarted from on every request). */
  readonly originalMaxAge: number | null;
}

/**
 * What a session holds. Type its fields by augmenting this interface:
 * `declare module 'http-native' { interface SessionData { user?: string } }`.
 */
export interface SessionData {
  [key: string]: any;
}

/**
 * `req.session`: the data as its own properties, and express-session's methods. Each method
 * returns a Promise, or, given a callback, calls it with the error (or null) and returns undefined.
 */
export type Session = SessionData & {
  readonly id: string;
  cookie: SessionCookie;
  /** Gives the request a new session (new id, empty data); the old one is removed from the store. */
  regenerate(): Promise<void>;
  regenerate(callback: (err: Error | null) => void): void;
  /** Removes the session from the store and from `req.session`; no cookie is set. */
  destroy(): Promise<void>;
  destroy(callback: (err: Error | null) => void): void;
  /** Saves now (it is saved at the answer's end anyway when it changed). */
  save(): Promise<void>;
  save(callback: (err: Error | null) => void): void;
  /** Reloads the data from the store (`HN_ERR_SESSION_GONE` when it is no longer there). */
  reload(): Promise<void>;
  reload(callback: (err: Error | null) => void): void;
  /** Restarts the cookie's maxAge from now. */
  touch(): Promise<void>;
  touch(callback: (err: Error | null) => void): void;
  resetMaxAge(): Session;
};

/**
 * A session store. Each method may answer directly or with a Promise; the response waits for a
 * Promise from `set`/`touch` at its end. `data` is the session as a JSON-able object, its cookie
 * under `cookie` (express-session's shape); `ttlMs` is undefined for a browser-session cookie
 * (the store's own default applies).
 */
export interface SessionStoreLike {
  get(id: string): SessionData | null | Promise<SessionData | null>;
  set(id: string, data: SessionData, ttlMs: number | undefined): unknown;
  destroy(id: string): unknown;
  touch?(id: string, data: SessionData, ttlMs: number | undefined): unknown;
}

/** Options of `session()`, express-session's names and meanings. */
export interface SessionOptions {
  /** Signs the cookie. A list rotates secrets: the first signs, any verifies. */
  secret: string | readonly string[];
  /** Cookie name. Default `'sid'`. */
  name?: string;
  /** Default: a `MemorySessionStore` of this middleware. */
  store?: SessionStoreLike;
  cookie?: {
    /** Default `'/'`; the session is only looked for under it. */
    path?: string;
    /** Default true. */
    httpOnly?: boolean;
    /** Default false; `'auto'`: secure when the request is (`req.secure`). A secure cookie is not sent over plain HTTP. */
    secure?: boolean | 'auto';
    /** Default `'lax'`. */
    sameSite?: boolean | 'lax' | 'strict' | 'none';
    /** Milliseconds; none (the default) makes a browser-session cookie. */
    maxAge?: number;
    domain?: string;
    partitioned?: boolean;
    priority?: 'low' | 'medium' | 'high';
  };
  /** Send the cookie on every answer (its expiry restarting). Default false. */
  rolling?: boolean;
  /** Save the session at every request's end even when unchanged. Default false. */
  resave?: boolean;
  /** Store (and send the cookie of) a new session nothing was put in. Default false. */
  saveUninitialized?: boolean;
  /** Makes new session ids. Default: 24 random bytes in base64url. */
  genid?: (req: Request) => string;
}

// What session() puts on the request (merged into the Request interface above).
export interface Request {
  /** Set by `session()`; undefined after `destroy()`. */
  session?: Session;
  /** Set by `session()`. */
  sessionID?: string;
  /** The store of the `session()` that ran. */
  sessionStore?: SessionStoreLike;
}

/** express-session's middleware over a store: `app.use(session({ secret }))`. Bad options throw `HN_ERR_BAD_OPTION`. */
export declare function session(options: SessionOptions): Middleware;

/**
 * The default session store: sessions as JSON in native memory (out of V8's heap), bounded in
 * sessions and bytes (each bound kept per one of 16 shards), each expiring after its TTL.
 */
export declare class MemorySessionStore implements SessionStoreLike {
  constructor(options?: {
    /** Default 10,000. */
    maxSessions?: number;
    /** Default 64 MiB. */
    maxBytes?: number;
    /** TTL of a session with a browser-session cookie. Default one day. */
    ttlMs?: number;
  });
  get(id: string): SessionData | null;
  /** Throws `HN_ERR_SESSION_TOO_LARGE` for a session alone over the byte bound. */
  set(id: string, data: SessionData, ttlMs?: number): void;
  touch(id: string, data: SessionData, ttlMs?: number): void;
  destroy(id: string): void;
  readonly length: number;
  clear(): void;
}

/** A connected node-redis (v4+) or ioredis client: anything with `sendCommand(args)` or `call(...args)`. */
export type RedisClientLike =
  | { sendCommand(args: string[]): Promise<unknown> }
  | { call(command: string, ...args: string[]): Promise<unknown> };

/** Sessions in Redis, in connect-redis's format (`sess:<id>` → JSON, expiring with the session). */
export declare class RedisSessionStore implements SessionStoreLike {
  constructor(options: {
    client: RedisClientLike;
    /** Default `'sess:'`. */
    prefix?: string;
    /** TTL of a session with a browser-session cookie. Default one day. */
    ttlMs?: number;
  });
  get(id: string): Promise<SessionData | null>;
  set(id: string, data: SessionData, ttlMs?: number): Promise<void>;
  touch(id: string, data: SessionData, ttlMs?: number): Promise<void>;
  destroy(id: string): Promise<void>;
}

/** Rate-limit counters in Redis, shared by every instance: fixed windows, counted atomically (Lua). */
export declare class RedisRateLimitStore {
  constructor(options: {
    client: RedisClientLike;
    /** Default `'rl:'`. */
    prefix?: string;
  });
  /** The hit's count in its window and the milliseconds until the window resets. */
  increment(key: string, windowMs: number): Promise<{ count: number; resetMs: number }>;
  decrement(key: string): Promise<void>;
  resetKey(key: string): Promise<void>;
}

declare const httpNative: {
  createApp: typeof createApp;
  cors: typeof cors;
  rateLimit: typeof rateLimit;
  WS_SENT: typeof WS_SENT;
  WS_BACKPRESSURE: typeof WS_BACKPRESSURE;
  WS_DROPPED: typeof WS_DROPPED;
  session: typeof session;
  MemorySessionStore: typeof MemorySessionStore;
  RedisSessionStore: typeof RedisSessionStore;
  RedisRateLimitStore: typeof RedisRateLimitStore;
};
export default httpNative;
