// chart.js — a small SVG line chart (no library): lineChart(points, {title}) → <svg>.
// points: [{label, value}], oldest first.
const NS = 'http://www.w3.org/2000/svg';

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export function lineChart(points, { title = '', width = 800, height = 260, color = '#1677ff' } = {}) {
  const svg = el('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title });
  const pad = { l: 44, r: 16, t: 28, b: 36 };
  const w = width - pad.l - pad.r;
  const hgt = height - pad.t - pad.b;
  const max = Math.max(1, ...points.map((p) => Number(p.value) || 0));
  // Counts: a top of at least 4 with whole-number ticks.
  const step = Math.pow(10, Math.floor(Math.log10(max)));
  const top = Math.max(4, Math.ceil(max / step) * step, Math.ceil(max / 4) * 4);
  const x = (i) => pad.l + (points.length <= 1 ? w / 2 : (i * w) / (points.length - 1));
  const y = (v) => pad.t + hgt - (v / top) * hgt;
  if (title) svg.append(el('text', { x: pad.l, y: 18, 'font-size': 14, fill: '#333' }, title));
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    svg.append(el('line', { x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v), stroke: '#eee' }));
    svg.append(el('text', { x: pad.l - 6, y: y(v) + 4, 'font-size': 11, fill: '#888', 'text-anchor': 'end' }, Number.isInteger(v) ? v : Math.round(v)));
  }
  points.forEach((p, i) => {
    if (points.length <= 8 || i % Math.ceil(points.length / 8) === 0 || i === points.length - 1) {
      svg.append(el('text', { x: x(i), y: height - 12, 'font-size': 11, fill: '#888', 'text-anchor': 'middle' }, String(p.label).slice(5)));
    }
  });
  if (points.length) {
    const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(Number(p.value) || 0).toFixed(1)}`).join(' ');
    svg.append(el('path', { d: `${d} L${x(points.length - 1).toFixed(1)},${y(0)} L${x(0).toFixed(1)},${y(0)} Z`, fill: color, 'fill-opacity': 0.08, stroke: 'none' }));
    svg.append(el('path', { class: 'line', d, fill: 'none', stroke: color, 'stroke-width': 2 }));
    points.forEach((p, i) => {
      const c = el('circle', { class: 'point', cx: x(i), cy: y(Number(p.value) || 0), r: 3, fill: color });
      c.append(el('title', {}, `${p.label}: ${p.value}`));
      svg.append(c);
    });
  }
  return svg;
}
