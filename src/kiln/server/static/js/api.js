// One fetch wrapper for every call: JSON in and out, the API's error shape turned into an
// exception whose message says what is wrong, where, and what to do.
const BASE = "/api/v1";
let pending = 0;

function busy(delta) {
  pending += delta;
  const el = document.getElementById("busy");
  if (el) el.hidden = pending === 0;
}

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    const parts = [e.message || `request failed (${status})`];
    if (e.where) parts.push(`(${e.where})`);
    // A hint naming a command is for the terminal; the page offers its own way instead.
    if (e.hint && !/`kiln |\bkiln [a-z]+ [a-z-]+/.test(e.hint)) parts.push(`— ${e.hint}`);
    super(parts.join(" "));
    this.status = status;
    this.body = e;
  }
}

// The namespace the dashboard works in (kept in the browser); every call carries it, so
// links (downloads) work in it too.
// Earlier dashboards kept the token in this page's storage: it goes (the session cookie now).
localStorage.removeItem("kiln-token");

export function namespace() {
  return localStorage.getItem("kiln-namespace") || "";
}

export function setNamespace(ns) {
  if (ns) localStorage.setItem("kiln-namespace", ns);
  else localStorage.removeItem("kiln-namespace");
}

// The address of an API path with its query; empty values are left out.
export function apiUrl(path, query) {
  const url = new URL(BASE + path, location.origin);
  if (namespace()) url.searchParams.set("namespace", namespace());
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  return url.pathname + url.search;
}

// Sign-ins so far, and the one being asked for: calls that fail together while the page
// loads share one prompt, and a call sent before a sign-in finished just retries.
let signIns = 0;
let signingIn = null;

export async function api(path, options = {}) {
  const epoch = signIns;
  try {
    return await call(path, options);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) throw e;
    if (signIns === epoch && !(await signIn(e))) throw e;
    return call(path, options);
  }
}

function signIn(e) {
  // One sign-in form for every call that failed with 401 while the page loaded. The name and
  // password (or a token) go in a POST body and come back as an HttpOnly session cookie; they
  // are never put in an address (history, proxy logs) nor kept in this page's storage.
  if (!signingIn) {
    signingIn = signInForm(e.message).then((ok) => {
      if (ok) signIns += 1;
      return ok;
    }).finally(() => { signingIn = null; });
  }
  return signingIn;
}

function signInForm(reason) {
  return new Promise((resolve) => {
    const el = (tag, attrs = {}, ...kids) => {
      const x = document.createElement(tag);
      for (const [k, v] of Object.entries(attrs)) x.setAttribute(k, v);
      x.append(...kids);
      return x;
    };
    const error = el("p", { class: "error", role: "alert", id: "signin-error" });
    const user = el("input", { name: "username", autocomplete: "username", placeholder: "user", required: "" });
    const pass = el("input", { name: "password", type: "password", autocomplete: "current-password", placeholder: "password" });
    const token = el("input", { name: "token", type: "password", autocomplete: "off", placeholder: "or a token" });
    const go = el("button", { type: "submit", class: "primary" }, "Sign in");
    const form = el("form", { class: "card signin", id: "signin" },
      el("h2", {}, "Sign in to kilnflow"), el("p", { class: "muted" }, reason),
      user, pass, token, go, error);
    const shade = el("div", { class: "shade" }, form);
    form.addEventListener("input", () => { user.required = !token.value; });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      go.disabled = true;
      try {
        const body = token.value ? { token: token.value.trim() } : { username: user.value.trim(), password: pass.value };
        await call("/session", { method: "POST", json: body });
        shade.remove();
        resolve(true);
        window.dispatchEvent(new Event("kiln-signed-in"));
      } catch (err) {
        error.textContent = err.message;
        pass.value = "";
      } finally {
        go.disabled = false;
      }
    });
    document.body.append(shade);
    user.focus();
  });
}

export async function signOut() {
  await call("/session", { method: "DELETE" });
  location.hash = "#/";
  location.reload();
}

async function call(path, { method = "GET", json, form, query, text = false } = {}) {
  const url = apiUrl(path, query);
  // The server accepts a change made with the session cookie only with this header, which a
  // page of another site cannot send (CSRF).
  const init = { method, headers: { "x-kiln-request": "1" } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["content-type"] = "application/json";
  } else if (form !== undefined) {
    init.body = form;
  }
  busy(1);
  try {
    const r = await fetch(url, init);
    if (!r.ok) {
      let body = null;
      try { body = await r.json(); } catch { /* not JSON */ }
      throw new ApiError(r.status, body);
    }
    return text ? await r.text() : await r.json();
  } finally {
    busy(-1);
  }
}
