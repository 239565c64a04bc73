// Registered models: each with its versions (the run, parameters and data each came from),
// aliases that move, and the history of the moves; serving a version or an alias.
import { api } from "../api.js";
import { bytes, flash, h, link, mount, table, when } from "../dom.js";

export async function modelsPage(main) {
  const { models } = await api("/models");
  mount(main, h("h1", {}, "Registered models"),
    h("p", { class: "muted" }, "Register one from a run's output or a study's best trial (kiln models register), then serve it by alias: models:/NAME@production."),
    models.length ? table(["Model", "Versions", "Aliases", "Updated"], models.map((m) => h("tr", { "data-model": m.name },
      h("td", {}, link(`#/models/${encodeURIComponent(m.name)}`, m.name)), h("td", { class: "num" }, m.versions),
      h("td", {}, Object.entries(m.aliases).map(([a, v]) => h("span", { class: "badge" }, `${a} → v${v}`))),
      h("td", {}, when(m.updated_at)))), { id: "models" })
      : h("p", { class: "muted" }, "No registered models yet."));
}

export async function modelPage(main, query, name) {
  const m = await api(`/models/${encodeURIComponent(name)}`);
  const reload = () => modelPage(main, query, name);
  const move = async (alias, version) => {
    try {
      await api(`/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`, { method: "PUT", json: { version } });
      flash(`${alias} → v${version}`, true);
    } catch (err) { flash(err.message); }
    reload();
  };
  const serve = async (uri) => {
    try {
      const svc = await api("/services", { method: "POST", json: { model: uri, name } });
      flash(`serving ${uri} as ${svc.name}`, true);
      location.hash = "#/services";
    } catch (err) { flash(err.message); }
  };
  const aliasForm = h("form", { class: "card inline", id: "move-alias", onsubmit: (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    move(f.get("alias").trim(), Number(f.get("version")));
  } },
  h("input", { name: "alias", placeholder: "alias, e.g. production", required: true }),
  h("select", { name: "version" }, m.versions.map((v) => h("option", { value: v.version }, `v${v.version}`))),
  h("button", { type: "submit", class: "primary" }, "Point alias"));
  mount(main, h("h1", {}, `Model ${name}`),
    h("p", {}, Object.entries(m.aliases).length ? Object.entries(m.aliases).map(([a, v]) =>
      h("span", { class: "badge", "data-alias": a }, `${a} → v${v}`)) : h("span", { class: "muted" }, "no aliases")),
    aliasForm,
    table(["Version", "Aliases", "From", "Parameters", "Data", "Size", "Registered", ""], m.versions.map((v) => {
      const lin = v.lineage || {};
      return h("tr", { "data-version": v.version },
        h("td", {}, `v${v.version}`), h("td", {}, v.aliases.join(", ")),
        h("td", {}, v.run ? link(`#/runs/${encodeURIComponent(v.run)}`, v.source) : v.source,
          lin.study ? h("div", { class: "muted" }, link(`#/studies/${encodeURIComponent(lin.study.id || lin.study.name)}`, `study ${lin.study.name}, trial ${lin.study.trial}`)) : null),
        h("td", { class: "mono" }, Object.entries(lin.params || {}).map(([k, x]) => `${k}=${x}`).join(", ")),
        h("td", {}, Object.entries(lin.data || {}).map(([k, d]) => h("div", {}, `${k}: `,
          link(`#/volumes/${encodeURIComponent(d.volume)}`, d.volume), d.snapshot ? `@${d.snapshot.slice(0, 12)}` : ""))),
        h("td", { class: "num" }, bytes(v.artifact.size)), h("td", {}, when(v.created_at)),
        h("td", {}, h("button", { onclick: () => serve(v.uri) }, "Serve")));
    }), { id: "model-versions" }),
    h("h2", {}, "Alias history"),
    m.history.length ? table(["When", "Who", "Alias", "To"], m.history.map((x) => h("tr", {},
      h("td", {}, when(x.at)), h("td", {}, x.by), h("td", {}, x.alias), h("td", {}, x.version ? `v${x.version}` : "removed"))),
    { id: "alias-history" }) : h("p", { class: "muted" }, "No moves yet."));
}
