// Charts drawn locally as SVG: grouped horizontal bars, columns over time
// and simple bars. Each comes as a <figure> with a caption, a legend, a text
// alternative and the numbers in a table for those who would rather read.
// Colours come from the stylesheet (classes s0…s3), not inline styles.

import { t } from './i18n.js';
import { h, fmtNum } from './ui.js';

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** 1, 2 or 5 times a power of ten, at least `v`. */
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function figure({ title, desc, series, svg, rows, headers }) {
  const legend = series && series.length > 1
    ? h('ul', { class: 'legend' }, series.map((x, i) => h('li', {}, h('span', { class: `swatch ${x.cls ?? `s${i}`}`, 'aria-hidden': 'true' }), x.label)))
    : null;
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', desc ? `${title}. ${desc}` : title);
  return h('figure', { class: 'chart' },
    h('figcaption', {}, h('h3', {}, title), desc ? h('p', { class: 'muted small' }, desc) : null),
    legend,
    svg,
    h('details', { class: 'data' },
      h('summary', {}, t('stats.data')),
      h('div', { class: 'table-wrap' }, h('table', { class: 'compact' },
        h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c) : h('td', { class: 'num' }, c))))))))));
}

function none(title) {
  return h('figure', { class: 'chart' }, h('figcaption', {}, h('h3', {}, title)), h('p', { class: 'empty' }, t('stats.none')));
}

/**
 * Horizontal bars, one group per label, one bar per series in each group.
 * `groups`: [{label, values: [n…]}]; `series`: [{label}].
 */
export function groupedBars({ title, desc, groups, series, format = fmtNum, width: W = 600 }) {
  if (!groups.length) return none(title);
  const labelW = 130;
  const barH = 13;
  const gap = 3;
  const groupGap = 16;
  const top = 8;
  const n = series.length;
  const groupH = n * (barH + gap) - gap;
  const height = top + groups.length * (groupH + groupGap);
  const max = niceMax(Math.max(...groups.flatMap((g) => g.values)));
  const plotW = W - labelW - 60;
  const x = (v) => (v / max) * plotW;
  const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, class: 'svg-chart' });
  for (const f of [0, 0.5, 1]) {
    svg.append(s('line', { x1: labelW + f * plotW, x2: labelW + f * plotW, y1: 0, y2: height - groupGap / 2, class: 'grid' }));
  }
  groups.forEach((g, gi) => {
    const y0 = top + gi * (groupH + groupGap);
    svg.append(s('text', { x: labelW - 10, y: y0 + groupH / 2, class: 'axis-label', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, g.label));
    g.values.forEach((v, si) => {
      const y = y0 + si * (barH + gap);
      svg.append(s('rect', { x: labelW, y, width: Math.max(v > 0 ? 1.5 : 0, x(v)), height: barH, rx: 2, class: `bar ${series[si].cls ?? `s${si}`}` },
        s('title', {}, `${g.label} · ${series[si].label}: ${format(v)}`)));
      svg.append(s('text', { x: labelW + x(v) + 5, y: y + barH / 2, class: 'value', 'dominant-baseline': 'middle' }, format(v)));
    });
  });
  return figure({
    title, desc, series, svg,
    headers: ['', ...series.map((x) => x.label)],
    rows: groups.map((g) => [g.label, ...g.values.map(format)]),
  });
}

/**
 * The frame both charts over time share: a 280-high SVG with a value axis
 * from 0 to a round maximum, grid lines, and every few points' labels
 * along the bottom at `xAt(i)`. Returns the SVG and the scales.
 */
function timeFrame({ points, W, right, xAt }) {
  const H = 280;
  const left = 44;
  const top = 10;
  const bottom = 46;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const max = niceMax(Math.max(...points.flatMap((p) => p.values)));
  const y = (v) => top + plotH - (v / max) * plotH;
  const x = (i) => xAt(i, left, plotW);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'svg-chart' });
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    const v = max * f;
    svg.append(s('line', { x1: left, x2: W - right, y1: y(v), y2: y(v), class: f === 0 ? 'axis' : 'grid' }));
    svg.append(s('text', { x: left - 6, y: y(v), class: 'tick', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, fmtNum(Math.round(v * 10) / 10)));
  }
  const every = Math.max(1, Math.ceil(points.length / Math.floor(W / 70)));
  points.forEach((p, i) => {
    if (i % every === 0) svg.append(s('text', { x: x(i), y: H - bottom + 16, class: 'tick', 'text-anchor': 'middle' }, p.label));
  });
  return { svg, x, y, plotW };
}

/** A chart over time as a figure, with its numbers as a table beside it. */
function timeFigure({ title, desc, points, series, svg }) {
  return figure({
    title, desc, series, svg,
    headers: ['', ...series.map((x) => x.label)],
    rows: points.map((p) => [p.label, ...p.values.map(fmtNum)]),
  });
}

/**
 * Columns over time: `points`: [{label, values: [n…]}], one column per
 * series at each point.
 */
export function columns({ title, desc, points, series, width: W = 600 }) {
  if (!points.length) return none(title);
  const { svg, x, y, plotW } = timeFrame({
    points, W, right: 8,
    xAt: (i, left, plotW) => left + (plotW / points.length) * (i + 0.5),
  });
  const n = series.length;
  const colW = Math.max(1, Math.min(18, ((plotW / points.length) * 0.8) / n));
  points.forEach((p, i) => {
    p.values.forEach((v, si) => {
      svg.append(s('rect', { x: x(i) - (n * colW) / 2 + si * colW, y: y(v), width: Math.max(0.5, colW - 1), height: y(0) - y(v), class: `bar ${series[si].cls ?? `s${si}`}` },
        s('title', {}, `${p.label} · ${series[si].label}: ${fmtNum(v)}`)));
    });
  });
  return timeFigure({ title, desc, points, series, svg });
}

/** Simple horizontal bars: `items`: [{label, value}] on a scale of `max`. */
export function bars({ title, desc, items, max, format = fmtNum, cls = 's0', unit = '', width: W = 440 }) {
  if (!items.length) return none(title);
  const labelW = 150;
  const barH = 16;
  const gap = 8;
  const height = items.length * (barH + gap) + gap;
  const top = max ?? niceMax(Math.max(...items.map((i) => i.value ?? 0)));
  const plotW = W - labelW - 48;
  const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, class: 'svg-chart' });
  items.forEach((item, i) => {
    const y = gap + i * (barH + gap);
    const v = item.value ?? 0;
    svg.append(s('text', { x: labelW - 10, y: y + barH / 2, class: 'axis-label', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, item.label));
    svg.append(s('rect', { x: labelW, y, width: plotW, height: barH, rx: 3, class: 'track' }));
    svg.append(s('rect', { x: labelW, y, width: Math.max(v > 0 ? 2 : 0, (v / top) * plotW), height: barH, rx: 3, class: `bar ${cls}` },
      s('title', {}, `${item.label}: ${item.value === null ? '–' : format(v)}${unit}`)));
    svg.append(s('text', { x: labelW + plotW + 8, y: y + barH / 2, class: 'value', 'dominant-baseline': 'middle' },
      item.value === null ? '–' : `${format(v)}${unit}`));
  });
  return figure({
    title, desc, svg,
    headers: ['', title],
    rows: items.map((i) => [i.label, i.value === null ? '–' : format(i.value)]),
  });
}

/**
 * Lines over time: `points`: [{label, values: [n…]}], one line per series
 * (used for running totals).
 */
export function lines({ title, desc, points, series, width: W = 600 }) {
  if (!points.length) return none(title);
  const last = points.length - 1;
  const { svg, x, y } = timeFrame({
    points, W, right: 40,
    xAt: (i, left, plotW) => left + (last === 0 ? plotW / 2 : (i / last) * plotW),
  });
  series.forEach((ser, si) => {
    const cls = ser.cls ?? `s${si}`;
    const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.values[si]).toFixed(1)}`).join(' ');
    svg.append(s('path', { d: `${d} L${x(last).toFixed(1)},${y(0)} L${x(0).toFixed(1)},${y(0)} Z`, class: `area ${cls}` }));
    svg.append(s('path', { d, class: `line ${cls}` }));
    const end = points[last].values[si];
    svg.append(s('text', { x: x(last) + 5, y: y(end), class: 'value', 'dominant-baseline': 'middle' }, fmtNum(end)));
  });
  return timeFigure({ title, desc, points, series, svg });
}
