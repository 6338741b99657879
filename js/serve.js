'use strict';
// serve(module, { workers, ...listenOptions }): the app on every core, as one JS thread per
// worker. Each worker (js/serve-worker.js) loads the module and listens on the same port with
// SO_REUSEPORT, so the kernel spreads connections over the workers with no hop between threads
// per request; what they must agree on is native and shared by name in this process (the response
// cache, rate-limit counters, memory sessions: js/shared-scope.js). A worker that dies is
// restarted; close() drains them all.
const { EventEmitter } = require('node:events');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { Worker } = require('node:worker_threads');
const { randomBytes } = require('node:crypto');
const { threads, closeTimeout } = require('./options');
const { sumStats, withRatios } = require('./server');
const { HN_ERR_BAD_OPTION, HN_ERR_SERVE } = require('./errors');

const WORKER = path.join(__dirname, 'serve-worker.js');
// A worker that dies is restarted after this, doubled for each restart that died again before
// it listened (a module that throws at load would otherwise spin), up to the maximum.
const RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 5000;
// A worker that fails this many times in a row before listening is given up: the 'error' event.
const MAX_FAILED_STARTS = 5;

function moduleHref(module) {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module === '') {
    throw new HN_ERR_BAD_OPTION(`serve(module): module must be a path or a file: URL, got ${typeof module}`);
  }
  return module.startsWith('file:') ? module : pathToFileURL(path.resolve(module)).href;
}

function serveOptions(options = {}) {
  if (options === null || typeof options !== 'object') throw new HN_ERR_BAD_OPTION('serve(module, options): options must be an object');
  const { workers = 'auto', ...listen } = options;
  return { workers: threads('serve()', 'workers', workers), listen };
}

class Cluster extends EventEmitter {
  constructor(href, workers, listen) {
    super();
    this.workers = workers;
    this.port = undefined;
    this.url = undefined;
    this.driver = undefined;
    // Restarts so far, over every worker.
    this.restarts = 0;
    this._href = href;
    this._listen = listen;
    this._group = `serve-${process.pid}-${randomBytes(6).toString('hex')}`;
    this._slots = [];
    this._closing = undefined;
    this._asks = new Map();
    this._nextAsk = 1;
  }

  // Resolves once worker `index` listens; rejects with its failure.
  _start(index, listen) {
    return new Promise((resolve, reject) => {
      const worker = new Worker(WORKER, { workerData: { module: this._href, group: this._group, index, listen } });
      const slot = { worker, listening: false, failedStarts: this._slots[index]?.failedStarts ?? 0 };
      this._slots[index] = slot;
      worker.on('message', (message) => {
        if (message.type === 'listening') {
          slot.listening = true;
          slot.failedStarts = 0;
          resolve(message);
        } else if (message.type === 'failed') {
          const err = new HN_ERR_SERVE(`serve(): worker ${index} failed to start: ${message.error.message}`);
          if (message.error.code !== undefined) err.cause = { code: message.error.code, stack: message.error.stack };
          slot.failure = err;
          reject(err);
        } else if (message.type === 'stats') {
          this._asks.get(message.id)?.(message.stats);
          this._asks.delete(message.id);
        }
      });
      // An uncaught exception in the worker: reported here, then its 'exit'.
      worker.on('error', (err) => {
        slot.failure = err;
        if (!slot.listening) reject(err);
      });
      worker.on('exit', (code) => {
        if (!slot.listening && slot.failure === undefined) reject(new HN_ERR_SERVE(`serve(): worker ${index} exited (code ${code}) before listening`));
        this._exited(index, slot, code);
      });
    });
  }

  _exited(index, slot, code) {
    if (this._slots[index] !== slot) return;
    slot.exited = true;
    slot.onExit?.();
    // Only a worker that had listened is restarted: one that failed to start failed serve() or its
    // own restart, which counts towards giving up.
    if (this._closing !== undefined || this.port === undefined) return;
    if (!slot.listening) slot.failedStarts += 1;
    if (slot.failedStarts >= MAX_FAILED_STARTS) {
      const err = new HN_ERR_SERVE(`serve(): worker ${index} failed ${slot.failedStarts} times in a row; not restarted`, { cause: slot.failure });
      if (this.listenerCount('error') > 0) this.emit('error', err);
      else console.error('http-native:', err);
      return;
    }
    const delay = Math.min(MAX_RESTART_DELAY_MS, RESTART_DELAY_MS * 2 ** slot.failedStarts);
    setTimeout(() => {
      if (this._closing !== undefined) return;
      this.restarts += 1;
      this.emit('restart', { worker: index, exitCode: code });
      this._start(index, { ...this._listen, port: this.port }).catch(() => {});
    }, delay).unref();
  }

  // Every worker's counters summed (as server.stats() sums threads), and each worker's own.
  async stats() {
    const live = this._slots.filter((s) => s.listening && !s.exited);
    const each = await Promise.all(
      live.map(
        (slot) =>
          new Promise((resolve) => {
            const id = this._nextAsk++;
            this._asks.set(id, resolve);
            slot.worker.postMessage({ type: 'stats', id });
            // A worker that dies before answering answers nothing: its share is left out.
            slot.onExit = () => {
              if (this._asks.delete(id)) resolve(null);
            };
          }),
      ),
    );
    const workers = each.filter((s) => s !== null);
    if (workers.length === 0) return { workers };
    const stats = withRatios(sumStats(workers));
    stats.workers = workers;
    return stats;
  }

  // Each worker's server closes as server.close() does (stop accepting, drain, then force after
  // `timeout`), then the worker exits. Resolves once every worker has.
  close(options) {
    if (this._closing !== undefined) return this._closing;
    let timeout;
    try {
      timeout = closeTimeout(options);
    } catch (err) {
      return Promise.reject(err);
    }
    this._closing = Promise.all(
      this._slots.map(
        (slot) =>
          new Promise((resolve) => {
            if (slot.exited) return resolve();
            slot.worker.once('exit', () => resolve());
            if (slot.listening) slot.worker.postMessage({ type: 'close', timeout });
            else slot.worker.terminate();
          }),
      ),
    ).then(() => undefined);
    return this._closing;
  }
}

// Starts the workers: the first on the port asked (0 picks one), the others on the port it got.
async function serve(module, options) {
  const href = moduleHref(module);
  const { workers, listen } = serveOptions(options);
  const cluster = new Cluster(href, workers, listen);
  try {
    const first = await cluster._start(0, listen);
    cluster.port = first.port;
    cluster.url = first.url;
    cluster.driver = first.driver;
    const rest = [];
    for (let i = 1; i < workers; i++) rest.push(cluster._start(i, { ...listen, port: first.port }));
    await Promise.all(rest);
  } catch (err) {
    await cluster.close({ timeout: 0 }).catch(() => {});
    throw err;
  }
  return cluster;
}

module.exports = { serve };
