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
// dataset.total the number recorded. opts.refetch(min, max), when given,
// returns the series again for a window of x: a zoomed chart of downsampled
// series asks for its window at full resolution.
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
  let zoomed = false; // a zoomed window of downsampled series is drawn
  let xmin, xmax;
  const bounds = () => {
    xmin = Math.min(...series.map((s) => (s.x.length ? s.x[0] : Infinity)));
    xmax = Math.max(...series.map((s) => (s.x.length ? s.x[s.x.length - 1] : -Infinity)));
  };
  bounds();

  function describe(list, zoomed) {
    const total = list.reduce((a, s) => a + s.total, 0);
    const drawn = list.reduce((a, s) => a + s.x.length, 0);
    container.dataset.points = String(drawn);
    container.dataset.total = String(total);
    container.dataset.series = String(list.length);
    container.dataset.zoomed = zoomed ? '1' : '0';
    const ds = list.some((s) => s.downsampled);
    const from = zoomed ? list.reduce((a, s) => a + (s.in_range ?? s.x.length), 0) : total;
    note.textContent = `${list.length} series, ${drawn.toLocaleString()} points drawn` +
      (ds ? ` (downsampled on the server from ${from.toLocaleString()}${zoomed ? ' in this window' : ''})` : '');
  }

  function toData(list) {
    const tables = list.map((s) => [Float64Array.from(s.x), s.y.map((v) => (state.log && v <= 0 ? null : v))]);
    const data = tables.length === 1 ? [tables[0][0], tables[0][1]] : uPlot.join(tables);
    return [data[0], ...data.slice(1).map((ys) => ema(Array.from(ys), state.smooth))];
  }

  // Zoom: once the user picks a window, fetch it at full resolution.
  let timer = null, asked = null;
  let userZoom = false; // the x window is narrower than the data
  function onScale(min, max) {
    const whole = min <= xmin && max >= xmax;
    userZoom = !whole;
    if (!opts.refetch || !series.some((s) => s.downsampled)) return;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const key = whole ? 'whole' : `${min},${max}`;
      if (key === asked) return;
      asked = key;
      const list = whole ? series : await opts.refetch(Math.floor(min), Math.ceil(max));
      if (asked !== key || !u) return;
      zoomed = !whole;
      u.setData(toData(list), false);
      describe(list, !whole);
      container.dataset.rendered = String(Date.now());
    }, 150);
  }

  function build() {
    if (u) u.destroy();
    zoomed = false;
    userZoom = false;
    asked = 'whole'; // what build draws
    describe(series, false);
    const width = Math.max(320, (container.clientWidth || 900) - 20);
    u = new uPlot({
      width, height: opts.height || 300,
      scales: { x: { time: false }, y: state.log ? { distr: 3 } : {} },
      axes: [{ label: opts.xLabel || 'step' }, { size: 60 }],
      series: [{ label: opts.xLabel || 'step' }, ...series.map((s, i) => ({
        label: s.label, stroke: color(i), width: 1.5, spanGaps: true, points: { show: false },
      }))],
      cursor: { drag: { x: true, y: false } },
      hooks: { setScale: [(self, key) => { if (key === 'x') onScale(self.scales.x.min, self.scales.x.max); }] },
    }, toData(series), plotEl);
    container.uplot = u; // for tests: the scales after a zoom
    container.dataset.rendered = String(Date.now());
  }
  logBox.addEventListener('change', () => { state.log = logBox.checked; build(); });
  smooth.addEventListener('input', () => { state.smooth = Number(smooth.value); smoothVal.textContent = smooth.value; build(); });
  build();
  return {
    destroy() { clearTimeout(timer); if (u) u.destroy(); u = null; },
    // update replaces the data of the same series (a live run's new
    // points) without rebuilding the chart; a zoomed window stays as it is.
    update(next) {
      if (!u || next.length !== series.length) return false;
      series = next;
      bounds();
      if (zoomed) return true;
      u.setData(toData(series), !userZoom);
      describe(series, false);
      return true;
    },
    el: wrap,
  };
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
    scales: { x: numeric && opts.logX && xy.every((p) => p.x > 0) ? { time: false, distr: 3 } : { time: false, range: numeric ? undefined : [-0.5, cats.length - 0.5] } },
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
