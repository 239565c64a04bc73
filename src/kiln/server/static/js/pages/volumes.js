// Volumes: a file manager (browse, upload, download, delete) and the snapshot timeline with
// diff and restore.
import { api, apiUrl } from "../api.js";
import { bytes, flash, h, mount, link, when } from "../dom.js";

export async function volumesPage(main) {
  const vols = await api("/volumes");
  const name = h("input", { type: "text", name: "name", placeholder: "new volume name", required: true });
  mount(main, h("h1", {}, "Volumes"),
    h("form", { class: "inline card", id: "new-volume", onsubmit: async (e) => {
      e.preventDefault();
      try { await api("/volumes", { method: "POST", json: { name: name.value } });
        location.hash = `#/volumes/${encodeURIComponent(name.value)}`; } catch (err) { flash(err.message); }
    } }, name, h("button", { class: "primary", type: "submit" }, "Create volume")),
    vols.length ? h("table", { id: "volumes" },
      h("thead", {}, h("tr", {}, ["Volume", "Size", "Files", "Snapshots", "Last snapshot", "Snapshot schedule", "Folder"]
        .map((x) => h("th", { title: x === "Size" || x === "Files" ? "as of the last snapshot" : null }, x)))),
      h("tbody", {}, vols.map((v) => h("tr", { "data-volume": v.name },
        h("td", {}, link(`#/volumes/${encodeURIComponent(v.name)}`, v.name)),
        h("td", { class: "num" }, v.latest_snapshot ? bytes(v.latest_snapshot.size) : "—"),
        h("td", { class: "num" }, v.latest_snapshot ? v.latest_snapshot.files : "—"),
        h("td", { class: "num", "data-field": "snapshots" }, v.snapshots),
        h("td", {}, v.latest_snapshot ? [when(v.latest_snapshot.created_at),
          v.latest_snapshot.message ? h("span", { class: "muted" }, ` · ${v.latest_snapshot.message}`) : ""] : "never"),
        h("td", {}, v.schedule_text || h("span", { class: "muted" }, "none")),
        h("td", { class: "mono" }, v.path)))))
      : h("p", { class: "muted" }, "No volumes yet."));
}

export async function volumePage(main, query, name) {
  const path = query.path || "";
  const vol = encodeURIComponent(name);
  const here = (p) => `#/volumes/${vol}?path=${encodeURIComponent(p)}`;
  const [entries, snaps] = await Promise.all([
    api(`/volumes/${vol}/files`, { query: { path } }), api(`/volumes/${vol}/snapshots`)]);
  const reload = () => volumePage(main, query, name);

  const parts = path ? path.split("/") : [];
  const crumbs = h("div", { class: "crumbs" }, link(here(""), name),
    parts.map((p, i) => [" / ", link(here(parts.slice(0, i + 1).join("/")), p)]));
  const upload = h("input", { type: "file", id: "upload-file", multiple: true });
  const files = h("table", { id: "files" },
    h("thead", {}, h("tr", {}, ["Name", "Size", "Modified", ""].map((x) => h("th", {}, x)))),
    h("tbody", {}, entries.map((e) => {
      const base = e.path.split("/").pop();
      return h("tr", { "data-path": e.path },
        h("td", {}, e.type === "dir" ? link(here(e.path), `${base}/`) :
          h("a", { href: apiUrl(`/volumes/${vol}/files/content`, { path: e.path }), download: base }, base)),
        h("td", { class: "num" }, e.type === "file" ? bytes(e.size) : ""),
        h("td", {}, when(new Date(e.mtime * 1000).toISOString())),
        h("td", {}, h("button", { class: "danger", "data-delete": e.path, onclick: async () => {
          if (!confirm(`Delete ${e.path}?`)) return;
          try { await api(`/volumes/${vol}/files`, { method: "DELETE", query: { path: e.path, recursive: e.type === "dir" } });
            flash(`deleted ${e.path}`, true); reload(); } catch (err) { flash(err.message); }
        } }, "Delete")));
    })));

  const message = h("input", { type: "text", name: "message", placeholder: "snapshot message" });
  const selected = [];
  const diffBox = h("div", { id: "diff" });
  const timeline = h("ul", { class: "timeline", id: "snapshots" }, snaps.map((s) => h("li", { "data-snapshot": s.id },
    h("input", { type: "checkbox", onchange: (e) => {
      if (e.target.checked) selected.push(s.id); else selected.splice(selected.indexOf(s.id), 1);
    } }), " ",
    h("span", { class: "mono" }, s.id.slice(0, 12)), " ",
    h("b", {}, s.message || ""), " ", (s.tags || []).map((t) => h("span", { class: "tag" }, t)),
    h("span", { class: "muted" }, ` ${when(s.created_at)} · ${s.files} files · ${bytes(s.size)} · +${bytes(s.added)}`),
    s.run ? h("span", {}, " · ", link(`#/runs/${s.run}`, `run ${s.run}`)) : null, " ",
    h("button", { "data-restore": s.id, onclick: () => restoreForm(s) }, "Restore…"))));

  function restoreForm(s) {
    const target = h("input", { type: "text", name: "new_volume", placeholder: "new volume name" });
    mount(diffBox, h("form", { class: "card", id: "restore-form", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const body = target.value ? { new_volume: target.value } : { volume: name, force: true };
        if (!target.value && !confirm(`Replace the files of ${name} with snapshot ${s.id.slice(0, 12)}?`)) return;
        const r = await api(`/snapshots/${s.id}/restore`, { method: "POST", json: body });
        flash(`restored ${s.id.slice(0, 12)} into ${r.volume}`, true);
        location.hash = `#/volumes/${encodeURIComponent(r.volume)}`;
        if (r.volume === name) reload();
      } catch (err) { flash(err.message); }
    } }, h("h2", {}, `Restore ${s.id.slice(0, 12)}`),
    h("label", { class: "field" }, h("span", {}, "Into a new volume"), target),
    h("p", { class: "muted" }, "Leave it empty to put this volume back as it was in the snapshot."),
    h("button", { class: "primary", type: "submit" }, "Restore")));
  }

  mount(main, h("h1", {}, `Volume ${name}`),
    h("div", { class: "split" },
      h("div", { class: "card" }, h("h2", {}, "Files"), crumbs,
        h("form", { class: "inline", id: "upload-form", onsubmit: async (e) => {
          e.preventDefault();
          for (const f of upload.files) {
            const form = new FormData();
            form.append("file", f);
            try { await api(`/volumes/${vol}/files/content`, { method: "PUT", form,
              query: { path: path ? `${path}/${f.name}` : f.name } }); } catch (err) { flash(err.message); return; }
          }
          flash(`uploaded ${upload.files.length} file(s)`, true);
          reload();
        } }, upload, h("button", { type: "submit", class: "primary" }, "Upload")),
        files),
      h("div", { class: "card" }, h("h2", {}, "Snapshots"),
        h("form", { class: "inline", id: "snapshot-form", onsubmit: async (e) => {
          e.preventDefault();
          try { const s = await api(`/volumes/${vol}/snapshots`, { method: "POST", json: { message: message.value } });
            flash(`snapshot ${s.id.slice(0, 12)}: ${s.files} files, ${bytes(s.added)} new`, true); reload(); }
          catch (err) { flash(err.message); }
        } }, message, h("button", { type: "submit", class: "primary" }, "Take snapshot")),
        h("div", { class: "actions" }, h("button", { id: "diff-button", onclick: async () => {
          if (selected.length !== 2) return flash("Tick two snapshots to compare them.");
          // Always older -> newer, whatever order the boxes were ticked in (ids break a tie).
          const [a, b] = selected.map((id) => snaps.find((s) => s.id === id))
            .sort((x, y) => x.created_at.localeCompare(y.created_at) || x.id.localeCompare(y.id));
          let d;
          try { d = await api(`/snapshots/${a.id}/diff/${b.id}`); }
          catch (err) { mount(diffBox, h("p", { class: "error", role: "alert" }, err.message)); return; }
          mount(diffBox, h("p", { class: "muted", id: "diff-direction" },
              `From ${a.id.slice(0, 12)} (${when(a.created_at)}`, a.message ? `, “${a.message}”` : "",
              `) to the newer ${b.id.slice(0, 12)} (${when(b.created_at)}`, b.message ? `, “${b.message}”` : "", ")"),
            h("h2", {}, `${d.added} added, ${d.removed} removed, ${d.modified} modified`),
            h("ul", {}, d.changes.map((c) => h("li", { class: `change-${c.kind}` },
              `${c.kind} ${c.path} `, h("span", { class: "muted" }, `${bytes(c.size_before)} → ${bytes(c.size_after)}`)))));
        } }, "Diff selected")),
        snaps.length ? timeline : h("p", { class: "muted" }, "No snapshots yet."),
        diffBox)));
}
