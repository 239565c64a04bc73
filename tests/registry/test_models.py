"""Registered models: versions from runs (and a study's best trial), lineage back to the
run's parameters, aliases that move with their history, `kiln serve models:/NAME@ALIAS` and
`kiln serve update` following the alias, export from the registry, gc keeping registered
versions, and a model followed from another installation's bucket."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from tests.conftest import run_cli
from tests.registry.conftest import Site, serving

MODULE = '''
import kiln
from sklearn.datasets import load_iris
from sklearn.dummy import DummyClassifier

@kiln.step
def train(label: int) -> DummyClassifier:
    X, y = load_iris(return_X_y=True)
    kiln.log_metric("label", label)
    return DummyClassifier(strategy="constant", constant=label).fit(X, y)

@kiln.pipeline(name="const")
def const(label: int = 0):
    train(label)
'''


def train(tmp_path: Path, label: int, env: dict[str, str] | None = None) -> str:
    mod = tmp_path / "const.py"
    mod.write_text(MODULE)
    r = run_cli("run", f"{mod}:const", "-p", f"label={label}", env=env)
    assert r.returncode == 0, r.stderr
    r = run_cli("runs", "ls", "--json", env=env)
    return str(json.loads(r.stdout)[0]["id"])


def predict(url: str) -> int:
    body = json.dumps({"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64",
                                   "data": [5.1, 3.5, 1.4, 0.2]}]}).encode()
    req = urllib.request.Request(url + "/v2/models/churn/infer", data=body, method="POST",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return int(json.loads(r.read())["outputs"][0]["data"][0])


def test_versions_aliases_serving_and_gc(tmp_path: Path):
    first, second = train(tmp_path, 0), train(tmp_path, 2)
    r = run_cli("models", "register", f"{first}/train", "--name", "churn", "--alias",
                "production")
    assert r.returncode == 0 and "models:/churn/1" in r.stdout, r.stderr
    r = run_cli("models", "register", f"{second}/train/output", "--name", "churn",
                "--alias", "staging")
    assert r.returncode == 0, r.stderr
    shown = json.loads(run_cli("models", "show", "churn", "--json").stdout)
    assert shown["aliases"] == {"production": 1, "staging": 2}
    v1 = shown["versions"][1]
    assert v1["run"] == first and v1["lineage"]["params"] == {"label": 0}
    assert v1["lineage"]["metrics"] == {"label": 0.0} and v1["lineage"]["step"] == "train"
    # served by alias; moving the alias and `serve update` follows it
    r = run_cli("serve", "models:/churn@production", "--detach", "--port", "0")
    assert r.returncode == 0, r.stderr
    url = json.loads(run_cli("serve", "ls", "--json").stdout)[0]["url"]
    try:
        assert predict(url) == 0
        assert run_cli("models", "alias", "churn", "production", "2").returncode == 0
        assert predict(url) == 0  # a running server keeps what it loaded ...
        r = run_cli("serve", "update", "churn")
        assert r.returncode == 0, r.stderr
        assert predict(url) == 2  # ... until it follows the alias
    finally:
        run_cli("serve", "stop", "churn")
    history = json.loads(run_cli("models", "show", "churn", "--json").stdout)["history"]
    assert [(h["alias"], h["version"]) for h in history] == [
        ("production", 2), ("staging", 2), ("production", 1)]
    # KServe export works from the registry
    out = tmp_path / "isvc.yaml"
    r = run_cli("serve", "export", "models:/churn@staging", "--kserve", "-o", str(out),
                "--storage-uri", "pvc://models/churn")
    assert r.returncode == 0, r.stderr
    assert "InferenceService" in out.read_text() and "name: churn" in out.read_text()
    # the run goes, gc runs: the registered version's model stays
    assert run_cli("runs", "rm", first).returncode == 0
    assert run_cli("store", "gc").returncode == 0
    assert run_cli("store", "check").returncode == 0
    r = run_cli("serve", "models:/churn/1", "--detach", "--port", "0", "--name", "old")
    assert r.returncode == 0, r.stderr
    run_cli("serve", "stop", "old")


def test_bad_model_references_and_aliases(tmp_path: Path):
    run = train(tmp_path, 1)
    for ref, says in (("models:/nope@production", "no registered model 'nope'"),
                      ("models:/churn@", "not models:/NAME"), ("models:/churn/x", "not a version")):
        r = run_cli("serve", ref, "--detach", "--port", "0")
        assert r.returncode in (2, 3) and says in r.stderr, (ref, r.stderr)
    r = run_cli("models", "register", f"{run}/train", "--name", "Bad_Name")
    assert r.returncode == 2 and "not a valid model name" in r.stderr
    assert run_cli("models", "register", f"{run}/train", "--name", "churn").returncode == 0
    r = run_cli("models", "alias", "churn", "production", "7")
    assert r.returncode == 3 and "no version 7" in r.stderr
    r = run_cli("models", "alias", "churn", "2024", "1")
    assert r.returncode == 2 and "not an alias" in r.stderr
    r = run_cli("models", "register", f"{run}/nostep", "--name", "churn")
    assert r.returncode == 3
    assert json.loads(run_cli("models", "show", "churn", "--json").stdout)["versions"][0][
        "version"] == 1


def test_a_model_followed_from_another_installation(tmp_path: Path):
    a, b = Site(tmp_path / "a"), Site(tmp_path / "b")
    run = train(tmp_path, 2, env=a.env)
    assert a.cli("models", "register", f"{run}/train", "--name", "churn", "--alias",
                 "production").returncode == 0
    with serving(a):
        r = a.cli("publish", "models:/churn@production", "--bucket", "local/churn", "-m", "ok")
        assert r.returncode == 0, r.stderr
        r = b.cli("subscribe", "local/churn", "--model", "churn", "--from", a.url, "--json")
        assert r.returncode == 0, r.stderr
    got = json.loads(b.cli("models", "show", "churn", "--json").stdout)
    (v,) = got["versions"]
    assert v["source"] == "bucket local/churn v1" and v["lineage"]["params"] == {"label": 2}
    # B serves it from its own store: A is gone
    r = b.cli("serve", "models:/churn/1", "--detach", "--port", "0")
    assert r.returncode == 0, r.stderr
    url = json.loads(b.cli("serve", "ls", "--json").stdout)[0]["url"]
    try:
        assert predict(url) == 2
    finally:
        b.cli("serve", "stop", "churn")


def test_a_study_s_best_trial_is_registered_with_its_study(tmp_path: Path):
    mod = tmp_path / "const.py"
    mod.write_text(MODULE)
    space = tmp_path / "space.yaml"
    space.write_text("- {name: label, parameterType: discrete, feasibleSpace: "
                     "{list: ['0', '1', '2']}}\n")
    r = run_cli("tune", f"{mod}:const", "--space", str(space), "-m", "label", "--direction",
                "maximize", "-a", "grid", "-n", "3", "--name", "labels", "--json")
    assert r.returncode == 0, r.stderr
    r = run_cli("models", "register", "--study", "labels", "--name", "best")
    assert r.returncode == 0, r.stderr
    (v,) = json.loads(run_cli("models", "show", "best", "--json").stdout)["versions"]
    assert v["lineage"]["params"] == {"label": 2} and v["lineage"]["study"]["name"] == "labels"
    r = run_cli("models", "register", "--study", "nope", "--name", "best")
    assert r.returncode == 3 and "nope" in r.stderr
