'use strict';
// The names under which native state is one for every worker of one serve() (src/shared.rs): the
// response cache of each listen(), each rateLimit()'s counters and each MemorySessionStore. A
// worker loads the same app module, so the n-th rateLimit() (or listen()) it makes is the n-th of
// every other worker: kind and ordinal name it. Outside serve() nothing is named and nothing is shared.

let group;
const made = new Map();

// Set by js/serve-worker.js before the app module loads.
function enter(name) {
  group = name;
}

// The next name for a `kind` of state made in this thread, or undefined outside serve().
function sharedName(kind) {
  if (group === undefined) return undefined;
  const n = (made.get(kind) ?? 0) + 1;
  made.set(kind, n);
  return `${group}/${kind}/${n}`;
}

module.exports = { enter, sharedName };
