"""kiln.log_confusion_matrix / log_roc / log_table / log_html / log_markdown: checked where
they are logged, recorded with the task, reused by cache hits, served over REST."""

from __future__ import annotations

import httpx
import pytest

import kiln
from kiln.catalog import runs as records
from kiln.runtime import Runtime
from kiln.sdk import context
from kiln.sdk.visuals import MAX_ROWS
from tests.conftest import kiln_server

PIPE = '''
import kiln

@kiln.step
def evaluate(n: int) -> float:
    import pandas as pd
    y_true = [i % 2 for i in range(n)]
    y_score = [((i * 37) % 11) / 10 for i in range(n)]
    y_pred = [int(s > 0.5) for s in y_score]
    kiln.log_confusion_matrix("cm", y_true=y_true, y_pred=y_pred)
    kiln.log_roc("roc", y_true=y_true, y_score=y_score)
    kiln.log_table("scores", pd.DataFrame({"true": y_true, "score": y_score}).head(5))
    kiln.log_html("report", "<h1>Report</h1><script>document.title='ran'</script>")
    kiln.log_markdown("notes", "## Findings\\n- **recall** up\\n- see `cm`")
    kiln.log_metric("n", n)
    return sum(t == p for t, p in zip(y_true, y_pred)) / n

@kiln.pipeline(name="visuals")
def visuals(n: int = 40):
    evaluate(n)
'''


@pytest.fixture
def recorder():
    ctx = context.StepContext("r", "s")
    context.set_current(ctx)
    yield ctx
    context.set_current(None)


def test_each_kind_is_recorded_in_its_shape(recorder):
    kiln.log_confusion_matrix("cm", [[5, 1], [2, 7]], labels=["no", "yes"])
    kiln.log_roc("roc", fpr=[0, 0.5, 1], tpr=[0, 0.8, 1], thresholds=[2, 0.5, 0])
    kiln.log_table("t", [{"a": 1, "b": "x"}, {"a": float("nan"), "c": True}])
    kiln.log_html("h", "<b>hi</b>")
    kiln.log_markdown("m", "# hi")
    by_name = {v["name"]: v for v in recorder.visuals}
    assert by_name["cm"]["data"] == {"labels": ["no", "yes"], "matrix": [[5, 1], [2, 7]]}
    assert by_name["roc"]["data"]["auc"] == pytest.approx(0.5 * 0.4 + 0.5 * 1.8 / 2)
    assert by_name["t"]["data"] == {"columns": ["a", "b", "c"],
                                    "rows": [[1, "x", None], [None, None, True]]}
    assert [v["kind"] for v in recorder.visuals] == \
        ["confusion_matrix", "roc", "table", "html", "markdown"]


def test_confusion_matrix_counted_from_labels(recorder):
    kiln.log_confusion_matrix("cm", y_true=["a", "b", "b", "c"], y_pred=["a", "b", "c", "c"])
    data = recorder.visuals[0]["data"]
    assert data["labels"] == ["a", "b", "c"]
    assert data["matrix"] == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]


@pytest.mark.parametrize("call, error, match", [
    (lambda: kiln.log_confusion_matrix("cm", [[1, 2], [3]]), ValueError, "square"),
    (lambda: kiln.log_confusion_matrix("cm", [[1, 2], [3, 4]], labels=["a"]), ValueError,
     "2 labels|1 labels"),
    (lambda: kiln.log_confusion_matrix("cm", [[1, -2], [3, 4]]), ValueError, "negative"),
    (lambda: kiln.log_confusion_matrix("cm", [["x", 1], [1, 1]]), TypeError, "numbers"),
    (lambda: kiln.log_confusion_matrix("cm"), TypeError, "y_true"),
    (lambda: kiln.log_confusion_matrix("cm", y_true=[1, 2], y_pred=[1]), ValueError, "2 items"),
    (lambda: kiln.log_roc("roc", fpr=[0, 1], tpr=[0]), ValueError, "one length"),
    (lambda: kiln.log_roc("roc", fpr=[0, 2], tpr=[0, 1]), ValueError, r"\[0, 1\]"),
    (lambda: kiln.log_roc("roc", fpr=[0, float("nan")], tpr=[0, 1]), ValueError, "NaN"),
    (lambda: kiln.log_roc("roc", fpr=[0, 1], tpr=[0, 1], thresholds=[1]), ValueError,
     "thresholds"),
    (lambda: kiln.log_roc("roc"), TypeError, "y_score"),
    (lambda: kiln.log_table("t", "not a table"), TypeError, "DataFrame or a list of dicts"),
    (lambda: kiln.log_table("t", [{"a": i} for i in range(MAX_ROWS + 1)]), ValueError,
     "head"),
    (lambda: kiln.log_html("h", b"<b>bytes</b>"), TypeError, "must be a str"),
    (lambda: kiln.log_markdown("", "x"), ValueError, "name"),
])
def test_bad_visuals_fail_where_they_are_logged(recorder, call, error, match):
    with pytest.raises(error, match=match):
        call()
    assert recorder.visuals == []


def test_outside_a_run_visuals_are_only_announced(capsys):
    kiln.log_markdown("notes", "hello")
    assert "notes" in capsys.readouterr().out


def test_a_run_records_visuals_and_a_cache_hit_keeps_them(module):
    path = module(PIPE, name="vis")
    first = kiln.run(f"{path}:visuals", progress=False).raise_for_status()
    rt = Runtime.open()
    got = records.run_visuals(rt.catalog, first.id)
    assert [(v["name"], v["kind"], v["step"]) for v in got] == [
        ("cm", "confusion_matrix", "evaluate"), ("roc", "roc", "evaluate"),
        ("scores", "table", "evaluate"), ("report", "html", "evaluate"),
        ("notes", "markdown", "evaluate")]
    cm = got[0]["data"]
    assert sum(map(sum, cm["matrix"])) == 40
    assert 0 <= got[1]["data"]["auc"] <= 1
    again = kiln.run(f"{path}:visuals", progress=False).raise_for_status()
    assert again.info.task("evaluate").status == "cached"
    assert records.run_visuals(rt.catalog, again.id) == got

    with kiln_server("--no-scheduler") as base:
        r = httpx.get(f"{base}/api/v1/runs/{first.id}/visuals")
        assert r.status_code == 200
        assert [v["name"] for v in r.json()["visuals"]] == \
            ["cm", "roc", "scores", "report", "notes"]
        r = httpx.get(f"{base}/api/v1/runs/nosuchrun/visuals")
        assert r.status_code == 404 and "no run" in r.json()["error"]["message"]
    records.delete_run(rt.catalog, first.id)
    assert records.run_visuals(rt.catalog, first.id) == []
