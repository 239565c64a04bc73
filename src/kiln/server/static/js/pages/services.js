// Served models: every model server of the namespace with its models, versions and canary
// split, live numbers from its own /metrics (request rate between two polls, error rate,
// latency), the tail of its log, and stop / promote / roll back.
import { api } from "../api.js";
import { badge, h, mount, link, num, when } from "../dom.js";

const ms = (s) => (s === null || s === undefined || s < 0 ? "" : `${num(s * 1000)} ms`);

function numbers(svc, previous, dt) {
  const rows = [];
  for (const m of svc.models) {
    const now = svc.metrics?.[m.name];
    const before = previous?.metrics?.[m.name];
    const rate = now && before && dt > 0 ? Math.max(0, (now.requests - before.requests) / dt) : null;
    rows.push(h("tr", { "data-model": m.name },
      h("td", {}, m.name),
      h("td", { class: "num", "data-field": "requests" }, now ? num(now.requests) : "—"),
      h("td", { class: "num", "data-field": "rate" }, rate === null ? "…" : `${rate.toFixed(1)}/s`),
      h("td", { class: "num", "data-field": "errors" }, now && now.requests ? `${num((100 * now.errors) / now.requests)}%` : "—"),
      h("td", { class: "num", "data-field": "latency" }, now && now.latency_count ? ms(now.latency_sum / now.latency_count) : "—"),
      h("td", { class: "num", "data-field": "p99" }, now && now.p99_le !== undefined ? `≤ ${ms(now.p99_le)}` : "—")));
  }
  return h("table", { class: "service-numbers" },
    h("thead", {}, h("tr", {}, ["Model", "Requests", "Rate", "Errors", "Mean latency", "p99"].map((x) => h("th", {}, x)))),
    h("tbody", {}, rows));
}

function modelRows(svc) {
  return svc.models.map((m) => h("tr", {},
    h("td", {}, m.name),
    h("td", {}, `v${m.version} `, m.model_run ? link(`#/runs/${m.model_run}`, m.model) : h("span", { class: "mono" }, m.model)),
    h("td", {}, m.canary ? [`v${m.canary_version} `, m.canary_run ? link(`#/runs/${m.canary_run}`, m.canary) : m.canary,
      ` · ${m.canary_percent}% of requests`] : h("span", { class: "muted" }, "none")),
    h("td", {}, svc.status === "running" ? h("code", {}, `${svc.url}/v2/models/${m.name}/infer`) : "")));
}

export async function servicesPage(main) {
  let timer = null, stopped = false, previous = {}, lastAt = 0;
  const errors = {};  // a refused action, shown on its service's card until the next one
  const act = async (svc, what, model) => {
    try {
      await api(`/services/${encodeURIComponent(svc.name)}/${what}`, { method: "POST", query: { model } });
      errors[svc.name] = null;
    } catch (e) { errors[svc.name] = e.message; }
    draw();
  };
  async function draw() {
    const [{ services }, notebooks] = await Promise.all([api("/services"), api("/notebooks")]);
    const at = performance.now() / 1000, dt = lastAt ? at - lastAt : 0;
    const cards = services.map((svc) => {
      const canary = svc.models.find((m) => m.canary);
      return h("div", { class: "card service", "data-service": svc.name },
        h("h2", {}, `${svc.name} `, badge(svc.status)),
        h("p", { class: "muted" }, svc.url ? h("a", { href: svc.url + "/v2/health/ready", target: "_blank" }, svc.url) : "",
          ` · ${svc.workers} worker${svc.workers === 1 ? "" : "s"} · started ${when(svc.created_at)}`),
        h("table", {}, h("thead", {}, h("tr", {}, ["Model", "Serving", "Canary", "Endpoint"].map((x) => h("th", {}, x)))),
          h("tbody", {}, modelRows(svc))),
        svc.status === "running" ? numbers(svc, previous[svc.name], dt) : null,
        h("div", { class: "actions" },
          svc.status === "running" ? h("button", { class: "danger", "data-action": "stop",
            onclick: () => confirm(`Stop ${svc.name}?`) && act(svc, "stop") }, "Stop") : null,
          canary ? h("button", { "data-action": "promote", onclick: () => act(svc, "promote", canary.name) },
            `Promote v${canary.canary_version}`) : null,
          canary ? h("button", { "data-action": "rollback", onclick: () => act(svc, "rollback", canary.name) },
            `Roll back to v${canary.version}`) : null,
          h("button", { "data-action": "logs", onclick: async (e) => {
            const one = await api(`/services/${encodeURIComponent(svc.name)}`, { query: { lines: 200 } });
            const box = e.target.closest(".service").querySelector(".service-log");
            box.hidden = false; box.textContent = one.log || "(empty)";
          } }, "Log")),
        errors[svc.name] ? h("p", { class: "error", role: "alert" }, errors[svc.name]) : null,
        h("pre", { class: "logs service-log", hidden: true }));
    });
    // keep an open log open across redraws
    const open = Object.fromEntries([...main.querySelectorAll(".service")].map((c) =>
      [c.dataset.service, c.querySelector(".service-log:not([hidden])")?.textContent]));
    mount(main, h("h1", {}, "Served models"),
      cards.length ? cards : h("p", { class: "muted" },
        "No model servers. Serve a study's best model from its study page."),
      h("div", { class: "card", id: "notebook-servers" }, h("h2", {}, "Notebook servers"),
        notebooks.length ? h("table", {}, h("thead", {}, h("tr", {}, ["Name", "Status", "Volume", "Started", ""].map((x) => h("th", {}, x)))),
          h("tbody", {}, notebooks.map((nb) => h("tr", { "data-notebook": nb.name },
            h("td", {}, nb.name), h("td", {}, badge(nb.status)),
            h("td", {}, nb.volume ? link(`#/volumes/${encodeURIComponent(nb.volume)}`, nb.volume) : ""),
            h("td", {}, when(nb.created_at)),
            h("td", {}, nb.status === "running" ? h("a", { href: nb.open_url, target: "_blank", rel: "noopener" }, "Open") : "")))))
          : h("p", { class: "muted" }, "None running. ", link("#/notebooks", "Start one in a volume"), ".")));
    for (const c of main.querySelectorAll(".service")) {
      const text = open[c.dataset.service];
      if (text) { const box = c.querySelector(".service-log"); box.hidden = false; box.textContent = text; }
    }
    previous = Object.fromEntries(services.map((s) => [s.name, s]));
    lastAt = at;
    return services;
  }
  await draw();
  const tick = async () => {
    if (stopped) return;
    await draw().catch(() => null);
    if (!stopped) timer = setTimeout(tick, 2000);
  };
  timer = setTimeout(tick, 2000);
  return () => { stopped = true; clearTimeout(timer); };
}
