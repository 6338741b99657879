'use strict';
// Coded errors. As with node's ERR_* codes, `code` is the stable part to test against, the message
// is for humans. `status` is what the default error handler answers when such an error reaches it
// during a request; the message itself never goes to the client.

function define(code, status, Base = Error) {
  return class HttpNativeError extends Base {
    constructor(message, options) {
      super(message, options);
      this.code = code;
      this.status = status;
      this.statusCode = status;
    }
  };
}

module.exports = {
  // The request body does not parse as its content type says it should.
  HN_ERR_BAD_JSON: define('HN_ERR_BAD_JSON', 400, SyntaxError),
  // A response header name that is not a token, or a value with a control character other than tab
  // (an app.inject() request header's value too).
  HN_ERR_INVALID_HEADER: define('HN_ERR_INVALID_HEADER', 500, TypeError),
  // A response status outside 100-999.
  HN_ERR_INVALID_STATUS: define('HN_ERR_INVALID_STATUS', 500, RangeError),
  // A response method got an argument of the wrong type.
  HN_ERR_INVALID_ARG: define('HN_ERR_INVALID_ARG', 500, TypeError),
  // createApp()/listen()/close() options, or the options of an app.static() directory mount, of
  // the wrong type or range, or unknown.
  HN_ERR_BAD_OPTION: define('HN_ERR_BAD_OPTION', 500, TypeError),
  // serve(): a worker could not start (its module failed to load, exports no app, or its listen()
  // failed), or kept failing after a restart.
  HN_ERR_SERVE: define('HN_ERR_SERVE', 500),
  // A route or middleware path this router cannot express, or a handler that is not a function.
  HN_ERR_ROUTE: define('HN_ERR_ROUTE', 500, TypeError),
  // res.ncache() on a request that is neither GET nor HEAD: only those are answered from the cache.
  HN_ERR_CACHE_METHOD: define('HN_ERR_CACHE_METHOD', 500, TypeError),
  // res.ncache() on a response that sets cookies: one client's cookie must never be replayed to others.
  HN_ERR_CACHE_COOKIE: define('HN_ERR_CACHE_COOKIE', 500, TypeError),
  // A response the bridge's record cannot carry: more than 65,535 header lines, or more than
  // 4 GiB in all (docs/bridge.md, "Response record").
  HN_ERR_RESPONSE_TOO_LARGE: define('HN_ERR_RESPONSE_TOO_LARGE', 500, RangeError),
  // req.parts() on a request whose content type is not multipart/form-data.
  HN_ERR_NOT_MULTIPART: define('HN_ERR_NOT_MULTIPART', 400, TypeError),
  // A multipart/form-data body that does not parse: no boundary in its content type, a body that
  // ends before its closing boundary, or bytes that never contain the boundary.
  HN_ERR_MULTIPART_MALFORMED: define('HN_ERR_MULTIPART_MALFORMED', 400),
  // A multipart body past one of req.parts()'s limits; `err.limit` names it ('fileSize', 'files',
  // 'fields', 'parts', 'fieldSize', 'fieldNameSize', 'headerPairs', 'headerSize').
  HN_ERR_MULTIPART_LIMIT: define('HN_ERR_MULTIPART_LIMIT', 413, RangeError),
  // res.ncache() of a stream: the cache holds whole answers only.
  HN_ERR_CACHE_STREAM: define('HN_ERR_CACHE_STREAM', 500, TypeError),
  // res.write() after res.end() (node: ERR_STREAM_WRITE_AFTER_END).
  HN_ERR_WRITE_AFTER_END: define('HN_ERR_WRITE_AFTER_END', 500),
  // A streamed answer sent nothing for streamTimeout: Rust ended it (res 'close', req.signal).
  HN_ERR_STREAM_TIMEOUT: define('HN_ERR_STREAM_TIMEOUT', 503),
  // A streamed request body stopped arriving for requestTimeout: the client got 408.
  HN_ERR_BODY_TIMEOUT: define('HN_ERR_BODY_TIMEOUT', 408),
  // A streamed response wrote past the Content-Length it set (node: ERR_HTTP_CONTENT_LENGTH_MISMATCH).
  HN_ERR_CONTENT_LENGTH_MISMATCH: define('HN_ERR_CONTENT_LENGTH_MISMATCH', 500),
  // A streamed request body with bad chunked framing, or past the route's bodyLimit (400/413 sent).
  HN_ERR_BAD_BODY: define('HN_ERR_BAD_BODY', 400),
  // An SSE id or event name with a character that would end its field line (CR, LF; NUL in an id,
  // which browsers ignore): sent, it would inject fields the application never wrote.
  HN_ERR_SSE_INVALID_FIELD: define('HN_ERR_SSE_INVALID_FIELD', 500, TypeError),
  // app.static(prefix, { root }) whose root is not an existing directory (or is the filesystem's
  // root): checked at registration, so a typo fails at startup instead of as 404s.
  HN_ERR_STATIC_ROOT: define('HN_ERR_STATIC_ROOT', 500, TypeError),
  // res.sendFile()/res.download() of a path with a '..' segment (send's "malicious path"), or of a
  // dotfile with dotfiles: 'deny'.
  HN_ERR_FILE_FORBIDDEN: define('HN_ERR_FILE_FORBIDDEN', 403),
  // res.sendFile()/res.download() of a dotfile with dotfiles: 'ignore' (the default): answered as
  // if it did not exist, as send does. A file that does not exist gets node's ENOENT error instead.
  HN_ERR_FILE_NOT_FOUND: define('HN_ERR_FILE_NOT_FOUND', 404),
  // res.sendFile()/res.download() of a path with a NUL byte (one no file can have).
  HN_ERR_BAD_FILE_PATH: define('HN_ERR_BAD_FILE_PATH', 400),
  // A call that has to set response headers (res.sse(), res.sendFile(), res.download()) after they
  // were sent.
  HN_ERR_HEADERS_SENT: define('HN_ERR_HEADERS_SENT', 500),
  // req.signal's reason when the client went away before its response was written.
  HN_ERR_CLIENT_GONE: define('HN_ERR_CLIENT_GONE', 499),
  // req.signal's reason when the handler did not answer within handlerTimeout (Rust sent 503).
  HN_ERR_HANDLER_TIMEOUT: define('HN_ERR_HANDLER_TIMEOUT', 503),
  // app.fetch() (js/host/fetch.js): the app cut its answer off (res.destroy(), a source stream
  // that failed, a body past its content-length). Before the head the call rejects with it; after
  // it, reading the Response's body fails with it, as a client sees a connection close mid-answer.
  HN_ERR_ANSWER_ABORTED: define('HN_ERR_ANSWER_ABORTED', 500),
  // An internal error on the server thread that it contained (server 'error' event).
  HN_ERR_INTERNAL: define('HN_ERR_INTERNAL', 500),
  // A request envelope from the native side that does not follow docs/bridge.md.
  HN_ERR_BAD_ENVELOPE: define('HN_ERR_BAD_ENVELOPE', 500),
  // listen() without a loadable native addon (never built: install scripts skipped, or the build failed).
  HN_ERR_ADDON_MISSING: define('HN_ERR_ADDON_MISSING', 500),
  // listen({ backend }) or HTTP_NATIVE_BACKEND named the JavaScript backend in a copy of the
  // package that does not have it (js/host/ missing).
  HN_ERR_BACKEND_UNAVAILABLE: define('HN_ERR_BACKEND_UNAVAILABLE', 500),
  // listen({ tls }) or server.setSecureContext() with certificates or keys that cannot be used: not
  // PEM, a key that does not fit its certificate, a wrong passphrase.
  HN_ERR_TLS: define('HN_ERR_TLS', 500),

  // Express's surface (js/request-helpers.js, js/response-helpers.js, js/cookies.js):
  // res.cookie(name, value, { signed: true }) in an app without a cookie secret (createApp({
  // cookieSecret }), app.set('cookie secret'), or a middleware that set req.secret).
  HN_ERR_NO_COOKIE_SECRET: define('HN_ERR_NO_COOKIE_SECRET', 500),
  // res.format() found no type the client accepts and was given no `default`; `err.types` lists
  // the ones offered (Express's 406).
  HN_ERR_NOT_ACCEPTABLE: define('HN_ERR_NOT_ACCEPTABLE', 406),
  // rateLimit() (js/rate-limit.js):
  // A `store` whose increment() did not resolve to { count, resetMs } as numbers.
  HN_ERR_RATE_LIMIT_STORE: define('HN_ERR_RATE_LIMIT_STORE', 500, TypeError),
  // Sessions (js/session.js, js/session-stores.js). A session a bounded store could not keep:
  // alone, it is over the store's byte bound (so saving it failed rather than losing it silently).
  HN_ERR_SESSION_TOO_LARGE: define('HN_ERR_SESSION_TOO_LARGE', 500, RangeError),
  // req.session.reload() of a session the store no longer has (expired, or destroyed elsewhere).
  HN_ERR_SESSION_GONE: define('HN_ERR_SESSION_GONE', 500),
  // Issue 15, schema validation (js/schema.js):
  // A route's `schema` option that cannot be used: an unknown part, a part that is neither a JSON
  // Schema nor a Standard Schema, a body schema on a streamed body ({ body: 'stream' }).
  HN_ERR_SCHEMA: define('HN_ERR_SCHEMA', 500, TypeError),
  // Issue 14, app.inject() (js/inject.js). Options it cannot send: an unknown key, a method that
  // is not a token, a url that is not a path (or has a space or control character), a body of
  // another type, a remoteAddress that is not an IP. (A bad header is HN_ERR_INVALID_HEADER.)
  HN_ERR_INJECT_OPTION: define('HN_ERR_INJECT_OPTION', 500, TypeError),
  // The server ended the in-memory connection before its answer was complete (it was closing).
  HN_ERR_INJECT_ABORTED: define('HN_ERR_INJECT_ABORTED', 500),
  // Issue 14, backends (js/host/): listen() asked the node backend for what it does not do
  // (TLS, HTTP/2, WebSocket routes); the message names the feature and the backend.
  HN_ERR_BACKEND_UNSUPPORTED: define('HN_ERR_BACKEND_UNSUPPORTED', 500),
};
