// Notebook servers: JupyterLab in a volume's folder, started and stopped from here (the same
// functions as `kiln notebook`). Each opens in a new tab, logged in by its token.
import { api } from "../api.js";
import { badge, flash, h, link, mount, when } from "../dom.js";

export async function notebooksPage(main) {
  const [items, volumes] = await Promise.all([api("/notebooks"), api("/volumes")]);
  const start = h("button", { type: "submit", class: "primary", id: "start-notebook" }, "Start");
  const form = h("form", { class: "card inline", id: "new-notebook", onsubmit: async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    start.disabled = true;
    start.textContent = "Starting…";
    try {
      const nb = await api("/notebooks", { method: "POST", json: {
        volume: f.get("volume") || null, name: f.get("name") || null } });
      flash(`notebook server ${nb.name} is up`, true);
    } catch (err) {
      flash(err.message);
    } finally {
      start.disabled = false;
      start.textContent = "Start";
    }
    notebooksPage(main);
  } },
  h("select", { name: "volume" }, h("option", { value: "" }, "(a new folder)"),
    volumes.map((v) => h("option", { value: v.name }, v.name))),
  h("input", { name: "name", placeholder: "name (default: the volume's)" }),
  start);
  const stop = async (nb) => {
    try { await api(`/notebooks/${encodeURIComponent(nb.name)}/stop`, { method: "POST" }); } catch (err) { flash(err.message); }
    notebooksPage(main);
  };
  mount(main, h("h1", {}, "Notebook servers"), form,
    items.length ? h("table", { id: "notebooks" },
      h("thead", {}, h("tr", {}, ["Name", "Status", "Volume", "Started", ""].map((x) => h("th", {}, x)))),
      h("tbody", {}, items.map((nb) => h("tr", { "data-name": nb.name },
        h("td", {}, nb.name), h("td", {}, badge(nb.status)),
        h("td", {}, nb.volume ? link(`#/volumes/${encodeURIComponent(nb.volume)}`, nb.volume) : h("span", { class: "muted" }, nb.root)),
        h("td", {}, when(nb.created_at)),
        h("td", {},
          nb.status === "running" ? h("a", { class: "button", href: nb.open_url, target: "_blank", rel: "noopener" }, "Open") : null,
          nb.status === "running" ? h("button", { class: "danger", onclick: () => stop(nb) }, "Stop") : null)))))
      : h("p", { class: "muted" }, "No notebook servers yet."));
}
