// One run: live DAG, a step's logs (followed while it runs), inputs and outputs with previews,
// parameters, metrics and their charts, logged visuals, and the actions (cancel, retry, clone, archive, delete).
import { api, apiUrl } from "../api.js";
import { badge, bytes, flash, h, mount, link, num, seconds, table, when } from "../dom.js";
import { drawDag } from "../dag.js";
import { lineChart, seriesOf } from "../chart.js";
import { htmlFrame, visual } from "../visuals.js";

// seconds a running task has run so far (the server's clock stamped its start)
function elapsed(task) {
  return task.started_at ? Math.max(0, (Date.now() - Date.parse(task.started_at)) / 1000) : null;
}

export async function runPage(main, query, runId) {
  let selected = query.step || null;
  let logOffset = 0, logStep = null, timer = null, stopped = false;
  const dagBox = h("div", { id: "dag", class: "card" });
  const stepInfo = h("div", {});
  const previewBox = h("div", { id: "preview" });
  const logs = h("pre", { class: "logs", id: "logs" });
  // refreshed every second while running: only stepInfo is redrawn, so an open preview and
  // the log being followed stay put
  const stepBox = h("div", { id: "step", class: "card" }, stepInfo, previewBox, h("h2", {}, "Logs"), logs);
  const header = h("div", {});
  const details = h("div", {});

  let dagView = null;
  const select = (step) => {
    if (step === selected) return;  // already open: nothing to fetch or redraw
    selected = step; logOffset = 0; logStep = null; refresh();
  };

  async function refresh() {
    const run = await api(`/runs/${runId}`);
    const states = Object.fromEntries(run.tasks.map((t) => [t.step, {
      status: t.status, cached: t.cached_from !== null && t.status !== "failed",
      duration: seconds(t.status === "running" ? elapsed(t) : t.duration) }]));
    // open the step worth looking at: the failed one, else the running one, else the first
    const failed = run.tasks.find((t) => t.status === "failed");
    if (!selected && run.tasks.length) {
      selected = (failed || run.tasks.find((t) => t.status === "running") || run.tasks[0]).step;
    }
    mount(header, h("h1", {}, `Run `, run.name ? h("span", { class: "run-name" }, run.name, " ") : "",
      h("span", { class: "mono run-id" }, run.id), " ", badge(run.status)),
      h("p", { class: "muted" }, `${run.pipeline}`, run.experiment ? ` · experiment ${run.experiment}` : "",
        ` · started ${when(run.created_at)}`, run.duration !== null ? ` · took ${seconds(run.duration)}` : "",
        run.parent_run_id ? h("span", {}, " · from ", link(`#/runs/${run.parent_run_id}`, run.parent_run_id)) : "",
        run.study ? h("span", {}, ` · trial ${run.study.trial} of study `,
          link(`#/studies/${encodeURIComponent(run.study.name)}`, run.study.name, { id: "study-link" })) : ""),
      run.error ? h("p", { class: "run-error", role: "alert" }, failed
        ? h("a", { href: "#", id: "failed-step", onclick: (e) => { e.preventDefault(); select(failed.step); } },
          `Step ${failed.step} failed: `, run.error)
        : run.error) : null,
      actions(run));
    dagView = drawDag(run.graph, states, { selected, onSelect: select, view: dagView,
      available: dagBox.clientWidth - 32 });
    if (!dagBox.contains(dagView)) mount(dagBox, h("h2", {}, "Graph"), dagView);
    const task = run.tasks.find((t) => t.step === selected);
    if (task) await showStep(run, task);
    if (!details.dataset.done || run.status === "running") await showDetails(run);
    if (run.status !== "running") details.dataset.done = "1";
    return run;
  }

  async function showStep(run, task) {
    if (logStep !== task.step) {
      logStep = task.step; logOffset = 0; logs.textContent = ""; previewBox.replaceChildren();
    }
    try {
      const more = await api(`/runs/${run.id}/steps/${encodeURIComponent(task.step)}/logs`,
        { query: { offset: logOffset }, text: true });
      logOffset += new TextEncoder().encode(more).length;
      if (more) { logs.textContent += more; logs.scrollTop = logs.scrollHeight; }
    } catch (e) {
      if (e.status !== 404) throw e;
    }
    const io = (kind, refs) => Object.entries(refs).map(([name, ref]) => h("tr", {},
      h("td", {}, name), h("td", { class: "mono" }, ref.type_name), h("td", { class: "num" }, bytes(ref.size)),
      h("td", {}, kind === "output" ? [
        h("button", { "data-preview": name, onclick: (e) => preview(run.id, task.step, name, e.target) }, "Preview"), " ",
        h("a", { href: apiUrl(`/runs/${run.id}/steps/${encodeURIComponent(task.step)}/outputs/${encodeURIComponent(name)}`) }, "Download"), " ",
        link(`#/lineage/${run.id}/${encodeURIComponent(task.step)}/${encodeURIComponent(name)}`, "Lineage", { "data-lineage": name }),
      ] : "")));
    mount(stepInfo, h("h2", {}, `Step ${task.step} `, badge(task.cached_from !== null && task.status !== "failed" ? "cached" : task.status)),
      h("p", { class: "muted" }, `attempts ${task.attempts}`, task.duration !== null ? ` · ${seconds(task.duration)}` : "",
        task.status === "running" ? h("span", { class: "elapsed" }, ` · running for ${seconds(elapsed(task))}`) : ""),
      task.error ? h("pre", { class: "logs" }, task.error) : null,
      Object.keys(task.inputs).length ? [h("h2", {}, "Inputs"), table(["Name", "Type", "Size", ""], io("input", task.inputs))] : null,
      Object.keys(task.outputs).length ? [h("h2", {}, "Outputs"), table(["Name", "Type", "Size", ""], io("output", task.outputs))] : null);
  }

  async function preview(run, step, name, button) {
    const p = await api(`/runs/${run}/steps/${encodeURIComponent(step)}/outputs/${encodeURIComponent(name)}/preview`);
    const box = previewBox;
    let body;
    if (p.kind === "table") body = [h("p", { class: "muted" }, `${p.shape[0]} rows × ${p.shape[1]} columns`),
      table(p.columns, p.rows.map((r) => h("tr", {}, r.map((v) => h("td", { class: "num" }, num(v))))))];
    else if (p.kind === "array") body = [h("p", { class: "muted" }, `array ${p.shape.join("×")} ${p.dtype}`,
      p.stats ? ` · min ${num(p.stats.min)} · mean ${num(p.stats.mean)} · max ${num(p.stats.max)}` : ""),
      p.rows ? h("pre", { class: "mono" }, JSON.stringify(p.rows).slice(0, 2000)) : null];
    else if (p.kind === "image") body = [h("p", { class: "muted" }, `image ${p.width}×${p.height}`),
      h("img", { class: "preview-image", alt: name, src: `data:image/png;base64,${p.png}` })];
    else if (p.kind === "html") body = htmlFrame(p.html, name);
    else if (p.kind === "json") body = h("pre", { class: "mono" }, JSON.stringify(p.value));
    else if (p.kind === "text") body = h("pre", { class: "mono" }, p.text + (p.truncated ? "\n…" : ""));
    else body = h("p", { class: "muted" }, `${p.type}, ${bytes(p.size)}`);
    mount(box, h("h2", {}, `Preview of ${name}`), body);
    button.blur();
  }

  async function showDetails(run) {
    const [m, v] = await Promise.all([api(`/runs/${run.id}/metrics`), api(`/runs/${run.id}/visuals`)]);
    // a running step's values come from the step itself (marked live) until it ends
    const latest = { ...run.metrics };
    for (const [name, values] of Object.entries(m.metrics)) {
      if (values.some((v) => v.live)) latest[name] = values[values.length - 1].value;
    }
    const charts = Object.entries(seriesOf(m.metrics)).map(([name, pts]) =>
      lineChart([{ label: name, points: pts }], { title: name }));
    mount(details,
      h("div", { class: "grid" },
        h("div", { class: "card" }, h("h2", {}, "Parameters"),
          table(["Name", "Value"], Object.entries(run.params).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", { class: "num" }, num(v)))))),
        h("div", { class: "card" }, h("h2", {}, "Metrics"),
          table(["Name", "Value"], Object.entries(latest).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", { class: "num" }, num(v)))))),
        h("div", { class: "card" }, h("h2", {}, "Labels"),
          Object.keys(run.labels).length ? Object.entries(run.labels).map(([k, v]) => h("span", { class: "tag" }, `${k}=${v}`))
            : h("span", { class: "muted" }, "none"))),
      charts.length ? h("div", { class: "card" }, h("h2", {}, "Metric series"), h("div", { class: "grid" }, charts)) : null,
      v.visuals.length ? h("div", { class: "grid visuals" }, v.visuals.map(visual)) : null);
  }

  // Shared by the action buttons and the clone form (which once called a `post` it could not
  // see). `errorBox`: show a refused request there, beside what the user typed, not in a banner.
  async function post(path, json, done, errorBox = null) {
    try {
      const r = await api(path, { method: "POST", json });
      if (errorBox) mount(errorBox);
      done(r);
    } catch (e) {
      if (errorBox) mount(errorBox, h("p", { class: "error", role: "alert" }, e.message));
      else flash(e.message);
    }
  }

  function actions(run) {
    const running = run.status === "running";
    return h("div", { class: "actions" },
      running ? h("button", { class: "danger", id: "cancel", onclick: () => post(`/runs/${run.id}/cancel`, undefined,
        (r) => flash(`run ${r.id}: ${r.status}`, true)) }, "Cancel") : null,
      link(`#/lineage/${run.id}`, "Lineage", { class: "button", id: "lineage" }),
      h("button", { id: "retry", disabled: running, onclick: () => post(`/runs/${run.id}/retry`, undefined,
        (r) => { location.hash = `#/runs/${r.id}`; }) }, "Retry"),
      h("button", { id: "clone", disabled: running, onclick: () => cloneForm(run) }, "Clone with changes…"),
      h("button", { id: "archive", onclick: async () => {
        await api(`/runs/${run.id}`, { method: "PATCH", json: { archived: !run.archived } });
        flash(run.archived ? "restored to the run list" : "archived", true); refresh();
      } }, run.archived ? "Unarchive" : "Archive"),
      h("button", { class: "danger", id: "delete", disabled: running, onclick: async () => {
        if (!confirm(`Delete run ${run.id}? Its records go; stored outputs stay until gc.`)) return;
        try { await api(`/runs/${run.id}`, { method: "DELETE" }); location.hash = "#/runs"; } catch (e) { flash(e.message); }
      } }, "Delete"),
      h("div", { id: "clone-form" }));
  }

  function cloneForm(run) {
    const box = header.querySelector("#clone-form");
    const errors = h("div", { id: "clone-errors" });
    const inputs = Object.entries(run.params).map(([k, v]) => h("label", { class: "field" }, h("span", {}, k),
      h("input", { type: "text", name: k, value: typeof v === "string" ? v : JSON.stringify(v) })));
    mount(box, h("form", { class: "card", onsubmit: (e) => {
      e.preventDefault();
      const params = {};
      for (const i of box.querySelectorAll("input")) {
        const old = run.params[i.name];
        const text = i.value;
        if ((typeof old === "string" ? old : JSON.stringify(old)) === text) continue;
        params[i.name] = typeof old === "string" ? text : (() => { try { return JSON.parse(text); } catch { return text; } })();
      }
      post(`/runs/${run.id}/clone`, { params }, (r) => { location.hash = `#/runs/${r.id}`; }, errors);
    } }, inputs, errors, h("button", { class: "primary", type: "submit" }, "Start the clone")));
  }

  mount(main, header, h("div", { class: "split" }, h("div", {}, dagBox, details), stepBox));
  const first = await refresh();
  const tick = async () => {
    if (stopped) return;
    try {
      const run = await refresh();
      if (run.status === "running" || first.status === "running") timer = setTimeout(tick, 1000);
      if (run.status !== "running") first.status = run.status;
    } catch (e) { flash(e.message); }
  };
  if (first.status === "running") timer = setTimeout(tick, 1000);
  return () => { stopped = true; clearTimeout(timer); };
}
