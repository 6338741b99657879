#!/usr/bin/env node
'use strict';
// Renders bench results (bench/results/latest.json) as a hand-written SVG bar chart: requests/s
// per route and pipelining depth, one bar per server. No dependencies, so the chart can be
// regenerated anywhere:
//
//   node bench/chart.js [results.json [out.svg]]   # out defaults to the JSON path with .svg

const fs = require('node:fs');
const path = require('node:path');

const WIDTH = 900;
const FONT = 'Helvetica, Arial, sans-serif';
const LABEL_WIDTH = 150; // route labels left of the bars
const VALUE_WIDTH = 90; // value labels right of the longest bar
const BAR_HEIGHT = 11;
const BAR_GAP = 2;
const GROUP_GAP = 14;
const LINE_HEIGHT = 17;

// Fixed colours per server so charts from different runs read the same way.
const COLORS = {
  'http-native': '#e8590c',
  'http-native-epoll': '#f59f00',
  'raw-ceiling': '#495057',
  'raw-ceiling-epoll': '#adb5bd',
  'node-http': '#2f9e44',
  fastify: '#1c7ed6',
  express: '#7048e8',
};
const FALLBACK_COLORS = ['#c2255c', '#0c8599', '#f08c00', '#5c940d'];

function esc(text) {
  return String(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function text(x, y, content, attrs = '') {
  return `<text x="${x}" y="${y}" ${attrs}>${esc(content)}</text>`;
}

// A round axis maximum and step (1, 2 or 5 times a power of ten) giving about five gridlines.
function niceScale(max) {
  if (!(max > 0)) return { max: 1, step: 1 };
  const rough = max / 5;
  const pow = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= rough);
  return { max: Math.ceil(max / step) * step, step };
}

function shortNumber(n) {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return String(n);
}

// Splits long footer lines (the command can be long) at spaces; continuations are indented.
function wrap(line, maxChars) {
  const out = [];
  let rest = line;
  while (rest.length > maxChars) {
    let cut = rest.lastIndexOf(' ', maxChars);
    if (cut <= 0) cut = maxChars;
    out.push({ text: rest.slice(0, cut), indent: out.length > 0 });
    rest = rest.slice(cut).trimStart();
  }
  out.push({ text: rest, indent: out.length > 0 });
  return out;
}

// Groups runs by route × pipelining, in the order they ran.
function groupRuns(runs) {
  const groups = new Map();
  for (const run of runs) {
    const key = `${run.route}|${run.pipelining}`;
    if (!groups.has(key)) groups.set(key, { label: run.label, pipelining: run.pipelining, runs: [] });
    groups.get(key).runs.push(run);
  }
  return [...groups.values()];
}

function serverColors(runs) {
  const colors = {};
  let fallback = 0;
  for (const run of runs) {
    if (colors[run.server]) continue;
    colors[run.server] = COLORS[run.server] || FALLBACK_COLORS[fallback++ % FALLBACK_COLORS.length];
  }
  return colors;
}

// One swatch per server, wrapping onto more lines when the names do not fit. Returns the
// SVG and the y just below it.
function legend(colors, results, y) {
  const parts = [];
  let x = 20;
  for (const [server, color] of Object.entries(colors)) {
    const driver = results.servers && results.servers[server] && results.servers[server].driver;
    const name = driver ? `${server} (${driver})` : server;
    const width = 17 + name.length * 7.2 + 22;
    if (x + width > WIDTH - 20 && x > 20) {
      x = 20;
      y += 20;
    }
    parts.push(`<rect x="${x}" y="${y - 10}" width="12" height="12" rx="2" fill="${color}"/>`);
    parts.push(text(x + 17, y, name, 'font-size="13" fill="#212529"'));
    x += width;
  }
  return { svg: parts.join('\n'), bottom: y + 12 };
}

function footerLines(results) {
  const m = results.machine || {};
  const s = results.settings || {};
  const v = results.versions || {};
  const lines = [
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${(m.totalMemBytes / 2 ** 30).toFixed(1)} GiB RAM, ${m.platform} ${m.kernel}`,
    `Node ${m.node}${v.peersNode && v.peersNode !== m.node ? ` (node:http, fastify, express: ${v.peersNode})` : ''} · http-native ${v.httpNative || '?'} (driver ${results.httpNativeDriver || 'n/a'}) · fastify ${v.fastify || '?'} · express ${v.express || '?'} · autocannon ${v.autocannon || '?'}${v.wrk ? ` · ${v.wrk}` : ''}`,
    `Command: ${results.command}`,
    `${results.date} · ${s.durationSeconds} s per run after ${s.warmupSeconds} s of warm-up · ${s.connections} connections`,
  ];
  const idle = (results.idle || []).filter((i) => i.bytesPerConnection !== null);
  if (idle.length) {
    lines.push(
      `RSS per idle keep-alive connection: ${idle.map((i) => `${i.server} ${(i.bytesPerConnection / 1024).toFixed(1)} KiB`).join(' · ')}`,
    );
  }
  lines.push('The load generator shares the CPU cores with the server; * = client-bound run (the client used ≥ 90% of a core).');
  return lines.flatMap((l) => wrap(l, 130));
}

// One bar chart: a group per route × pipelining, a bar per server, valued by `metric`.
function panel(runs, colors, metric, top) {
  const groups = groupRuns(runs);
  const values = runs.map((r) => metric.value(r) || 0);
  const scale = niceScale(Math.max(0, ...values));
  const plotLeft = LABEL_WIDTH;
  const plotWidth = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
  const x = (v) => plotLeft + (v / scale.max) * plotWidth;

  const parts = [];
  parts.push(text(20, top, metric.title, 'font-size="16" font-weight="bold" fill="#212529"'));
  parts.push(text(20, top + 18, metric.subtitle, 'font-size="12" fill="#495057"'));
  const plotTop = top + 34;
  let y = plotTop;
  for (const group of groups) {
    const height = Math.max(group.runs.length * (BAR_HEIGHT + BAR_GAP) - BAR_GAP, 2 * LINE_HEIGHT);
    const mid = y + height / 2;
    parts.push(text(plotLeft - 10, mid - 2, group.label, 'font-size="13" font-weight="bold" text-anchor="end" fill="#212529"'));
    const depth = group.pipelining > 1 ? `pipelining ${group.pipelining}` : 'no pipelining';
    parts.push(text(plotLeft - 10, mid + 13, depth, 'font-size="11" text-anchor="end" fill="#868e96"'));
    group.runs.forEach((run, i) => {
      const barTop = y + i * (BAR_HEIGHT + BAR_GAP);
      const v = metric.value(run) || 0;
      const w = Math.max(1, x(v) - plotLeft);
      parts.push(
        `<rect x="${plotLeft}" y="${barTop}" width="${w.toFixed(1)}" height="${BAR_HEIGHT}" fill="${colors[run.server]}"><title>${esc(
          `${run.server} ${run.label}, pipelining ${run.pipelining}: ${metric.format(run)}`,
        )}</title></rect>`,
      );
      parts.push(text((plotLeft + w + 5).toFixed(1), barTop + BAR_HEIGHT - 3, metric.format(run), 'font-size="11" fill="#343a40"'));
    });
    y += height + GROUP_GAP;
  }
  const plotBottom = Math.max(y - GROUP_GAP + 6, plotTop + 20);
  // Gridlines first, so the bars cover them; tick labels below the plot.
  const grid = [];
  for (let v = 0; v <= scale.max + scale.step / 2; v += scale.step) {
    const gx = x(v).toFixed(1);
    grid.push(`<line x1="${gx}" y1="${plotTop - 6}" x2="${gx}" y2="${plotBottom}" stroke="${v === 0 ? '#868e96' : '#e9ecef'}"/>`);
    grid.push(text(gx, plotBottom + 16, shortNumber(+v.toFixed(6)), 'font-size="11" text-anchor="middle" fill="#868e96"'));
  }
  if (!runs.length) grid.push(text(plotLeft, plotTop + 14, 'No results.', 'font-size="13" fill="#868e96"'));
  return { svg: [...grid, ...parts], bottom: plotBottom + 24 };
}

/** @returns {string} an SVG document: requests/s for each load generator, server CPU, lone latency. */
function render(results) {
  const runs = results.runs || [];
  const colors = serverColors(runs);
  const clients = [...new Set(runs.map((r) => r.client || 'autocannon'))];
  const byClient = (c) => runs.filter((r) => (r.client || 'autocannon') === c);

  const key = legend(colors, results, 30);
  const parts = [key.svg];
  let top = key.bottom + 28;
  for (const client of clients) {
    const p = panel(byClient(client), colors, {
      title: `Requests per second, load from ${client} (higher is better)`,
      subtitle: 'Each group is one route at one pipelining depth; one bar per server. * = client-bound run.',
      value: (r) => r.rps,
      format: (r) => `${(r.rps || 0).toLocaleString('en-US')}${r.clientBound ? '*' : ''}`,
    }, top);
    parts.push(...p.svg);
    top = p.bottom + 30;
  }
  // CPU per request does not depend on how fast the client is: the fairest single comparison.
  const cpuClient = clients.includes('wrk') ? 'wrk' : clients[0];
  if (cpuClient) {
    const p = panel(byClient(cpuClient), colors, {
      title: 'Server CPU time per request, µs (lower is better)',
      subtitle: `All threads of the server process (user + system), load from ${cpuClient}.`,
      value: (r) => r.serverCpuUsPerRequest,
      format: (r) => (r.serverCpuUsPerRequest === null ? '-' : r.serverCpuUsPerRequest.toFixed(2)),
    }, top);
    parts.push(...p.svg);
    top = p.bottom + 30;
  }

  // A lone client: what batching must not cost, and where thread wake-ups show most.
  const lone = (results.lone || []).filter((r) => (r.client || 'autocannon') === cpuClient && r.latencyMs && r.latencyMs.p50 !== null);
  if (lone.length) {
    const p = panel(lone, colors, {
      title: 'Latency of a lone request, p50 at one connection, µs (lower is better)',
      subtitle: `One connection, no pipelining, requests back to back, load from ${cpuClient}.`,
      value: (r) => r.latencyMs.p50 * 1000,
      format: (r) => `${Math.round(r.latencyMs.p50 * 1000)}`,
    }, top);
    parts.push(...p.svg);
    top = p.bottom + 30;
  }

  const footer = footerLines(results);
  footer.forEach((line, i) =>
    parts.push(text(line.indent ? 40 : 20, top + i * LINE_HEIGHT, line.text, 'font-size="12" fill="#495057"')),
  );
  const height = Math.ceil(top + (footer.length - 1) * LINE_HEIGHT + 20);

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="${FONT}">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

module.exports = { render };

if (require.main === module) {
  const input = path.resolve(process.argv[2] || path.join(__dirname, 'results', 'latest.json'));
  const output = path.resolve(process.argv[3] || input.replace(/\.json$/i, '') + '.svg');
  const results = JSON.parse(fs.readFileSync(input, 'utf8'));
  fs.writeFileSync(output, render(results));
  console.log(`Wrote ${path.relative(process.cwd(), output)}`);
}
