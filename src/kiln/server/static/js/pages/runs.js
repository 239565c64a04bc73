// The run list: filter and sort with the same grammar as `kiln runs ls`, pages from the
// server, the parameter and metric columns the user picks (kept in this browser), and
// click-to-sort on any sortable column.
import { api } from "../api.js";
import { badge, h, mount, link, num, seconds, when } from "../dom.js";

const COLUMNS_KEY = "kiln-run-columns";

function chosenColumns() {
  try { return JSON.parse(localStorage.getItem(COLUMNS_KEY)) || null; } catch { return null; }
}

// columns: {params: [...], metrics: [...]}; sort: the current sort text; onSort(key) when a
// sortable header is clicked
export function runsTable(runs, { selectable = false, selected = new Set(), columns = null, sort = "", onSort = null } = {}) {
  if (!runs.length) return h("p", { class: "muted" }, "No runs.");
  const cols = columns || { params: [], metrics: [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].slice(0, 4) };
  const head = (label, key) => {
    if (!onSort || !key) return h("th", {}, label);
    const state = sort === key ? "asc" : sort === `-${key}` ? "desc" : "";
    return h("th", { class: `sortable ${state}`, "data-sort": key, title: "click to sort",
      "aria-sort": state === "asc" ? "ascending" : state === "desc" ? "descending" : "none",
      onclick: () => onSort(sort === `-${key}` ? key : `-${key}`) }, label, state === "asc" ? " ▲" : state === "desc" ? " ▼" : "");
  };
  return h("table", { class: "runs", id: "runs-table" },
    h("thead", {}, h("tr", {}, selectable ? h("th", {}, "") : null,
      head("Run"), head("Name"), head("Pipeline"), head("Experiment"), head("Status"), head("Started", "created"), head("Duration"),
      cols.params.map((p) => head(p, `params.${p}`)), cols.metrics.map((m) => head(m, `metrics.${m}`)), head("Labels"))),
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
      cols.params.map((p) => h("td", { class: "num", "data-param": p }, num((r.params || {})[p]))),
      cols.metrics.map((m) => h("td", { class: "num", "data-metric": m }, num(r.metrics[m]))),
      h("td", {}, Object.entries(r.labels || {}).map(([k, v]) => h("span", { class: "tag" }, `${k}=${v}`)))))));
}

// A checkbox list of the parameters and metrics the runs on this page have (and any chosen
// before), saved in this browser.
function columnPicker(runs, columns, redraw) {
  const names = (kind) => [...new Set([...columns[kind], ...runs.flatMap((r) => Object.keys(r[kind] || {}))])].sort();
  const box = (kind, name) => h("label", { class: "pick" }, h("input", { type: "checkbox", "data-column": `${kind}.${name}`,
    checked: columns[kind].includes(name), onchange: (e) => {
      columns[kind] = e.target.checked ? [...columns[kind], name] : columns[kind].filter((x) => x !== name);
      localStorage.setItem(COLUMNS_KEY, JSON.stringify(columns));
      redraw();
    } }), ` ${name}`);
  const params = names("params"), metrics = names("metrics");
  return h("details", { class: "columns", id: "column-picker" }, h("summary", {}, "Columns"),
    h("div", {}, h("b", {}, "Parameters: "), params.length ? params.map((n) => box("params", n)) : h("span", { class: "muted" }, "none")),
    h("div", {}, h("b", {}, "Metrics: "), metrics.length ? metrics.map((n) => box("metrics", n)) : h("span", { class: "muted" }, "none")));
}

export async function runsPage(main, query) {
  const selected = new Set();
  const filter = h("input", { type: "text", name: "filter", value: query.filter || "", size: 48,
    placeholder: "metrics.accuracy > 0.9 and labels.team = vision" });
  const sort = h("input", { type: "text", name: "sort", value: query.sort || "", size: 20, placeholder: "-metrics.accuracy" });
  const archived = h("input", { type: "checkbox", name: "archived", checked: query.archived === "true" });
  const size = Math.min(500, Math.max(10, Number(query.size) || 25));
  const go = (extra = {}) => {
    const q = new URLSearchParams({ ...(filter.value && { filter: filter.value }), ...(sort.value && { sort: sort.value }),
      ...(archived.checked && { archived: "true" }), ...(size !== 25 && { size }), ...extra });
    location.hash = `#/runs?${q}`;
  };
  let page, problem = null;
  try {
    page = await api("/runs", { query: { limit: size, filter: query.filter, sort: query.sort,
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
  const pageSize = h("select", { id: "page-size", onchange: (e) => {
    const q = new URLSearchParams(location.hash.split("?")[1] || "");
    q.set("size", e.target.value); q.delete("before"); q.delete("offset");
    location.hash = `#/runs?${q}`;
  } }, [25, 50, 100, 500].map((n) => h("option", { value: n, selected: n === size }, `${n} per page`)));
  const columns = chosenColumns() || { params: [], metrics: [...new Set(page.runs.flatMap((r) => Object.keys(r.metrics)))].slice(0, 4) };
  const tableBox = h("div", {});
  const drawTable = () => mount(tableBox, runsTable(page.runs, { selectable: true, selected, columns,
    sort: query.sort || "", onSort: (key) => { sort.value = key; go(); } }));
  drawTable();
  mount(main,
    h("h1", {}, "Runs"),
    h("form", { class: "inline card", onsubmit: (e) => { e.preventDefault(); go(); } },
      filter, sort, h("label", {}, archived, " archived"), h("button", { type: "submit" }, "Apply"), problem),
    h("div", { class: "actions" }, compare, columnPicker(page.runs, columns, drawTable)),
    tableBox,
    h("div", { class: "pager" }, (query.before || query.offset) ? link(`#/runs${size !== 25 ? `?size=${size}` : ""}`, "← First page") : null,
      next, pageSize));
}
