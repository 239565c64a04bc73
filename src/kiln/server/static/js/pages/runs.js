// The run list: filter and sort with the same grammar as `kiln runs ls`, pages from the server.
import { api } from "../api.js";
import { badge, h, mount, link, num, seconds, when } from "../dom.js";

export function runsTable(runs, { selectable = false, selected = new Set() } = {}) {
  if (!runs.length) return h("p", { class: "muted" }, "No runs.");
  const metricNames = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].slice(0, 4);
  return h("table", { class: "runs" },
    h("thead", {}, h("tr", {}, selectable ? h("th", {}, "") : null,
      ["Run", "Name", "Pipeline", "Experiment", "Status", "Started", "Duration", ...metricNames, "Labels"]
        .map((x) => h("th", {}, x)))),
    h("tbody", {}, runs.map((r) => h("tr", { "data-run": r.id },
      selectable ? h("td", {}, h("input", { type: "checkbox", "data-select": r.id,
        checked: selected.has(r.id),
        onchange: (e) => (e.target.checked ? selected.add(r.id) : selected.delete(r.id)) })) : null,
      h("td", { class: "mono" }, link(`#/runs/${r.id}`, r.id)),
      h("td", {}, r.name ? link(`#/runs/${r.id}`, r.name) : ""),
      h("td", {}, r.pipeline),
      h("td", {}, r.experiment || ""),
      h("td", {}, badge(r.status)),
      h("td", {}, when(r.created_at)),
      h("td", { class: "num" }, seconds(r.duration)),
      metricNames.map((m) => h("td", { class: "num" }, num(r.metrics[m]))),
      h("td", {}, Object.entries(r.labels || {}).map(([k, v]) => h("span", { class: "tag" }, `${k}=${v}`)))))));
}

export async function runsPage(main, query) {
  const selected = new Set();
  const filter = h("input", { type: "text", name: "filter", value: query.filter || "", size: 48,
    placeholder: "metrics.accuracy > 0.9 and labels.team = vision" });
  const sort = h("input", { type: "text", name: "sort", value: query.sort || "", size: 20, placeholder: "-metrics.accuracy" });
  const archived = h("input", { type: "checkbox", name: "archived", checked: query.archived === "true" });
  const go = (extra = {}) => {
    const q = new URLSearchParams({ ...(filter.value && { filter: filter.value }), ...(sort.value && { sort: sort.value }),
      ...(archived.checked && { archived: "true" }), ...extra });
    location.hash = `#/runs?${q}`;
  };
  let page, problem = null;
  try {
    page = await api("/runs", { query: { limit: 25, filter: query.filter, sort: query.sort,
      archived: query.archived, before: query.before, offset: query.offset } });
  } catch (e) {
    if (e.status !== 400 && e.status !== 422) throw e;
    // a filter or sort the server refused: say so under the boxes, keeping what was typed
    page = { runs: [], next: null };
    problem = h("p", { class: "error", role: "alert", id: "filter-error" }, e.message);
  }
  const compare = h("button", { class: "primary", id: "compare", onclick: () => {
    if (selected.size < 2) return alert("Select two or more runs to compare.");
    location.hash = `#/compare?ids=${[...selected].join(",")}`;
  } }, "Compare selected");
  const next = page.next ? h("button", { id: "next-page", onclick: () =>
    go(query.sort ? { offset: page.next } : { before: page.next }) }, "Next page →") : null;
  mount(main,
    h("h1", {}, "Runs"),
    h("form", { class: "inline card", onsubmit: (e) => { e.preventDefault(); go(); } },
      filter, sort, h("label", {}, archived, " archived"), h("button", { type: "submit" }, "Apply"), problem),
    h("div", { class: "actions" }, compare),
    runsTable(page.runs, { selectable: true, selected }),
    h("div", { class: "pager" }, (query.before || query.offset) ? link("#/runs", "← First page") : null, next));
}
