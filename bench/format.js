'use strict';
// How the bench's sections print numbers and tables: rounding, the '-' for a missing figure, the
// `1.23x` ratios, and the plain-text tables. Shared by bench/files.js, bench/streams.js and
// bench/ws-report.js, so every section's tables read the same.

function round(n, digits) {
  return Number(n.toFixed(digits));
}

function fmt(n, digits) {
  return n === null || n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits);
}

function fmtInt(n) {
  return n === null || n === undefined || Number.isNaN(n) ? '-' : Math.round(n).toLocaleString('en-US');
}

function fmtRatio(r) {
  return r === null || r === undefined ? '-' : `${r.toFixed(2)}x`;
}

// A column whose every cell matches `numeric` (the section's figures and marks) is right-aligned,
// any other left-aligned.
function table(headers, rows, numeric) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const left = headers.map((_, i) => rows.every((r) => !numeric.test(String(r[i]))));
  const line = (cells) => cells.map((c, i) => (left[i] ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

module.exports = { round, fmt, fmtInt, fmtRatio, table };
