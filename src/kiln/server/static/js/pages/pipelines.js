// Pipelines: upload versions, see a version's graph, start a run from a form generated from its
// parameters' types.
import { api } from "../api.js";
import { flash, h, mount, link, when } from "../dom.js";
import { drawDag } from "../dag.js";

export function uploadForm(onDone) {
  const file = h("input", { type: "file", name: "file", accept: ".ipynb,.py,.json", required: true });
  const name = h("input", { type: "text", name: "name", placeholder: "name (default: the pipeline's own)" });
  const entry = h("input", { type: "text", name: "entry", placeholder: "module.py: @kiln.pipeline function" });
  return h("form", { id: "upload-pipeline", onsubmit: async (e) => {
    e.preventDefault();
    const form = new FormData();
    form.append("file", file.files[0]);
    if (name.value) form.append("name", name.value);
    if (entry.value) form.append("entry", entry.value);
    try {
      const v = await api("/pipelines", { method: "POST", form });
      flash(`uploaded ${v.pipeline} version ${v.number}`, true);
      if (onDone) onDone(v); else location.hash = `#/pipelines/${encodeURIComponent(v.pipeline)}`;
    } catch (err) { flash(err.message); }
  } }, h("label", { class: "field" }, h("span", {}, "File"), file),
  h("label", { class: "field" }, h("span", {}, "Name"), name),
  h("label", { class: "field" }, h("span", {}, "Entry"), entry),
  h("button", { class: "primary", type: "submit" }, "Upload"));
}

export async function pipelinesPage(main) {
  const ps = await api("/pipelines");
  mount(main, h("h1", {}, "Pipelines"),
    h("div", { class: "card" }, h("h2", {}, "Upload a notebook, module or spec"), uploadForm()),
    ps.length ? h("table", {},
      h("thead", {}, h("tr", {}, ["Pipeline", "Versions", "Latest", "Runs", "Description"].map((x) => h("th", {}, x)))),
      h("tbody", {}, ps.map((p) => h("tr", {},
        h("td", {}, link(`#/pipelines/${encodeURIComponent(p.name)}`, p.name)),
        h("td", { class: "num" }, p.versions),
        h("td", {}, p.latest ? `v${p.latest.number} · ${when(p.latest.created_at)}` : ""),
        h("td", { class: "num" }, link(`#/runs?filter=${encodeURIComponent(`pipeline = ${p.name}`)}`, String(p.runs))),
        h("td", { class: "muted" }, p.description)))))
      : h("p", { class: "muted" }, "Nothing uploaded yet."));
}

function paramInput(p) {
  const v = p.default;
  switch (p.type) {
    case "int": return h("input", { type: "number", step: "1", name: p.name, value: v ?? "", "data-type": p.type });
    case "float": return h("input", { type: "number", step: "any", name: p.name, value: v ?? "", "data-type": p.type });
    case "bool": return h("input", { type: "checkbox", name: p.name, checked: !!v, "data-type": p.type });
    case "list": case "dict": return h("textarea", { name: p.name, rows: 2, "data-type": p.type }, JSON.stringify(v));
    default: return h("input", { type: "text", name: p.name, value: v ?? "", "data-type": p.type });
  }
}

function readParam(el) {
  const t = el.dataset.type;
  if (t === "bool") return el.checked;
  if (t === "int" || t === "float") return el.value === "" ? null : Number(el.value);
  if (t === "list" || t === "dict") { try { return JSON.parse(el.value); } catch { return el.value; } }
  return el.value;
}

export async function pipelinePage(main, query, name) {
  const p = await api(`/pipelines/${encodeURIComponent(name)}`);
  const number = Number(query.v) || p.latest.number;
  const v = await api(`/pipelines/${encodeURIComponent(name)}/versions/${number}`);
  const fields = v.parameters.map((prm) => h("label", { class: "field" },
    h("span", {}, `${prm.name} (${prm.type})`), paramInput(prm)));
  const experiment = h("input", { type: "text", name: "experiment", placeholder: v.spec.experiment || "experiment (optional)" });
  const labels = h("input", { type: "text", name: "labels", placeholder: "team=vision, purpose=test" });
  const runName = h("input", { type: "text", name: "run-name", placeholder: "made up when empty, e.g. brisk-otter-417" });
  const problem = h("div", { id: "run-form-errors" });
  const form = h("form", { id: "run-form", class: "card", onsubmit: async (e) => {
    e.preventDefault();
    const params = {};
    for (const el of form.querySelectorAll("[data-type]")) {
      const val = readParam(el);
      if (val !== null) params[el.name] = val;
    }
    const lab = Object.fromEntries(labels.value.split(",").map((x) => x.trim()).filter(Boolean)
      .map((x) => { const i = x.indexOf("="); return i < 0 ? [x, ""] : [x.slice(0, i).trim(), x.slice(i + 1).trim()]; }));
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const run = await api("/runs", { method: "POST", json: { pipeline: name, version: number, params,
        experiment: experiment.value || null, labels: lab, name: runName.value.trim() || null } });
      location.hash = `#/runs/${run.id}`;
    } catch (err) {
      // beside the form, where the user can fix what they typed
      mount(problem, h("p", { class: "error", role: "alert" }, err.message));
      button.disabled = false;
    }
  } }, h("h2", {}, `Run version ${number}`), fields.length ? fields : h("p", { class: "muted" }, "No parameters."),
  h("label", { class: "field" }, h("span", {}, "Experiment"), experiment),
  h("label", { class: "field" }, h("span", {}, "Labels"), labels),
  h("label", { class: "field" }, h("span", {}, "Run name"), runName), problem,
  h("button", { class: "primary", type: "submit", id: "start-run" }, "Start run"));
  mount(main, h("h1", {}, `Pipeline ${p.name}`),
    p.description ? h("p", { class: "muted" }, p.description) : null,
    h("div", { class: "split" },
      h("div", {},
        h("div", { class: "card" }, h("h2", {}, `Version ${number} · ${v.filename}`), drawDag(v.graph, {}, { available: main.clientWidth / 2 - 60 })),
        h("div", { class: "card" }, h("h2", {}, "Versions"), h("ul", { class: "timeline" }, p.all_versions.map((x) =>
          h("li", {}, x.number === number ? h("b", {}, `v${x.number}`) :
            link(`#/pipelines/${encodeURIComponent(name)}?v=${x.number}`, `v${x.number}`),
          h("span", { class: "muted" }, ` · ${x.filename} · ${when(x.created_at)} `), x.message))),
        h("div", { class: "card" }, h("h2", {}, "Upload a new version"), uploadForm()))),
      form));
}
