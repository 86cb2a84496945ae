// Charts over uPlot (vendored, see vendor/uplot/VERSION): line charts of
// metrics with several series overlaid, and scatter plots for sweeps.
import { h } from './dom.js';

const uPlot = window.uPlot;
const palette = ['#2f6fdf', '#d9480f', '#2b8a3e', '#862e9c', '#c92a2a', '#1098ad', '#e67700', '#5f3dc4', '#087f5b', '#a61e4d'];
export const color = (i) => palette[i % palette.length];

// ema smooths ys like TensorBoard's slider: an exponential moving average
// debiased at the start, nulls kept as gaps.
export function ema(ys, weight) {
  if (!weight) return ys;
  let last = 0, n = 0;
  return ys.map((y) => {
    if (y == null) return null;
    last = last * weight + (1 - weight) * y;
    n++;
    return last / (1 - Math.pow(weight, n));
  });
}

// lineChart draws series [{label, x, y, total, downsampled}] in container,
// with log-scale and smoothing controls. It returns {destroy, el}.
// container.dataset.points is the number of points drawn (non-null values),
// dataset.total the number recorded.
export function lineChart(container, series, opts = {}) {
  const state = { log: false, smooth: 0 };
  const wrap = h('div', { class: 'chart' });
  const logBox = h('input', { type: 'checkbox', class: 'log-scale' });
  const smooth = h('input', { type: 'range', min: '0', max: '0.99', step: '0.01', value: '0', class: 'smoothing' });
  const smoothVal = h('span', { class: 'muted' }, '0');
  const note = h('div', { class: 'note' });
  const plotEl = h('div', { class: 'plot' });
  wrap.append(h('div', { class: 'toolbar' },
    h('strong', {}, opts.title || ''),
    h('label', {}, logBox, 'log scale'),
    h('label', {}, 'smoothing', smooth, smoothVal),
    h('span', { class: 'muted' }, 'drag to zoom, double-click to reset')), plotEl, note);
  container.replaceChildren(wrap);
  let u = null;
  const total = series.reduce((a, s) => a + s.total, 0);
  const drawn = series.reduce((a, s) => a + s.x.length, 0);
  container.dataset.points = String(drawn);
  container.dataset.total = String(total);
  container.dataset.series = String(series.length);
  const ds = series.some((s) => s.downsampled);
  note.textContent = `${series.length} series, ${drawn.toLocaleString()} points drawn` +
    (ds ? ` (downsampled on the server from ${total.toLocaleString()})` : '');

  function build() {
    if (u) u.destroy();
    const tables = series.map((s) => [Float64Array.from(s.x), s.y.map((v) => (state.log && v <= 0 ? null : v))]);
    let data = tables.length === 1 ? [tables[0][0], tables[0][1]] : uPlot.join(tables);
    data = [data[0], ...data.slice(1).map((ys) => ema(Array.from(ys), state.smooth))];
    const width = Math.max(320, (container.clientWidth || 900) - 20);
    u = new uPlot({
      width, height: opts.height || 300,
      scales: { x: { time: false }, y: state.log ? { distr: 3 } : {} },
      axes: [{ label: opts.xLabel || 'step' }, { size: 60 }],
      series: [{ label: opts.xLabel || 'step' }, ...series.map((s, i) => ({
        label: s.label, stroke: color(i), width: 1.5, spanGaps: true, points: { show: false },
      }))],
      cursor: { drag: { x: true, y: false } },
    }, data, plotEl);
    container.uplot = u; // for tests: the scales after a zoom
    container.dataset.rendered = String(Date.now());
  }
  logBox.addEventListener('change', () => { state.log = logBox.checked; build(); });
  smooth.addEventListener('input', () => { state.smooth = Number(smooth.value); smoothVal.textContent = smooth.value; build(); });
  build();
  return { destroy() { if (u) u.destroy(); }, el: wrap };
}

// scatter draws points (x numeric, or categories given as labels) with a
// line through them in x order. container.dataset.points is the number of
// points drawn.
export function scatter(container, pts, opts = {}) {
  const numeric = pts.every((p) => typeof p.x === 'number' && isFinite(p.x));
  const cats = numeric ? null : [...new Set(pts.map((p) => String(p.x)))];
  const xy = pts.map((p) => ({ x: numeric ? p.x : cats.indexOf(String(p.x)), y: p.y, label: p.label }))
    .filter((p) => p.y != null && isFinite(p.y)).sort((a, b) => a.x - b.x);
  container.dataset.points = String(xy.length);
  const plotEl = h('div', { class: 'plot' });
  container.replaceChildren(h('div', { class: 'chart' }, plotEl,
    h('div', { class: 'note' }, `${xy.length} instance(s)`)));
  const width = Math.max(320, (container.clientWidth || 700) - 20);
  const u = new uPlot({
    width, height: 300,
    scales: { x: { time: false, range: numeric ? undefined : [-0.5, cats.length - 0.5] } },
    axes: [
      { label: opts.xLabel, values: numeric ? undefined : (_, ticks) => ticks.map((t) => (Number.isInteger(t) ? cats[t] ?? '' : '')),
        splits: numeric ? undefined : () => cats.map((_, i) => i) },
      { label: opts.yLabel, size: 60 },
    ],
    series: [{ label: opts.xLabel }, { label: opts.yLabel, stroke: color(0), width: 1,
      points: { show: true, size: 9, fill: color(0) } }],
    cursor: { drag: { x: true, y: false } },
  }, [xy.map((p) => p.x), xy.map((p) => p.y)], plotEl);
  return { destroy() { u.destroy(); } };
}
