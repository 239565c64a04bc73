import { api } from "../api.js";
import { h, mount, link } from "../dom.js";
import { runsTable } from "./runs.js";
import { uploadForm } from "./pipelines.js";

export async function home(main) {
  const [runs, pipelines, volumes, notebooks] = await Promise.all([
    api("/runs", { query: { limit: 10 } }), api("/pipelines"), api("/volumes"), api("/notebooks")]);
  mount(main,
    h("h1", {}, "kilnflow"),
    h("div", { class: "grid" },
      h("div", { class: "card" }, h("h2", {}, "Quick actions"),
        h("p", {}, link("#/pipelines", "Start a run"), " of an uploaded pipeline, or upload one:"),
        uploadForm(),
        h("p", {}, link("#/volumes", "Browse volumes and snapshots"), " · ",
          link("#/notebooks", "Start a notebook server"), " · ", link("#/schedules", "Schedule a pipeline"))),
      h("div", { class: "card" }, h("h2", {}, "Pipelines"),
        pipelines.length ? h("ul", {}, pipelines.map((p) => h("li", {},
          link(`#/pipelines/${encodeURIComponent(p.name)}`, p.name),
          h("span", { class: "muted" }, ` · ${p.versions} version${p.versions === 1 ? "" : "s"} · ${p.runs} runs`))))
          : h("p", { class: "muted" }, "None uploaded yet.")),
      h("div", { class: "card" }, h("h2", {}, "Volumes"),
        volumes.length ? h("ul", {}, volumes.map((v) => h("li", {},
          link(`#/volumes/${encodeURIComponent(v.name)}`, v.name)))) :
          h("p", { class: "muted" }, "None yet.")),
      h("div", { class: "card" }, h("h2", {}, "Notebook servers"),
        notebooks.length ? h("ul", {}, notebooks.map((n) => h("li", {},
          n.status === "running" ? h("a", { href: n.open_url, target: "_blank", rel: "noopener" }, n.name) : n.name,
          h("span", { class: "muted" }, ` · ${n.status}`)))) :
          h("p", { class: "muted" }, "None yet."))),
    h("div", { class: "card" }, h("h2", {}, "Recent runs"), runsTable(runs.runs)));
}
