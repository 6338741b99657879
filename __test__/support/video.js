'use strict';
// A video large enough that a browser's seek needs a Range request, made at test time from the
// small committed fixture __test__/fixtures/clip.mp4 (10 s of VP9, 64x48, 5 frames/s, moov first;
// made with `ffmpeg -f lavfi -i testsrc=size=64x48:rate=5:duration=10 -c:v libvpx-vp9 -b:v 16k
// -g 5 -pix_fmt yuv420p -movflags +faststart clip.mp4`). The copy puts every sample STRIDE bytes
// apart in a sparse file (holes cost no disk) and rewrites the sample table to match (one sample
// per chunk): the same video, but each second of it is megabytes into the file, so a browser that
// loaded the start cannot show the end without asking for it.
const fs = require('node:fs');
const path = require('node:path');

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'clip.mp4');
// Far more than any sample (a few hundred bytes) and than a browser reads ahead for metadata.
const DEFAULT_STRIDE = 2 * 2 ** 20;
const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'edts', 'dinf']);

// [{ type, start, size, header, children? }] for the boxes in buf[from, to).
function parseBoxes(buf, from, to) {
  const boxes = [];
  let at = from;
  while (at + 8 <= to) {
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    let header = 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) {
      size = to - at;
    }
    const box = { type, start: at, size, header };
    if (CONTAINERS.has(type)) box.children = parseBoxes(buf, at + header, at + size);
    boxes.push(box);
    at += size;
  }
  return boxes;
}

function find(boxes, type) {
  for (const b of boxes) {
    if (b.type === type) return b;
    if (b.children) {
      const inner = find(b.children, type);
      if (inner) return inner;
    }
  }
  return null;
}

function box(type, payload) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + payload.length);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, payload]);
}

function fullBox(type, words) {
  const payload = Buffer.alloc(4 + 4 * words.length); // version 0, flags 0
  words.forEach((w, i) => payload.writeUInt32BE(w, 4 + 4 * i));
  return box(type, payload);
}

// The file offset of every sample, from stsz, stsc and stco.
function sampleOffsets(buf, stbl) {
  const stsz = find(stbl.children, 'stsz');
  const stsc = find(stbl.children, 'stsc');
  const stco = find(stbl.children, 'stco');
  if (!stsz || !stsc || !stco) throw new Error('clip.mp4: a track without stsz, stsc or stco');
  const p = (b) => b.start + b.header;
  const fixedSize = buf.readUInt32BE(p(stsz) + 4);
  const count = buf.readUInt32BE(p(stsz) + 8);
  const sizes = Array.from({ length: count }, (_, i) => (fixedSize !== 0 ? fixedSize : buf.readUInt32BE(p(stsz) + 12 + 4 * i)));
  const chunks = Array.from({ length: buf.readUInt32BE(p(stco) + 4) }, (_, i) => buf.readUInt32BE(p(stco) + 8 + 4 * i));
  const runs = Array.from({ length: buf.readUInt32BE(p(stsc) + 4) }, (_, i) => ({
    first: buf.readUInt32BE(p(stsc) + 8 + 12 * i),
    perChunk: buf.readUInt32BE(p(stsc) + 12 + 12 * i),
  }));
  const offsets = [];
  let sample = 0;
  for (let c = 0; c < chunks.length; c++) {
    let run = runs[0];
    for (const r of runs) if (r.first <= c + 1) run = r;
    let at = chunks[c];
    for (let k = 0; k < run.perChunk && sample < count; k++, sample++) {
      offsets.push(at);
      at += sizes[sample];
    }
  }
  return { offsets, sizes };
}

// Rebuilds box `b` (from buf) with `replace` (type → Buffer) applied below it.
function rebuild(buf, b, replace) {
  if (replace.has(b.type)) return replace.get(b.type);
  if (!b.children) return buf.subarray(b.start, b.start + b.size);
  const extra = buf.subarray(b.start + b.header, b.children.length ? b.children[0].start : b.start + b.size);
  return box(b.type, Buffer.concat([extra, ...b.children.map((c) => rebuild(buf, c, replace))]));
}

// Writes the spread-out copy to `file`; returns { size, samples, stride }.
function writeSpreadVideo(file, { stride = DEFAULT_STRIDE } = {}) {
  const buf = fs.readFileSync(FIXTURE);
  const top = parseBoxes(buf, 0, buf.length);
  const ftyp = top.find((b) => b.type === 'ftyp');
  const moov = top.find((b) => b.type === 'moov');
  if (!ftyp || !moov) throw new Error('clip.mp4: no ftyp or moov box');
  const traks = moov.children.filter((b) => b.type === 'trak');
  if (traks.length !== 1) throw new Error(`clip.mp4: ${traks.length} tracks, one expected`);
  const stbl = find(traks[0].children, 'stbl');
  const { offsets, sizes } = sampleOffsets(buf, stbl);

  // One sample per chunk; stco's length is known now, so the moov's size is too.
  const stsc = fullBox('stsc', [1, 1, 1, 1]);
  const placeholder = fullBox('stco', [offsets.length, ...offsets.map(() => 0)]);
  const moovSize = rebuild(buf, moov, new Map([['stsc', stsc], ['stco', placeholder]])).length;
  const mdatStart = ftyp.size + moovSize;
  const first = mdatStart + 8;
  const newOffsets = offsets.map((_, i) => first + i * stride);
  const newMoov = rebuild(buf, moov, new Map([['stsc', stsc], ['stco', fullBox('stco', [offsets.length, ...newOffsets])]]));
  const end = newOffsets[newOffsets.length - 1] + sizes[sizes.length - 1];
  if (end >= 2 ** 32) throw new Error('stride too large for a 32-bit mdat');
  const mdatHead = Buffer.alloc(8);
  mdatHead.writeUInt32BE(end - mdatStart);
  mdatHead.write('mdat', 4, 'latin1');

  const fd = fs.openSync(file, 'w');
  try {
    fs.ftruncateSync(fd, end);
    fs.writeSync(fd, Buffer.concat([buf.subarray(ftyp.start, ftyp.start + ftyp.size), newMoov, mdatHead]), 0, undefined, 0);
    offsets.forEach((offset, i) => fs.writeSync(fd, buf, offset, sizes[i], newOffsets[i]));
  } finally {
    fs.closeSync(fd);
  }
  return { size: end, samples: offsets.length, stride };
}

module.exports = { FIXTURE, writeSpreadVideo };
