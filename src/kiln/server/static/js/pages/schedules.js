// Recurring runs: each schedule with its next and last start, pause/resume and delete, and a
// form to create one for an uploaded pipeline (the same checks as `kiln schedule create`).
import { api } from "../api.js";
import { flash, h, link, mount, when } from "../dom.js";

export async function schedulesPage(main) {
  const [items, pipelines] = await Promise.all([api("/schedules"), api("/pipelines")]);
  const field = (name, attrs = {}) => h("input", { name, ...attrs });
  const form = h("form", { class: "card", id: "new-schedule", onsubmit: async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const how = f.get("how"), value = f.get("value");
    let params = {};
    try { params = JSON.parse(f.get("params") || "{}"); } catch { flash("parameters must be JSON, e.g. {\"n\": 3}"); return; }
    try {
      await api("/schedules", { method: "POST", json: {
        name: f.get("name"), pipeline: f.get("pipeline"), params,
        every: how === "every" ? value : null, cron: how === "cron" ? value : null,
        max_concurrency: Number(f.get("max_concurrency") || 1),
      } });
    } catch (err) { flash(err.message); return; }
    flash(`schedule ${f.get("name")} created`, true);
    schedulesPage(main);
  } },
  h("h2", {}, "New schedule"),
  h("div", { class: "inline" },
    field("name", { placeholder: "name, e.g. nightly", required: true }),
    h("select", { name: "pipeline", required: true }, pipelines.map((p) => h("option", { value: p.name }, p.name))),
    h("select", { name: "how" }, h("option", { value: "every" }, "every"), h("option", { value: "cron" }, "cron (UTC)")),
    field("value", { placeholder: "1h, or 0 3 * * *", required: true }),
    field("max_concurrency", { type: "number", min: 1, max: 100, value: 1, title: "runs at once, at most" }),
    field("params", { placeholder: '{"n": 3}', title: "parameters as JSON" }),
    h("button", { type: "submit" }, "Create")));

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
      h("thead", {}, h("tr", {}, ["Schedule", "Pipeline", "When", "State", "Next", "Last run", ""].map((x) => h("th", {}, x)))),
      h("tbody", {}, items.map((s) => h("tr", { "data-name": s.name },
        h("td", {}, link(`#/runs?filter=${encodeURIComponent(`labels.schedule = ${s.name}`)}`, s.name)),
        h("td", {}, link(`#/pipelines/${encodeURIComponent(s.pipeline)}`, s.pipeline), s.version ? ` v${s.version}` : ""),
        h("td", {}, s.every ? `every ${s.every}s` : `cron ${s.cron}`, ` · ≤${s.max_concurrency} at once`),
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
