'use strict';
// The rest of node:http's IncomingMessage and ServerResponse surface that npm middleware reads
// (morgan, on-finished, express-session, http-proxy, Express's Router...), as getters on the
// prototypes: a request that never touches them pays nothing, and what one does touch (the socket
// facade, rawHeaders) is built on first access and cached on that request.
//
// What the server cannot offer is said here and in README.md ("Express middleware"): no remote
// port (the envelope does not carry it), header names as Rust lower-cased them, no trailers, and
// timeouts that are Rust's (handlerTimeout, streamTimeout), not a socket's.
const { EventEmitter } = require('node:events');
const { STATUS_CODES } = require('node:http');

// Request flags (docs/bridge.md, request envelope byte 6).
const FLAG_HTTP_1_0 = 1;
const FLAG_TLS = 32;
const FLAG_HTTP2 = 64;

// A property a middleware may assign (Express assigns req.res, res.req, req.originalUrl...): the
// assignment becomes an own property, as it would on a node object, instead of throwing on a
// getter without a setter.
function settable(proto, name, get) {
  Object.defineProperty(proto, name, {
    configurable: true,
    get,
    set(value) {
      Object.defineProperty(this, name, { value, writable: true, configurable: true, enumerable: true });
    },
  });
}

// What middleware learns of the connection through req.socket / res.socket / req.connection.
// One per request (several requests of one keep-alive connection get different ones: JS does not
// know connections). 'close' is the response's 'close' (the answer is done, or the client left),
// which is what on-finished and http-proxy wait for; other events are accepted and never emitted.
class CompatSocket {
  constructor(req) {
    this._req = req;
    this._emitter = undefined;
  }

  get _res() {
    return this._req._res;
  }

  get _httpMessage() {
    return this._req._res;
  }

  // The peer's address as Rust saw it, never the one a trust-proxy setting derives.
  get remoteAddress() {
    return this._req._peerIp();
  }

  get remoteFamily() {
    return this.remoteAddress.includes(':') ? 'IPv6' : 'IPv4';
  }

  // Not carried by the request envelope.
  get remotePort() {
    return undefined;
  }

  // tls.TLSSocket has `encrypted: true`; a plain net.Socket has no such property.
  get encrypted() {
    return this._req._flags & FLAG_TLS ? true : undefined;
  }

  get authorized() {
    return this._req.clientCertificate !== undefined;
  }

  get writable() {
    return !this._res._aborted;
  }

  get readable() {
    return !this._res._aborted;
  }

  get destroyed() {
    return this._res._aborted;
  }

  // Closes the connection, cutting off the answer if it is not complete (node's socket.destroy()).
  destroy(err) {
    if (!this._res._aborted) this._res.destroy(err);
    return this;
  }

  end() {
    return this.destroy();
  }

  // Socket options and timeouts are Rust's (keepAliveTimeout, requestTimeout, handlerTimeout...).
  setTimeout() {
    return this;
  }

  setNoDelay() {
    return this;
  }

  setKeepAlive() {
    return this;
  }

  ref() {
    return this;
  }

  unref() {
    return this;
  }

  address() {
    return {};
  }

  _events() {
    if (this._emitter === undefined) this._emitter = new EventEmitter();
    return this._emitter;
  }

  // 'close' lives on the response; anything else on an emitter of this facade's own.
  _target(event) {
    return event === 'close' ? this._res : this._events();
  }

  on(event, listener) {
    this._target(event).on(event, listener);
    return this;
  }

  addListener(event, listener) {
    return this.on(event, listener);
  }

  once(event, listener) {
    this._target(event).once(event, listener);
    return this;
  }

  prependListener(event, listener) {
    this._target(event).prependListener(event, listener);
    return this;
  }

  prependOnceListener(event, listener) {
    this._target(event).prependOnceListener(event, listener);
    return this;
  }

  off(event, listener) {
    this._target(event).off(event, listener);
    return this;
  }

  removeListener(event, listener) {
    return this.off(event, listener);
  }

  removeAllListeners(event) {
    if (event === undefined || event === 'close') this._res.removeAllListeners('close');
    if (this._emitter !== undefined) this._emitter.removeAllListeners(event);
    return this;
  }

  emit(event, ...args) {
    return this._target(event).emit(event, ...args);
  }

  listenerCount(event) {
    return this._target(event).listenerCount(event);
  }

  listeners(event) {
    return this._target(event).listeners(event);
  }
}

function installRequest(Request) {
  const proto = Request.prototype;
  settable(proto, 'socket', function socket() {
    if (this._socket === undefined) this._socket = new CompatSocket(this);
    return this._socket;
  });
  settable(proto, 'connection', function connection() {
    return this.socket;
  });
  // [name, value, ...] as received, repeats kept; names lower-cased (Rust sends them so).
  settable(proto, 'rawHeaders', function rawHeaders() {
    const raw = [];
    this._eachHeader((name, value) => raw.push(name, value));
    this.rawHeaders = raw;
    return raw;
  });
  settable(proto, 'rawTrailers', () => []);
  settable(proto, 'trailers', () => ({}));
  settable(proto, 'httpVersionMajor', function httpVersionMajor() {
    return this._flags & FLAG_HTTP2 ? 2 : 1;
  });
  settable(proto, 'httpVersionMinor', function httpVersionMinor() {
    return this._flags & (FLAG_HTTP2 | FLAG_HTTP_1_0) ? 0 : 1;
  });
  // The whole body arrived (a collected body always has).
  settable(proto, 'complete', function complete() {
    if (this._abortReason !== undefined) return false;
    return !this._streamsBody || this._bodyStream._ended;
  });
  settable(proto, 'aborted', function aborted() {
    return this._abortReason !== undefined;
  });
  settable(proto, 'upgrade', () => false);
  // Express's: the target before any mount stripped a prefix (or a middleware rewrote req.url).
  settable(proto, 'originalUrl', function originalUrl() {
    return this._target();
  });
  // Express's: the mount prefix of the middleware now running ('' outside one; js/dispatch.js).
  // Express's Router assigns it too, and puts back what it found: the same field, so a mount's
  // exit (js/dispatch.js) restores over whatever the router left.
  Object.defineProperty(proto, 'baseUrl', {
    configurable: true,
    get() {
      return this._baseUrl;
    },
    set(value) {
      this._baseUrl = value;
    },
  });
  settable(proto, 'app', function app() {
    return this._bridge.app;
  });
  settable(proto, 'res', function res() {
    return this._res;
  });
  // IncomingMessage.setTimeout: Rust's requestTimeout/handlerTimeout govern instead.
  proto.setTimeout = function setTimeout() {
    return this;
  };
}

function installResponse(Response) {
  const proto = Response.prototype;
  settable(proto, 'socket', function socket() {
    return this._req.socket;
  });
  settable(proto, 'connection', function connection() {
    return this._req.socket;
  });
  settable(proto, 'req', function req() {
    return this._req;
  });
  settable(proto, 'app', function app() {
    return this._bridge.app;
  });
  // Rust writes Date on every answer; setting it false changes nothing (documented).
  settable(proto, 'sendDate', () => true);
  // node's head string once written, null before: middleware test it for "headers sent yet?"
  // (express-session, older on-headers users).
  settable(proto, '_header', function header() {
    if (!this.headersSent) return null;
    let head = `HTTP/1.1 ${this.statusCode} ${this.statusMessage || STATUS_CODES[this.statusCode] || ''}\r\n`;
    for (const [name, value] of Object.entries(this.getHeaders())) {
      for (const one of Array.isArray(value) ? value : [value]) head += `${name}: ${one}\r\n`;
    }
    return `${head}\r\n`;
  });
  settable(proto, '_headerSent', function headerSent() {
    return this.headersSent;
  });
  settable(proto, 'closed', function closed() {
    return this._closed;
  });
  // ServerResponse.setTimeout: Rust's handlerTimeout/streamTimeout govern instead.
  proto.setTimeout = function setTimeout() {
    return this;
  };
  // Trailers are not sent (Rust ends a chunked body without a trailer section).
  proto.addTrailers = function addTrailers() {};
}

module.exports = { installRequest, installResponse, CompatSocket };
