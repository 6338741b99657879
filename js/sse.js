'use strict';
// Server-Sent Events over a streaming response (`res.sse()`): the event-stream wire format
// (https://html.spec.whatwg.org/multipage/server-sent-events.html), its headers, and the heartbeat
// that keeps a quiet stream from being cut by proxies or by `streamTimeout`. It only uses the
// response's node:http surface (set, get, flushHeaders, write, end, writableEnded, 'close'), so it
// works the same over any response that has it.
const { EventEmitter } = require('node:events');
const { HN_ERR_INVALID_ARG, HN_ERR_SSE_INVALID_FIELD, HN_ERR_HEADERS_SENT } = require('./errors');

// Proxies and load balancers commonly drop a connection after 30-60 s without a byte (nginx's
// proxy_read_timeout is 60 s, AWS ALB's idle timeout 60 s): a comment every 15 s stays well inside
// them, at 3 bytes per beat.
const DEFAULT_HEARTBEAT_MS = 15000;
// setTimeout's own ceiling (a larger delay fires at once, with a warning).
const MAX_TIMER_MS = 0x7fffffff;
// Every line terminator the event-stream format recognizes: a data value is split on each.
const LINE_BREAK = /\r\n|\r|\n/;
// An id or event name is one field line: a CR or LF in it would end that line and start a field
// the application never wrote. A NUL makes browsers ignore the id (the spec says so), which would
// silently break Last-Event-ID resumption.
const FORBIDDEN_IN_ID = /[\r\n\0]/;
const FORBIDDEN_IN_EVENT = /[\r\n]/;

const HEARTBEAT = ':\n\n';
const OPTIONS = ['heartbeat', 'retry'];

class EventStream extends EventEmitter {
  constructor(req, res, heartbeatMs) {
    super();
    this._req = req;
    this._res = res;
    this._closed = false;
    this._controller = undefined;
    this._timer = null;
    this._onClose = () => this._ended();
    res.once('close', this._onClose);
    if (heartbeatMs > 0) {
      // Refreshed by every write, so it only fires after `heartbeat` ms of silence; unref'd because
      // the response's connection, not this timer, is what keeps the process serving it.
      this._timer = setTimeout(() => this._beat(), heartbeatMs);
      this._timer.unref();
    }
  }

  // The request's Last-Event-ID header: the id of the last event a reconnecting EventSource saw.
  get lastEventId() {
    return this._req.get('last-event-id');
  }

  // True once the stream ended: closed by the app, or the client left.
  get closed() {
    return this._closed;
  }

  // Aborts when the stream ends, either way. Created on first access.
  get signal() {
    if (this._controller === undefined) {
      this._controller = new AbortController();
      if (this._closed) this._controller.abort();
    }
    return this._controller.signal;
  }

  // send('text') or send({ data, event, id, retry }). Returns what res.write() returned: false
  // means the client is not keeping up (wait for res's 'drain') or the stream is closed.
  send(message) {
    return this._write(typeof message === 'string' ? `${dataLines(message)}\n` : encodeMessage(message));
  }

  // A comment line (`: text`), ignored by EventSource: for heartbeats or debugging.
  comment(text = '') {
    if (typeof text !== 'string') throw new HN_ERR_INVALID_ARG('sse.comment() expects a string');
    let out = '';
    for (const line of text.split(LINE_BREAK)) out += line === '' ? ':\n' : `: ${line}\n`;
    return this._write(`${out}\n`);
  }

  // Tells the client how long to wait before reconnecting after the stream ends.
  retry(ms) {
    return this._write(`retry: ${retryValue(ms)}\n\n`);
  }

  // Ends the response. The EventSource reconnects after its retry delay: a client that should stop
  // must be told with an event it understands (or answered 204 when it reconnects).
  close() {
    if (this._closed) return;
    this._ended();
    this._res.end();
  }

  _write(text) {
    // Also a no-op once the response was ended without close() (res.end(), or a HEAD request).
    if (this._closed || this._res.writableEnded) return false;
    if (this._timer !== null) this._timer.refresh();
    return this._res.write(text);
  }

  _beat() {
    if (this._closed || this._res.writableEnded) return;
    this._timer.refresh();
    this._res.write(HEARTBEAT);
  }

  _ended() {
    if (this._closed) return;
    this._closed = true;
    if (this._timer !== null) clearTimeout(this._timer);
    this._res.removeListener('close', this._onClose);
    if (this._controller !== undefined) this._controller.abort();
    this.emit('close');
  }
}

function open(req, res, options) {
  const { heartbeat, retry } = readOptions(options);
  if (res.headersSent) {
    throw new HN_ERR_HEADERS_SENT('res.sse() must be called before anything is sent: the headers are already sent');
  }
  res.set('content-type', 'text/event-stream; charset=utf-8');
  // Only where the app did not set its own: it may want e.g. `no-store`.
  if (res.get('cache-control') === undefined) res.set('cache-control', 'no-cache');
  // nginx buffers proxied responses by default, which would hold events back.
  if (res.get('x-accel-buffering') === undefined) res.set('x-accel-buffering', 'no');
  const stream = new EventStream(req, res, heartbeat);
  // EventSource fires 'open' on the headers: send them now, not with the first event.
  res.flushHeaders();
  // A HEAD request gets the headers only: its stream has nothing to carry, and left open it would
  // never notice its client leaving (no byte is ever written) and hold back the requests behind
  // it. 'close' still comes from res, after the handler had its chance to listen for it.
  if (req.method === 'HEAD') res.end();
  else if (retry !== undefined) stream.retry(retry);
  return stream;
}

function readOptions(options) {
  if (options === undefined) return { heartbeat: DEFAULT_HEARTBEAT_MS, retry: undefined };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new HN_ERR_INVALID_ARG('res.sse(options): options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!OPTIONS.includes(key)) throw new HN_ERR_INVALID_ARG(`res.sse(): unknown option "${key}" (known: ${OPTIONS.join(', ')})`);
  }
  const heartbeat = options.heartbeat === undefined ? DEFAULT_HEARTBEAT_MS : options.heartbeat;
  if (!Number.isInteger(heartbeat) || heartbeat < 0 || heartbeat > MAX_TIMER_MS) {
    throw new HN_ERR_INVALID_ARG(
      `res.sse(): heartbeat must be an integer number of milliseconds from 0 (off) to ${MAX_TIMER_MS}, got ${String(heartbeat)}`,
    );
  }
  return { heartbeat, retry: options.retry === undefined ? undefined : retryValue(options.retry) };
}

function retryValue(ms) {
  if (!Number.isInteger(ms) || ms < 0) {
    throw new HN_ERR_INVALID_ARG(`SSE retry must be a non-negative integer number of milliseconds, got ${String(ms)}`);
  }
  return ms;
}

// One event's text, blank line included. Fields in the order a reader expects them: the id and
// event name first, so a client logging raw frames sees what the data belongs to.
function encodeMessage(message) {
  if (typeof message !== 'object' || message === null) {
    throw new HN_ERR_INVALID_ARG('sse.send() expects a string or an object { data, event, id, retry }');
  }
  const { data, event, id, retry } = message;
  let out = '';
  if (id !== undefined) out += `id: ${fieldValue('id', id, FORBIDDEN_IN_ID)}\n`;
  if (event !== undefined) out += `event: ${fieldValue('event', event, FORBIDDEN_IN_EVENT)}\n`;
  if (retry !== undefined) out += `retry: ${retryValue(retry)}\n`;
  if (data !== undefined) out += dataField(data);
  if (out === '') throw new HN_ERR_INVALID_ARG('sse.send() needs at least one of data, event, id or retry');
  return `${out}\n`;
}

function fieldValue(name, value, forbidden) {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') {
    throw new HN_ERR_INVALID_ARG(`SSE ${name} must be a string or a finite number, got ${typeof value}`);
  }
  if (forbidden.test(value)) {
    const code = value.charCodeAt(value.search(forbidden));
    throw new HN_ERR_SSE_INVALID_FIELD(
      `SSE ${name} contains the character 0x${code.toString(16).padStart(2, '0')}, which would end its line: ${JSON.stringify(value)}`,
    );
  }
  return value;
}

// A string is sent as it is; anything else as its JSON text, which has no raw line breaks.
function dataField(data) {
  if (typeof data === 'string') return dataLines(data);
  const json = JSON.stringify(data);
  if (json === undefined) throw new HN_ERR_INVALID_ARG(`SSE data cannot be sent as JSON: ${typeof data}`);
  return `data: ${json}\n`;
}

// The client joins a message's data lines with '\n', so any line break in the text (CRLF, CR or
// LF, all of which end a line in this format) becomes one data line each.
function dataLines(text) {
  if (!LINE_BREAK.test(text)) return `data: ${text}\n`;
  let out = '';
  for (const line of text.split(LINE_BREAK)) out += `data: ${line}\n`;
  return out;
}

module.exports = { open, EventStream, DEFAULT_HEARTBEAT_MS };
