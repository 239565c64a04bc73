// The pipeline graph, drawn left to right: a step's column is the longest path to it from a
// source, and steps in a column are ordered by where their parents sit (fewer crossings).
import { h } from "./dom.js";

const W = 160, H = 40, GX = 60, GY = 18;
const COLOURS = { succeeded: "#1f9d55", failed: "#d64545", running: "#2f6fde", cached: "#7e57c2",
  cancelled: "#9aa5b1", skipped: "#9aa5b1", queued: "#b8c2cc", idle: "#52606d" };

export function layout(graph) {
  const parents = new Map(graph.nodes.map((n) => [n.id, []]));
  for (const e of graph.edges) if (parents.has(e.to) && parents.has(e.from)) parents.get(e.to).push(e.from);
  const depth = new Map();
  const visit = (id, seen = new Set()) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0;  // a cycle cannot be run; draw it anyway
    seen.add(id);
    const d = Math.max(-1, ...parents.get(id).map((p) => visit(p, seen))) + 1;
    depth.set(id, d);
    return d;
  };
  graph.nodes.forEach((n) => visit(n.id));
  const columns = [];
  for (const n of graph.nodes) (columns[depth.get(n.id)] ||= []).push(n.id);
  const pos = new Map();
  columns.forEach((col, x) => {
    const order = col.map((id) => {
      const ps = parents.get(id).filter((p) => pos.has(p));
      const bary = ps.length ? ps.reduce((a, p) => a + pos.get(p).row, 0) / ps.length : 0;
      return [bary, id];
    }).sort((a, b) => a[0] - b[0]);
    order.forEach(([, id], row) => pos.set(id, { col: x, row }));
  });
  const rows = Math.max(1, ...columns.map((c) => c.length));
  return { pos, width: columns.length * (W + GX) - GX + 20, height: rows * (H + GY) - GY + 20 };
}

// states: step -> {status, duration, cached}; onSelect(step) when a node is clicked
export function drawDag(graph, states = {}, { selected, onSelect } = {}) {
  const { pos, width, height } = layout(graph);
  const at = (id) => { const p = pos.get(id); return { x: 10 + p.col * (W + GX), y: 10 + p.row * (H + GY) }; };
  const edges = graph.edges.filter((e) => pos.has(e.from) && pos.has(e.to)).map((e) => {
    const a = at(e.from), b = at(e.to);
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
    return h("path", { class: "edge", d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}` },
      h("title", {}, e.name ? `${e.from}.${e.name} → ${e.to}` : `${e.from} → ${e.to}`));
  });
  const nodes = graph.nodes.map((n) => {
    const s = states[n.id] || {};
    const status = s.cached ? "cached" : (s.status || "idle");
    const { x, y } = at(n.id);
    const label = n.id.length > 20 ? n.id.slice(0, 19) + "…" : n.id;
    const sub = [s.cached ? "cached" : s.status, s.duration].filter(Boolean).join(" · ");
    return h("g", { class: `node${selected === n.id ? " selected" : ""}`, "data-step": n.id,
      "data-status": status, transform: `translate(${x},${y})`,
      onclick: () => onSelect && onSelect(n.id) },
    h("rect", { width: W, height: H, rx: 6, fill: COLOURS[status] || COLOURS.idle }),
    h("text", { x: 10, y: sub ? 16 : 24 }, label),
    sub ? h("text", { x: 10, y: 31, "font-size": 11, opacity: 0.9 }, sub) : null,
    h("title", {}, `${n.id}: ${status}`));
  });
  return h("svg", { class: "dag", width, height, viewBox: `0 0 ${width} ${height}` }, edges, nodes);
}
