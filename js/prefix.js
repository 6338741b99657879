'use strict';
// Express's prefix rule for middleware mounted at a path, shared by the router (which chains a
// middleware into a route's chain when its prefix may cover the route), the dispatcher (which
// checks the prefixes that depend on parameter values) and the native guards' compile step.

// '/api' covers '/api' and '/api/x' but not '/apix'.
function underPrefix(path, prefix) {
  return path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 47);
}

module.exports = { underPrefix };
