// The dashboard: a hash router over four views (runs, run, sweep, diff) and
// the metric comparison of several runs. Plain ES modules, no build step.
import { h, api, esc, statusBadge, fmtDuration, fmtTime, fmtSize, valueText, kvTable, instanceOf, fmtNum } from './dom.js';
import { lineChart, scatter } from './chart.js';
import { dagView } from './dag.js';

const main = document.getElementById('main');
let cleanups = [];
const onLeave = (fn) => cleanups.push(fn);

function route() {
  for (const fn of cleanups) { try { fn(); } catch (e) { console.error(e); } }
  cleanups = [];
  delete main.dataset.ready;
  const parts = location.hash.replace(/^#\/?/, '').split('?')[0].split('/').map(decodeURIComponent);
  const view = {
    '': () => runsView(),
    run: () => (parts[2] === 'sweep' ? sweepView(parts[1], parts[3]) : runView(parts[1])),
    diff: () => diffView(parts[1], parts[2]),
    compare: () => compareView(parts[1].split(',')),
  }[parts[0]];
  main.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  (view || (() => { throw new Error(`no page ${location.hash}`); }))()
    .catch((e) => main.replaceChildren(h('p', { class: 'err', id: 'error' }, String(e.message || e))));
}
window.addEventListener('hashchange', route);
route();

// ready marks a view as rendered (tests and the benchmark wait for it).
const ready = (name) => { main.dataset.readyMs = String(Math.round(performance.now())); main.dataset.ready = name; };

// ---------------------------------------------------------------- runs list

const listSelection = new Set();

function runDuration(r) {
  const end = r.ended_at ? new Date(r.ended_at) : (r.status === 'running' ? new Date() : null);
  return end ? end - new Date(r.started_at) : null;
}

async function runsView() {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const spec = params.get('spec') || '', status = params.get('status') || '';
  const data = await api(`/api/runs?${new URLSearchParams({ spec, status })}`);
  const specSel = h('select', { id: 'filter-spec' }, h('option', { value: '' }, 'all specs'),
    data.specs.map((s) => h('option', { value: s, selected: s === spec }, s)));
  const statusSel = h('select', { id: 'filter-status' }, h('option', { value: '' }, 'any status'),
    ['running', 'succeeded', 'failed', 'cancelled', 'interrupted'].map((s) => h('option', { value: s, selected: s === status }, s)));
  const refilter = () => { location.hash = `#/?${new URLSearchParams({ spec: specSel.value, status: statusSel.value })}`; };
  specSel.addEventListener('change', refilter);
  statusSel.addEventListener('change', refilter);
  const diffBtn = h('button', { id: 'diff-selected', disabled: true }, 'Diff 2 selected');
  const cmpBtn = h('button', { id: 'compare-selected', disabled: true }, 'Compare metrics of selected');
  const selected = listSelection; // kept across the list's refreshes
  const tbody = h('tbody');
  // One string of rows: 500 rows render in a few milliseconds.
  tbody.innerHTML = data.runs.map((r) => {
    const failed = r.step_status.failed || 0;
    return `<tr class="run-row" data-run="${esc(r.id)}" data-status="${esc(r.status)}">` +
      `<td><input type="checkbox" class="pick" value="${esc(r.id)}"${selected.has(r.id) ? ' checked' : ''}></td>` +
      `<td class="mono"><a href="#/run/${esc(r.id)}">${esc(r.id)}</a></td>` +
      `<td><span class="status ${esc(r.status)}">${esc(r.status)}</span></td>` +
      `<td>${esc((r.spec || []).join(', '))}</td><td>${esc(fmtTime(r.started_at))}</td>` +
      `<td class="num">${esc(fmtDuration(runDuration(r)))}</td><td class="num">${r.steps}</td>` +
      `<td class="num">${r.cache_hits}</td><td class="num">${failed || ''}</td></tr>`;
  }).join('');
  const updateButtons = () => {
    diffBtn.disabled = selected.size !== 2;
    cmpBtn.disabled = selected.size < 1;
  };
  for (const id of [...selected]) if (!data.runs.some((r) => r.id === id)) selected.delete(id);
  for (const tr of tbody.querySelectorAll('tr.run-row')) tr.classList.toggle('sel', selected.has(tr.dataset.run));
  updateButtons();
  tbody.addEventListener('change', (e) => {
    if (!e.target.classList.contains('pick')) return;
    if (e.target.checked) selected.add(e.target.value); else selected.delete(e.target.value);
    e.target.closest('tr').classList.toggle('sel', e.target.checked);
    updateButtons();
  });
  diffBtn.addEventListener('click', () => { const [a, b] = [...selected].sort(); location.hash = `#/diff/${a}/${b}`; });
  cmpBtn.addEventListener('click', () => { location.hash = `#/compare/${[...selected].sort().join(',')}`; });
  document.title = 'Runs — Shammie';
  main.replaceChildren(
    h('h1', {}, 'Runs ', h('span', { class: 'muted', id: 'runs-count' }, `${data.runs.length} of ${data.total}`)),
    h('div', { class: 'toolbar' }, specSel, statusSel, diffBtn, cmpBtn),
    data.runs.length === 0 ? h('p', { class: 'muted' }, data.total ? 'No run matches the filter.' : 'No runs yet: start one with `shammie run SPEC`.') : '',
    h('table', { id: 'runs-table' }, h('thead', {}, h('tr', {},
      ['', 'run', 'status', 'spec', 'started', 'duration', 'steps', 'cached', 'failed'].map((c) => h('th', {}, c)))), tbody));
  if (data.runs.some((r) => r.status === 'running')) {
    // A list with live runs refreshes itself (selection and scroll kept).
    const t = setTimeout(() => { const y = window.scrollY; runsView().then(() => window.scrollTo(0, y)); }, 3000);
    onLeave(() => clearTimeout(t));
  }
  ready('runs');
}

// ---------------------------------------------------------------- one run

async function runView(ref) {
  let run = await api(`/api/runs/${encodeURIComponent(ref)}`);
  const id = run.run.id;
  let selectedStep = null;
  const header = h('div');
  const dagEl = h('div', { id: 'dag' });
  const stepsEl = h('div');
  const detailEl = h('div', { id: 'step-detail' });
  const metricsEl = h('div', { id: 'metrics' });
  let chart = null;
  onLeave(() => chart && chart.destroy());
  const picker = diffPicker(id); // one list fetch, kept across live redraws

  function renderHeader() {
    const r = run.run;
    const end = r.ended_at ? new Date(r.ended_at) : new Date();
    header.replaceChildren(
      h('h1', {}, 'Run ', h('span', { class: 'mono' }, r.id), ' ', h('span', { id: 'run-status', class: `status ${r.status}`, 'data-status': r.status }, r.status)),
      r.message ? h('p', { class: 'err' }, r.message) : '',
      h('div', { class: 'grid2' },
        kvTable([
          ['spec', r.spec.map((s) => s.path).join(', ')],
          ['started', `${fmtTime(r.started_at)} (${r.status === 'running' ? 'running for ' : 'took '}${fmtDuration(end - new Date(r.started_at))})`],
          ['host', `shammie ${r.host_version}, seed ${r.seed}, backends ${(r.backends || []).join(', ')}`],
          ['plugins', (r.plugins || []).map((p) => `${p.name} ${p.version}`).join(', ')],
          ['diff', h('span', {}, 'with ', picker)],
        ]),
        h('div', {}, h('h3', {}, 'Variables'), Object.keys(r.variables || {}).length
          ? kvTable(Object.entries(r.variables).sort().map(([k, v]) => [k, h('code', { 'data-var': k }, valueText(v))]), 'kv vars')
          : h('p', { class: 'muted' }, 'none'))));
  }

  function renderSteps() {
    const groups = new Map();
    for (const st of run.steps) {
      const { name, key } = instanceOf(st.address);
      if (key !== null) groups.set(name, (groups.get(name) || 0) + 1);
    }
    stepsEl.replaceChildren(
      groups.size ? h('p', {}, 'Sweeps: ', [...groups].map(([name, n]) =>
        h('a', { href: `#/run/${id}/sweep/${encodeURIComponent(name)}`, class: 'sweep-link', style: 'margin-right:1em' }, `step.${name} (${n} instances)`))) : '',
      h('div', { class: 'scroll' }, h('table', { id: 'steps-table' },
        h('thead', {}, h('tr', {}, ['step', 'status', 'duration', 'cache', 'plugin', 'outputs'].map((c) => h('th', {}, c)))),
        h('tbody', {}, run.steps.map((st) => h('tr', {
          class: `clickable step-row${st.address === selectedStep ? ' sel' : ''}`, 'data-address': st.address,
          onclick: () => selectStep(st.address),
        }, h('td', { class: 'mono' }, st.address), h('td', {}, statusBadge(st.status)),
        h('td', { class: 'num' }, fmtDuration(st.duration_ms)), h('td', {}, st.cache_hit ? `hit (${st.cached_from})` : ''),
        h('td', {}, `${st.plugin} ${st.plugin_version}`),
        h('td', { class: 'mono' }, Object.entries(st.outputs || {}).sort().map(([k, v]) => `${k}=${fmtNum(valueText(v))}`).join('  ').slice(0, 120))))))));
    dagView(dagEl, run.steps, { selected: selectedStep, onSelect: selectStep });
  }

  async function selectStep(addr, scroll = true) {
    selectedStep = addr;
    renderSteps();
    const st = run.steps.find((s) => s.address === addr);
    if (!st) return;
    detailEl.replaceChildren(await stepDetail(id, st, run.files[addr] || []));
    if (scroll) detailEl.scrollIntoView({ block: 'nearest' });
  }

  // Metrics: one metric name, any of the steps that have it, overlaid.
  const metricSel = h('select', { id: 'metric-name' });
  const instEl = h('div', { class: 'instances' });
  const chartEl = h('div', { id: 'metric-chart' });
  const picked = new Set();
  function metricNames() {
    const names = new Set();
    for (const st of run.steps) for (const m of st.metrics || []) names.add(m.name);
    return [...names].sort();
  }
  function renderMetricControls() {
    const names = metricNames();
    if (!names.length) { metricsEl.replaceChildren(h('p', { class: 'muted' }, 'No metrics recorded.')); return; }
    const cur = metricSel.value || names[0];
    metricSel.replaceChildren(...names.map((n) => h('option', { value: n, selected: n === cur }, n)));
    const having = run.steps.filter((st) => (st.metrics || []).some((m) => m.name === cur));
    if (![...picked].some((a) => having.some((s) => s.address === a))) {
      picked.clear();
      having.slice(0, 10).forEach((s) => picked.add(s.address));
    }
    instEl.replaceChildren(...having.map((st) => h('label', {},
      h('input', { type: 'checkbox', class: 'pick-step', value: st.address, checked: picked.has(st.address),
        onchange: (e) => { if (e.target.checked) picked.add(st.address); else picked.delete(st.address); drawChart(); } }),
      h('span', { class: 'mono' }, st.address))));
    metricsEl.replaceChildren(h('div', { class: 'toolbar' }, h('label', {}, 'metric', metricSel)), instEl, chartEl);
  }
  metricSel.addEventListener('change', () => { picked.clear(); renderMetricControls(); drawChart(); });
  let drawing = 0;
  async function drawChart() {
    const name = metricSel.value;
    if (!name) return;
    const n = ++drawing;
    const fetchAll = (range = {}) => Promise.all([...picked].sort().map(async (addr) => {
      const s = await api(`/api/runs/${id}/metrics?${new URLSearchParams({ step: addr, name, ...range })}`);
      return { label: addr, ...s };
    }));
    const series = await fetchAll();
    if (n !== drawing) return;
    const key = `${name}\u0000${[...picked].sort().join('\u0000')}`;
    if (chart && chart.key === key && chart.update(series)) return; // live: new points only
    if (chart) chart.destroy();
    chart = lineChart(chartEl, series, { title: name, refetch: (from, to) => fetchAll({ from, to }) });
    chart.key = key;
  }

  async function refresh() {
    run = await api(`/api/runs/${id}`);
    renderHeader();
    renderSteps();
    renderMetricControls();
  }

  main.replaceChildren(header, h('h2', {}, 'Steps'), dagEl, stepsEl, detailEl, h('h2', {}, 'Metrics'), metricsEl);
  renderHeader();
  renderSteps();
  renderMetricControls();
  document.title = `Run ${id} — Shammie`;
  // A failed step explains itself at once: its message and stderr tail.
  const failed = run.steps.find((st) => st.status === 'failed');
  await Promise.all([drawChart(), failed ? selectStep(failed.address, false) : null]);
  ready('run');

  if (run.run.status === 'running') {
    const es = new EventSource(`/api/runs/${id}/live`);
    onLeave(() => es.close());
    let pending = null;
    const later = (fn) => { if (!pending) pending = setTimeout(() => { pending = null; fn(); }, 250); };
    es.addEventListener('snapshot', (e) => {
      const snap = JSON.parse(e.data);
      const known = new Set(run.steps.map((s) => s.address));
      run.run.status = snap.status;
      run.run.message = snap.message;
      run.run.ended_at = snap.ended_at;
      for (const s of snap.steps) {
        const st = run.steps.find((x) => x.address === s.address);
        if (st) Object.assign(st, { status: s.status, cache_hit: s.cache_hit, duration_ms: s.duration_ms });
      }
      renderHeader();
      if (snap.steps.some((s) => !known.has(s.address))) later(refresh); else renderSteps();
    });
    es.addEventListener('metrics', (e) => {
      const m = JSON.parse(e.data);
      if (picked.has(m.step) || !metricSel.value) later(async () => { await refresh(); await drawChart(); });
    });
    es.addEventListener('events', (e) => {
      const m = JSON.parse(e.data);
      if (m.step === selectedStep) later(() => selectStep(selectedStep, false));
    });
    es.addEventListener('end', async () => { es.close(); await refresh(); await drawChart(); });
    es.onerror = () => { if (es.readyState === EventSource.CLOSED) return; };
  }
}

function diffPicker(id) {
  const sel = h('select', { class: 'diff-with' }, h('option', { value: '' }, 'another run…'));
  api('/api/runs').then((d) => sel.append(...d.runs.filter((r) => r.id !== id).map((r) => h('option', { value: r.id }, `${r.id} ${r.status}`))));
  sel.addEventListener('change', () => { if (sel.value) location.hash = `#/diff/${sel.value}/${id}`; });
  return sel;
}

async function stepDetail(runID, st, files) {
  const q = (extra) => new URLSearchParams({ step: st.address, ...extra });
  const out = h('div', { class: 'card' }, h('h2', {}, 'Step ', h('span', { class: 'mono' }, st.address), ' ', statusBadge(st.status)));
  if (st.message) out.append(h('p', { class: 'err' }, st.message));
  for (const d of st.diagnostics || []) out.append(h('p', { class: 'err' }, '• ', d));
  if (st.stderr_tail) out.append(h('h3', {}, 'Plugin stderr (tail)'), h('pre', { class: 'stderr' }, st.stderr_tail));
  out.append(h('div', { class: 'grid2' },
    h('div', {}, h('h3', {}, 'Outputs'), Object.keys(st.outputs || {}).length
      ? kvTable(Object.entries(st.outputs).sort().map(([k, v]) => [k, h('code', { title: valueText(v) }, fmtNum(valueText(v)))])) : h('p', { class: 'muted' }, 'none'),
    h('h3', {}, 'Metrics'), (st.metrics || []).length ? h('table', {}, h('tr', {}, ['metric', 'points', 'final', 'at step', 'min', 'max'].map((c) => h('th', {}, c))),
      st.metrics.map((m) => h('tr', {}, h('td', {}, m.name), h('td', { class: 'num' }, m.points), h('td', { class: 'num' }, fmtNum(m.final)),
        h('td', { class: 'num' }, m.final_step), h('td', { class: 'num' }, fmtNum(m.min)), h('td', { class: 'num' }, fmtNum(m.max)))))
      : h('p', { class: 'muted' }, 'none')),
    h('div', {}, h('h3', {}, 'Config'), st.config ? h('pre', { class: 'config' }, JSON.stringify(st.config.value, null, 2)) : h('p', { class: 'muted' }, 'none'),
      kvTable([['plugin', `${st.plugin} ${st.plugin_version}`], ['seed', st.seed], ['backend', st.backend],
        ['depends on', (st.depends_on || []).join(', ')], ['cache key', h('code', {}, (st.cache_key || '').slice(0, 16))]]))));
  const arts = Object.entries(st.artifacts || {}).sort();
  if (arts.length) {
    out.append(h('h3', {}, 'Artifacts'));
    for (const [name, a] of arts) {
      const url = `/api/runs/${runID}/artifact?${q({ name })}`;
      const box = h('div', { class: 'artifact', 'data-artifact': name },
        h('div', {}, h('strong', {}, name), ' ', h('span', { class: 'muted' }, `${a.media_type || ''} ${fmtSize(a.size)} `),
          h('a', { href: `${url}&download=1`, download: a.rel_path.split('/').pop() }, 'download')));
      out.append(box);
      api(`/api/runs/${runID}/preview?${q({ name })}`).then((p) => box.append(previewEl(p, url))).catch((e) => box.append(h('p', { class: 'err' }, e.message)));
    }
  }
  if (files.length) {
    out.append(h('h3', {}, 'Work directory'), h('ul', {}, files.map((f) => h('li', {},
      h('a', { href: `/api/runs/${runID}/files/${f.path.split('/').map(encodeURIComponent).join('/')}?${q({ download: 1 })}` }, f.path), ' ', h('span', { class: 'muted' }, fmtSize(f.size))))));
  }
  const logs = h('pre', { class: 'logs' }, 'loading…');
  out.append(h('h3', {}, 'Log'), logs);
  api(`/api/runs/${runID}/logs?${q()}`).then((l) => {
    logs.textContent = (l.total > l.events.length ? `… ${l.total - l.events.length} earlier events\n` : '') + l.events.map(eventLine).join('\n');
  });
  return out;
}

function eventLine(e) {
  const t = fmtTime(e.time).slice(11);
  switch (e.kind) {
    case 'log': return `${t} ${e.level}: ${e.message}`;
    case 'progress': return `${t} progress ${e.stage} ${e.done}${e.total ? '/' + e.total : ''} ${e.unit || ''}`;
    case 'output': return `${t} output ${e.name} = ${valueText(e.output)}`;
    case 'artifact': return `${t} artifact ${e.name} (${e.path})`;
    case 'status': case 'done': case 'cached': case 'skipped': return `${t} ${e.kind === 'status' ? 'plugin reported ' : ''}${e.status || e.kind}${e.message ? ': ' + e.message : ''}`;
    default: return `${t} ${e.kind}`;
  }
}

function previewEl(p, url) {
  switch (p.kind) {
    case 'image': return h('img', { src: url, alt: 'artifact preview', loading: 'lazy' });
    case 'table': return h('div', { class: 'scroll' }, h('table', { class: 'preview-table' },
      h('thead', {}, h('tr', {}, p.columns.map((c) => h('th', {}, c)))),
      h('tbody', {}, p.rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c)))))),
      p.truncated ? h('p', { class: 'muted' }, 'first rows only') : '');
    case 'tensors': return h('div', {}, h('table', { class: 'tensor-table' },
      h('tr', {}, ['tensor', 'dtype', 'shape', 'size'].map((c) => h('th', {}, c))),
      p.tensors.map((t) => h('tr', {}, h('td', { class: 'mono' }, t.name), h('td', {}, t.dtype), h('td', { class: 'mono' }, `[${t.shape.join(', ')}]`), h('td', { class: 'num' }, fmtSize(t.bytes))))),
      p.metadata ? kvTable(Object.entries(p.metadata)) : '');
    case 'text': return h('pre', {}, p.text + (p.truncated ? '\n…' : ''));
    default: return h('p', { class: 'muted' }, p.error ? `no preview: ${p.error}` : 'binary: no preview');
  }
}

// ---------------------------------------------------------------- sweep

async function sweepView(runID, name) {
  const sw = await api(`/api/runs/${encodeURIComponent(runID)}/sweep?${new URLSearchParams({ step: name })}`);
  const parse = (s) => { try { return JSON.parse(s); } catch { return s; } };
  const xSel = h('select', { id: 'sweep-x' }, sw.swept.map((k) => h('option', { value: k }, k)));
  if (sw.swept.length > 1) xSel.value = sw.swept[1];
  const ySel = h('select', { id: 'sweep-y' }, sw.values.map((k) => h('option', { value: k }, k)));
  const plotEl = h('div', { id: 'sweep-chart' });
  let plot = null;
  onLeave(() => plot && plot.destroy());
  const xOf = (inst, k) => (k === 'key' ? parse(inst.key) : parse(inst.config[k]));
  function draw() {
    if (plot) plot.destroy();
    const pts = sw.instances.map((inst) => ({ x: xOf(inst, xSel.value), y: Number(parse(inst.values[ySel.value])), label: inst.address }))
      .filter((p) => p.x !== undefined && Number.isFinite(p.y));
    plot = scatter(plotEl, pts, { xLabel: xSel.value, yLabel: ySel.value, logX: logX.checked });
  }
  const logX = h('input', { type: 'checkbox', id: 'sweep-logx', onchange: () => draw() });
  xSel.addEventListener('change', draw);
  ySel.addEventListener('change', draw);
  const cols = [...sw.swept, ...sw.values];
  main.replaceChildren(
    h('h1', {}, 'Sweep ', h('span', { class: 'mono' }, `step.${name}`), ' of run ', h('a', { class: 'mono', href: `#/run/${sw.run}` }, sw.run)),
    h('div', { class: 'toolbar' }, h('label', {}, 'x', xSel), h('label', {}, 'y', ySel), h('label', {}, logX, 'log x')),
    plotEl,
    h('div', { class: 'scroll' }, h('table', { id: 'sweep-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'instance'), h('th', {}, 'status'), cols.map((c) => h('th', {}, c)))),
      h('tbody', {}, sw.instances.map((inst) => h('tr', { class: 'sweep-row' },
        h('td', { class: 'mono' }, inst.address), h('td', {}, statusBadge(inst.status)),
        cols.map((c) => h('td', { class: 'num' }, c === 'key' ? inst.key : fmtNum(inst.config[c] ?? inst.values[c] ?? '')))))))));
  if (sw.values.length) draw(); else plotEl.append(h('p', { class: 'muted' }, 'The instances recorded no outputs or metrics.'));
  ready('sweep');
}

// ---------------------------------------------------------------- diff

async function diffView(a, b) {
  const d = await api(`/api/diff?${new URLSearchParams({ a, b })}`);
  const rows = (changes) => changes.map((c) => h('tr', { class: 'changed', 'data-key': c.key },
    h('td', { class: 'mono' }, c.key), h('td', { class: 'mono' }, c.in_a ? c.a : '—'), h('td', { class: 'mono' }, c.in_b ? c.b : '—')));
  const table = (changes, label = 'key') => h('table', { class: 'diff-table' },
    h('thead', {}, h('tr', {}, h('th', {}, label), h('th', {}, `A ${d.a.id}`), h('th', {}, `B ${d.b.id}`))), h('tbody', {}, rows(changes)));
  // Variables side by side, changed ones highlighted.
  const names = [...new Set([...Object.keys(d.a.variables || {}), ...Object.keys(d.b.variables || {})])].sort();
  const changedVars = new Set((d.diff.variables || []).map((c) => c.key));
  const varTable = h('table', { id: 'diff-vars', class: 'diff-table' },
    h('thead', {}, h('tr', {}, h('th', {}, 'variable'), h('th', {}, h('a', { href: `#/run/${d.a.id}` }, `A ${d.a.id}`)), h('th', {}, h('a', { href: `#/run/${d.b.id}` }, `B ${d.b.id}`)))),
    h('tbody', {}, names.map((n) => h('tr', { class: changedVars.has(n) ? 'changed' : '', 'data-key': n },
      h('td', { class: 'mono' }, n), h('td', { class: 'mono' }, valueText(d.a.variables[n]) || '—'), h('td', { class: 'mono' }, valueText(d.b.variables[n]) || '—')))));
  const parts = [
    h('h1', {}, 'Diff ', h('span', { class: 'mono' }, d.a.id), ' → ', h('span', { class: 'mono' }, d.b.id)),
    h('div', { class: 'grid2' },
      kvTable([['A', h('span', {}, statusBadge(d.a.status), ` ${d.a.steps} steps, ${d.a.spec.map((s) => s.path).join(', ')}`)]]),
      kvTable([['B', h('span', {}, statusBadge(d.b.status), ` ${d.b.steps} steps, ${d.b.spec.map((s) => s.path).join(', ')}`)]])),
    h('h2', {}, 'Variables'), names.length ? varTable : h('p', { class: 'muted' }, 'none'),
  ];
  if ((d.diff.plugins || []).length) parts.push(h('h2', {}, 'Plugins'), table(d.diff.plugins, 'plugin'));
  const steps = d.diff.steps || [];
  parts.push(h('h2', {}, 'Steps'), steps.length ? '' : h('p', { class: 'muted' }, 'No step differs.'));
  for (const s of steps) {
    const box = h('div', { class: 'card step-diff', 'data-address': s.address }, h('h3', { class: 'mono' }, s.address));
    if (s.only_in) box.append(h('p', {}, `only in run ${s.only_in.toUpperCase()}`));
    const changes = [...(s.status ? [s.status] : []), ...(s.plugin ? [s.plugin] : []),
      ...(s.config || []).map((c) => ({ ...c, key: `config.${c.key}` })),
      ...(s.outputs || []).map((c) => ({ ...c, key: `output.${c.key}` })),
      ...(s.metrics || []).map((c) => ({ ...c, key: `metric.${c.key} (final)` }))];
    if (changes.length) box.append(table(changes));
    parts.push(box);
  }
  main.replaceChildren(...parts);
  ready('diff');
}

// ---------------------------------------------------------------- compare

async function compareView(ids) {
  const runs = await Promise.all(ids.map((id) => api(`/api/runs/${encodeURIComponent(id)}`)));
  const keys = new Set();
  for (const r of runs) for (const st of r.steps) for (const m of st.metrics || []) keys.add(`${st.address}\u0000${m.name}`);
  const opts = [...keys].sort();
  const sel = h('select', { id: 'compare-metric' }, opts.map((k) => h('option', { value: k }, k.replace('\u0000', ' · '))));
  const chartEl = h('div', { id: 'compare-chart' });
  let chart = null;
  onLeave(() => chart && chart.destroy());
  async function draw() {
    const [step, name] = sel.value.split('\u0000');
    const fetchAll = (range = {}) => Promise.all(runs.filter((r) => r.steps.some((st) => st.address === step)).map(async (r) => {
      const s = await api(`/api/runs/${r.run.id}/metrics?${new URLSearchParams({ step, name, ...range })}`);
      return { label: r.run.id, ...s };
    }));
    const series = await fetchAll();
    if (chart) chart.destroy();
    chart = lineChart(chartEl, series, { title: `${step} · ${name}`, refetch: (from, to) => fetchAll({ from, to }) });
  }
  sel.addEventListener('change', draw);
  main.replaceChildren(h('h1', {}, `Compare ${runs.length} runs`),
    h('p', {}, runs.map((r) => h('a', { class: 'mono', style: 'margin-right:1em', href: `#/run/${r.run.id}` }, r.run.id))),
    opts.length ? h('div', { class: 'toolbar' }, h('label', {}, 'metric', sel)) : h('p', { class: 'muted' }, 'These runs recorded no metrics.'), chartEl);
  if (opts.length) await draw();
  ready('compare');
}
