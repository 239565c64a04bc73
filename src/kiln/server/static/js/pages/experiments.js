import { api } from "../api.js";
import { badge, h, mount, link, when } from "../dom.js";

export async function experimentsPage(main) {
  const exps = await api("/experiments");
  mount(main, h("h1", {}, "Experiments"),
    exps.length ? h("table", {},
      h("thead", {}, h("tr", {}, ["Experiment", "Runs", "Statuses", "Last run"].map((x) => h("th", {}, x)))),
      h("tbody", {}, exps.map((e) => h("tr", {},
        h("td", {}, link(`#/runs?filter=${encodeURIComponent(`experiment = ${e.name}`)}`, e.name)),
        h("td", { class: "num" }, e.runs),
        h("td", {}, Object.entries(e.statuses).map(([s, n]) => h("span", {}, badge(s), ` ${n} `))),
        h("td", {}, when(e.last_run_at))))))
      : h("p", { class: "muted" }, "No experiments yet: runs record one with --experiment or @kiln.pipeline(experiment=...)."));
}
