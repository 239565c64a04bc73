// People: one's own tokens (#/account), and the current namespace's owner and contributors
// (#/members) with, for server admins, the groups. The same REST calls as `kiln token` and
// `kiln namespace` / `kiln group`.
import { api, namespace } from "../api.js";
import { flash, h, mount, table, when } from "../dom.js";

export async function accountPage(main) {
  const me = await api("/whoami");
  if (!me.auth) {
    mount(main, h("h1", {}, "Tokens"), h("p", { class: "muted" },
      "This server has no accounts (it was started without --auth): nothing to sign in with."));
    return;
  }
  const { tokens } = await api("/tokens");
  const shown = h("div", { id: "new-token-secret" });
  const form = h("form", { class: "card inline", id: "new-token", onsubmit: async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      const made = await api("/tokens", { method: "POST", json: {
        name: f.get("name"), expires_days: Number(f.get("days")), read_only: f.get("read_only") === "on" } });
      await accountPage(main);
      // shown once: only its hash is kept
      mount(document.getElementById("new-token-secret"), h("div", { class: "card" },
        h("p", {}, `Token '${made.name}' — copy it now, it is not shown again:`),
        h("div", { class: "secret", id: "token-secret" }, made.token)));
    } catch (err) {
      flash(err.message);
    }
  } },
  h("input", { name: "name", placeholder: "what it is for, e.g. laptop-cli", required: true, maxlength: 100 }),
  h("label", {}, "expires in ", h("input", { name: "days", type: "number", min: 1, max: 366, value: 90, style: "width:5em" }), " days"),
  h("label", {}, h("input", { name: "read_only", type: "checkbox" }), " read-only"),
  h("button", { type: "submit", class: "primary" }, "Make a token"));
  const revoke = async (t) => {
    if (!confirm(`Revoke token '${t.name}'? Whatever uses it stops at once.`)) return;
    try { await api(`/tokens/${t.id}`, { method: "DELETE" }); } catch (err) { flash(err.message); }
    accountPage(main);
  };
  mount(main, h("h1", {}, `Tokens of ${me.name}`),
    h("p", { class: "muted" }, "For scripts and the CLI: send as Authorization: Bearer TOKEN, or sign in with `kiln login`."),
    form, shown,
    tokens.length ? table(["Name", "Prefix", "State", "Read-only", "Created", "Expires", "Last used", ""],
      tokens.map((t) => h("tr", { "data-id": t.id },
        h("td", {}, t.name), h("td", {}, h("code", {}, `${t.prefix}…`)), h("td", {}, t.state),
        h("td", {}, t.read_only ? "yes" : ""), h("td", {}, when(t.created_at)),
        h("td", {}, t.expires_at ? when(t.expires_at) : "never"), h("td", {}, when(t.last_used_at) || "—"),
        h("td", {}, t.state === "active" ? h("button", { class: "danger", onclick: () => revoke(t) }, "Revoke") : null))),
      { id: "tokens" })
      : h("p", { class: "muted" }, "No tokens yet."));
}

export async function membersPage(main) {
  const me = await api("/whoami");
  if (!me.auth) {
    mount(main, h("h1", {}, "Members"), h("p", { class: "muted" },
      "This server has no accounts (it was started without --auth): everyone who reaches it may do everything."));
    return;
  }
  const ns = namespace() || (await api("/namespaces")).default;
  let info;
  try {
    info = await api(`/namespaces/${encodeURIComponent(ns)}/members`);
  } catch (err) {
    if (err.status !== 404) throw err;
    mount(main, h("h1", {}, `Members of ${ns}`), h("p", { class: "muted" }, err.message));
    return;
  }
  const mayManage = me.admin || me.namespaces[ns] === "admin";
  const groups = (await api("/groups")).groups;
  const change = async (method, m, role) => {
    try {
      await api(`/namespaces/${encodeURIComponent(ns)}/members/${m.kind}/${encodeURIComponent(m.name)}`,
        { method, json: role ? { role } : undefined });
      flash(method === "DELETE" ? `${m.name} removed` : `${m.name} is now ${role}`, true);
    } catch (err) {
      flash(err.message);
    }
    membersPage(main);
  };
  const roleSelect = (m) => h("select", { "aria-label": `role of ${m.name}`, disabled: !mayManage,
    onchange: (e) => change("PUT", m, e.target.value) },
    ["admin", "edit", "view"].map((r) => h("option", { value: r, selected: r === m.role }, r)));
  const add = mayManage ? h("form", { class: "card inline", id: "add-member", onsubmit: (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    change("PUT", { kind: f.get("kind"), name: f.get("name").trim() }, f.get("role"));
  } },
  h("select", { name: "kind" }, h("option", { value: "user" }, "user"), h("option", { value: "group" }, "group")),
  h("input", { name: "name", placeholder: "name", required: true, list: "group-names" }),
  h("datalist", { id: "group-names" }, groups.map((g) => h("option", { value: g.name }))),
  h("select", { name: "role" }, ["edit", "view", "admin"].map((r) => h("option", { value: r }, r))),
  h("button", { type: "submit", class: "primary" }, "Add contributor")) : null;
  const groupCard = me.admin ? h("div", { class: "card", id: "groups" }, h("h2", {}, "Groups"),
    groups.length ? table(["Group", "Members"], groups.map((g) => h("tr", {},
      h("td", {}, g.name), h("td", {}, g.members.join(", ") || "—")))) : h("p", { class: "muted" }, "No groups yet."),
    h("form", { class: "inline", id: "add-to-group", onsubmit: async (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      const group = f.get("group").trim();
      try {
        if (!groups.some((g) => g.name === group)) await api("/groups", { method: "POST", json: { name: group } });
        if (f.get("user").trim()) await api(`/groups/${encodeURIComponent(group)}/members/${encodeURIComponent(f.get("user").trim())}`, { method: "PUT" });
        flash(`group ${group} updated`, true);
      } catch (err) { flash(err.message); }
      membersPage(main);
    } },
    h("input", { name: "group", placeholder: "group", required: true }),
    h("input", { name: "user", placeholder: "user to add" }),
    h("button", { type: "submit" }, "Add to group"))) : null;
  mount(main, h("h1", {}, `Members of ${ns}`),
    h("p", { class: "muted" }, `Owner: ${info.owner}. Admins manage contributors; edit changes runs, volumes and models; view only reads.`),
    add,
    table(["Kind", "Name", "Role", ""], info.members.map((m) => h("tr", { "data-member": `${m.kind}:${m.name}` },
      h("td", {}, m.kind), h("td", {}, m.name), h("td", {}, roleSelect(m)),
      h("td", {}, mayManage && !(m.kind === "user" && m.name === info.owner)
        ? h("button", { class: "danger", onclick: () => change("DELETE", m) }, "Remove") : null))),
    { id: "members" }),
    groupCard);
}
