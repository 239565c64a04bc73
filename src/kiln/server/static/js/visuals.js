// Drawing what steps log with kiln.log_*: confusion matrices (a heat grid), ROC curves (a line
// chart with the diagonal), tables, HTML (a sandboxed frame: no scripts) and Markdown.
import { h, num, table } from "./dom.js";
import { lineChart } from "./chart.js";

export function visual(v) {
  const body = { confusion_matrix: confusionMatrix, roc, table: dataTable, html, markdown }[v.kind];
  return h("div", { class: "card visual", "data-kind": v.kind, "data-name": v.name },
    h("h2", {}, v.name, h("span", { class: "muted" }, ` ${v.kind.replace("_", " ")} · ${v.step ?? ""}`)),
    body ? body(v.data) : h("div", { class: "muted" }, `no view for ${v.kind}`));
}

function confusionMatrix({ labels, matrix }) {
  const n = labels.length, cell = Math.max(22, Math.min(56, Math.floor(420 / n))), L = 90, T = 24;
  const max = Math.max(1, ...matrix.flat());
  const total = matrix.flat().reduce((a, b) => a + b, 0);
  const correct = matrix.reduce((a, row, i) => a + row[i], 0);
  const cells = [];
  matrix.forEach((row, i) => row.forEach((v, j) => {
    const a = v / max;
    cells.push(h("g", {},
      h("rect", { x: L + j * cell, y: T + i * cell, width: cell - 1, height: cell - 1,
        fill: `rgba(47,111,222,${(0.08 + 0.92 * a).toFixed(3)})` },
        h("title", {}, `true ${labels[i]}, predicted ${labels[j]}: ${v}`)),
      h("text", { x: L + j * cell + cell / 2, y: T + i * cell + cell / 2 + 4, "text-anchor": "middle",
        fill: a > 0.5 ? "#fff" : "#14202e", "font-size": 11 }, String(v))));
  }));
  const w = L + n * cell + 10, ht = T + n * cell + 40;
  return h("div", {},
    h("svg", { class: "confusion", width: w, height: ht, viewBox: `0 0 ${w} ${ht}` },
      h("text", { x: L, y: 14, "font-size": 11, fill: "#6b7785" }, "predicted →"),
      labels.map((lab, j) => h("text", { x: L + j * cell + cell / 2, y: T + n * cell + 14,
        "text-anchor": "middle", "font-size": 11 }, lab)),
      labels.map((lab, i) => h("text", { x: L - 6, y: T + i * cell + cell / 2 + 4,
        "text-anchor": "end", "font-size": 11 }, lab)),
      h("text", { x: 4, y: T + n * cell + 30, "font-size": 11, fill: "#6b7785" }, "↑ true"),
      cells),
    h("div", { class: "muted" }, `accuracy ${num(total ? correct / total : 0)} over ${total} items`));
}

function roc({ fpr, tpr, auc }) {
  const pts = fpr.map((x, i) => [x, tpr[i]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return lineChart([
    { label: `ROC (AUC ${num(auc)})`, points: pts },
    { label: "chance", points: [[0, 0], [1, 1]] },
  ], { title: `AUC ${num(auc)}` });
}

function dataTable({ columns, rows }) {
  return h("div", { class: "scroll" }, table(columns,
    rows.map((r) => h("tr", {}, r.map((c) => h("td", { class: typeof c === "number" ? "num" : "" },
      c === null ? "" : typeof c === "number" ? num(c) : String(c)))))));
}

function html({ text }) {
  return htmlFrame(text, "HTML report");
}

// An HTML document shown apart from the dashboard: sandbox without allow-scripts, so its
// scripts never run and it cannot reach the API. Used for reports and for HTML outputs.
export function htmlFrame(text, title) {
  return h("iframe", { class: "report", sandbox: "", srcdoc: text, title });
}

// A small Markdown subset (headings, lists, code, emphasis, links, paragraphs), written here
// because the dashboard loads nothing from the internet. Text is escaped before any markup is
// added, so a report cannot inject HTML.
export function markdown({ text }) {
  const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
  const inline = (s) => esc(s)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/\*([^*]+)\*/g, "<em>$1</em>")
    .replace(/\[([^\]]+)\]\((https?:[^)\s]+)\)/g, '<a href="$2" rel="noopener" target="_blank">$1</a>');
  const out = [];
  let list = null, code = null, para = [];
  const flush = () => {
    if (para.length) out.push(`<p>${inline(para.join(" "))}</p>`);
    para = [];
    if (list) out.push(`<${list.tag}>${list.items.map((i) => `<li>${inline(i)}</li>`).join("")}</${list.tag}>`);
    list = null;
  };
  for (const line of text.split("\n")) {
    if (code !== null) {
      if (line.startsWith("```")) { out.push(`<pre><code>${esc(code.join("\n"))}</code></pre>`); code = null; }
      else code.push(line);
      continue;
    }
    let m;
    if (line.startsWith("```")) { flush(); code = []; }
    else if ((m = line.match(/^(#{1,6})\s+(.*)$/))) { flush(); out.push(`<h${m[1].length + 2}>${inline(m[2])}</h${m[1].length + 2}>`); }
    else if ((m = line.match(/^\s*([-*]|\d+\.)\s+(.*)$/))) {
      const tag = /\d/.test(m[1]) ? "ol" : "ul";
      if (para.length || (list && list.tag !== tag)) flush();
      list = list || { tag, items: [] };
      list.items.push(m[2]);
    } else if (!line.trim()) flush();
    else { if (list) flush(); para.push(line.trim()); }
  }
  if (code !== null) out.push(`<pre><code>${esc(code.join("\n"))}</code></pre>`);
  flush();
  const div = h("div", { class: "markdown" });
  div.innerHTML = out.join("\n");
  return div;
}
