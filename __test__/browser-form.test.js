'use strict';
// multipart/form-data as a browser sends it, read with req.parts(): headless Chromium posts a
// FormData with several Files through fetch() to a route that collects the body first, then
// submits a real <form enctype=multipart/form-data> with a multi-file input and a textarea to a
// { body: 'stream' } route, which parses the form as it arrives.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { serve } = require('./helpers');
const chromium = require('./support/chromium');

// The same bytes in the page and here: a file larger than one read, so a part spans many chunks.
function pattern(n, seed) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 255;
  return b;
}

function sha256(bytes) {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

const fileSummary = (fieldname, filename, mimetype, bytes) => ({
  type: 'file',
  fieldname,
  filename,
  mimetype,
  size: bytes.length,
  sha256: sha256(bytes),
});
const field = (fieldname, value) => ({ type: 'field', fieldname, value });

test('a browser FormData with several Files, and a real multipart <form>, read with req.parts()', { skip: chromium.skip, timeout: 120000 }, async (t) => {
  const received = {};
  let report;
  const s = await serve(t, (app) => {
    app.get('/', (req, res) =>
      res.html(
        chromium.page(
          `
          const bytes = ${pattern.toString()};
          const fd = new FormData();
          fd.append('title', 'holiday ✓');
          fd.append('files', new File([bytes(300000, 1)], 'photo.bin', { type: 'application/octet-stream' }));
          fd.append('files', new File(['hello, form\\n'], 'naïve ✓.txt', { type: 'text/plain' }));
          fd.append('files', new File([], 'empty.txt', { type: 'text/plain' }));
          fd.append('after', 'last field');
          const viaFetch = await (await fetch('/upload/fetch', { method: 'POST', body: fd })).json();

          // The form posts into the iframe, so this page stays to report.
          const form = document.getElementById('form');
          const files = new DataTransfer();
          files.items.add(new File([bytes(70000, 7)], 'a.bin', { type: 'application/octet-stream' }));
          files.items.add(new File(['second file'], 'b.txt', { type: 'text/plain' }));
          form.elements.docs.files = files.files;
          form.elements.name.value = 'form field';
          form.elements.message.value = 'two\\nlines';
          const frame = document.getElementById('sink');
          const loaded = new Promise((resolve) => frame.addEventListener('load', resolve, { once: true }));
          form.submit();
          await loaded;
          const viaForm = JSON.parse(frame.contentDocument.body.textContent);
          return { viaFetch, viaForm };
          `,
          {
            head: `
          <iframe name="sink" id="sink"></iframe>
          <form id="form" method="post" action="/stream/form" enctype="multipart/form-data" target="sink">
            <input type="text" name="name">
            <input type="file" name="docs" multiple>
            <textarea name="message"></textarea>
          </form>`,
          },
        ),
      ),
    );
    const upload = async (req, res) => {
      const parts = [];
      for await (const part of req.parts()) {
        if (part.type === 'field') {
          parts.push(field(part.fieldname, part.value));
        } else {
          const hash = crypto.createHash('sha256');
          let size = 0;
          for await (const chunk of part.file) {
            hash.update(chunk);
            size += chunk.length;
          }
          parts.push({ type: 'file', fieldname: part.fieldname, filename: part.filename, mimetype: part.mimetype, size, sha256: hash.digest('hex') });
        }
      }
      received[req.params.how] = parts;
      // text/plain, so the iframe shows it as text for the page to read back.
      res.type('text').send(JSON.stringify(parts));
    };
    app.post('/upload/:how', upload);
    app.post('/stream/:how', { body: 'stream' }, upload);
    report = chromium.reports(app);
  });

  const { viaFetch, viaForm } = await chromium.run(t, `${s.base}/`, report);
  assert.deepEqual(received.fetch, [
    field('title', 'holiday ✓'),
    fileSummary('files', 'photo.bin', 'application/octet-stream', pattern(300000, 1)),
    fileSummary('files', 'naïve ✓.txt', 'text/plain', Buffer.from('hello, form\n')),
    fileSummary('files', 'empty.txt', 'text/plain', Buffer.alloc(0)),
    field('after', 'last field'),
  ]);
  assert.deepEqual(received.form, [
    field('name', 'form field'),
    fileSummary('docs', 'a.bin', 'application/octet-stream', pattern(70000, 7)),
    fileSummary('docs', 'b.txt', 'text/plain', Buffer.from('second file')),
    // A form submission normalizes line breaks in field values to CRLF (HTML's multipart/form-data
    // encoding algorithm).
    field('message', 'two\r\nlines'),
  ]);
  // What the page got back is what the server parsed.
  assert.deepEqual(viaFetch, received.fetch);
  assert.deepEqual(viaForm, received.form);
});
