'use strict';
// One worker thread of serve(): names the state it shares with the other workers, loads the app
// module, listens on the cluster's port (SO_REUSEPORT), then answers the primary's stats and close
// messages. What it reports is in js/serve.js.
const { parentPort, workerData } = require('node:worker_threads');
const { enter } = require('./shared-scope');

// Before the module runs: its rateLimit()s and session stores are named as they are made.
enter(workerData.group);

// The app a module exports: `module.exports = app`, `export default app`, or an export named app.
function appOf(mod) {
  const candidates = [mod.app, mod.default, mod.default?.app];
  return candidates.find((c) => c !== null && typeof c === 'object' && typeof c.listen === 'function' && c.cache !== undefined);
}

const plain = (err) => ({ message: String(err?.message ?? err), code: err?.code, stack: err?.stack });

async function main() {
  const mod = await import(workerData.module);
  const app = appOf(mod);
  if (app === undefined) {
    parentPort.postMessage({ type: 'failed', error: { message: `serve(): ${workerData.module} exports no app (module.exports = app, export default app, or export const app)`, code: 'HN_ERR_SERVE' } });
    return;
  }
  const server = await app.listen({ ...workerData.listen, reusePort: true });
  parentPort.on('message', async (message) => {
    if (message.type === 'stats') {
      parentPort.postMessage({ type: 'stats', id: message.id, stats: server.stats() });
    } else if (message.type === 'close') {
      await server.close({ timeout: message.timeout });
      parentPort.postMessage({ type: 'closed' });
      // What the app left open (timers, database clients) must not keep a closed worker alive.
      process.exit(0);
    }
  });
  parentPort.postMessage({ type: 'listening', port: server.port, url: server.url, driver: server.driver });
}

main().catch((err) => parentPort.postMessage({ type: 'failed', error: plain(err) }));
