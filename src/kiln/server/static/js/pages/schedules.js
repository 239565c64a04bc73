// Recurring runs: each schedule with its next and last start, pause/resume and delete, and a
// form to create one for an uploaded pipeline (the same checks as `kiln schedule create`).
import { api } from "../api.js";
import { flash, h, link, mount, when } from "../dom.js";

export async function schedulesPage(main) {
  const [items, pipelines] = await Promise.all([api("/schedules"), api("/pipelines")]);
  const field = (name, attrs = {}) => h("input", { name, ...attrs });
  const labelled = (text, input) => h("label", { class: "field" }, h("span", {}, text), input);
  const problem = h("div", { id: "schedule-errors" });
  const form = h("form", { class: "card", id: "new-schedule", onsubmit: async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const how = f.get("how"), value = f.get("value");
    let params = {};
    const refuse = (msg) => mount(problem, h("p", { class: "error", role: "alert" }, msg));
    try { params = JSON.parse(f.get("params") || "{}"); } catch { refuse("Parameters must be JSON, e.g. {\"n\": 3}"); return; }
    try {
      await api("/schedules", { method: "POST", json: {
        name: f.get("name"), pipeline: f.get("pipeline"), params,
        every: how === "every" ? value : null, cron: how === "cron" ? value : null,
        max_concurrency: Number(f.get("max_concurrency") || 1),
      } });
    } catch (err) { refuse(err.message); return; }
    flash(`schedule ${f.get("name")} created`, true);
    schedulesPage(main);
  } },
  h("h2", {}, "New schedule"),
  labelled("Name", field("name", { placeholder: "e.g. nightly", required: true })),
  labelled("Pipeline", h("select", { name: "pipeline", required: true }, pipelines.map((p) => h("option", { value: p.name }, p.name)))),
  labelled("Repeat", h("span", {},
    h("select", { name: "how" }, h("option", { value: "every" }, "every"), h("option", { value: "cron" }, "on cron (UTC)")), " ",
    field("value", { placeholder: "1h, 30m, 1d — or 0 3 * * *", required: true }))),
  labelled("Runs at once, at most", field("max_concurrency", { type: "number", min: 1, max: 100, value: 1 })),
  labelled("Parameters (JSON)", field("params", { placeholder: '{"n": 3} — empty: the defaults' })),
  problem,
  h("button", { class: "primary", type: "submit" }, "Create schedule"));

  const toggle = async (s) => {
    try { await api(`/schedules/${encodeURIComponent(s.name)}`, { method: "PATCH", json: { paused: !s.paused } }); } catch (err) { flash(err.message); }
    schedulesPage(main);
  };
  const remove = async (s) => {
    if (!confirm(`Remove schedule ${s.name}? Its runs stay.`)) return;
    try { await api(`/schedules/${encodeURIComponent(s.name)}`, { method: "DELETE" }); } catch (err) { flash(err.message); }
    schedulesPage(main);
  };
  mount(main, h("h1", {}, "Recurring runs"),
    items.length ? h("table", { id: "schedules" },
      h("thead", {}, h("tr", {}, ["Schedule", "Pipeline", "When", "Parameters", "State", "Next", "Last run", ""].map((x) => h("th", {}, x)))),
      h("tbody", {}, items.map((s) => h("tr", { "data-name": s.name },
        h("td", {}, link(`#/runs?filter=${encodeURIComponent(`labels.schedule = ${s.name}`)}`, s.name)),
        h("td", {}, link(`#/pipelines/${encodeURIComponent(s.pipeline)}`, s.pipeline), s.version ? ` v${s.version}` : ""),
        h("td", {}, s.when, s.cron ? " (UTC)" : "", ` · at most ${s.max_concurrency} at once`),
        h("td", { class: "mono" }, Object.keys(s.params || {}).length
          ? Object.entries(s.params).map(([k, v]) => h("span", { class: "tag" }, `${k}=${JSON.stringify(v)}`))
          : h("span", { class: "muted" }, "defaults")),
        h("td", {}, s.paused ? "paused" : "active"),
        h("td", {}, when(s.next_at)),
        h("td", {}, s.last_run_id ? link(`#/runs/${s.last_run_id}`, s.last_run_id) : "",
          s.last_error ? h("div", { class: "error" }, s.last_error) : null),
        h("td", {},
          h("button", { class: "toggle", onclick: () => toggle(s) }, s.paused ? "Resume" : "Pause"),
          h("button", { class: "danger", onclick: () => remove(s) }, "Delete"))))))
      : h("p", { class: "muted" }, "No recurring runs yet."),
    pipelines.length ? form : h("p", { class: "muted" }, "Upload a pipeline first (Pipelines page)."));
}
