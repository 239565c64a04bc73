// kilnflow's notebook panel: turn kilnflow on for the open notebook, tag its cells as Kale
// does (a step picker per cell), see each cell's step as a coloured bar and the first error
// of the dependency analysis on the cell it comes from, the pipeline's graph, and run it,
// following each step's state. Everything goes through the server extension (api.ts), never
// through the user's kernel.
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from "@jupyterlab/application";
import { INotebookTracker, NotebookPanel } from "@jupyterlab/notebook";
import { Widget } from "@lumino/widgets";

import { Analysis, RunInfo, analyse, dashboardUrl, getRun, startRun } from "./api";
import {
  CellKind, assignSteps, checkStepName, enableMetadata, parseTags, stepColour, stepNames, writeTags,
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

  private setTags(kind: CellKind, step: string, prev: string[]): void {
    const cell = this.tracker.activeCell;
    if (!cell || cell.model.type !== "code") return;
    const current = parseTags(cell.model.getMetadata("tags") as string[] | undefined);
    const tags = writeTags({ ...current, kind, step: kind === "step" ? step : null, prev: kind === "step" ? prev : [] });
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
    root.append(this.cellEditor(), this.status(), this.graph(), this.runBox());
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
    const deps = el("div", { class: "kiln-deps", id: "kiln-deps" });
    for (const s of above.filter((s) => s !== tags.step)) {
      const c = el("input", { type: "checkbox", value: s });
      c.checked = tags.prev.includes(s);
      deps.append(el("label", { class: "kiln-row" }, c, ` ${s}`));
    }
    const save = () => {
      const chosen = kind.value as CellKind;
      const bad = chosen === "step" ? checkStepName(name.value.trim()) : null;
      problem.textContent = bad || "";
      if (bad) return;
      this.pendingKind = null;
      const prev = Array.from(deps.querySelectorAll("input:checked")).map((c) => (c as HTMLInputElement).value);
      this.setTags(chosen, name.value.trim(), prev);
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
    deps.onchange = save;
    box.append(el("label", { class: "kiln-row" }, "Kind ", kind));
    if (shown === "step") {
      box.append(el("label", { class: "kiln-row" }, "Step ", name), problem);
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
        this.follow_run(run, out, go);
      } catch (e) {
        out.replaceChildren(el("p", { class: "kiln-error", role: "alert" }, String((e as Error).message)));
        go.removeAttribute("disabled");
      }
    };
    box.append(go, out);
    return box;
  }

  private async follow_run(run: RunInfo, out: HTMLElement, go: HTMLElement): Promise<void> {
    window.clearInterval(this.polling);
    const base = await dashboardUrl();
    const show = (r: RunInfo) => {
      const dash = `${base}/#/runs/${encodeURIComponent(r.id)}`;
      out.replaceChildren(
        el("p", {}, `Run ${r.name || r.id}: `, el("b", { "data-run-status": r.status }, r.status), " · ",
          el("a", { href: dash, target: "_blank", rel: "noopener", id: "kiln-dashboard-link" }, "open in the dashboard")),
        el("ul", { class: "kiln-steps" }, ...r.tasks.map((t) => el("li", { "data-step": t.step, "data-status": t.status },
          el("span", { class: "kiln-dot", style: `background:${stepColour(t.step)}` }), ` ${t.step}: ${t.status}`,
          t.error ? el("div", { class: "kiln-error" }, t.error) : null))));
      if (r.status !== "running") {
        window.clearInterval(this.polling);
        go.removeAttribute("disabled");
      }
    };
    show(run);
    this.polling = window.setInterval(async () => {
      try { show(await getRun(run.id)); } catch (e) { window.clearInterval(this.polling); }
    }, 700);
  }
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
