// Tuning studies and AutoML searches: the list, and a study's trials, its two graphs and
// its best trial (open the run, serve the model). A running study's page follows it live.
import { api } from "../api.js";
import { badge, h, mount, link, num, seconds, table, when } from "../dom.js";
import { objectiveChart, parallelCoordinates } from "../studycharts.js";

const STATE_BADGE = { complete: "succeeded", pruned: "cancelled", failed: "failed", running: "running" };

function trialState(t) {
  return h("span", { class: `badge s-${STATE_BADGE[t.state] || t.state}`, "data-state": t.state }, t.state);
}

function progress(st) {
  const c = st.counts;
  const done = c.complete + c.pruned + c.failed;
  return `${done}${st.budget ? ` of ${st.budget}` : ""}` +
    (c.pruned ? ` · ${c.pruned} pruned` : "") + (c.failed ? ` · ${c.failed} failed` : "") +
    (c.running ? ` · ${c.running} running` : "");
}

export async function studiesPage(main) {
  const { studies } = await api("/studies");
  mount(main, h("h1", {}, "Studies"),
    studies.length ? table(["Study", "Kind", "Pipeline", "State", "Trials", "Best", "Started"],
      studies.map((st) => h("tr", { "data-study": st.name },
        h("td", {}, link(`#/studies/${encodeURIComponent(st.name)}`, st.name)),
        h("td", {}, st.kind === "automl" ? "AutoML" : "tuning"),
        h("td", {}, st.pipeline),
        h("td", {}, badge(st.status)),
        h("td", {}, progress(st)),
        h("td", { class: "num" }, st.best ? `${st.metric} ${num(st.best.value)} (trial ${st.best.number})` : ""),
        h("td", {}, when(st.created_at)))))
      : h("p", { class: "muted" }, "No studies yet. A study tunes a pipeline's parameters: each trial is a run."));
}

export async function studyPage(main, query, ref) {
  let timer = null, stopped = false;
  const serve = async (button, model) => {
    button.disabled = true;
    button.textContent = "Starting the model server…";
    try {
      await api("/services", { method: "POST", json: { model, name: `${ref}-best`.toLowerCase().replace(/[^a-z0-9-]+/g, "-").slice(0, 50) } });
      location.hash = "#/services";
    } catch (e) {
      button.disabled = false;
      button.textContent = "Serve this model";
      mount(main.querySelector("#serve-errors"), h("p", { class: "error", role: "alert" }, e.message));
    }
  };
  const draw = async () => {
    const st = await api(`/studies/${encodeURIComponent(ref)}`);
    const names = st.parameters.map((p) => p.name);
    const best = st.best ? st.best.number : null;
    const rows = st.trials.map((t) => h("tr", { "data-trial": t.number, class: t.number === best ? "best" : "" },
      h("td", { class: "num" }, t.number),
      h("td", {}, trialState(t)),
      names.map((n) => h("td", { class: "num" }, num(t.params[n]))),
      h("td", { class: "num" }, t.state === "pruned" && (t.value ?? t.last_reported) !== null
        ? h("span", { class: "muted", title: "the last value it reported before it was stopped" },
          `${num(t.value ?? t.last_reported)} (last reported)`)
        : t.value !== null ? num(t.value) : ""),
      h("td", { class: "num" }, seconds(t.duration)),
      h("td", { class: "mono" }, t.run ? link(`#/runs/${t.run}`, t.run) : ""),
      h("td", { class: "error" }, t.error ? t.error.split("\n")[0].slice(0, 120) : "")));
    mount(main,
      h("h1", {}, `Study ${st.name} `, badge(st.status)),
      h("p", { class: "muted" }, st.kind === "automl" ? "AutoML search" : `tuning ${st.pipeline}`,
        st.algorithm ? ` · ${st.algorithm.algorithmName || ""}` : "",
        ` · ${st.metric} (${st.direction})`, ` · trials ${progress(st)}`,
        ` · started ${when(st.created_at)}`, st.finished_at ? ` · finished ${when(st.finished_at)}` : ""),
      st.error ? h("p", { class: "run-error", role: "alert" }, st.error) : null,
      st.best ? h("div", { class: "card best-trial", id: "best-trial" },
        h("h2", {}, `Best trial: ${st.best.number}`),
        h("p", {}, h("b", {}, `${st.metric} = ${num(st.best.value)}`), " with ",
          Object.entries(st.best.params).map(([k, v]) => h("span", { class: "tag" }, `${k}=${num(v)}`))),
        h("div", { class: "actions" },
          st.best.run ? link(`#/runs/${st.best.run}`, "Open the run", { class: "button", id: "open-best-run" }) : null,
          (st.best.models || []).map((m) => h("span", { class: "serve-hint" },
            h("button", { class: "primary", "data-serve": m, onclick: (e) => serve(e.target, `${st.best.run}/${m}`) },
              `Serve this model (${m})`),
            h("span", { class: "muted" }, " or from a terminal: "),
            h("code", { class: "copy", title: "click to copy",
              onclick: (e) => navigator.clipboard?.writeText(e.target.textContent) }, `kiln serve ${st.best.run}/${m}`)))),
        h("div", { id: "serve-errors" }))
        : null,
      h("div", { class: "grid" },
        h("div", { class: "card" }, objectiveChart(st.trials, { metric: st.metric, direction: st.direction, best })),
        h("div", { class: "card" }, parallelCoordinates(st.trials, st.parameters,
          { metric: st.metric, direction: st.direction, best }))),
      h("div", { class: "card" }, h("h2", {}, `Trials (${st.trials.length})`),
        table(["#", "State", ...names, st.metric, "Duration", "Run", ""], rows, { id: "trials" })));
    return st;
  };
  const st = await draw();
  const tick = async () => {
    if (stopped) return;
    const now = await draw().catch(() => null);
    if (!stopped && (!now || now.status === "running")) timer = setTimeout(tick, 2000);
  };
  if (st.status === "running") timer = setTimeout(tick, 2000);
  return () => { stopped = true; clearTimeout(timer); };
}
