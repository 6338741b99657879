'use strict';
// multer, unmodified, with disk storage and memory storage: it pipes req (a Readable) into
// busboy. Files, fields, limits and fileFilter as multer documents them.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const multer = require('multer');
const { serve, request } = require('./helpers');

const T = { timeout: 15000 };

function form(entries) {
  const fd = new FormData();
  for (const [name, value, filename, type] of entries) {
    if (filename === undefined) fd.append(name, value);
    else fd.append(name, new Blob([value], { type: type || 'application/octet-stream' }), filename);
  }
  return fd;
}

function errors(app) {
  app.use((err, req, res, next) => {
    res.status(err instanceof multer.MulterError ? 413 : err.status || 500).json({ code: err.code, field: err.field ?? null });
  });
}

test('disk storage: files written under dest with their metadata, text fields in req.body', T, async (t) => {
  const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-multer-'));
  t.after(() => fs.rmSync(dest, { recursive: true, force: true }));
  const s = await serve(t, (app) => {
    const upload = multer({ dest });
    app.post('/upload', upload.fields([{ name: 'avatar', maxCount: 1 }, { name: 'docs', maxCount: 2 }]), (req, res) => {
      const files = Object.values(req.files).flat().map((f) => ({
        field: f.fieldname,
        name: f.originalname,
        type: f.mimetype,
        size: f.size,
        inDest: path.dirname(f.path) === dest,
        content: fs.readFileSync(f.path, 'utf8'),
      }));
      res.json({ body: { ...req.body }, files });
    });
    errors(app);
  });
  const res = await request(s.base, '/upload', {
    method: 'POST',
    body: form([
      ['title', 'holiday'],
      ['avatar', 'PNGDATA', 'me.png', 'image/png'],
      ['docs', 'first doc', 'a.txt', 'text/plain'],
      ['docs', 'second doc', 'b.txt', 'text/plain'],
    ]),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    body: { title: 'holiday' },
    files: [
      { field: 'avatar', name: 'me.png', type: 'image/png', size: 7, inDest: true, content: 'PNGDATA' },
      { field: 'docs', name: 'a.txt', type: 'text/plain', size: 9, inDest: true, content: 'first doc' },
      { field: 'docs', name: 'b.txt', type: 'text/plain', size: 10, inDest: true, content: 'second doc' },
    ],
  });
  assert.equal(fs.readdirSync(dest).length, 3);
});

test('memory storage: the file as a Buffer; limits and an unexpected field are MulterErrors', T, async (t) => {
  const s = await serve(t, (app) => {
    const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: 16 } });
    app.post('/one', upload.single('file'), (req, res) => {
      res.json({ isBuffer: Buffer.isBuffer(req.file.buffer), text: req.file.buffer.toString(), size: req.file.size, note: req.body.note });
    });
    app.post('/none', upload.none(), (req, res) => res.json({ ...req.body }));
    errors(app);
  });
  const ok = await request(s.base, '/one', { method: 'POST', body: form([['note', 'n'], ['file', 'small', 's.bin']]) });
  assert.deepEqual(await ok.json(), { isBuffer: true, text: 'small', size: 5, note: 'n' });

  const big = await request(s.base, '/one', { method: 'POST', body: form([['file', 'x'.repeat(17), 'big.bin']]) });
  assert.equal(big.status, 413);
  assert.deepEqual(await big.json(), { code: 'LIMIT_FILE_SIZE', field: 'file' });

  const unexpected = await request(s.base, '/one', { method: 'POST', body: form([['other', 'x', 'o.bin']]) });
  assert.deepEqual(await unexpected.json(), { code: 'LIMIT_UNEXPECTED_FILE', field: 'other' });

  const fields = await request(s.base, '/none', { method: 'POST', body: form([['a', '1'], ['b', '2']]) });
  assert.deepEqual(await fields.json(), { a: '1', b: '2' });
});

test('fileFilter: a rejected file is skipped, an error from it goes to the error path', T, async (t) => {
  const s = await serve(t, (app) => {
    const upload = multer({
      storage: multer.memoryStorage(),
      fileFilter: (req, file, cb) => {
        if (file.originalname.endsWith('.exe')) return cb(Object.assign(new Error('no executables'), { status: 415, code: 'BAD_TYPE' }));
        cb(null, file.mimetype.startsWith('text/'));
      },
    });
    app.post('/', upload.array('files'), (req, res) => res.json(req.files.map((f) => f.originalname)));
    errors(app);
  });
  const res = await request(s.base, '/', {
    method: 'POST',
    body: form([['files', 'a', 'a.txt', 'text/plain'], ['files', 'b', 'b.bin', 'application/octet-stream']]),
  });
  assert.deepEqual(await res.json(), ['a.txt']);
  const refused = await request(s.base, '/', { method: 'POST', body: form([['files', 'MZ', 'x.exe', 'text/plain']]) });
  assert.equal(refused.status, 415);
  assert.deepEqual(await refused.json(), { code: 'BAD_TYPE', field: null });
});
