// The tag and metadata logic the panel relies on, against Kale's rules (REFERENCE.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  assignSteps, checkStepName, enableMetadata, formatLimits, katibMetadata, parseLimits, parseSpaceLine, parseTags,
  stepNames, writeTags,
} from "../src/tags";

test("Kale's tags are read as Kale reads them", () => {
  const t = parseTags(["step:train", "prev:load", "prev:clean", "limit:nvidia.com/gpu:2", "label:team:a", "mine"]);
  assert.equal(t.kind, "step");
  assert.equal(t.step, "train");
  assert.deepEqual(t.prev, ["load", "clean"]);
  assert.deepEqual(t.limits, { "nvidia.com/gpu": "2" });
  assert.deepEqual(t.others, ["label:team:a", "mine"]);
  assert.equal(parseTags(["block:load"]).step, "load"); // the older spelling
  assert.equal(parseTags(["block:"]).kind, "continue"); // Kale 0.7: an untagged cell
  assert.equal(parseTags(["imports", "skip"]).kind, "imports"); // the first special tag wins
  assert.equal(parseTags(["step:Bad"]).kind, "continue"); // not a step name: kept as is
  assert.deepEqual(parseTags(["step:Bad"]).others, ["step:Bad"]);
  assert.equal(parseTags(undefined).kind, "continue");
});

test("writing tags keeps what the panel does not edit, in Kale's spelling", () => {
  const t = parseTags(["block:train", "prev:load", "annotation:x:y"]);
  t.prev.push("features");
  assert.deepEqual(writeTags(t), ["step:train", "prev:load", "prev:features", "annotation:x:y"]);
  assert.deepEqual(writeTags({ ...t, kind: "skip" }), ["skip", "annotation:x:y"]);
  assert.deepEqual(writeTags({ ...t, kind: "continue" }), ["annotation:x:y"]);
  // a step never depends on itself
  assert.deepEqual(writeTags({ ...t, prev: ["train"] }), ["step:train", "annotation:x:y"]);
  // read back, it is the same choice
  assert.deepEqual(parseTags(writeTags(t)), { ...t, others: ["annotation:x:y"] });
});

test("cells belong to steps by Kale's order rules", () => {
  const cells = assignSteps([["x"], ["imports"], undefined, ["step:load"], undefined, ["skip"], undefined,
    ["step:train", "prev:load"], ["pipeline-metrics"]]);
  assert.deepEqual(cells.map((c) => c.step), [null, "imports", "imports", "load", "load", null, "load",
    "train", "pipeline-metrics"]);
  assert.deepEqual(stepNames(cells), ["load", "train"]);
});

test("step names are checked as Kale checks them", () => {
  assert.equal(checkStepName("train_2"), null);
  assert.match(checkStepName("Train") || "", /not a step name/);
  assert.match(checkStepName("") || "", /needs a name/);
});

test("turning kilnflow on writes Kale's metadata and keeps what was there", () => {
  const m = enableMetadata({ experiment_name: "iris", snapshot_volumes: true }, "Candies Sharing.ipynb");
  assert.equal(m.pipeline_name, "candies-sharing");
  assert.equal(m.experiment_name, "iris");
  assert.equal(m.snapshot_volumes, true);
  assert.deepEqual(m.volumes, []);
  assert.equal(m.katib_run, false);
});

test("katib_metadata is written as Kale writes it (space values as strings)", () => {
  const k = katibMetadata({
    algorithm: "grid", objective: "accuracy", goal: "maximize", maxTrials: 15, parallel: 3, maxFailed: 3,
    parameters: [{ name: "ETA", type: "double", min: "0.1", max: "0.3", step: "0.1" },
      { name: "OBJECTIVE", type: "categorical", list: ["multi:softprob", "multi:softmax"] }],
  });
  assert.deepEqual(k, {
    algorithm: { algorithmName: "grid", algorithmSettings: [] },
    maxFailedTrialCount: 3, maxTrialCount: 15, parallelTrialCount: 3,
    objective: { type: "maximize", objectiveMetricName: "accuracy", additionalMetricNames: [] },
    parameters: [
      { name: "ETA", parameterType: "double", feasibleSpace: { min: "0.1", max: "0.3", step: "0.1" } },
      { name: "OBJECTIVE", parameterType: "categorical", feasibleSpace: { list: ["multi:softprob", "multi:softmax"] } }],
  });
});

test("the panel's search space lines become Katib parameters", () => {
  assert.deepEqual(parseSpaceLine("ETA: 0.1..0.3/0.1"), { name: "ETA", type: "double", min: "0.1", max: "0.3", step: "0.1" });
  assert.deepEqual(parseSpaceLine("DEPTH: 2..8"), { name: "DEPTH", type: "int", min: "2", max: "8" });
  assert.deepEqual(parseSpaceLine("N: 2, 3"), { name: "N", type: "discrete", list: ["2", "3"] });
  assert.deepEqual(parseSpaceLine("OBJ: multi:softprob, multi:softmax"), { name: "OBJ", type: "categorical", list: ["multi:softprob", "multi:softmax"] });
  assert.match(String(parseSpaceLine("N: 3..1")), /below the maximum/);
  assert.match(String(parseSpaceLine("N: 3")), /two or more/);
  assert.match(String(parseSpaceLine("no colon")), /is not NAME/);
});

test("limits are Kale's limit:RESOURCE:AMOUNT tags", () => {
  assert.deepEqual(parseLimits("nvidia.com/gpu:1, memory:2Gi"), { "nvidia.com/gpu": "1", memory: "2Gi" });
  assert.equal(formatLimits({ "nvidia.com/gpu": "1", memory: "2Gi" }), "nvidia.com/gpu:1, memory:2Gi");
  assert.match(String(parseLimits("gpu=1")), /not RESOURCE:AMOUNT/);
  const t = parseTags(["step:train"]);
  t.limits = parseLimits("nvidia.com/gpu:2") as Record<string, string>;
  assert.deepEqual(writeTags(t), ["step:train", "limit:nvidia.com/gpu:2"]);
});
