// Hash routes (#/runs/ID) to page modules; each page renders into <main> and may return a
// stop function (for its live polling) that runs when the user leaves it.
import { api, namespace, setNamespace } from "./api.js";
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

// The namespace picker: the namespaces in use, and a new one by name.
async function namespacePicker() {
  const select = document.getElementById("namespace");
  const { namespaces: names, default: dflt } = await api("/namespaces");
  const current = namespace() || dflt;
  if (!names.includes(current)) names.push(current);
  mount(select, names.map((n) => h("option", { value: n, selected: n === current }, n)),
    h("option", { value: "+" }, "new…"));
  select.onchange = () => {
    let ns = select.value;
    if (ns === "+") ns = (prompt("New namespace (lowercase letters, digits, '-'):") || "").trim();
    if (!ns) { select.value = current; return; }
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(ns)) {
      flash(`'${ns}' is not a namespace name — 1-63 lowercase letters, digits and '-'`);
      select.value = current;
      return;
    }
    setNamespace(ns === dflt ? "" : ns);
    namespacePicker();
    route();
  };
}

window.addEventListener("hashchange", route);
namespacePicker();
window.addEventListener("unhandledrejection", (e) => flash(e.reason?.message || String(e.reason)));
route();
