// The pipeline graph as a layered drawing: a step's layer is the longest path to it from a
// source, and steps in a layer are ordered by where their parents sit (fewer crossings).
// Layers run left to right, or top to bottom when that keeps the drawing narrower (a long
// chain), so a 20-step chain and a 50-step fan-out both fit the card's width. The view
// fits to width on first draw, zooms (buttons, ctrl/⌘ + wheel) and pans (drag, or the
// scroll bars) — native scrolling, so keyboard, touch and tests reach every node.
// Hand-written (about 100 lines) rather than a layout library: the graphs are DAGs with
// a few hundred nodes at most, and layering plus barycentre ordering reads well for them.
import { h } from "./dom.js";

const W = 160, H = 40, GAP_LAYER = 60, GAP_ROW = 18;
const COLOURS = { succeeded: "#1f9d55", failed: "#d64545", running: "#2f6fde", cached: "#7e57c2",
  cancelled: "#9aa5b1", skipped: "#9aa5b1", queued: "#b8c2cc", idle: "#52606d", artifact: "#8a6d3b",
  root: "#c98a06" };
const MIN_FIT = 0.45;  // below this labels cannot be read: scroll instead of shrinking

export function layout(graph, available = 900) {
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
  const layers = [];
  for (const n of graph.nodes) (layers[depth.get(n.id)] ||= []).push(n.id);
  const slot = new Map();
  layers.forEach((layer, l) => {
    const order = layer.map((id) => {
      const ps = parents.get(id).filter((p) => slot.has(p));
      const bary = ps.length ? ps.reduce((a, p) => a + slot.get(p).slot, 0) / ps.length : 0;
      return [bary, id];
    }).sort((a, b) => a[0] - b[0]);
    order.forEach(([, id], i) => slot.set(id, { layer: l, slot: i }));
  });
  const breadth = Math.max(1, ...layers.map((c) => c.length));
  const across = layers.length * (W + GAP_LAYER) - GAP_LAYER + 20;  // width when left to right
  const down = breadth * (W + GAP_ROW) - GAP_ROW + 20;               // width when top to bottom
  // left to right unless it overflows and top to bottom would not overflow as much
  const vertical = across > available && down < across;
  const pos = new Map();
  for (const [id, { layer, slot: i }] of slot) {
    pos.set(id, vertical
      ? { x: 10 + i * (W + GAP_ROW), y: 10 + layer * (H + GAP_LAYER) }
      : { x: 10 + layer * (W + GAP_LAYER), y: 10 + i * (H + GAP_ROW) });
  }
  const width = vertical ? down : across;
  const height = vertical ? layers.length * (H + GAP_LAYER) - GAP_LAYER + 20 : breadth * (H + GAP_ROW) - GAP_ROW + 20;
  return { pos, width, height, vertical };
}

function edgePath(a, b, vertical) {
  if (vertical) {
    const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y - 3;
    return `M${x1},${y1} C${x1},${y1 + GAP_LAYER / 2} ${x2},${y2 - GAP_LAYER / 2} ${x2},${y2}`;
  }
  const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x - 3, y2 = b.y + H / 2;
  return `M${x1},${y1} C${x1 + GAP_LAYER / 2},${y1} ${x2 - GAP_LAYER / 2},${y2} ${x2},${y2}`;
}

// states: step -> {status, duration, cached}; onSelect(step) when a node is clicked;
// `available`: the width the drawing may take (the card's) on first draw.
// Returns the view (a div with its toolbar); redraw it with the same `view` to keep the
// user's zoom and scroll position while a run's states change.
export function drawDag(graph, states = {}, { selected, onSelect, view, available: room, noun = "step" } = {}) {
  const available = Math.max(320, (view?.clientWidth || room || 900) - 4);
  const { pos, width, height, vertical } = layout(graph, available);
  const edges = graph.edges.filter((e) => pos.has(e.from) && pos.has(e.to)).map((e) =>
    h("path", { class: "edge", d: edgePath(pos.get(e.from), pos.get(e.to), vertical), "marker-end": "url(#dag-arrow)" },
      h("title", {}, e.name ? `${e.from}.${e.name} → ${e.to}` : `${e.from} → ${e.to}`)));
  const nodes = graph.nodes.map((n) => {
    const s = states[n.id] || {};
    const status = s.cached ? "cached" : (s.status || "idle");
    const { x, y } = pos.get(n.id);
    const text = n.label || n.id;
    const label = text.length > 20 ? text.slice(0, 19) + "…" : text;
    const sub = n.sub || [s.cached ? "cached" : s.status, s.duration].filter(Boolean).join(" · ");
    return h("g", { class: `node${selected === n.id ? " selected" : ""}${n.kind ? ` ${n.kind}` : ""}`, "data-step": n.id,
      "data-status": status, transform: `translate(${x},${y})`, tabindex: 0, role: "button",
      "aria-label": `step ${n.id}: ${status}`,
      onclick: () => onSelect && onSelect(n.id),
      onkeydown: (ev) => { if ((ev.key === "Enter" || ev.key === " ") && onSelect) { ev.preventDefault(); onSelect(n.id); } } },
    h("rect", { width: W, height: H, rx: 6, fill: COLOURS[status] || COLOURS.idle }),
    h("text", { x: 10, y: sub ? 16 : 24 }, label),
    sub ? h("text", { x: 10, y: 31, "font-size": 11, opacity: 0.9 }, sub) : null,
    h("title", {}, n.title || `${n.id}: ${status}`));
  });
  const arrow = h("defs", {}, h("marker", { id: "dag-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, h("path", { d: "M0,0 L10,5 L0,10 z", fill: "#9aa5b1" })));
  const svg = h("svg", { class: "dag", viewBox: `0 0 ${width} ${height}`, "data-vertical": vertical ? "1" : "0",
    "data-width": width, "data-height": height }, arrow, edges, nodes);

  const first = !view;
  view ||= h("div", { class: "dag-view" });
  const scroller = view.querySelector(".dag-scroll") || h("div", { class: "dag-scroll" });
  // The toolbar and the pan/zoom handlers are made once per view and act on the latest
  // drawing, kept here (a redraw replaces the svg).
  const fit = () => Math.max(MIN_FIT, Math.min(1, available / width));
  const st = view.dagState ||= { zoom: fit() };
  Object.assign(st, { svg, width, height, fit });
  st.apply = () => {
    view.dataset.zoom = String(st.zoom);
    st.svg.setAttribute("width", Math.round(st.width * st.zoom));
    st.svg.setAttribute("height", Math.round(st.height * st.zoom));
    const label = view.querySelector(".dag-zoom");
    if (label) label.textContent = `${Math.round(st.zoom * 100)}%`;
  };
  if (first) {
    const setZoom = (z, cx = scroller.clientWidth / 2, cy = scroller.clientHeight / 2) => {
      // keep the point under (cx, cy) where it is
      const ratio = Math.min(3, Math.max(0.1, z)) / st.zoom;
      const sx = (scroller.scrollLeft + cx) * ratio - cx, sy = (scroller.scrollTop + cy) * ratio - cy;
      st.zoom *= ratio;
      st.apply();
      scroller.scrollLeft = sx; scroller.scrollTop = sy;
    };
    const tool = (label, title, fn) => h("button", { type: "button", class: "small", title, "aria-label": title, onclick: fn }, label);
    view.append(h("div", { class: "dag-tools" },
      tool("−", "zoom out", () => setZoom(st.zoom / 1.25)), h("span", { class: "dag-zoom muted" }),
      tool("+", "zoom in", () => setZoom(st.zoom * 1.25)),
      tool("Fit", "fit to width", () => { st.zoom = st.fit(); st.apply(); }),
      tool("100%", "actual size", () => setZoom(1)),
      h("span", { class: "muted dag-count" })), scroller);
    scroller.addEventListener("wheel", (ev) => {
      if (!ev.ctrlKey && !ev.metaKey) return;  // a plain wheel scrolls the page as usual
      ev.preventDefault();
      const r = scroller.getBoundingClientRect();
      setZoom(st.zoom * (ev.deltaY < 0 ? 1.1 : 1 / 1.1), ev.clientX - r.left, ev.clientY - r.top);
    }, { passive: false });
    let drag = null;  // pan by dragging the background
    scroller.addEventListener("pointerdown", (ev) => {
      if (ev.target.closest("g.node")) return;
      drag = { x: ev.clientX, y: ev.clientY, l: scroller.scrollLeft, t: scroller.scrollTop };
      scroller.classList.add("panning");
    });
    window.addEventListener("pointermove", (ev) => {
      if (!drag) return;
      scroller.scrollLeft = drag.l - (ev.clientX - drag.x);
      scroller.scrollTop = drag.t - (ev.clientY - drag.y);
    });
    window.addEventListener("pointerup", () => { drag = null; scroller.classList.remove("panning"); });
  }
  const count = view.querySelector(".dag-count");
  if (count) count.textContent = `${graph.nodes.length} ${noun}${graph.nodes.length === 1 ? "" : "s"}`;
  scroller.replaceChildren(svg);
  st.apply();
  return view;
}
