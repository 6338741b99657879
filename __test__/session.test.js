'use strict';
// session(): express-session's semantics over real sockets: when the cookie is set and what it
// says, when the store is written (saved, touched, left alone), the session methods, secrets and
// their rotation, the native memory store's bounds, and an asynchronous store holding the answer
// until its save is done (or turning it into a 500 when the save fails).
const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const signature = require('cookie-signature');
const cookieParser = require('cookie-parser');
const { serve, request, deferred, waitUntil, RawClient, buildRequest, chunkedSoFar } = require('./helpers');
const { session, MemorySessionStore } = require('..');

const T = { timeout: 15000 };

// The `name=value` part of a response's session cookie, or null when it set none.
function sessionCookie(res, name = 'sid') {
  for (const line of res.headers.getSetCookie()) {
    if (line.startsWith(`${name}=`)) return line;
  }
  return null;
}

function pair(line) {
  return line.split(';')[0];
}

// A store that delegates to a MemorySessionStore and counts what session() asked of it.
class CountingStore extends MemorySessionStore {
  constructor(options) {
    super(options);
    this.calls = { get: 0, set: 0, touch: 0, destroy: 0 };
  }

  get(id) {
    this.calls.get++;
    return super.get(id);
  }

  set(id, data, ttlMs) {
    this.calls.set++;
    this.lastTtlMs = ttlMs;
    return super.set(id, data, ttlMs);
  }

  touch(id, data, ttlMs) {
    this.calls.touch++;
    return super.touch(id, data, ttlMs);
  }

  destroy(id) {
    this.calls.destroy++;
    return super.destroy(id);
  }
}

// An asynchronous store (as a networked one is): JSON in a Map, every answer a later turn. A
// test can close `gate` to hold set() until it opens it, or make set() fail.
class AsyncStore {
  constructor() {
    this.map = new Map();
    this.gate = null;
    this.setCalls = 0;
    this.failSet = null;
  }

  async get(id) {
    await null;
    const json = this.map.get(id);
    return json === undefined ? null : JSON.parse(json);
  }

  async set(id, data) {
    this.setCalls++;
    if (this.gate !== null) await this.gate;
    if (this.failSet !== null) throw this.failSet;
    this.map.set(id, JSON.stringify(data));
  }

  async destroy(id) {
    await null;
    this.map.delete(id);
  }
}

function counterRoutes(app) {
  app.get('/count', (req, res) => {
    req.session.count = (req.session.count || 0) + 1;
    res.json({ count: req.session.count, id: req.sessionID });
  });
  app.get('/peek', (req, res) => res.json({ count: req.session.count ?? null, id: req.sessionID }));
}

describe('session cookie', () => {
  test('a session with nothing in it sets no cookie; one with data sets a signed cookie that brings it back', T, async (t) => {
    const store = new CountingStore();
    const s = await serve(t, (app) => {
      app.use(session({ secret: 'keyboard cat', store }));
      counterRoutes(app);
    });
    const empty = await request(s.base, '/peek');
    assert.equal(sessionCookie(empty), null);
    assert.deepEqual((await empty.json()).count, null);
    assert.equal(store.length, 0, 'an uninitialized session is not stored');

    const first = await request(s.base, '/count');
    const line = sessionCookie(first);
    const body = await first.json();
    assert.equal(body.count, 1);
    // express-session's defaults for its cookie, under this package's name and SameSite default.
    assert.match(line, /^sid=s%3A[^;]+; Path=\/; HttpOnly; SameSite=Lax$/);
    const value = decodeURIComponent(pair(line).slice('sid='.length));
    // express-session's format: 's:' + cookie-signature over the id, so cookie-parser reads it.
    assert.equal(signature.unsign(value.slice(2), 'keyboard cat'), body.id);
    assert.equal(cookieParser.signedCookie(value, 'keyboard cat'), body.id);
    assert.equal(body.id.length, 32, '24 random bytes in base64url, as uid-safe(24)');

    const second = await request(s.base, '/count', { headers: { cookie: pair(line) } });
    assert.deepEqual(await second.json(), { count: 2, id: body.id });
    // No maxAge: a browser-session cookie is not sent again when the data changes.
    assert.equal(sessionCookie(second), null);
    const third = await request(s.base, '/peek', { headers: { cookie: pair(line) } });
    assert.deepEqual(await third.json(), { count: 2, id: body.id });
  });

  test('cookie options: maxAge gives Expires (and the store its TTL), domain, sameSite, partitioned, priority, name', T, async (t) => {
    const store = new CountingStore();
    const maxAge = 3600 * 1000;
    const s = await serve(t, (app) => {
      app.use(
        session({
          secret: 's',
          name: 'app.sid',
          store,
          cookie: { maxAge, domain: 'example.test', sameSite: 'strict', partitioned: true, priority: 'high', secure: false },
        }),
      );
      counterRoutes(app);
    });
    const before = Date.now();
    const res = await request(s.base, '/count');
    const line = sessionCookie(res, 'app.sid');
    assert.ok(line, 'cookie set under its configured name');
    const expires = Date.parse(/Expires=([^;]+)/.exec(line)[1]);
    // Expires is a whole second: between the request's start (rounded down) and its end plus maxAge.
    assert.ok(expires >= Math.floor(before / 1000) * 1000 + maxAge - 1000 && expires <= Date.now() + maxAge, line);
    assert.match(line, /; Domain=example\.test/);
    assert.match(line, /; SameSite=Strict/);
    assert.match(line, /; Partitioned/);
    assert.match(line, /; Priority=High/);
    assert.ok(!/; Secure/.test(line));
    assert.ok(store.lastTtlMs > 0 && store.lastTtlMs <= maxAge, `store TTL ${store.lastTtlMs} follows the cookie's maxAge`);
  });

  test('secure: true sends no cookie over plain HTTP; secure: "auto" sends one without Secure', T, async (t) => {
    const s = await serve(t, (app) => {
      app.use('/strict', session({ secret: 's', name: 'strict', cookie: { secure: true } }));
      app.use('/auto', session({ secret: 's', name: 'auto', cookie: { secure: 'auto' } }));
      app.get('/strict/x', (req, res) => {
        req.session.x = 1;
        res.send('ok');
      });
      app.get('/auto/x', (req, res) => {
        req.session.x = 1;
        res.send('ok');
      });
    });
    assert.equal(sessionCookie(await request(s.base, '/strict/x'), 'strict'), null);
    const auto = sessionCookie(await request(s.base, '/auto/x'), 'auto');
    assert.ok(auto, 'a cookie under secure: auto');
    assert.ok(!/; Secure/.test(auto), auto);
  });

  test('a tampered or unsigned cookie is ignored: a new session starts', T, async (t) => {
    const s = await serve(t, (app) => {
      app.use(session({ secret: 's' }));
      counterRoutes(app);
    });
    const line = sessionCookie(await request(s.base, '/count'));
    const [name, value] = pair(line).split('=');
    const id = signature.unsign(decodeURIComponent(value).slice(2), 's');
    for (const forged of [
      `${name}=${encodeURIComponent(`s:${signature.sign(id, 'other secret')}`)}`,
      `${name}=${encodeURIComponent(id)}`,
      `${name}=${encodeURIComponent(`s:${id}`)}`,
    ]) {
      const res = await request(s.base, '/peek', { headers: { cookie: forged } });
      const body = await res.json();
      assert.equal(body.count, null, forged);
      assert.notEqual(body.id, id, forged);
    }
  });

  test('secret rotation: the first secret signs, any verifies', T, async (t) => {
    const store = new MemorySessionStore();
    const old = await serve(t, (app) => {
      app.use(session({ secret: 'old', store }));
      counterRoutes(app);
    });
    const rotated = await serve(t, (app) => {
      app.use(session({ secret: ['new', 'old'], store, rolling: true }));
      counterRoutes(app);
    });
    const line = sessionCookie(await request(old.base, '/count'));
    const res = await request(rotated.base, '/count', { headers: { cookie: pair(line) } });
    const body = await res.json();
    assert.equal(body.count, 2, 'the cookie signed with the old secret still finds the session');
    const resigned = decodeURIComponent(pair(sessionCookie(res)).slice('sid='.length));
    assert.equal(signature.unsign(resigned.slice(2), 'new'), body.id, 're-signed with the first secret');
  });

  test('the session is looked for only under the cookie path', T, async (t) => {
    const store = new CountingStore();
    const s = await serve(t, (app) => {
      app.use(session({ secret: 's', store, saveUninitialized: true, cookie: { path: '/app' } }));
      app.get('/app/x', (req, res) => res.json({ has: req.session !== undefined }));
      app.get('/other', (req, res) => res.json({ has: req.session !== undefined }));
    });
    const other = await request(s.base, '/other');
    assert.deepEqual(await other.json(), { has: false });
    assert.equal(sessionCookie(other), null);
    const inside = await request(s.base, '/app/x');
    assert.deepEqual(await inside.json(), { has: true });
    assert.match(sessionCookie(inside), /; Path=\/app;/);
  });
});

describe('when the store is written', () => {
  test('saved when changed, touched when not, never for an untouched new session', T, async (t) => {
    const store = new CountingStore();
    const s = await serve(t, (app) => {
      app.use(session({ secret: 's', store }));
      counterRoutes(app);
    });
    await request(s.base, '/peek');
    assert.deepEqual(store.calls, { get: 0, set: 0, touch: 0, destroy: 0 });
    const line = sessionCookie(await request(s.base, '/count'));
    assert.equal(store.calls.set, 1);
    await request(s.base, '/peek', { headers: { cookie: pair(line) } });
    assert.equal(store.calls.set, 1, 'unchanged: not saved again');
    assert.equal(store.calls.touch, 1, 'unchanged: touched instead');
    await request(s.base, '/count', { headers: { cookie: pair(line) } });
    assert.equal(store.calls.set, 2);
    assert.equal(store.calls.get, 2);
  });

  test('resave saves an unchanged session; saveUninitialized keeps a new empty one', T, async (t) => {
    const store = new CountingStore();
    const s = await serve(t, (app) => {
      app.use(session({ secret: 's', store, resave: true, saveUninitialized: true }));
      counterRoutes(app);
    });
    const res = await request(s.base, '/peek');
    const line = sessionCookie(res);
    assert.ok(line, 'saveUninitialized: the new session gets its cookie');
    assert.equal(store.calls.set, 1);
    assert.equal(store.length, 1);
    await request(s.base, '/peek', { headers: { cookie: pair(line) } });
    assert.equal(store.calls.set, 2, 'resave: saved although unchanged');
  });

  test('rolling sends the cookie on every answer', T, async (t) => {
    const s = await serve(t, (app) => {
      app.use(session({ secret: 's', rolling: true, cookie: { maxAge: 60000 } }));
      counterRoutes(app);
    });
    const line = sessionCookie(await request(s.base, '/count'));
    const again = await request(s.base, '/peek', { headers: { cookie: pair(line) } });
    assert.equal(pair(sessionCookie(again)), pair(line));
  });

  test('a session over the memory store\'s byte bound costs a 500 without a cookie, and the server goes on', T, async (t) => {
    const s = await serve(t, (app) => {
      app.use(session({ secret: 's', store: new MemorySessionStore({ maxBytes: 16 * 1024 }) }));
      app.get('/big', (req, res) => {
        req.session.blob = 'x'.repeat(64 * 1024);
        res.send('stored?');
      });
      counterRoutes(app);
    });
    const res = await request(s.base, '/big');
    assert.equal(res.status, 500);
    assert.equal(sessionCookie(res), null);
    const ok = await request(s.base, '/count');
    assert.equal(ok.status, 200);
  });

  test('MemorySessionStore is bounded in sessions', T, () => {
    // The bound is kept per shard of the native map (maxSessions / 16 each), so a multiple of 16.
    const store = new MemorySessionStore({ maxSessions: 32 });
    for (let i = 0; i < 500; i++) store.set(`id-${i}`, { i, cookie: {} }, 60000);
    assert.ok(store.length > 0 && store.length <= 32, `${store.length} sessions kept`);
    assert.deepEqual(store.get('id-499'), { i: 499, cookie: {} }, 'the newest is kept');
    assert.throws(() => new MemorySessionStore({ maxSessions: 0 }), { code: 'HN_ERR_BAD_OPTION' });
    assert.throws(() => new MemorySessionStore({ size: 1 }), { code: 'HN_ERR_BAD_OPTION' });
  });
});

describe('session methods', () => {
  test('regenerate() gives a new id and drops the old session; destroy() removes it and sets no cookie', T, async (t) => {
    const store = new CountingStore();
    const s = await serve(t, (app) => {
      app.use(session({ secret: 's', store }));
      counterRoutes(app);
      app.post('/login', async (req, res) => {
        const before = req.sessionID;
        await req.session.regenerate();
        req.session.user = 'ada';
        res.json({ before, after: req.sessionID });
      });
      app.post('/logout', (req, res, next) => {
        req.session.destroy((err) => {
          if (err) return next(err);
          res.json({ gone: req.session === undefined });
        });
      });
      app.get('/user', (req, res) => res.json({ user: req.session.user ?? null }));
    });
    const line = sessionCookie(await request(s.base, '/count'));
    const login = await request(s.base, '/login', { method: 'POST', headers: { cookie: pair(line) } });
    const { before, after } = await login.json();
    assert.notEqual(before, after);
    const fresh = sessionCookie(login);
    assert.ok(fresh && pair(fresh) !== pair(line), 'the new id gets a new cookie');
    assert.equal(store.get(before), null, 'the old session is gone from the store');
    assert.deepEqual(await (await request(s.base, '/user', { headers: { cookie: pair(fresh) } })).json(), { user: 'ada' });
    assert.deepEqual(await (await request(s.base, '/user', { headers: { cookie: pair(line) } })).json(), { user: null });

    const logout = await request(s.base, '/logout', { method: 'POST', headers: { cookie: pair(fresh) } });
    assert.deepEqual(await logout.json(), { gone: true });
    assert.equal(sessionCookie(logout), null);
    assert.equal(store.get(after), null);
    assert.deepEqual(await (await request(s.base, '/user', { headers: { cookie: pair(fresh) } })).json(), { user: null });
  });

  test('save() before a redirect, reload() sees the store, touch(); promises and callbacks', T, async (t) => {
    const store = new CountingStore();
    const s = await serve(t, (app) => {
      app.use(session({ secret: 's', store, cookie: { maxAge: 60000 } }));
      counterRoutes(app);
      app.get('/save', (req, res, next) => {
        req.session.flash = 'hi';
        req.session.save((err) => {
          if (err) return next(err);
          res.redirect('/peek');
        });
      });
      app.get('/reload', async (req, res) => {
        // Another instance changed the session meanwhile.
        store.set(req.sessionID, { ...store.get(req.sessionID), count: 41 }, 60000);
        const before = req.session.count ?? null;
        await req.session.reload();
        await req.session.touch();
        res.json({ before, after: req.session.count, maxAge: req.session.cookie.maxAge > 0 });
      });
      app.get('/reload-gone', (req, res, next) => {
        store.destroy(req.sessionID);
        req.session.reload().then(() => res.send('reloaded'), next);
      });
    });
    const saved = await request(s.base, '/save', { redirect: 'manual' });
    assert.equal(saved.status, 302);
    const line = sessionCookie(saved);
    assert.equal(store.calls.set, 1, 'saved once: by save(), not again at the end');
    assert.equal(store.get(decodeURIComponent(pair(line)).slice(6).split('.')[0]).flash, 'hi');
    const reload = await request(s.base, '/reload', { headers: { cookie: pair(line) } });
    assert.deepEqual(await reload.json(), { before: null, after: 41, maxAge: true });
    const gone = await request(s.base, '/reload-gone', { headers: { cookie: pair(line) } });
    assert.equal(gone.status, 500);
  });

  test('a session callback that throws costs one 500, not the process', T, async (t) => {
    const s = await serve(t, (app) => {
      app.use(session({ secret: 's' }));
      app.get('/throw', (req, res) => {
        req.session.x = 1;
        req.session.save(() => {
          throw new Error('boom in a callback');
        });
      });
      counterRoutes(app);
    });
    const res = await request(s.base, '/throw');
    assert.equal(res.status, 500);
    assert.equal((await request(s.base, '/count')).status, 200);
  });
});

describe('an asynchronous store', () => {
  for (const [kind, path] of [['a whole answer', '/count'], ['a file answer', '/file']]) {
    test(`${kind} waits for the save: the client cannot see it before the store has the session`, T, async (t) => {
      const store = new AsyncStore();
      const s = await serve(t, (app) => {
        app.use(session({ secret: 's', store }));
        counterRoutes(app);
        app.get('/file', (req, res) => {
          req.session.count = 1;
          res.sendFile(__filename);
        });
        app.get('/ping', (req, res) => res.send('pong'));
      });
      const gate = deferred();
      store.gate = gate.promise;
      let answered = false;
      const pending = request(s.base, path).then((res) => {
        answered = true;
        return res;
      });
      await waitUntil(() => store.setCalls === 1, { what: 'the store asked to save' });
      // A whole round trip on another connection: had the answer been sent before the save, the
      // client would have it by now.
      assert.equal(await (await request(s.base, '/ping')).text(), 'pong');
      assert.equal(answered, false, 'no answer while the save is pending');
      assert.equal(store.map.size, 0);
      store.gate = null;
      gate.resolve();
      const res = await pending;
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      assert.equal(store.map.size, 1);
      const next = await request(s.base, '/peek', { headers: { cookie: pair(sessionCookie(res)) } });
      assert.equal((await next.json()).count, 1);
    });
  }

  test('a streamed answer: its head and body go, its end waits for the save', T, async (t) => {
    const store = new AsyncStore();
    const s = await serve(t, (app) => {
      app.use(session({ secret: 's', store }));
      app.get('/stream', (req, res) => {
        req.session.streamed = true;
        res.write('a');
        res.write('b');
        res.end('c');
      });
      app.get('/peek', (req, res) => res.json({ streamed: req.session.streamed ?? null }));
      app.get('/ping', (req, res) => res.send('pong'));
    });
    const client = await RawClient.connect(s.port);
    t.after(() => client.destroy());
    const gate = deferred();
    store.gate = gate.promise;
    await client.write(buildRequest('GET', '/stream'));
    await waitUntil(() => store.setCalls === 1, { what: 'the store asked to save' });
    await waitUntil(() => chunkedSoFar(client.buf).body.toString() === 'ab', { what: "the body's first writes" });
    // A whole round trip on another connection: had the end been sent, the client would have it.
    assert.equal(await (await request(s.base, '/ping')).text(), 'pong');
    const held = chunkedSoFar(client.buf);
    assert.equal(held.ended, false, 'the last chunk waits for the save');
    assert.equal(held.body.toString(), 'ab');
    const cookie = /^set-cookie: ([^\r]+)/im.exec(held.head);
    assert.ok(cookie, 'the cookie went with the head');
    gate.resolve();
    await waitUntil(() => chunkedSoFar(client.buf).ended, { what: 'the end of the answer' });
    assert.equal(chunkedSoFar(client.buf).body.toString(), 'abc');
    assert.equal(store.map.size, 1);
    const peek = await request(s.base, '/peek', { headers: { cookie: pair(cookie[1]) } });
    assert.deepEqual(await peek.json(), { streamed: true });
  });

  test('a failed save turns the answer into a 500 without the session cookie', T, async (t) => {
    const store = new AsyncStore();
    store.failSet = new Error('store down');
    const s = await serve(t, (app) => {
      app.use(session({ secret: 's', store }));
      counterRoutes(app);
      app.get('/ping', (req, res) => res.send('pong'));
    });
    const res = await request(s.base, '/count');
    assert.equal(res.status, 500);
    assert.equal(sessionCookie(res), null);
    assert.deepEqual(await res.json(), { error: 'Internal Server Error' });
    assert.equal(await (await request(s.base, '/ping')).text(), 'pong');
  });

  test('a store whose get fails: the error path answers', T, async (t) => {
    const store = new AsyncStore();
    store.get = async () => {
      throw new Error('store down');
    };
    const s = await serve(t, (app) => {
      app.use(session({ secret: 's', store }));
      counterRoutes(app);
    });
    const forged = `sid=${encodeURIComponent(`s:${signature.sign('some-id', 's')}`)}`;
    const res = await request(s.base, '/peek', { headers: { cookie: forged } });
    assert.equal(res.status, 500);
  });
});

describe('options', () => {
  test('bad options are refused at registration', () => {
    for (const options of [undefined, {}, { secret: '' }, { secret: [] }, { secret: 's', store: {} }, { secret: 's', rolling: 'yes' },
      { secret: 's', cookie: { maxAge: -1 } }, { secret: 's', cookie: { secure: 'always' } }, { secret: 's', cookie: { path: 'x' } },
      { secret: 's', cookie: { expires: new Date() } }, { secret: 's', proxy: true }, { secret: 's', name: 'a b' }]) {
      assert.throws(() => session(options), { code: 'HN_ERR_BAD_OPTION' }, JSON.stringify(options));
    }
  });

  test('genid names new sessions', T, async (t) => {
    let n = 0;
    const s = await serve(t, (app) => {
      app.use(session({ secret: 's', genid: (req) => `id-${++n}-${req.path.slice(1)}` }));
      counterRoutes(app);
    });
    const res = await request(s.base, '/count');
    assert.equal((await res.json()).id, 'id-1-count');
  });
});
