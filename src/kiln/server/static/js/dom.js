// Building DOM without a framework: h("a", {href}, "text"), and the formats every page uses.
export function h(tag, attrs, ...children) {
  const el = document.createElementNS(
    ["svg", "g", "rect", "text", "path", "line", "circle", "title", "polyline", "defs", "marker"].includes(tag)
      ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml", tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function mount(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
  return el;
}

export function badge(status) {
  return h("span", { class: `badge s-${status}`, "data-status": status }, status);
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function seconds(s) {
  if (s === null || s === undefined) return "";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function bytes(n) {
  if (n === null || n === undefined) return "";
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i += 1; }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

export function num(v) {
  if (typeof v === "string") return v;
  if (typeof v !== "number") return v === undefined ? "" : JSON.stringify(v);
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}

export function flash(message, ok = false) {
  const el = document.getElementById("flash");
  el.textContent = message;
  el.className = ok ? "flash ok" : "flash";
  el.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { el.hidden = true; }, ok ? 4000 : 12000);
}

export function clearFlash() {
  const el = document.getElementById("flash");
  if (el) el.hidden = true;
  clearTimeout(flash.timer);
}

export function table(headers, rows, attrs = {}) {
  return h("table", attrs,
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows));
}

export function link(href, text, attrs = {}) {
  return h("a", { href, ...attrs }, text);
}
