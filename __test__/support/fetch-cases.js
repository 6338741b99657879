'use strict';
// What a client checks of __test__/fixtures/fetch-app.js, whoever serves it: app.fetch called
// directly (__test__/fetch.test.js), Bun.serve (fetch-bun.test.js) or workerd
// (fetch-workerd.test.js). Each case gets `send(path, init)`, which resolves to a WHATWG Response,
// and `options`: { direct } (true when app.fetch is called with no server between, so the bounds
// are the fetch front's own and not a runtime's or a socket's).
const assert = require('node:assert/strict');
const { BIG_TOTAL, BIG_CHUNK } = require('../fixtures/fetch-app');

// What the front may hold of an unread streamed answer when nothing sits between it and the
// reader: the writer's window (js/outgoing.js, 256 KiB), the ReadableStream's queue, and the write
// that crossed the mark.
const DIRECT_BUFFER_BOUND = 1024 * 1024;

// Reads `reader` until `done(text)` holds for what arrived so far; rejects if the stream ends first.
async function readUntil(reader, state, done) {
  const decoder = new TextDecoder();
  while (!done(state.text)) {
    const { value, done: ended } = await reader.read();
    if (ended) throw new Error(`the stream ended before the expected part arrived: ${JSON.stringify(state.text)}`);
    state.text += decoder.decode(value, { stream: true });
  }
  return state.text;
}

async function readAll(reader, state) {
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return state.text;
    state.text += decoder.decode(value, { stream: true });
  }
}

let names = 0;
const unique = (prefix) => `${prefix}${process.pid}x${++names}`;

async function waitFor(check, what) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const cases = [
  {
    name: 'a route with a percent-encoded param and a query, after three middleware in order',
    async run(send) {
      const res = await send('/api/users/caf%C3%A9?x=1&y=two');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-order'), 'abc');
      assert.match(res.headers.get('content-type'), /^application\/json/);
      assert.deepEqual(await res.json(), {
        id: 'café',
        query: { x: '1', y: 'two' },
        order: 'abc',
        path: '/api/users/caf%C3%A9',
        url: '/api/users/caf%C3%A9?x=1&y=two',
      });
    },
  },
  {
    name: 'requests in flight at once are each answered with their own body',
    async run(send) {
      const ids = Array.from({ length: 50 }, (_, i) => `u${i}`);
      const answers = await Promise.all(ids.map((id) => send(`/api/users/${id}`).then((res) => res.json())));
      assert.deepEqual(answers.map((a) => a.id), ids);
    },
  },
  {
    name: 'a wildcard param takes the rest of the path',
    async run(send) {
      const res = await send('/api/files/a/b/c.txt');
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { rest: 'a/b/c.txt' });
    },
  },
  {
    name: 'a JSON POST body is parsed and answered 201',
    async run(send) {
      const payload = { list: [1, 2, 3], text: 'héllo', nested: { ok: true } };
      const res = await send('/api/echo', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
      });
      assert.equal(res.status, 201);
      assert.deepEqual(await res.json(), { body: payload, type: 'application/json', method: 'POST' });
    },
  },
  {
    name: 'a PUT with a urlencoded body',
    async run(send) {
      const res = await send('/api/echo', {
        method: 'PUT',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'a=1&b=x%20y',
      });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { body: { a: '1', b: 'x y' } });
    },
  },
  {
    name: 'a body that is not JSON is a 400',
    async run(send) {
      const res = await send('/api/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
      assert.equal(res.status, 400);
      assert.deepEqual(await res.json(), { error: 'Bad Request' });
    },
  },
  {
    name: 'request headers reach req.get()',
    async run(send) {
      const res = await send('/api/headers', { headers: { 'X-Test': 'hello there' } });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.agent, 'hello there');
      assert.equal(typeof body.host, 'string');
      assert.ok(body.host.length > 0);
    },
  },
  {
    name: 'several set-cookie headers stay separate, other repeated headers are joined',
    async run(send) {
      const res = await send('/api/cookies');
      assert.equal(res.status, 200);
      assert.deepEqual(res.headers.getSetCookie(), ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
      assert.equal(res.headers.get('x-multi'), 'one, two');
      assert.equal(await res.text(), 'cookies');
    },
  },
  {
    name: 'a binary body arrives byte for byte',
    async run(send) {
      const res = await send('/api/bytes');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/octet-stream');
      assert.deepEqual([...new Uint8Array(await res.arrayBuffer())], [0, 1, 2, 255]);
    },
  },
  {
    name: 'an answer the route compresses arrives encoded once, whole or streamed',
    async run(send, { direct }) {
      const { gunzipSync } = require('node:zlib');
      for (const [path, text] of [
        ['/api/text', 'compressible text. '.repeat(500)],
        ['/api/text-stream', 'streamed compressible text. '.repeat(20 * 50)],
      ]) {
        const res = await send(path, { headers: { 'accept-encoding': 'gzip' } });
        assert.equal(res.status, 200, path);
        assert.equal(res.headers.get('vary'), 'Accept-Encoding', path);
        // node's fetch decodes what it was sent (and says so by the header it keeps); called
        // directly, the body is the encoded bytes.
        assert.equal(res.headers.get('content-encoding'), 'gzip', path);
        const bytes = Buffer.from(await res.arrayBuffer());
        assert.equal(direct ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8'), text, path);
      }
    },
  },
  {
    name: 'HEAD gets the GET route\'s headers and no body',
    async run(send) {
      const res = await send('/api/users/7', { method: 'HEAD' });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /^application\/json/);
      assert.equal(await res.text(), '');
    },
  },
  {
    name: 'a path no route matches is a 404, after the middleware ran',
    async run(send) {
      const res = await send('/nope');
      assert.equal(res.status, 404);
      assert.equal(res.headers.get('x-order'), 'ac');
      assert.deepEqual(await res.json(), { error: 'Not Found' });
    },
  },
  {
    name: 'a handler that throws is a 500, sync or async',
    async run(send) {
      for (const path of ['/api/fail', '/api/async-fail']) {
        const res = await send(path);
        assert.equal(res.status, 500, path);
        assert.deepEqual(await res.json(), { error: 'Internal Server Error' }, path);
      }
    },
  },
  {
    name: 'next(err) and a throw reach the error middleware',
    async run(send) {
      const teapot = await send('/caught/teapot');
      assert.equal(teapot.status, 418);
      assert.deepEqual(await teapot.json(), { caught: 'short and stout', order: 'ac' });
      const thrown = await send('/caught/throw');
      assert.equal(thrown.status, 500);
      assert.deepEqual(await thrown.json(), { caught: 'thrown', order: 'ac' });
    },
  },
  {
    name: 'res.write() chunks arrive as a stream: the first before the handler has the second',
    async run(send) {
      const name = unique('w');
      const res = await send(`/stream/${name}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /^text\/plain/);
      const reader = res.body.getReader();
      const state = { text: '' };
      await readUntil(reader, state, (text) => text.includes('first;'));
      assert.equal(state.text, 'first;');
      const opened = await send(`/gate/${name}/open`);
      assert.equal(await opened.text(), 'opened');
      assert.equal(await readAll(reader, state), 'first;second;end');
    },
  },
  {
    name: 'Server-Sent Events arrive as a stream',
    async run(send) {
      const name = unique('s');
      const res = await send(`/sse/${name}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      assert.equal(res.headers.get('cache-control'), 'no-cache');
      const reader = res.body.getReader();
      const state = { text: '' };
      const first = 'id: 1\nevent: hello\ndata: {"n":1}\n\n';
      await readUntil(reader, state, (text) => text.length >= first.length);
      assert.equal(state.text, first);
      await send(`/gate/${name}/open`);
      assert.equal(await readAll(reader, state), `${first}data: second\n\n`);
    },
  },
  {
    name: 'a large streamed answer waits for its reader (backpressure from the stream\'s pull)',
    async run(send, { direct }) {
      const name = unique('b');
      const res = await send(`/big/${name}`);
      assert.equal(res.status, 200);
      const state = async () => (await send(`/big/${name}/state`)).json();
      // Nothing reads the body yet: the writer is told to wait, and stays waiting.
      const blocked = await waitFor(async () => {
        const s = await state();
        return s !== null && s.blockedAt !== -1 && s;
      }, 'the writer to be told to wait');
      assert.equal(blocked.done, false);
      if (direct) assert.ok(blocked.written <= DIRECT_BUFFER_BOUND, `${blocked.written} bytes written before anyone read`);
      const again = await state();
      assert.ok(again.written < BIG_TOTAL, `the whole body (${again.written} bytes) was produced with no reader`);
      if (direct) assert.ok(again.written <= DIRECT_BUFFER_BOUND, `${again.written} bytes written before anyone read`);
      // Reading it all lets the writer finish.
      let received = 0;
      const reader = res.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        received += value.length;
      }
      assert.equal(received, BIG_TOTAL);
      const after = await state();
      assert.equal(after.done, true);
      assert.equal(after.written, BIG_TOTAL);
      assert.equal(BIG_TOTAL % BIG_CHUNK, 0);
    },
  },
  {
    name: 'a client that goes away mid-stream ends the answer: res closes, req.signal aborts',
    async run(send) {
      const name = unique('e');
      const controller = new AbortController();
      const res = await send(`/endless/${name}`, { signal: controller.signal });
      const reader = res.body.getReader();
      await readUntil(reader, { text: '' }, (text) => text.includes('tick;'));
      controller.abort();
      await reader.cancel().catch(() => {});
      const state = await waitFor(async () => {
        const s = await (await send(`/endless/${name}/state`)).json();
        return s !== null && s.closed && s;
      }, 'the app to see the client leave');
      assert.equal(state.aborted, true);
    },
  },
];

module.exports = { cases, readUntil, readAll };
