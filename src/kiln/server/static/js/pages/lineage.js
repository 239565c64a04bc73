// Lineage of a run or an artifact: what it came from and what came of it, drawn as two
// graphs kept apart. Artifacts with the same content (a cached step's output is the same
// bytes as the run it came from) are one node, so unrelated cached copies collapse.
import { api } from "../api.js";
import { bytes, h, link, mount } from "../dom.js";
import { drawDag } from "../dag.js";

// {root, artifacts, tasks, edges} -> nodes keyed by what they are: a task, or content
function collapse(lin) {
  const key = new Map();  // API node id -> our node id
  const nodes = new Map();
  for (const a of lin.artifacts) {
    const id = `d:${a.digest}`;
    key.set(a.node, id);
    if (!nodes.has(id)) nodes.set(id, { id, kind: "artifact", label: (a.type || "").split(".").pop() || "artifact",
      sub: `${bytes(a.size)} · ${a.digest.slice(0, 10)}`, title: `${a.type} ${a.digest}`, digest: a.digest });
  }
  for (const t of lin.tasks) {
    const id = `t:${t.node}`;
    key.set(t.node, id);
    nodes.set(id, { id, kind: "task", label: t.step, sub: t.status,
      title: `step ${t.step} of run ${t.run} (${t.status})`, run: t.run, step: t.step, status: t.status });
  }
  let edges = [...new Set(lin.edges.map(([a, b]) => `${key.get(a)}>${key.get(b)}`))]
    .map((e) => { const [from, to] = e.split(">"); return { from, to }; });
  // A cached step is a copy: it wrote exactly what an earlier step wrote. Where that earlier
  // step is drawn too, the copy adds nothing; it is left out and counted.
  const roots = new Set(lin.roots.map((r) => key.get(r)));
  const writers = new Map();
  for (const e of edges) if (nodes.get(e.from)?.kind === "task") (writers.get(e.to) || writers.set(e.to, []).get(e.to)).push(e.from);
  let collapsed = 0;
  for (const n of [...nodes.values()]) {
    if (n.kind !== "task" || n.status !== "cached" || roots.has(n.id)) continue;
    const outs = edges.filter((e) => e.from === n.id).map((e) => e.to);
    if (outs.every((a) => (writers.get(a) || []).some((w) => w !== n.id && nodes.get(w)?.status !== "cached"))) {
      nodes.delete(n.id);
      collapsed += 1;
    }
  }
  edges = edges.filter((e) => nodes.has(e.from) && nodes.has(e.to));
  return { key, nodes, edges, collapsed };
}

// nodes reachable from `roots` following edges one way
function reach(roots, edges, forward) {
  const out = new Set(roots);
  const next = new Map();
  for (const e of edges) {
    const [a, b] = forward ? [e.from, e.to] : [e.to, e.from];
    if (!next.has(a)) next.set(a, []);
    next.get(a).push(b);
  }
  const todo = [...roots];
  while (todo.length) {
    for (const n of next.get(todo.pop()) || []) if (!out.has(n)) { out.add(n); todo.push(n); }
  }
  return out;
}

export async function lineagePage(main, query, ref) {
  const lin = await api(`/lineage/${ref.split("/").map(encodeURIComponent).join("/")}`);
  const { key, nodes, edges, collapsed } = collapse(lin);
  // the roots: the run's own tasks, or the artifact named
  const roots = [...new Set(lin.roots.map((r) => key.get(r)).filter(Boolean))];
  const part = (forward) => {
    const keep = reach(roots, edges, forward);
    return { nodes: [...keep].map((id) => nodes.get(id)).filter(Boolean),
      edges: edges.filter((e) => keep.has(e.from) && keep.has(e.to)) };
  };
  const states = Object.fromEntries([...nodes.values()].map((n) => [n.id,
    { status: roots.includes(n.id) ? "root" : n.kind === "artifact" ? "artifact" : n.status }]));
  const open = (id) => {
    const n = nodes.get(id);
    if (n.kind === "task") location.hash = `#/runs/${n.run}?step=${encodeURIComponent(n.step)}`;
    else location.hash = `#/lineage/${n.digest}`;
  };
  const width = main.clientWidth - 60;
  const graph = (title, g, id, empty) => h("div", { class: "card", id },
    h("h2", {}, title),
    g.nodes.length > roots.length ? drawDag(g, states, { onSelect: open, available: width, noun: "node" })
      : h("p", { class: "muted" }, empty));
  mount(main, h("h1", {}, "Lineage of ", h("span", { class: "mono" }, lin.root)),
    h("p", { class: "muted", id: "lineage-summary" }, `${lin.tasks.length - collapsed} steps and ${[...nodes.values()].filter((n) => n.kind === "artifact").length} distinct outputs within 50 steps each way`,
      collapsed ? `; ${collapsed} cached cop${collapsed === 1 ? "y" : "ies"} of steps shown here left out` : "", ". ",
      "Click a step to open it in its run, an output to follow its own lineage. ",
      lin.root.startsWith("run ") ? link(`#/runs/${lin.root.slice(4)}`, "Back to the run") : ""),
    graph("Upstream: what it came from", part(false), "upstream", "Nothing upstream: it read no stored output."),
    graph("Downstream: what came of it", part(true), "downstream", "Nothing downstream yet: no later step read it."));
}
