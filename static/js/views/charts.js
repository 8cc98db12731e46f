// Small inline-SVG charts built with createElementNS (dom.js `s`): no library, nothing parsed
// from strings, no inline style. Every chart is an <svg role="img"> with a title naming what it
// shows, and each bar carries its number as text, so colour is never the only carrier of meaning;
// views put the same figures in a table beside the chart for screen readers.

import { h, s, uid } from '../dom.js';

const W = 640;

/** Cuts a label to fit beside a bar (the whole label is in the bar's <title>). */
function short(text, max = 30) {
  const chars = Array.from(String(text ?? ''));
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : chars.join('');
}

/**
 * Horizontal bar pairs: for each row `{label, a, b}` a bar for `a` (this period, solid) and one
 * for `b` (the period before, lighter and hatched by its outline). `names` = [aName, bName] for
 * the legend.
 */
export function barPairs({ title, rows, names }) {
  const id = uid('chart');
  const rowH = 34;
  const labelW = 250;
  const top = 28;
  const height = top + rows.length * rowH + 8;
  const max = Math.max(1, ...rows.flatMap((r) => [r.a, r.b]));
  const scale = (v) => ((W - labelW - 50) * v) / max;
  const svg = s(
    'svg',
    { class: 'chart', viewBox: `0 0 ${W} ${height}`, role: 'img', 'aria-labelledby': id, width: '100%', preserveAspectRatio: 'xMinYMin meet' },
    s('title', { id }, title),
    // Legend: a swatch and its words.
    s('rect', { x: labelW, y: 6, width: 12, height: 12, class: 'bar-a' }),
    s('text', { x: labelW + 18, y: 17, class: 'chart-text' }, names[0]),
    s('rect', { x: labelW + 180, y: 6, width: 12, height: 12, class: 'bar-b' }),
    s('text', { x: labelW + 198, y: 17, class: 'chart-text' }, names[1]),
    rows.map((r, i) => {
      const y = top + i * rowH;
      return s(
        'g',
        {},
        s('title', {}, `${r.label}: ${r.a} / ${r.b}`),
        s('text', { x: labelW - 8, y: y + 17, 'text-anchor': 'end', class: 'chart-text' }, short(r.label)),
        s('rect', { x: labelW, y: y + 2, width: Math.max(1, scale(r.a)), height: 13, class: 'bar-a' }),
        s('text', { x: labelW + scale(r.a) + 4, y: y + 13, class: 'chart-num' }, String(r.a)),
        s('rect', { x: labelW, y: y + 17, width: Math.max(1, scale(r.b)), height: 11, class: 'bar-b' }),
        s('text', { x: labelW + scale(r.b) + 4, y: y + 27, class: 'chart-num' }, String(r.b)),
      );
    }),
  );
  return h('figure', { class: 'chart-box' }, svg);
}

/**
 * Vertical bars over time: `points` = [{label, value}] in order (days, months). Labels are
 * shown under every nth bar so they do not collide.
 */
export function timeBars({ title, points }) {
  const id = uid('chart');
  const height = 180;
  const bottom = 30;
  const left = 30;
  const max = Math.max(1, ...points.map((p) => p.value));
  const step = (W - left - 10) / Math.max(1, points.length);
  const every = Math.max(1, Math.ceil(points.length / 10));
  const y = (v) => height - bottom - ((height - bottom - 16) * v) / max;
  return h(
    'figure',
    { class: 'chart-box' },
    s(
      'svg',
      { class: 'chart', viewBox: `0 0 ${W} ${height}`, role: 'img', 'aria-labelledby': id, width: '100%', preserveAspectRatio: 'xMinYMin meet' },
      s('title', { id }, title),
      s('line', { x1: left, y1: height - bottom, x2: W - 5, y2: height - bottom, class: 'axis' }),
      s('text', { x: 2, y: 16, class: 'chart-num' }, String(max)),
      s('text', { x: 2, y: height - bottom, class: 'chart-num' }, '0'),
      points.map((p, i) => {
        const x = left + i * step + 1;
        return s(
          'g',
          {},
          s('title', {}, `${p.label}: ${p.value}`),
          s('rect', { x, y: y(p.value), width: Math.max(1, step - 2), height: height - bottom - y(p.value), class: 'bar-a' }),
          i % every === 0
            ? s('text', { x, y: height - bottom + 16, class: 'chart-text chart-small' }, p.label)
            : null,
        );
      }),
    ),
  );
}
