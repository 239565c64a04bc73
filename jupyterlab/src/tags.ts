// Kale's cell tags and notebook metadata, read and written exactly as Kale does, so a
// notebook tagged here opens in Kale and the other way round. The grammar is Kale's own
// regular expressions (REFERENCE.md, "Kale notebook conventions"); the Python side
// (kiln.notebook.tags) reads the same.

export type CellKind =
  | "step"
  | "imports"
  | "functions"
  | "pipeline-parameters"
  | "pipeline-metrics"
  | "skip"
  | "continue"; // untagged: continues the step above

export interface CellTags {
  kind: CellKind;
  step: string | null; // step:NAME (block:NAME, the older spelling, is read too)
  prev: string[]; // prev:NAME
  limits: Record<string, string>; // limit:RESOURCE:AMOUNT
  others: string[]; // tags this panel does not edit (label:, annotation:, user tags): kept
}

const STEP = /^(?:step|block):([_a-z]([_a-z0-9]*)?)?$/;
const PREV = /^prev:([_a-z]([_a-z0-9]*)?)$/;
const LIMIT = /^limit:([_a-z\-./]+):([_a-zA-Z0-9.]+)$/;
const SPECIAL: CellKind[] = ["imports", "functions", "pipeline-parameters", "pipeline-metrics", "skip"];
const NAME = /^[_a-z]([_a-z0-9]*)?$/;

export function parseTags(tags: readonly string[] | undefined | null): CellTags {
  const out: CellTags = { kind: "continue", step: null, prev: [], limits: {}, others: [] };
  for (const tag of tags || []) {
    const special = SPECIAL.find((s) => s === tag);
    let m: RegExpMatchArray | null;
    if (special) {
      if (out.kind === "continue") out.kind = special; // the first special tag wins, as in Kale
    } else if ((m = tag.match(STEP))) {
      if (m[1]) {
        out.step = m[1];
        if (out.kind === "continue") out.kind = "step";
      } // an empty block: is an untagged cell (Kale 0.7)
    } else if ((m = tag.match(PREV))) {
      if (!out.prev.includes(m[1])) out.prev.push(m[1]);
    } else if ((m = tag.match(LIMIT))) {
      out.limits[m[1]] = m[2];
    } else {
      out.others.push(tag);
    }
  }
  return out;
}

export function checkStepName(name: string): string | null {
  if (!name) return "a step needs a name";
  if (!NAME.test(name)) return `'${name}' is not a step name: lowercase letters, digits and '_', starting with a letter or '_'`;
  return null;
}

/** The tags a cell gets for a choice in the panel: Kale's spelling (step:, prev:), the
 * limits, then every tag the panel does not edit, unchanged. */
export function writeTags(t: CellTags): string[] {
  const out: string[] = [];
  if (t.kind === "step" && t.step) {
    out.push(`step:${t.step}`);
    for (const p of t.prev) if (p !== t.step) out.push(`prev:${p}`);
    for (const [k, v] of Object.entries(t.limits)) out.push(`limit:${k}:${v}`);
  } else if (t.kind !== "continue" && t.kind !== "step") {
    out.push(t.kind);
  }
  return [...out, ...t.others];
}

export interface CellInfo {
  tags: CellTags;
  step: string | null; // the step the cell's code belongs to (untagged cells: the one above)
}

/** Which step each cell belongs to, by Kale's order rules: an untagged cell continues the
 * nearest cell above that is not `skip`; untagged cells before any tag belong to none. */
export function assignSteps(cellTags: (readonly string[] | undefined)[]): CellInfo[] {
  const out: CellInfo[] = [];
  let current: string | null = null; // a step, or a special kind's name
  for (const raw of cellTags) {
    const tags = parseTags(raw);
    if (tags.kind === "step") current = tags.step;
    else if (tags.kind === "skip") {
      out.push({ tags, step: null });
      continue;
    } else if (tags.kind !== "continue") current = tags.kind;
    out.push({ tags, step: tags.kind === "continue" || tags.kind === "step" ? current : tags.kind });
  }
  return out;
}

/** Steps in order of first appearance. */
export function stepNames(cells: CellInfo[]): string[] {
  const names: string[] = [];
  for (const c of cells) {
    if (c.tags.kind === "step" && c.tags.step && !names.includes(c.tags.step)) names.push(c.tags.step);
  }
  return names;
}

/** A colour per step, stable across sessions (Kale colours its cells by step too). */
export function stepColour(name: string): string {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `hsl(${h % 360}, 62%, 52%)`;
}

export interface KaleMetadata {
  pipeline_name: string;
  pipeline_description: string;
  experiment_name: string;
  docker_image: string;
  volumes: unknown[];
  autosnapshot: boolean;
  katib_run: boolean;
  katib_metadata?: KatibMetadata;
  [other: string]: unknown;
}

/** `kubeflow_notebook` as Kale's panel writes it when turned on: its defaults, under what the
 * notebook already has (every setting the panel ever wrote is kept). */
export function enableMetadata(existing: Record<string, unknown> | undefined, notebookName: string): KaleMetadata {
  const base = notebookName.replace(/\.ipynb$/, "").toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "") || "pipeline";
  return {
    pipeline_name: base,
    pipeline_description: "",
    experiment_name: "",
    docker_image: "",
    volumes: [],
    autosnapshot: false,
    katib_run: false,
    ...(existing || {}),
  } as KaleMetadata;
}

export interface StudyForm {
  algorithm: string;
  objective: string;
  goal: "maximize" | "minimize";
  maxTrials: number;
  parallel: number;
  maxFailed: number;
  parameters: { name: string; type: "double" | "int" | "categorical" | "discrete"; min?: string; max?: string; step?: string; list?: string[] }[];
}

export interface KatibMetadata {
  algorithm: { algorithmName: string; algorithmSettings: { name: string; value: string }[] };
  maxFailedTrialCount: number;
  maxTrialCount: number;
  parallelTrialCount: number;
  objective: { type: string; objectiveMetricName: string; additionalMetricNames: string[] };
  parameters: { name: string; parameterType: string; feasibleSpace: Record<string, unknown> }[];
}

/** `katib_metadata` as Kale writes it: numbers in the space as strings. */
export function katibMetadata(f: StudyForm): KatibMetadata {
  return {
    algorithm: { algorithmName: f.algorithm, algorithmSettings: [] },
    maxFailedTrialCount: f.maxFailed,
    maxTrialCount: f.maxTrials,
    parallelTrialCount: f.parallel,
    objective: { type: f.goal, objectiveMetricName: f.objective, additionalMetricNames: [] },
    parameters: f.parameters.map((p) => ({
      name: p.name,
      parameterType: p.type,
      feasibleSpace: p.type === "categorical" || p.type === "discrete"
        ? { list: (p.list || []).map(String) }
        : Object.fromEntries(Object.entries({ min: p.min, max: p.max, step: p.step })
          .filter(([, v]) => v !== undefined && v !== "").map(([k, v]) => [k, String(v)])),
    })),
  };
}

/** One line of the panel's search space: `NAME: MIN..MAX` (a range; `/STEP` for a step) or
 * `NAME: A, B, C` (choices). Numbers make an int or double range, or a discrete list. */
export function parseSpaceLine(line: string): StudyForm["parameters"][number] | string {
  const m = line.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.+?)\s*$/);
  if (!m) return `'${line.trim()}' is not NAME: MIN..MAX or NAME: A, B, C`;
  const [, name, rest] = m;
  const range = rest.match(/^(-?[\d.eE+-]+)\s*\.\.\s*(-?[\d.eE+-]+)(?:\s*\/\s*([\d.eE+-]+))?$/);
  if (range) {
    const [, min, max, step] = range;
    if ([min, max, step].some((v) => v !== undefined && Number.isNaN(Number(v)))) return `${name}: the range is not numbers`;
    if (Number(min) >= Number(max)) return `${name}: the minimum must be below the maximum`;
    const ints = [min, max, step].every((v) => v === undefined || /^-?\d+$/.test(v));
    return { name, type: ints ? "int" : "double", min, max, ...(step ? { step } : {}) };
  }
  const list = rest.split(",").map((x) => x.trim()).filter(Boolean);
  if (list.length < 2) return `${name}: give two or more choices, or MIN..MAX`;
  const numeric = list.every((x) => !Number.isNaN(Number(x)));
  return { name, type: numeric ? "discrete" : "categorical", list };
}

/** `RESOURCE:AMOUNT, ...` (Kale's limit:RESOURCE:AMOUNT tags) as the panel's field holds it. */
export function parseLimits(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const part of text.split(",").map((x) => x.trim()).filter(Boolean)) {
    const m = part.match(/^([_a-z\-./]+):([_a-zA-Z0-9.]+)$/);
    if (!m) return `'${part}' is not RESOURCE:AMOUNT (e.g. nvidia.com/gpu:1, memory:2Gi)`;
    out[m[1]] = m[2];
  }
  return out;
}

export function formatLimits(limits: Record<string, string>): string {
  return Object.entries(limits).map(([k, v]) => `${k}:${v}`).join(", ");
}
