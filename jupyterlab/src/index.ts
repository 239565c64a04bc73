// kilnflow's notebook panel: turn kilnflow on for the open notebook, tag its cells as Kale
// does (a step picker per cell), see each cell's step as a coloured bar and the first error
// of the dependency analysis on the cell it comes from, the pipeline's graph, and run it,
// following each step's state. Everything goes through the server extension (api.ts), never
// through the user's kernel.
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from "@jupyterlab/application";
import { INotebookTracker, NotebookPanel } from "@jupyterlab/notebook";
import { Widget } from "@lumino/widgets";

import {
  Analysis, RunInfo, StudyInfo, analyse, compileKfp, dashboardUrl, getRun, getStudy, serveRun, snapshotVolume, startRun,
  startStudy, stepLog, submitKfp,
} from "./api";
import {
  CellKind, StudyForm, assignSteps, checkStepName, enableMetadata, formatLimits, katibMetadata, parseLimits,
  parseSpaceLine, parseTags,
  stepColour, stepNames, writeTags,
} from "./tags";

const KALE_KEY = "kubeflow_notebook";
const KINDS: [CellKind, string][] = [
  ["continue", "continues the cell above"], ["step", "a pipeline step"], ["imports", "imports"],
  ["functions", "functions"], ["pipeline-parameters", "pipeline parameters"],
  ["pipeline-metrics", "pipeline metrics"], ["skip", "skip"],
];

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {},
  ...kids: (Node | string | null)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const k of kids) if (k !== null) e.append(k);
  return e;
}

class KilnPanel extends Widget {
  private nb: NotebookPanel | null = null;
  private analysis: Analysis | null = null;
  private timer = 0;
  private polling = 0;
  private pendingKind: CellKind | null = null; // "step" chosen, its name not typed yet

  constructor(private tracker: INotebookTracker) {
    super();
    this.id = "kilnflow-panel";
    this.title.caption = "kilnflow";
    this.title.label = "kilnflow";
    this.addClass("kiln-panel");
    tracker.currentChanged.connect(() => this.follow(tracker.currentWidget));
    tracker.activeCellChanged.connect(() => { this.pendingKind = null; this.render(); });
    this.follow(tracker.currentWidget);
  }

  private follow(nb: NotebookPanel | null): void {
    this.nb = nb;
    this.analysis = null;
    if (nb) {
      nb.context.ready.then(() => {
        nb.model?.contentChanged.connect(() => this.soon());
        nb.model?.metadataChanged.connect(() => this.soon());
        this.soon();
      });
    }
    this.render();
  }

  private enabled(): boolean {
    return !!this.nb?.model?.getMetadata(KALE_KEY);
  }

  private soon(): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.refresh(), 500);
  }

  private async refresh(): Promise<void> {
    const nb = this.nb;
    if (!nb?.model || !this.enabled()) { this.decorate(); this.render(); return; }
    try {
      this.analysis = await analyse(nb.model.toJSON(), nb.context.path.split("/").pop() || "notebook.ipynb");
    } catch (e) {
      this.analysis = { ok: false, error: { message: String((e as Error).message) }, steps: [], graph: null, warnings: [] };
    }
    this.decorate();
    this.render();
  }

  private cellTags(): (string[] | undefined)[] {
    const cells = this.nb?.model?.cells;
    const out: (string[] | undefined)[] = [];
    if (!cells) return out;
    for (let i = 0; i < cells.length; i++) {
      const c = cells.get(i);
      out.push(c.type === "code" ? (c.getMetadata("tags") as string[] | undefined) : ["skip"]);
    }
    return out;
  }

  // A coloured bar by step on each cell, and the analysis' error on the cell it comes from.
  private decorate(): void {
    const nb = this.nb;
    if (!nb) return;
    const on = this.enabled();
    const infos = assignSteps(this.cellTags());
    nb.content.widgets.forEach((w, i) => {
      const node = w.node;
      node.querySelectorAll(".kiln-cell-error").forEach((n) => n.remove());
      const step = on && w.model.type === "code" ? infos[i]?.step : null;
      node.classList.toggle("kiln-cell", !!step);
      node.style.setProperty("--kiln-step-colour", step ? stepColour(step) : "transparent");
      node.dataset.kilnStep = step || "";
      const err = this.analysis?.error;
      if (on && err && err.cell === i) {
        node.append(el("div", { class: "kiln-cell-error", role: "alert" },
          `kilnflow: ${err.message}${err.line ? ` (line ${err.line})` : ""}`));
      }
    });
  }

  private setTags(kind: CellKind, step: string, prev: string[], limits?: Record<string, string>): void {
    const cell = this.tracker.activeCell;
    if (!cell || cell.model.type !== "code") return;
    const current = parseTags(cell.model.getMetadata("tags") as string[] | undefined);
    const tags = writeTags({ ...current, kind, step: kind === "step" ? step : null, prev: kind === "step" ? prev : [],
      limits: kind === "step" ? (limits ?? current.limits) : {} });
    if (tags.length) cell.model.setMetadata("tags", tags);
    else cell.model.deleteMetadata("tags");
  }

  protected render(): void {
    const nb = this.nb;
    const root = el("div", { class: "kiln-body" }, el("h2", {}, "kilnflow"));
    if (!nb?.model) {
      root.append(el("p", { class: "kiln-muted" }, "Open a notebook to turn it into a pipeline."));
      this.node.replaceChildren(root);
      return;
    }
    const toggle = el("input", { type: "checkbox", id: "kiln-enable" });
    toggle.checked = this.enabled();
    toggle.onchange = () => {
      if (toggle.checked) {
        nb.model!.setMetadata(KALE_KEY, enableMetadata(nb.model!.getMetadata(KALE_KEY) as Record<string, unknown>, nb.context.path.split("/").pop() || "pipeline"));
      } else nb.model!.deleteMetadata(KALE_KEY);
    };
    root.append(el("label", { class: "kiln-row" }, toggle, " Enable kilnflow (Kale metadata)"));
    if (!this.enabled()) { this.node.replaceChildren(root); return; }
    root.append(this.cellEditor(), this.status(), this.graph(), this.runBox(), tuneBox(nb),
      moreBox(nb));
    this.node.replaceChildren(root);
  }

  private cellEditor(): HTMLElement {
    const box = el("div", { class: "kiln-section", id: "kiln-cell" }, el("h3", {}, "This cell"));
    const cell = this.tracker.activeCell;
    if (!cell || cell.model.type !== "code") {
      box.append(el("p", { class: "kiln-muted" }, "Select a code cell."));
      return box;
    }
    const index = this.nb!.content.activeCellIndex;
    const infos = assignSteps(this.cellTags());
    const above = stepNames(infos.slice(0, index));
    const tags = parseTags(cell.model.getMetadata("tags") as string[] | undefined);
    const shown = this.pendingKind ?? tags.kind;
    const kind = el("select", { id: "kiln-kind" });
    for (const [k, label] of KINDS) {
      const o = el("option", { value: k }, label);
      o.selected = k === shown;
      kind.append(o);
    }
    const name = el("input", { id: "kiln-step-name", placeholder: "step name", value: tags.step || "" });
    const problem = el("div", { class: "kiln-error", id: "kiln-name-error" });
    const limits = el("input", { id: "kiln-limits", placeholder: "limits, e.g. nvidia.com/gpu:1", value: formatLimits(tags.limits) });
    const deps = el("div", { class: "kiln-deps", id: "kiln-deps" });
    for (const s of above.filter((s) => s !== tags.step)) {
      const c = el("input", { type: "checkbox", value: s });
      c.checked = tags.prev.includes(s);
      deps.append(el("label", { class: "kiln-row" }, c, ` ${s}`));
    }
    const save = () => {
      const chosen = kind.value as CellKind;
      const parsed = parseLimits(limits.value);
      const bad = chosen === "step" ? (checkStepName(name.value.trim()) || (typeof parsed === "string" ? parsed : null)) : null;
      problem.textContent = bad || "";
      if (bad) return;
      this.pendingKind = null;
      const prev = Array.from(deps.querySelectorAll("input:checked")).map((c) => (c as HTMLInputElement).value);
      this.setTags(chosen, name.value.trim(), prev, typeof parsed === "string" ? undefined : parsed);
    };
    kind.onchange = () => {
      if (kind.value === "step" && checkStepName(name.value.trim())) {
        this.pendingKind = "step"; // ask for the name first
        this.render();
        (this.node.querySelector("#kiln-step-name") as HTMLInputElement | null)?.focus();
        return;
      }
      save();
    };
    name.onchange = save;
    limits.onchange = save;
    deps.onchange = save;
    box.append(el("label", { class: "kiln-row" }, "Kind ", kind));
    if (shown === "step") {
      box.append(el("label", { class: "kiln-row" }, "Step ", name), el("label", { class: "kiln-row" }, "Limits ", limits), problem);
      if (above.length) box.append(el("div", { class: "kiln-muted" }, "Depends on:"));
      box.append(deps);
    } else if (infos[index]?.step) {
      box.append(el("p", { class: "kiln-muted" }, `Part of: ${infos[index].step}`));
    }
    return box;
  }

  private status(): HTMLElement {
    const a = this.analysis;
    const box = el("div", { class: "kiln-section", id: "kiln-status" });
    if (!a) box.append(el("p", { class: "kiln-muted" }, "Analysing…"));
    else if (a.error) {
      box.append(el("p", { class: "kiln-error", role: "alert" },
        `${a.error.message}${a.error.cell !== null && a.error.cell !== undefined ? ` — cell ${a.error.cell + 1}` : ""}`));
    } else box.append(el("p", {}, `Pipeline ${a.pipeline}: ${a.steps.length} steps`));
    return box;
  }

  // The pipeline's graph: steps in layers by their dependencies, top to bottom.
  private graph(): HTMLElement {
    const box = el("div", { class: "kiln-section", id: "kiln-graph" }, el("h3", {}, "Pipeline"));
    const a = this.analysis;
    if (!a?.ok || !a.steps.length) return box;
    const depth: Record<string, number> = {};
    for (const s of a.steps) depth[s.name] = Math.max(0, ...s.after.map((p) => (depth[p] ?? 0) + 1));
    const layers: string[][] = [];
    for (const s of a.steps) (layers[depth[s.name]] ||= []).push(s.name);
    const W = 220, rowH = 46, boxW = 90, boxH = 24;
    const pos: Record<string, [number, number]> = {};
    layers.forEach((names, y) => names.forEach((n, i) => {
      pos[n] = [((i + 1) * W) / (names.length + 1), 16 + y * rowH];
    }));
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${layers.length * rowH + 8}`);
    svg.setAttribute("width", "100%");
    for (const s of a.steps) for (const p of s.after) {
      const line = document.createElementNS(ns, "line");
      const [x1, y1] = pos[p], [x2, y2] = pos[s.name];
      Object.entries({ x1, y1: y1 + boxH / 2, x2, y2: y2 - boxH / 2 }).forEach(([k, v]) => line.setAttribute(k, String(v)));
      line.setAttribute("class", "kiln-edge");
      svg.append(line);
    }
    for (const s of a.steps) {
      const [x, y] = pos[s.name];
      const g = document.createElementNS(ns, "g");
      g.setAttribute("data-step", s.name);
      const r = document.createElementNS(ns, "rect");
      Object.entries({ x: x - boxW / 2, y: y - boxH / 2, width: boxW, height: boxH, rx: 5 }).forEach(([k, v]) => r.setAttribute(k, String(v)));
      r.setAttribute("fill", stepColour(s.name));
      const t = document.createElementNS(ns, "text");
      t.setAttribute("x", String(x));
      t.setAttribute("y", String(y + 4));
      t.setAttribute("text-anchor", "middle");
      t.textContent = s.name.length > 12 ? `${s.name.slice(0, 11)}…` : s.name;
      g.append(r, t);
      svg.append(g);
    }
    box.append(svg);
    return box;
  }

  private runBox(): HTMLElement {
    const box = el("div", { class: "kiln-section", id: "kiln-run" });
    const go = el("button", { class: "jp-mod-styled jp-mod-accept", id: "kiln-run-button" }, "Run locally");
    const out = el("div", { id: "kiln-run-status" });
    go.onclick = async () => {
      const nb = this.nb;
      if (!nb?.model) return;
      go.setAttribute("disabled", "");
      out.replaceChildren(el("p", { class: "kiln-muted" }, "Starting…"));
      try {
        const run = await startRun(nb.model.toJSON(), nb.context.path.split("/").pop() || "notebook.ipynb");
        await this.follow_run(run);
      } catch (e) {
        out.replaceChildren(el("p", { class: "kiln-error", role: "alert" }, String((e as Error).message)));
        go.removeAttribute("disabled");
      }
    };
    box.append(go, out);
    if (this.nb) window.setTimeout(() => drawRun(this.nb!.context.path));
    return box;
  }

  private async follow_run(run: RunInfo): Promise<void> {
    window.clearInterval(this.polling);
    const path = this.nb!.context.path;
    runs.set(path, { run, dashboard: await dashboardUrl() });
    drawRun(path);
    this.polling = window.setInterval(async () => {
      try {
        const r = await getRun(run.id);
        runs.set(path, { run: r, dashboard: runs.get(path)!.dashboard });
        drawRun(path);
        if (r.status !== "running") {
          window.clearInterval(this.polling);
          (document.getElementById("kiln-run-button") as HTMLButtonElement | null)?.removeAttribute("disabled");
        }
      } catch (e) { window.clearInterval(this.polling); }
    }, 700);
  }
}

// What a notebook's latest study and run look like, kept apart from the panel's DOM (which
// is drawn again whenever the notebook changes) and drawn into it each time.
const studies = new Map<string, StudyInfo | string>();
const runs = new Map<string, { run: RunInfo; dashboard: string }>();

function drawRun(path: string): void {
  const out = document.getElementById("kiln-run-status");
  const got = runs.get(path);
  if (!out || !got) return;
  const r = got.run;
  const dash = `${got.dashboard}/#/runs/${encodeURIComponent(r.id)}`;
  out.replaceChildren(
    el("p", {}, `Run ${r.name || r.id}: `, el("b", { "data-run-status": r.status }, r.status), " · ",
      el("a", { href: dash, target: "_blank", rel: "noopener", id: "kiln-dashboard-link" }, "open in the dashboard")),
    el("ul", { class: "kiln-steps" }, ...r.tasks.map((t) => {
      const li = el("li", { "data-step": t.step, "data-status": t.status, title: "click for its log" },
        el("span", { class: "kiln-dot", style: `background:${stepColour(t.step)}` }), ` ${t.step}: ${t.status}`,
        t.error ? el("div", { class: "kiln-error" }, t.error) : null);
      li.onclick = async () => {
        const log = document.getElementById("kiln-log") || el("pre", { id: "kiln-log", class: "kiln-log" });
        try { log.textContent = (await stepLog(r.id, t.step)).log || "(no output)"; } catch (e) { log.textContent = String((e as Error).message); }
        out.append(log);
      };
      return li;
    })));
  if (r.status === "succeeded") out.append(serveButton(r.id));
}

function serveButton(run: string): HTMLElement {
  const said = el("div", { id: "kiln-serve-status" });
  const go = el("button", { class: "jp-mod-styled", id: "kiln-serve-button" }, "Serve its model");
  go.onclick = async () => {
    go.setAttribute("disabled", "");
    try {
      const r = await serveRun(run);
      said.replaceChildren(el("p", {}, r.said || `serving ${r.model}`));
    } catch (e) { said.replaceChildren(el("p", { class: "kiln-error" }, String((e as Error).message))); }
    go.removeAttribute("disabled");
  };
  return el("div", {}, go, said);
}

function drawStudy(path: string): void {
  const out = document.getElementById("kiln-study");
  const s = studies.get(path);
  if (!out || s === undefined) return;
  if (typeof s === "string") {
    out.replaceChildren(el("p", { class: "kiln-muted" }, `Study ${s} starting…`));
    return;
  }
  out.replaceChildren(
    el("p", {}, `Study ${s.name}: `, el("b", { "data-study-status": s.status }, s.status),
      s.best ? ` · best ${s.best.value} (trial ${s.best.number})` : ""),
    el("ul", { class: "kiln-steps" }, ...(s.trials || []).map((t) => el("li", { "data-trial": String(t.number), "data-state": t.state },
      `trial ${t.number}: ${t.state} ${t.value ?? ""} ${JSON.stringify(t.params)}`))));
}

// Tuning as Kale's panel does it: the form writes `katib_metadata` into the notebook (the
// study's shape lives with the notebook), then a study starts and its trials are shown.
function tuneBox(nb: NotebookPanel): HTMLElement {
  const box = el("div", { class: "kiln-section", id: "kiln-tune" }, el("h3", {}, "Tune"));
  const meta = (nb.model!.getMetadata(KALE_KEY) || {}) as Record<string, any>;
  const k = meta.katib_metadata || {};
  const objective = el("input", { id: "kiln-objective", placeholder: "metric", value: k.objective?.objectiveMetricName || "" });
  const goal = el("select", { id: "kiln-goal" }, el("option", { value: "maximize" }, "maximize"), el("option", { value: "minimize" }, "minimize"));
  goal.value = k.objective?.type || "maximize";
  const algorithm = el("select", { id: "kiln-algorithm" });
  for (const a of ["random", "grid", "tpe", "bayesianoptimization", "cmaes", "sobol", "hyperband"]) algorithm.append(el("option", { value: a }, a));
  algorithm.value = k.algorithm?.algorithmName || "random";
  const trials = el("input", { id: "kiln-trials", type: "number", min: "1", value: String(k.maxTrialCount || 6), style: "width:4em" });
  const parallel = el("input", { id: "kiln-parallel", type: "number", min: "1", value: String(k.parallelTrialCount || 1), style: "width:4em" });
  const space = el("textarea", { id: "kiln-space", rows: "3", placeholder: "one per line: NAME: MIN..MAX or NAME: A, B" });
  space.value = (k.parameters || []).map((p: any) => `${p.name}: ${p.feasibleSpace.list ? p.feasibleSpace.list.join(", ") : `${p.feasibleSpace.min}..${p.feasibleSpace.max}${p.feasibleSpace.step ? `/${p.feasibleSpace.step}` : ""}`}`).join("\n");
  const problem = el("div", { class: "kiln-error", id: "kiln-tune-error" });
  const out = el("div", { id: "kiln-study" });
  const go = el("button", { class: "jp-mod-styled", id: "kiln-tune-button" }, "Start study");
  go.onclick = async () => {
    const params: StudyForm["parameters"] = [];
    for (const line of space.value.split("\n").filter((l) => l.trim())) {
      const p = parseSpaceLine(line);
      if (typeof p === "string") { problem.textContent = p; return; }
      params.push(p);
    }
    if (!objective.value.trim() || !params.length) { problem.textContent = "name the metric and at least one parameter"; return; }
    problem.textContent = "";
    const form: StudyForm = { algorithm: algorithm.value, objective: objective.value.trim(), goal: goal.value as StudyForm["goal"],
      maxTrials: Number(trials.value), parallel: Number(parallel.value), maxFailed: 3, parameters: params };
    nb.model!.setMetadata(KALE_KEY, { ...meta, katib_run: true, katib_metadata: katibMetadata(form) });
    try {
      await nb.context.save();
      const { study } = await startStudy(nb.context.path);
      const path = nb.context.path;
      studies.set(path, study);
      drawStudy(path);
      const timer = window.setInterval(async () => {
        try {
          const s = await getStudy(study);
          studies.set(path, s);
          drawStudy(path);
          if (s.status !== "running") window.clearInterval(timer);
        } catch { /* not recorded yet */ }
      }, 1000);
    } catch (e) { problem.textContent = String((e as Error).message); }
  };
  box.append(el("label", { class: "kiln-row" }, "Objective ", objective, " ", goal),
    el("label", { class: "kiln-row" }, "Algorithm ", algorithm),
    el("label", { class: "kiln-row" }, "Trials ", trials, " at once ", parallel),
    el("label", { class: "kiln-row" }, "Parameters", el("br"), space), problem, go, out);
  window.setTimeout(() => drawStudy(nb.context.path));
  return box;
}

// Compile for Kubeflow Pipelines, and snapshot a volume.
// The last thing the More section said, per notebook: kept across redraws.
const said = new Map<string, { text: string; error: boolean }>();

function drawSaid(path: string): void {
  const out = document.getElementById("kiln-more-status");
  const s = said.get(path);
  if (out && s) out.replaceChildren(el("p", { class: s.error ? "kiln-error" : "" }, s.text));
}

function moreBox(nb: NotebookPanel): HTMLElement {
  const box = el("div", { class: "kiln-section", id: "kiln-more" }, el("h3", {}, "More"));
  const path = nb.context.path;
  const sayNode = el("div", { id: "kiln-more-status" });
  const say = (text: string, error = false) => { said.set(path, { text, error }); drawSaid(path); };
  const compile = el("button", { class: "jp-mod-styled", id: "kiln-compile-button" }, "Compile for Kubeflow");
  compile.onclick = async () => {
    try {
      await nb.context.save();
      const r = await compileKfp(nb.context.path);
      say(`Wrote ${r.package} (KFP v2 package) beside the notebook`);
    } catch (e) { say(String((e as Error).message), true); }
  };
  const volume = el("input", { id: "kiln-volume", placeholder: "volume", style: "width:8em" });
  const snap = el("button", { class: "jp-mod-styled", id: "kiln-snapshot-button" }, "Snapshot");
  snap.onclick = async () => {
    try {
      const s = await snapshotVolume(volume.value.trim());
      say(`Snapshot ${s.id.slice(0, 12)} of ${s.volume} (${s.files} files)`);
    } catch (e) { say(String((e as Error).message), true); }
  };
  const host = el("input", { id: "kiln-kfp-host", placeholder: "Kubeflow Pipelines URL", style: "width:12em" });
  const submit = el("button", { class: "jp-mod-styled", id: "kiln-submit-button" }, "Submit");
  submit.onclick = async () => {
    try {
      await nb.context.save();
      const r = await submitKfp(nb.context.path, host.value.trim());
      say(r.said);
    } catch (e) { say(String((e as Error).message), true); }
  };
  box.append(compile, el("div", { class: "kiln-row" }, host, " ", submit),
    el("div", { class: "kiln-row" }, volume, " ", snap), sayNode);
  window.setTimeout(() => drawSaid(path));
  return box;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: "kilnflow-jupyterlab:panel",
  description: "kilnflow's notebook panel",
  autoStart: true,
  requires: [INotebookTracker, ILabShell],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, shell: ILabShell) => {
    const panel = new KilnPanel(tracker);
    shell.add(panel, "left", { rank: 600 });
  },
};

export default plugin;
