'use strict';
// TEMPORARY STAND-IN (helper H) for helper R's js/host/router.js, replaced by R's file unchanged
// once it lands. Same API: new RouteTable(routes, statics, dirs); lookup(methodCode, method,
// rawPath) → { kind: 'route', id, params } | { kind: 'static', index } | { kind: 'dir', index,
// rest } | { kind: 'bad', status } | null.

class RouteTable {
  constructor(routes, statics = [], dirs = []) {
    this._routes = routes
      .filter((r) => r.method !== 'WS')
      .map((r) => ({ id: r.id, method: r.method, segments: r.path.split('/').slice(1), exact: !/[:*]/.test(r.path), path: r.path }));
    this._statics = new Map(statics.map((s, i) => [s.path, i]));
    this._dirs = dirs.map((d, i) => ({ prefix: d.prefix, index: i }));
  }

  lookup(methodCode, method, rawPath) {
    const isGet = method === 'GET' || method === 'HEAD';
    if (isGet && this._statics.has(rawPath)) return { kind: 'static', index: this._statics.get(rawPath) };
    const segs = rawPath.split('/').slice(1);
    let decoded;
    try {
      decoded = segs.map((s) => decodeURIComponent(s));
    } catch {
      return { kind: 'bad', status: 400 };
    }
    for (const wantExact of [true, false]) {
      for (const tryMethod of method === 'HEAD' ? ['HEAD', 'GET', 'ALL'] : [method, 'ALL']) {
        for (const r of this._routes) {
          if (r.exact !== wantExact || r.method !== tryMethod) continue;
          const params = match(r.segments, segs, decoded);
          if (params !== null) return { kind: 'route', id: r.id, params };
        }
      }
    }
    for (const d of this._dirs) {
      if (d.prefix === '/' || rawPath === d.prefix || rawPath.startsWith(`${d.prefix}/`)) {
        return { kind: 'dir', index: d.index, rest: d.prefix === '/' ? rawPath : rawPath.slice(d.prefix.length) };
      }
    }
    return null;
  }
}

function match(pattern, segs, decoded) {
  const params = [];
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.startsWith('*')) {
      params.push(decoded.slice(i).join('/'));
      return params;
    }
    if (i >= segs.length) return null;
    if (p.startsWith(':')) {
      if (segs[i] === '') return null;
      params.push(decoded[i]);
    } else if (p !== segs[i]) return null;
  }
  return segs.length === pattern.length ? params : null;
}

module.exports = { RouteTable };
