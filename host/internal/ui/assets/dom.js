// Small DOM helpers: no framework, no build step.

// h builds an element: h('a', {href: '#/'}, 'text', child…). Attributes
// starting with "on" are event listeners.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

export async function api(path) {
  const res = await fetch(path, { headers: { Accept: 'application/json' } });
  const body = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

export const statusBadge = (s) => h('span', { class: `status ${s}` }, s);

export function fmtDuration(ms) {
  if (ms == null || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function fmtTime(t) {
  if (!t) return '';
  const d = new Date(t);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtSize(n) {
  if (n < 1024) return `${n} B`;
  const u = ['KiB', 'MiB', 'GiB'];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
  return `${n.toFixed(1)} ${u[i]}`;
}

// valueText renders a recorded value ({type, value, sensitive}).
export function valueText(v) {
  if (!v) return '';
  if (v.sensitive) return '(sensitive)';
  return typeof v.value === 'string' ? v.value : JSON.stringify(v.value);
}

// kvTable renders rows [[key, value]] as a two-column table.
export function kvTable(rows, cls = 'kv') {
  return h('table', { class: cls }, rows.map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', {}, v))));
}

// instanceOf splits step.NAME[KEY] into its step name and key.
export function instanceOf(address) {
  const m = /^step\.([^[]+)(?:\[(.*)\])?$/.exec(address);
  return m ? { name: m[1], key: m[2] ?? null } : { name: address, key: null };
}

// fmtNum renders a number (or a numeric string) with up to 6 significant
// digits; anything else as it is.
export function fmtNum(v) {
  const n = typeof v === 'number' ? v : (typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN);
  if (!Number.isFinite(n)) return v ?? '';
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(6)));
}
