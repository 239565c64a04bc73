// Hash routes (#/runs/ID) to page modules; each page renders into <main> and may return a
// stop function (for its live polling) that runs when the user leaves it.
import { api, namespace, setNamespace, signOut } from "./api.js";
import { clearFlash, flash, mount, h } from "./dom.js";
import { home } from "./pages/home.js";
import { runsPage } from "./pages/runs.js";
import { runPage } from "./pages/run.js";
import { comparePage } from "./pages/compare.js";
import { pipelinesPage, pipelinePage } from "./pages/pipelines.js";
import { experimentsPage } from "./pages/experiments.js";
import { volumesPage, volumePage } from "./pages/volumes.js";
import { schedulesPage } from "./pages/schedules.js";
import { notebooksPage } from "./pages/notebooks.js";
import { studiesPage, studyPage } from "./pages/studies.js";
import { servicesPage } from "./pages/services.js";
import { lineagePage } from "./pages/lineage.js";
import { accountPage, membersPage } from "./pages/people.js";
import { bucketPage, registryPage } from "./pages/registry.js";
import { modelPage, modelsPage } from "./pages/models.js";

const ROUTES = [
  [/^\/$/, home],
  [/^\/runs$/, runsPage],
  [/^\/runs\/([^/]+)$/, runPage],
  [/^\/compare$/, comparePage],
  [/^\/pipelines$/, pipelinesPage],
  [/^\/pipelines\/([^/]+)$/, pipelinePage],
  [/^\/experiments$/, experimentsPage],
  [/^\/volumes$/, volumesPage],
  [/^\/volumes\/([^/]+)$/, volumePage],
  [/^\/schedules$/, schedulesPage],
  [/^\/notebooks$/, notebooksPage],
  [/^\/studies$/, studiesPage],
  [/^\/studies\/([^/]+)$/, studyPage],
  [/^\/services$/, servicesPage],
  [/^\/lineage\/(.+)$/, lineagePage],
  [/^\/account$/, accountPage],
  [/^\/registry$/, registryPage],
  [/^\/registry\/([^/]+)\/([^/]+)$/, bucketPage],
  [/^\/models$/, modelsPage],
  [/^\/models\/([^/]+)$/, modelPage],
  [/^\/members$/, membersPage],
];

let stop = null;

async function route() {
  if (stop) { stop(); stop = null; }
  clearFlash();  // a message belongs to the page it was about
  const [path, qs] = (location.hash.slice(1) || "/").split("?");
  const query = Object.fromEntries(new URLSearchParams(qs || ""));
  const main = document.getElementById("page");
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", path.startsWith(a.getAttribute("href").slice(1)));
  }
  for (const [re, page] of ROUTES) {
    const m = path.match(re);
    if (!m) continue;
    try {
      stop = (await page(main, query, ...m.slice(1).map(decodeURIComponent))) || null;
    } catch (e) {
      // once, where it happened: the page's own place, not a banner as well
      mount(main, h("h1", {}, "This page cannot be shown"),
        h("p", { class: "error", role: "alert" }, e.message),
        h("p", {}, h("a", { href: "javascript:history.back()" }, "Back"), " · ", h("a", { href: "#/" }, "Home")));
    }
    return;
  }
  mount(main, h("h1", {}, "Not found"), h("p", {}, "No page at ", h("code", {}, path), ". ",
    h("a", { href: "#/" }, "Home")));
}

// The namespace picker: the namespaces the caller may enter (all of them on an open server or
// for a server admin, who may also start a new one by name).
let me = null;

async function namespacePicker() {
  const select = document.getElementById("namespace");
  const { namespaces: names, default: dflt, roles } = await api("/namespaces");
  const mayCreate = !me || me.admin || !me.auth;
  let current = namespace() || dflt;
  if (!names.includes(current)) {
    if (mayCreate && current) names.push(current);
    else current = dflt;  // a namespace kept from another user, or one taken away
  }
  // A signed-in user's default may not be the server's: say it on every call.
  if (Object.keys(roles || {}).length) setNamespace(current || "");
  mount(select, names.map((n) => h("option", { value: n, selected: n === current },
    roles && roles[n] ? `${n} (${roles[n]})` : n)),
    mayCreate ? h("option", { value: "+" }, "new…") : null);
  select.onchange = () => {
    let ns = select.value;
    if (ns === "+") ns = (prompt("New namespace (lowercase letters, digits, '-'):") || "").trim();
    if (!ns) { select.value = current; return; }
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(ns)) {
      flash(`'${ns}' is not a namespace name — 1-63 lowercase letters, digits and '-'`);
      select.value = current;
      return;
    }
    setNamespace(ns === dflt && !Object.keys(roles || {}).length ? "" : ns);
    namespacePicker();
    route();
  };
}

// Who is signed in, with their pages and a way out (nothing to show on an open server).
async function whoShown() {
  me = await api("/whoami");
  const el = document.getElementById("who");
  if (!me.auth) { mount(el); return; }
  mount(el, h("span", { id: "who-name" }, me.name), h("a", { href: "#/members" }, "Members"),
    h("a", { href: "#/account" }, "Tokens"),
    h("a", { href: "#/", id: "sign-out", onclick: (e) => { e.preventDefault(); signOut(); } }, "Sign out"));
}

async function start() {
  await whoShown();
  await namespacePicker();
  route();
}

window.addEventListener("kiln-signed-in", () => { whoShown().then(namespacePicker); });
window.addEventListener("hashchange", route);
window.addEventListener("unhandledrejection", (e) => flash(e.reason?.message || String(e.reason)));
start();
