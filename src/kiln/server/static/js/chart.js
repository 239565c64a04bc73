// Line charts of metric series (one or several runs overlaid), drawn as plain SVG.
import { h } from "./dom.js";

export const PALETTE = ["#2f6fde", "#d64545", "#1f9d55", "#c98a06", "#7e57c2", "#00838f", "#6d4c41", "#ad1457"];

// An axis label: a few significant digits, whole numbers as they are.
export function fmt(v) {
  return Math.abs(v) >= 1000 || Number.isInteger(v) ? String(Math.round(v * 100) / 100) : v.toPrecision(3);
}

// Data to pixels for [[x, y], ...] inside margins L, R, T, B; a flat range is widened so it
// still draws.
export function plotScale(points, { width, height, L, R, T, B }) {
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) x1 = x0 + 1;
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (width - L - R);
  const sy = (y) => height - B - ((y - y0) / (y1 - y0)) * (height - T - B);
  return { x0, x1, y0, y1, sx, sy };
}

// series: [{label, points: [[x, y], ...]}]
export function lineChart(series, { width = 460, height = 220, title = "" } = {}) {
  const all = series.flatMap((s) => s.points);
  if (!all.length) return h("div", { class: "muted" }, "no values");
  const L = 48, R = 10, T = 20, B = 24;
  const { x0, x1, y0, y1, sx, sy } = plotScale(all, { width, height, L, R, T, B });
  const lines = series.map((s, i) => h("path", {
    class: "line", stroke: PALETTE[i % PALETTE.length], "data-label": s.label,
    d: s.points.map((p, j) => `${j ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" "),
  }));
  const dots = series.flatMap((s, i) => (s.points.length < 2 ? s.points : []).map((p) =>
    h("circle", { cx: sx(p[0]), cy: sy(p[1]), r: 3, fill: PALETTE[i % PALETTE.length] })));
  return h("div", { class: "chart-box" },
    h("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, "data-title": title },
      h("text", { x: L, y: 13, "font-weight": 600 }, title),
      h("line", { class: "axis", x1: L, y1: height - B, x2: width - R, y2: height - B }),
      h("line", { class: "axis", x1: L, y1: T, x2: L, y2: height - B }),
      h("text", { x: L - 4, y: sy(y1) + 4, "text-anchor": "end" }, fmt(y1)),
      h("text", { x: L - 4, y: sy(y0) + 4, "text-anchor": "end" }, fmt(y0)),
      h("text", { x: L, y: height - 6 }, fmt(x0)),
      h("text", { x: width - R, y: height - 6, "text-anchor": "end" }, fmt(x1)),
      lines, dots),
    series.length > 1 ? h("div", { class: "legend" }, series.map((s, i) =>
      h("span", {}, h("i", { style: `background:${PALETTE[i % PALETTE.length]}` }), s.label))) : null);
}

// {name: [{value, index}]} -> the names that are series (more than one value)
export function seriesOf(metrics) {
  const out = {};
  for (const [name, values] of Object.entries(metrics)) {
    if (values.length > 1) out[name] = values.map((v, i) => [v.index ?? i, v.value]);
  }
  return out;
}
