'use strict';
// req.parts(options): a multipart/form-data body as an async iterator of parts, shaped as
// @fastify/multipart's req.parts() yields them. @fastify/busboy does the MIME parsing; this file
// owns what is around it: reading the raw body (any async iterable of Buffers, as `req` is),
// handing parts out one at a time with backpressure, each file as a stream of its own, the limits
// and their defaults, and turning every way a body can go wrong into a coded error.
//
// Memory stays bounded whatever the body's size: the body is read only as fast as the consumer
// takes parts and reads files (busboy holds a write until the file stream it feeds is read), and
// a part waiting in the queue stops the reading of more body.
const { Readable } = require('node:stream');
const Busboy = require('@fastify/busboy');
const { mediaType } = require('./body');
const { HN_ERR_NOT_MULTIPART, HN_ERR_MULTIPART_MALFORMED, HN_ERR_MULTIPART_LIMIT, HN_ERR_BAD_OPTION } = require('./errors');

// Defaults after @fastify/multipart (parts, and fileSize: its default is fastify's bodyLimit,
// 1 MiB unless raised) and busboy (the rest). A count of Infinity is no limit of its own: files
// and fields are bounded by `parts` together.
const DEFAULT_LIMITS = Object.freeze({
  fileSize: 1024 * 1024,
  files: Infinity,
  fields: Infinity,
  parts: 1000,
  // A field's value is held in memory whole, as a string.
  fieldSize: 1024 * 1024,
  fieldNameSize: 100,
  // Header lines of one part (node's own bound on a request's header lines).
  headerPairs: 2000,
  // Bytes of one part's header lines, the CRLFs between them included.
  headerSize: 80 * 1024,
});
// Busboy's header size counts the CRLF ending the boundary line too; headerSize does not.
const BOUNDARY_CRLF = 2;

// What each limit counts, for the error message.
const LIMIT_TEXT = {
  fileSize: (n) => `a file is larger than ${n} bytes`,
  files: (n) => `more than ${n} files`,
  fields: (n) => `more than ${n} fields`,
  parts: (n) => `more than ${n} parts`,
  fieldSize: (n) => `a field's value is larger than ${n} bytes`,
  fieldNameSize: (n) => `a field name is longer than ${n} bytes`,
  headerPairs: (n) => `a part has more than ${n} header lines`,
  headerSize: (n) => `a part's header block is larger than ${n} bytes`,
};

function limitError(limit, value) {
  const err = new HN_ERR_MULTIPART_LIMIT(`multipart/form-data: ${LIMIT_TEXT[limit](value)} (limits.${limit} is ${value})`);
  err.limit = limit;
  return err;
}

function malformed(what, cause) {
  return new HN_ERR_MULTIPART_MALFORMED(`multipart/form-data: ${what}`, cause === undefined ? undefined : { cause });
}

// `options`: { limits } with any of DEFAULT_LIMITS' keys. Errors in the body (and a request that
// is not multipart) come from the iterator's first next(), so that `for await` sees them all in
// one place; wrong options throw here: they are the program's mistake, not the client's.
function parts(req, options) {
  return new PartIterator(req, readOptions(options));
}

function readOptions(options) {
  if (options === undefined) return DEFAULT_LIMITS;
  if (typeof options !== 'object' || options === null) throw badOption(`options must be an object, got ${String(options)}`);
  const limits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(options)) {
    if (key !== 'limits') throw badOption(`unknown option "${key}" (known: limits)`);
    if (value === undefined) continue;
    if (typeof value !== 'object' || value === null) throw badOption(`"limits" must be an object, got ${String(value)}`);
    for (const [name, n] of Object.entries(value)) {
      if (!Object.hasOwn(DEFAULT_LIMITS, name)) throw badOption(`unknown limit "${name}" (known: ${Object.keys(DEFAULT_LIMITS).join(', ')})`);
      if (n === undefined) continue;
      if (n !== Infinity && !(Number.isSafeInteger(n) && n >= 0)) {
        throw badOption(`"limits.${name}" must be a non-negative integer or Infinity, got ${String(n)}`);
      }
      limits[name] = n;
    }
  }
  return limits;
}

function badOption(message) {
  return new HN_ERR_BAD_OPTION(`req.parts(): ${message}`);
}

class FieldPart {
  constructor(fieldname, value, mimetype, encoding) {
    this.type = 'field';
    this.fieldname = fieldname;
    this.value = value;
    this.mimetype = mimetype;
    this.encoding = encoding;
    // Kept for code written against @fastify/multipart: a name or value past its limit throws
    // here instead of arriving cut short, so both are always false.
    this.fieldnameTruncated = false;
    this.valueTruncated = false;
  }
}

class FilePart {
  constructor(fieldname, filename, mimetype, encoding, file) {
    this.type = 'file';
    this.fieldname = fieldname;
    this.filename = filename;
    this.mimetype = mimetype;
    this.encoding = encoding;
    this.file = file;
    this._buffer = undefined;
  }

  // The whole file in memory (at most limits.fileSize bytes); rejects as reading `file` would.
  async toBuffer() {
    if (this._buffer === undefined) {
      const chunks = [];
      for await (const chunk of this.file) chunks.push(chunk);
      this._buffer = Buffer.concat(chunks);
    }
    return this._buffer;
  }
}

class PartIterator {
  constructor(req, limits) {
    this._req = req;
    this._limits = limits;
    this._busboy = null;
    this._source = null;
    // Parts parsed and not yet handed out, in body order.
    this._queue = [];
    // The pending next(): { resolve, reject }.
    this._waiting = null;
    // Resolves the body reader's wait while parts are queued.
    this._onTaken = null;
    // The last file handed out, to skip it if the consumer moves on without reading it.
    this._current = null;
    // Every file whose stream has not ended, to end them all with a failure.
    this._open = new Set();
    this._started = false;
    // Busboy saw the closing boundary and every part ended.
    this._finished = false;
    // Set once: the error the iterator throws after the parts queued before it.
    this._error = null;
    // The iterator threw, returned or finished: next() only says done.
    this._done = false;
    // Ends the body reader's current wait when parsing stops (see _until).
    this._interrupt = null;
    this._signal = undefined;
    this._onAbort = null;
    // Calls of next() run one after another, as an async generator's do.
    this._chain = Promise.resolve();
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  next() {
    const result = this._chain.then(() => this._next());
    this._chain = result.then(noop, noop);
    return result;
  }

  // `break` out of `for await`, or an error inside its body: the rest of the body is not parsed.
  async return(value) {
    this._close();
    return { value, done: true };
  }

  _next() {
    if (this._done) return { value: undefined, done: true };
    if (!this._started) this._start();
    this._skipCurrent();
    return new Promise((resolve, reject) => {
      this._waiting = { resolve, reject };
      this._settle();
    });
  }

  // Answers the pending next() if there is something to answer it with.
  _settle() {
    const waiting = this._waiting;
    if (waiting === null) return;
    if (this._queue.length > 0) {
      this._waiting = null;
      const part = this._queue.shift();
      if (part.type === 'file') this._current = part;
      if (this._queue.length === 0 && this._onTaken !== null) this._onTaken();
      waiting.resolve({ value: part, done: false });
    } else if (this._error !== null) {
      this._waiting = null;
      this._close();
      waiting.reject(this._error);
    } else if (this._finished) {
      this._waiting = null;
      this._close();
      waiting.resolve({ value: undefined, done: true });
    }
  }

  _start() {
    this._started = true;
    const type = this._req.headers['content-type'];
    if (mediaType(type) !== 'multipart/form-data') {
      const got = type === undefined ? 'no content-type' : `content-type ${JSON.stringify(type)}`;
      this._fail(new HN_ERR_NOT_MULTIPART(`req.parts(): the request is not multipart/form-data (${got})`));
      return;
    }
    const limits = this._limits;
    try {
      this._busboy = new Busboy({
        headers: { 'content-type': type },
        // One past the limits: busboy drops what is past its bounds without a word, and
        // watchHeaderLimits tells a block that reached them. Busboy's header size also counts
        // the CRLF that ends the boundary line.
        limits: { ...limits, headerPairs: limits.headerPairs + 1, headerSize: limits.headerSize + 1 + BOUNDARY_CRLF },
      });
    } catch (err) {
      this._fail(malformed(`no boundary in the content-type (${JSON.stringify(type)})`, err));
      return;
    }
    const busboy = this._busboy;
    watchHeaderLimits(busboy, limits, (err) => this._fail(err));
    busboy.on('field', (...args) => this._onField(...args));
    busboy.on('file', (...args) => this._onFile(...args));
    busboy.on('partsLimit', () => this._fail(limitError('parts', limits.parts)));
    busboy.on('filesLimit', () => this._fail(limitError('files', limits.files)));
    busboy.on('fieldsLimit', () => this._fail(limitError('fields', limits.fields)));
    busboy.on('error', (err) => this._fail(malformed(describe(err), err)));
    busboy.on('finish', () => {
      this._finished = true;
      this._settle();
    });
    // The client leaving or the handler timing out ends parsing even while nothing is read.
    const signal = this._req.signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        this._fail(signal.reason);
        return;
      }
      this._signal = signal;
      this._onAbort = () => this._fail(signal.reason);
      signal.addEventListener('abort', this._onAbort);
    }
    this._pump().catch((err) => this._fail(err));
  }

  // Reads the body into busboy, one chunk at a time, waiting for busboy to take each (it holds a
  // chunk while a file it feeds is not read) and for the consumer to take the parts it produced.
  async _pump() {
    const source = this._req[Symbol.asyncIterator]();
    this._source = source;
    let empty = true;
    for (;;) {
      const step = await this._until(source.next());
      if (step === undefined || this._done || this._error !== null) return;
      if (step.done) break;
      const chunk = step.value;
      if (chunk.length === 0) continue;
      empty = false;
      await this._until(new Promise((resolve) => this._busboy.write(chunk, resolve)));
      if (this._queue.length > 0) {
        await this._until(new Promise((resolve) => (this._onTaken = resolve)));
        this._onTaken = null;
      }
      if (this._done || this._error !== null) return;
    }
    this._source = null;
    // No body at all is an empty form (as in @fastify/multipart), not a truncated one.
    if (empty) {
      this._finished = true;
      this._settle();
    } else {
      this._busboy.end();
    }
  }

  // `promise`'s value, or undefined as soon as parsing stops. Not Promise.race() with one promise
  // that lives as long as the iterator: every race leaves a reaction on it that holds the race's
  // result, and so every chunk of the body would stay in memory until the iterator ends.
  _until(promise) {
    return new Promise((resolve, reject) => {
      this._interrupt = resolve;
      promise.then(resolve, reject);
    });
  }

  _onField(fieldname, value, fieldnameTruncated, valueTruncated, encoding, mimetype) {
    if (this._error !== null || !this._nameFits(fieldname)) return;
    if (valueTruncated) {
      this._fail(limitError('fieldSize', this._limits.fieldSize));
      return;
    }
    this._push(new FieldPart(fieldname, value, mimetype, encoding));
  }

  _onFile(fieldname, source, filename, encoding, mimetype) {
    if (this._error !== null || !this._nameFits(fieldname)) {
      source.resume();
      return;
    }
    // The consumer's stream, fed from busboy's: when the consumer destroys it (or skips it) the
    // rest of the file is read and dropped, so parsing goes on; reading busboy's stream directly,
    // a destroyed stream would stop busboy for good.
    let skipping = false;
    const skip = () => {
      if (skipping) return;
      skipping = true;
      source.resume();
    };
    const file = new Readable({
      read() {
        source.resume();
      },
      destroy(err, callback) {
        skip();
        callback(err);
      },
    });
    // A file failed with the iterator (a limit, a malformed body, the client gone) must not be an
    // uncaught 'error' for want of a reader: its readers get the error all the same.
    file.on('error', noop);
    source.on('data', (chunk) => {
      if (!skipping && !file.push(chunk)) source.pause();
    });
    source.on('end', () => {
      this._open.delete(file);
      if (!skipping) file.push(null);
    });
    source.on('limit', () => {
      const err = limitError('fileSize', this._limits.fileSize);
      this._fail(err);
      file.destroy(err);
    });
    // 'Part terminated early': the body ended inside this file; busboy reports it too.
    source.on('error', (err) => file.destroy(malformed(describe(err), err)));
    this._open.add(file);
    this._push(new FilePart(fieldname, filename, mimetype, encoding, file));
  }

  // Checked here: busboy documents limits.fieldNameSize but does not enforce it.
  _nameFits(fieldname) {
    if (fieldname === undefined || Buffer.byteLength(fieldname) <= this._limits.fieldNameSize) return true;
    this._fail(limitError('fieldNameSize', this._limits.fieldNameSize));
    return false;
  }

  _push(part) {
    this._queue.push(part);
    this._settle();
  }

  // The consumer asked for the next part: a file it handed out but nobody reads (no 'data' or
  // 'readable' listener: not piped, not iterated) is skipped, as it would otherwise hold busboy
  // (and this next()) forever. A file being read goes on; the next part comes after it.
  _skipCurrent() {
    const part = this._current;
    if (part === null) return;
    this._current = null;
    const file = part.file;
    if (file.readableEnded || file.destroyed) return;
    if (file.listenerCount('data') === 0 && file.listenerCount('readable') === 0) file.destroy();
  }

  _fail(err) {
    if (this._error !== null || this._done) return;
    this._error = err;
    for (const file of this._open) file.destroy(err);
    this._open.clear();
    this._stopParsing();
    this._settle();
  }

  // Done with the body, whichever way: nothing more is read or parsed.
  _close() {
    if (this._done) return;
    this._done = true;
    // A next() still waiting when return() came.
    if (this._waiting !== null) {
      this._waiting.resolve({ value: undefined, done: true });
      this._waiting = null;
    }
    for (const file of this._open) file.destroy();
    this._open.clear();
    this._queue.length = 0;
    this._stopParsing();
  }

  _stopParsing() {
    if (this._interrupt !== null) {
      this._interrupt(undefined);
      this._interrupt = null;
    }
    if (this._onAbort !== null) {
      this._signal.removeEventListener('abort', this._onAbort);
      this._onAbort = null;
    }
    if (this._source !== null) {
      const source = this._source;
      this._source = null;
      if (typeof source.return === 'function') Promise.resolve(source.return()).catch(noop);
    }
    if (this._busboy !== null && !this._busboy.destroyed) this._busboy.destroy();
  }
}

// @fastify/busboy keeps a part's header block within headerSize bytes and headerPairs lines by
// dropping the excess without a word. Its bounds are set one past the limits, and its header
// parser (internal to @fastify/busboy 3: Dicer's HeaderParser) is asked after each block whether
// the block reached them. Should that internal change, the bounds still hold, unreported (the
// tests of both limits would fail).
function watchHeaderLimits(busboy, limits, fail) {
  const parser = busboy._parser && busboy._parser.parser && busboy._parser.parser._hparser;
  if (parser === undefined || typeof parser._parseHeader !== 'function') return;
  const parseHeader = parser._parseHeader;
  parser._parseHeader = function parseHeaderWatched() {
    parseHeader.call(this);
    if (this.maxed) fail(limitError('headerSize', limits.headerSize));
    else if (this.npairs === this.maxHeaderPairs) fail(limitError('headerPairs', limits.headerPairs));
  };
}

// busboy's messages, said for the person reading the error.
function describe(err) {
  const message = err && err.message;
  if (message === 'Unexpected end of multipart data') return 'the body ended before its closing boundary';
  if (typeof message === 'string' && message.includes('terminated early')) return 'the body ended inside a part';
  return `the body does not parse (${message})`;
}

function noop() {}

module.exports = { parts, DEFAULT_LIMITS };
