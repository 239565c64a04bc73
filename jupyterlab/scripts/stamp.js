// After a build: record which sources the shipped bundle was built from (a SHA-256 over the
// TypeScript, the styles and the package files), so a test can tell when it is stale
// without Node (tests/notebook/test_panel_build.py computes the same).
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const here = path.resolve(__dirname, "..");
const out = path.resolve(here, require(path.join(here, "package.json")).jupyterlab.outputDir);
const files = [];
for (const dir of ["src", "style"]) {
  for (const f of fs.readdirSync(path.join(here, dir)).sort()) files.push(path.join(dir, f));
}
files.push("package.json", "package-lock.json");
const h = crypto.createHash("sha256");
for (const f of files) {
  h.update(f.replace(/\\/g, "/") + "\n");
  h.update(fs.readFileSync(path.join(here, f)));
  h.update("\n");
}
fs.writeFileSync(path.join(out, "kilnflow-sources.json"), JSON.stringify({ sha256: h.digest("hex") }) + "\n");
