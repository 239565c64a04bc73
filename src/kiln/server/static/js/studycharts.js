// A tuning study drawn: each trial's objective with the running best, and parallel
// coordinates of the parameters against the objective (Katib UI's two graphs).
import { h } from "./dom.js";
import { fmt as fmtNumber, plotScale } from "./chart.js";

const STATE_COLOURS = { complete: "#2f6fde", pruned: "#c98a06", failed: "#d64545", running: "#9aa5b1" };
const fmt = (v) => (typeof v !== "number" ? String(v) : fmtNumber(v));

// The value a trial is shown at: its objective, or the last value a pruned trial reported.
export function shownValue(t) {
  return t.value ?? (t.state === "pruned" ? t.last_reported : null);
}

// Objective per trial (dots coloured by state) and the best so far (a step line).
export function objectiveChart(trials, { metric, direction, best, width = 520, height = 240 }) {
  const pts = trials.map((t) => [t.number, shownValue(t), t]).filter((p) => typeof p[1] === "number");
  if (!pts.length) return h("p", { class: "muted" }, "No trial has a value yet.");
  const better = (a, b) => (direction === "minimize" ? a < b : a > b);
  const running = [];
  let cur = null;
  for (const [x, y, t] of pts) {
    if (t.state === "complete" && (cur === null || better(y, cur))) cur = y;
    if (cur !== null) running.push([x, cur]);
  }
  const L = 52, R = 12, T = 22, B = 28;
  const { x0, x1, y0, y1, sx, sy } = plotScale(pts, { width, height, L, R, T, B });
  const line = running.map((p, i) => (i ? `H${sx(p[0]).toFixed(1)}V${sy(p[1]).toFixed(1)}`
    : `M${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`)).join("");
  return h("div", { class: "chart-box" },
    h("svg", { class: "chart", id: "objective-chart", width, height, viewBox: `0 0 ${width} ${height}` },
      h("text", { x: L, y: 14, "font-weight": 600 }, `${metric} per trial (${direction})`),
      h("line", { class: "axis", x1: L, y1: height - B, x2: width - R, y2: height - B }),
      h("line", { class: "axis", x1: L, y1: T, x2: L, y2: height - B }),
      h("text", { x: L - 4, y: sy(y1) + 4, "text-anchor": "end" }, fmt(y1)),
      h("text", { x: L - 4, y: sy(y0) + 4, "text-anchor": "end" }, fmt(y0)),
      h("text", { x: L, y: height - 8 }, `trial ${x0}`),
      h("text", { x: width - R, y: height - 8, "text-anchor": "end" }, `trial ${x1}`),
      running.length ? h("path", { class: "line best-line", stroke: "#1f9d55", d: line }) : null,
      pts.map(([x, y, t]) => h("circle", { cx: sx(x), cy: sy(y), r: best === t.number ? 6 : 4,
        fill: STATE_COLOURS[t.state] || "#9aa5b1", "data-trial": t.number, "data-state": t.state,
        class: best === t.number ? "best-dot" : "" },
      h("title", {}, `trial ${t.number} (${t.state}): ${fmt(y)}`)))),
    h("div", { class: "legend" },
      Object.entries(STATE_COLOURS).slice(0, 3).map(([s, c]) => h("span", {}, h("i", { style: `background:${c}` }),
        s === "pruned" ? "pruned (last reported value)" : s)),
      h("span", {}, h("i", { style: "background:#1f9d55" }), "best so far")));
}

// One vertical axis per parameter and one for the objective; each trial with a value is a
// line across them, darker for better values; the best trial drawn on top, thick.
export function parallelCoordinates(trials, parameters, { metric, direction, best, width = 720, height = 280 }) {
  const done = trials.filter((t) => typeof shownValue(t) === "number");
  if (!done.length || !parameters.length) return h("p", { class: "muted" }, "No trial has a value yet.");
  const axes = parameters.map((p) => {
    const name = p.name;
    const values = done.map((t) => t.params[name]);
    const numeric = values.every((v) => typeof v === "number");
    if (numeric) {
      const log = p.feasibleSpace?.distribution === "logUniform" || p.log;
      const f = (v) => (log && v > 0 ? Math.log10(v) : v);
      let lo = Math.min(...values.map(f)), hi = Math.max(...values.map(f));
      if (lo === hi) { lo -= 1; hi += 1; }
      return { name, pos: (v) => (f(v) - lo) / (hi - lo), ticks: [[0, Math.min(...values)], [1, Math.max(...values)]] };
    }
    const cats = [...new Set([...(p.feasibleSpace?.list || []), ...values.map(String)])];
    const step = cats.length > 1 ? 1 / (cats.length - 1) : 0;
    return { name, pos: (v) => (cats.length > 1 ? cats.indexOf(String(v)) * step : 0.5),
      ticks: cats.map((c, i) => [cats.length > 1 ? i * step : 0.5, c]) };
  });
  const vals = done.map(shownValue);
  let lo = Math.min(...vals), hi = Math.max(...vals);
  if (lo === hi) { lo -= 1; hi += 1; }
  axes.push({ name: metric, objective: true, pos: (v) => (v - lo) / (hi - lo), ticks: [[0, lo], [1, hi]] });
  const L = 40, R = 60, T = 30, B = 24;
  const ax = (i) => L + (i * (width - L - R)) / Math.max(1, axes.length - 1);
  const ay = (f) => height - B - f * (height - T - B);
  const goodness = (v) => { const f = (v - lo) / (hi - lo); return direction === "minimize" ? 1 - f : f; };
  const lineOf = (t) => axes.map((a, i) => `${i ? "L" : "M"}${ax(i).toFixed(1)},${ay(a.pos(a.objective ? shownValue(t) : t.params[a.name])).toFixed(1)}`).join("");
  const ordered = [...done].sort((a, b) => (a.number === best) - (b.number === best));
  return h("svg", { class: "chart parallel", id: "parallel-chart", width, height, viewBox: `0 0 ${width} ${height}` },
    h("text", { x: 4, y: 14, "font-weight": 600 }, `parameters against ${metric}`),
    ordered.map((t) => h("path", { class: "pc-line", d: lineOf(t), "data-trial": t.number,
      stroke: t.number === best ? "#1f9d55" : t.state === "pruned" ? "#c98a06" : "#2f6fde",
      "stroke-width": t.number === best ? 3.5 : 1.5,
      "stroke-opacity": t.number === best ? 1 : (0.25 + 0.6 * goodness(shownValue(t))).toFixed(2),
      "stroke-dasharray": t.state === "pruned" ? "4 3" : null, fill: "none" },
    h("title", {}, `trial ${t.number}: ${Object.entries(t.params).map(([k, v]) => `${k}=${fmt(v)}`).join(", ")} → ${fmt(shownValue(t))}`))),
    axes.map((a, i) => h("g", { class: "pc-axis", "data-axis": a.name },
      h("line", { class: "axis", x1: ax(i), y1: T, x2: ax(i), y2: height - B }),
      h("text", { x: ax(i), y: T - 8, "text-anchor": "middle", "font-weight": a.objective ? 600 : 400 }, a.name),
      a.ticks.slice(0, 8).map(([f, label]) => h("text", { x: ax(i) + 4, y: ay(f) + 4 }, fmt(label))))));
}
