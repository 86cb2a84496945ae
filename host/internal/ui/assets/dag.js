// The step DAG as SVG: one node per step (a for_each/count step's
// instances folded into one node with their counts), laid out in columns by
// depth. A few dozen boxes need no layout library.
import { instanceOf } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
const svg = (tag, attrs = {}, ...kids) => {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...kids);
  return el;
};

// Status of a group of instances: the most telling one.
function groupStatus(statuses) {
  for (const s of ['failed', 'running', 'interrupted', 'cancelled', 'skipped']) if (statuses.includes(s)) return s;
  return 'succeeded';
}

export function dagView(container, steps, { selected, onSelect }) {
  const nodes = new Map();
  for (const st of steps) {
    const { name } = instanceOf(st.address);
    if (!nodes.has(name)) nodes.set(name, { name, steps: [], deps: new Set() });
    const n = nodes.get(name);
    n.steps.push(st);
    for (const d of st.depends_on || []) n.deps.add(instanceOf(d).name);
  }
  const level = new Map();
  const depth = (n, seen = new Set()) => {
    if (level.has(n.name)) return level.get(n.name);
    if (seen.has(n.name)) return 0;
    seen.add(n.name);
    let l = 0;
    for (const d of n.deps) if (nodes.has(d)) l = Math.max(l, depth(nodes.get(d), seen) + 1);
    level.set(n.name, l);
    return l;
  };
  const cols = [];
  for (const n of nodes.values()) (cols[depth(n)] ||= []).push(n);
  const W = 190, H = 46, GX = 70, GY = 16;
  const pos = new Map();
  cols.forEach((col, i) => col.forEach((n, j) => pos.set(n.name, { x: 10 + i * (W + GX), y: 10 + j * (H + GY) })));
  const width = 20 + cols.length * (W + GX) - GX;
  const height = 20 + Math.max(1, ...cols.map((c) => c.length)) * (H + GY) - GY;
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}` },
    svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' },
      svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#9aa3ad' }))));
  for (const n of nodes.values()) {
    for (const d of n.deps) {
      const a = pos.get(d), b = pos.get(n.name);
      if (!a) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
      root.append(svg('path', { class: 'edge', d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}` }));
    }
  }
  for (const n of nodes.values()) {
    const p = pos.get(n.name);
    const statuses = n.steps.map((s) => s.status);
    const status = groupStatus(statuses);
    const isSel = n.steps.some((s) => s.address === selected);
    const counts = {};
    for (const s of statuses) counts[s] = (counts[s] || 0) + 1;
    const sub = n.steps.length > 1 || instanceOf(n.steps[0].address).key !== null
      ? `${n.steps.length} instances: ` + Object.entries(counts).map(([s, c]) => `${c} ${s}`).join(', ')
      : status + (n.steps[0].cache_hit ? ' (cached)' : '');
    const g = svg('g', { class: `node ${status}${isSel ? ' sel' : ''}`, 'data-step': n.name, 'data-status': status, transform: `translate(${p.x},${p.y})` },
      svg('title', {}, n.steps.map((s) => `${s.address}: ${s.status}`).join('\n')),
      svg('rect', { width: W, height: H, rx: 6 }),
      svg('text', { x: 10, y: 19, 'font-weight': 600 }, `step.${n.name}`.slice(0, 26)),
      svg('text', { x: 10, y: 36, fill: '#6a7380' }, sub.slice(0, 30)));
    g.addEventListener('click', () => onSelect(n.steps[0].address));
    root.append(g);
  }
  container.replaceChildren(root);
}
