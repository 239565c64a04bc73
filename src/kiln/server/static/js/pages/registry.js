// The registry: search buckets, publish a version, look at a bucket's versions, subscribe a
// volume or a model to it, and the namespace's subscriptions (pause, resume, sync, remove).
// The same REST calls as `kiln publish`, `kiln registry`, `kiln subscribe`.
import { api } from "../api.js";
import { bytes, flash, h, link, mount, table, when } from "../dom.js";

const bucketHash = (ref) => `#/registry/${ref.split("/").map(encodeURIComponent).join("/")}`;
const bucketApi = (ref) => `/registry/buckets/${ref.split("/").map(encodeURIComponent).join("/")}`;

export async function registryPage(main, query) {
  const [found, subs] = await Promise.all([
    api("/registry/buckets", { query: { q: query.q, owner: query.owner, tag: query.tag } }),
    api("/subscriptions")]);
  const search = h("form", { class: "card inline", id: "search-buckets", onsubmit: (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const qs = new URLSearchParams([...f.entries()].filter(([, v]) => v)).toString();
    location.hash = `#/registry${qs ? `?${qs}` : ""}`;
  } },
  h("input", { name: "q", placeholder: "search names and messages", value: query.q || "" }),
  h("input", { name: "owner", placeholder: "owner", value: query.owner || "", size: 12 }),
  h("input", { name: "tag", placeholder: "tag", value: query.tag || "", size: 10 }),
  h("button", { type: "submit" }, "Search"));
  const publish = h("form", { class: "card inline", id: "publish", onsubmit: async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const ref = f.get("bucket").trim();
    try {
      const got = await api(`${bucketApi(ref)}/versions`, { method: "POST", json: {
        source: f.get("source").trim(), message: f.get("message"),
        visibility: f.get("visibility") || null,
        tags: f.get("tags").split(",").map((t) => t.trim()).filter(Boolean) } });
      flash(`${got.bucket} v${got.version.number} published`, true);
      location.hash = bucketHash(got.bucket);
    } catch (err) { flash(err.message); }
  } },
  h("input", { name: "source", placeholder: "volume, volume:snapshot, models:/name@alias or run:RUN", required: true, size: 40 }),
  h("input", { name: "bucket", placeholder: "owner/name", required: true }),
  h("input", { name: "message", placeholder: "message" }),
  h("input", { name: "tags", placeholder: "tags, comma-separated", size: 14 }),
  h("select", { name: "visibility" }, h("option", { value: "" }, "visibility: keep"),
    ["private", "group", "public"].map((v) => h("option", { value: v }, v))),
  h("button", { type: "submit", class: "primary" }, "Publish"));
  mount(main, h("h1", {}, "Registry"), search, publish,
    found.buckets.length ? table(["Bucket", "Versions", "Latest", "Visibility", "Updated"],
      found.buckets.map((b) => h("tr", { "data-bucket": b.bucket },
        h("td", {}, link(bucketHash(b.bucket), b.bucket), b.origin ? h("span", { class: "muted" }, " mirror") : null),
        h("td", { class: "num" }, b.head),
        h("td", {}, b.latest ? [b.latest.message || b.latest.source, b.latest.tags.length ? h("span", { class: "muted" }, ` [${b.latest.tags.join(", ")}]`) : null] : "—"),
        h("td", {}, b.visibility), h("td", {}, b.latest ? when(b.latest.created_at) : ""))),
      { id: "buckets" })
      : h("p", { class: "muted" }, "No bucket you may read matches."),
    h("h2", {}, "Subscriptions in this namespace"), subscriptionsTable(subs.subscriptions, () => registryPage(main, query)));
}

function subscriptionsTable(subs, reload) {
  if (!subs.length) return h("p", { class: "muted", id: "no-subscriptions" }, "Nothing here follows a bucket.");
  const act = async (s, method, path, json) => {
    try {
      const got = await api(`/subscriptions/${s.id}${path}`, { method, json });
      if (path === "/sync") flash(got.up_to_date ? `${s.bucket}: up to date (v${got.version})` : `${s.bucket}: v${got.version}, ${got.fetched} pieces fetched (${bytes(got.bytes_received)})`, true);
    } catch (err) { flash(err.message); }
    reload();
  };
  return table(["Bucket", "Kept in", "Version", "State", "Last sync", "From", ""], subs.map((s) => h("tr", { "data-subscription": s.id },
    h("td", {}, link(bucketHash(s.bucket), s.bucket)),
    h("td", {}, s.target_kind === "volume" ? link(`#/volumes/${encodeURIComponent(s.target)}`, `volume ${s.target}`) : link(`#/models/${encodeURIComponent(s.target)}`, `model ${s.target}`)),
    h("td", { class: "num" }, `v${s.version}`),
    h("td", {}, s.paused ? "paused" : s.last_error ? h("span", { class: "error" }, s.last_error) : "following"),
    h("td", {}, when(s.last_sync_at)), h("td", {}, s.sources.join(", ")),
    h("td", {}, h("button", { onclick: () => act(s, "POST", "/sync") }, "Sync now"),
      h("button", { onclick: () => act(s, "PATCH", "", { paused: !s.paused }) }, s.paused ? "Resume" : "Pause"),
      h("button", { class: "danger", onclick: () => confirm(`Stop following ${s.bucket}? What arrived stays.`) && act(s, "DELETE", "") }, "Remove")))),
  { id: "subscriptions" });
}

export async function bucketPage(main, query, owner, name) {
  const ref = `${owner}/${name}`;
  const b = await api(bucketApi(ref));
  const subscribe = h("form", { class: "card inline", id: "subscribe", onsubmit: async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const sources = f.get("from").split(/[\s,]+/).filter(Boolean);
    try {
      const got = await api("/subscriptions", { method: "POST", json: {
        bucket: ref, to: f.get("to").trim(), kind: f.get("kind"), sources } });
      flash(`${got.target_kind} ${got.target} follows ${ref} (v${got.version})`, true);
      location.hash = "#/registry";
    } catch (err) { flash(err.message); }
  } },
  h("select", { name: "kind" }, h("option", { value: "volume" }, "volume"), h("option", { value: "model" }, "model")),
  h("input", { name: "to", placeholder: "kept in (a volume or model name)", required: true }),
  h("input", { name: "from", placeholder: "from peers (addresses; empty: this server)", size: 30 }),
  h("button", { type: "submit", class: "primary" }, "Subscribe"));
  const visibility = h("select", { id: "visibility", onchange: async (e) => {
    try { await api(bucketApi(ref), { method: "PATCH", json: { visibility: e.target.value } });
      flash(`${ref} is ${e.target.value}`, true); } catch (err) { flash(err.message); bucketPage(main, query, owner, name); }
  } }, ["private", "group", "public"].map((v) => h("option", { value: v, selected: v === b.visibility }, v)));
  mount(main, h("h1", {}, `Bucket ${ref}`),
    h("p", { class: "muted" }, "visibility ", visibility,
      b.origin ? ` · mirror of ${b.origin}` : "", ` · ${b.head} versions · made by ${b.created_by}`),
    subscribe,
    b.versions.length ? table(["Version", "Kind", "Source", "Size", "Files", "Author", "Published", "Message", "Tags"],
      b.versions.map((v) => h("tr", { "data-version": v.number },
        h("td", {}, `v${v.number}`), h("td", {}, v.kind), h("td", { class: "mono" }, v.source || ""),
        h("td", { class: "num" }, bytes(v.size)), h("td", { class: "num" }, v.files ?? ""),
        h("td", {}, v.author), h("td", {}, when(v.created_at)), h("td", {}, v.message),
        h("td", {}, v.tags.join(", ")))), { id: "versions" })
      : h("p", { class: "muted" }, "No versions."));
}
