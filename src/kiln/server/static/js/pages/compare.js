// Runs side by side: parameters and metrics (rows that differ are marked), series overlaid.
import { api } from "../api.js";
import { h, mount, link, num } from "../dom.js";
import { lineChart, seriesOf } from "../chart.js";

export async function comparePage(main, query) {
  const ids = (query.ids || "").split(",").filter(Boolean);
  const cmp = await api("/runs/compare", { query: { ids: ids.join(",") } });
  const runs = cmp.runs;
  const rowsOf = (section) => Object.entries(cmp[section]).map(([name, cells]) => {
    const differs = new Set(cells.map((v) => JSON.stringify(v))).size > 1;
    return h("tr", { class: differs ? "diff" : "" }, h("td", {}, name),
      cells.map((v) => h("td", { class: "num" }, num(v))));
  });
  const head = h("thead", {}, h("tr", {}, h("th", {}, ""), runs.map((id) =>
    h("th", {}, link(`#/runs/${id}`, id, { class: "mono" })))));
  const series = await Promise.all(runs.map((id) => api(`/runs/${id}/metrics`)));
  const names = [...new Set(series.flatMap((s) => Object.keys(seriesOf(s.metrics))))];
  mount(main, h("h1", {}, `Comparing ${runs.length} runs`),
    h("h2", {}, "Parameters"), h("table", { id: "compare-params" }, head.cloneNode(true), h("tbody", {}, rowsOf("params"))),
    h("h2", {}, "Metrics"), h("table", { id: "compare-metrics" }, head.cloneNode(true), h("tbody", {}, rowsOf("metrics"))),
    names.length ? h("h2", {}, "Series") : null,
    h("div", { class: "grid" }, names.map((name) => lineChart(
      runs.map((id, i) => ({ label: id, points: seriesOf(series[i].metrics)[name] || [] })),
      { title: name }))));
}
