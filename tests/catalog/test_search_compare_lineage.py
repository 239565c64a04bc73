"""Run search (filter and sort), comparison and lineage: CLI and REST share them."""

from __future__ import annotations

import json

import pytest

from kiln.errors import UserError
from tests.conftest import run_cli

PIPE = '''
import kiln

@kiln.step
def make(n: int) -> list:
    return list(range(n))

@kiln.step
def fit(xs: list, lr: float, opt: str) -> float:
    acc = min(0.99, len(xs) * lr / 10)
    kiln.log_metric("accuracy", acc * 0.5)
    kiln.log_metric("accuracy", acc)
    return acc

@kiln.pipeline(name="grid")
def grid(n: int = 10, lr: float = 0.1, opt: str = "sgd"):
    fit(make(n), lr, opt)
'''


@pytest.fixture
def runs(module):
    path = module(PIPE, name="grid")
    ids = {}
    for lr, opt in ((0.05, "sgd"), (0.1, "adam"), (0.3, "sgd"), (0.9, "adam")):
        r = run_cli("run", f"{path}:grid", "-p", f"lr={lr}", "-p", f"opt={opt}", "-q")
        assert r.returncode == 0, r.stderr
        ids[lr] = json.loads(run_cli("runs", "show", "latest", "--json").stdout)["id"]
    return ids


def _ls(*args: str) -> list[dict]:
    r = run_cli("runs", "ls", "--json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_filter_and_sort_by_metrics_and_params(runs):
    # the last value of a metric series counts (0.05 -> 0.05, 0.1 -> 0.1, 0.3 -> 0.3, 0.9 -> 0.9)
    got = _ls("--filter", "metrics.accuracy > 0.09", "--sort", "-metrics.accuracy")
    assert [r["id"] for r in got] == [runs[0.9], runs[0.3], runs[0.1]]
    got = _ls("--filter", "params.opt = adam and params.lr <= 0.5")
    assert [r["id"] for r in got] == [runs[0.1]]
    got = _ls("--filter", "status = succeeded and pipeline = grid", "--sort", "params.lr")
    assert [r["id"] for r in got] == [runs[0.05], runs[0.1], runs[0.3], runs[0.9]]
    r = run_cli("runs", "ls", "--filter", "metrics.accuracy is high")
    assert r.returncode == 2 and "cannot read the condition" in r.stderr
    r = run_cli("runs", "ls", "--filter", "colour = red")
    assert r.returncode == 2 and "unknown field 'colour'" in r.stderr
    r = run_cli("runs", "ls", "--sort", "speed")
    assert r.returncode == 2 and "cannot sort by 'speed'" in r.stderr
    # a misspelt metric or parameter is an error, not a list in no order
    r = run_cli("runs", "ls", "--sort", "-metrics.acuracy")
    assert r.returncode == 2 and "no run has the metric 'acuracy'" in r.stderr
    assert "did you mean accuracy" in r.stderr
    r = run_cli("runs", "ls", "--sort", "params.lrate")
    assert r.returncode == 2 and "no run has the parameter 'lrate'" in r.stderr


def test_parse_errors_name_the_field():
    from kiln.catalog.search import parse_filter

    with pytest.raises(UserError, match="compare with numbers"):
        parse_filter("metrics.accuracy > high")
    with pytest.raises(UserError, match="takes = or !="):
        parse_filter("status > failed")
    assert parse_filter("params.name = 'a b'")[0].value == "a b"


def test_hostile_filters_are_refused_without_work():
    from kiln.catalog.search import MAX_FILTER, parse_filter

    with pytest.raises(UserError, match=f"at most {MAX_FILTER}"):
        parse_filter("a" + " " * 30000 + "b")
    with pytest.raises(UserError, match="nests more than"):
        parse_filter("params.x = " + "[" * 1000)
    with pytest.raises(UserError, match="cannot read the condition"):
        parse_filter("metrics.a" + " " * 4000)  # the longest allowed, read once
    # whitespace anywhere around the parts is still fine
    assert [c.field for c in parse_filter("  metrics.a >  1   AND\tparams.b = 2 ")] == [
        "metrics.a", "params.b"]


def test_compare_marks_what_differs(runs):
    r = run_cli("runs", "compare", runs[0.1], runs[0.9], "--json")
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout)
    assert c["params"]["lr"] == [0.1, 0.9] and c["params"]["n"] == [10, 10]
    assert set(c["differ"]) == {"lr", "accuracy"}
    assert run_cli("runs", "compare", runs[0.1]).returncode == 2


def test_lineage_of_an_artifact_and_of_a_run(runs):
    run = runs[0.3]
    r = run_cli("lineage", f"{run}/make/output", "--json")
    assert r.returncode == 0, r.stderr
    g = json.loads(r.stdout)
    steps = {(t["run"], t["step"]) for t in g["tasks"]}
    # `make` is cached across runs with the same n: every run that read its output shows up
    assert (run, "make") in steps
    assert {(rid, "fit") for rid in runs.values()} <= steps
    r = run_cli("lineage", run, "--json")
    g = json.loads(r.stdout)
    assert {t["step"] for t in g["tasks"] if t["run"] == run} == {"make", "fit"}
    r = run_cli("lineage", "nothing-like-this")
    assert r.returncode == 3 and "neither a run" in r.stderr


def test_listed_params_keep_every_digit(module):
    import kiln

    path = module('''
import kiln

@kiln.step
def f(x: float, name: str) -> float:
    return x

@kiln.pipeline(name="digits")
def digits(x: float = 0.1, name: str = "a"):
    f(x, name)
''', name="digits")
    x = 0.1 + 0.2  # 0.30000000000000004: 17 significant digits
    run = kiln.run(f"{path}:digits", params={"x": x, "name": "adam"}, progress=False)
    [found] = kiln.search_runs("params.name = adam")
    assert found.id == run.id
    assert found.params == {"x": x, "name": "adam"} == kiln.get_run(run.id).params
