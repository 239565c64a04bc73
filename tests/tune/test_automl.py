"""AutoML: candidates recorded as trials, the best rebuilt by a generated notebook run."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

import kiln
from kiln.errors import UserError
from tests.conftest import run_cli


@pytest.fixture
def iris_csv(tmp_path: Path) -> Path:
    from sklearn.datasets import load_iris

    d = load_iris(as_frame=True).frame
    d["species"] = d.pop("target").map(dict(enumerate(["setosa", "versicolor", "virginica"])))
    d["colour"] = np.where(d.index % 2 == 0, "red", "blue")  # a text feature to encode
    path = tmp_path / "iris.csv"
    d.to_csv(path, index=False)
    return path


def test_classification_from_csv_records_trials_and_serves_the_rebuilt_model(iris_csv: Path) -> None:
    result = kiln.automl(iris_csv, target="species", time_budget=4, progress=False)
    study = result.study
    assert study.info.kind == "automl" and study.status == "succeeded"
    assert len(study.trials) >= 3
    assert all(t.state == "complete" and 0 <= t.value <= 1 and "learner" in t.params
               for t in study.trials)
    assert {t.params["learner"] for t in study.trials} <= {"lgbm", "rf", "extra_tree", "lrl1"}
    assert result.metric == "accuracy" and result.score > 0.85
    assert result.run.status == "succeeded" and result.run.metrics["accuracy"] == result.score
    # the generated notebook has Kale tags and reproduces the model as a pipeline
    nb = nbformat.read(result.notebook, as_version=4)
    tags = [c.metadata.get("tags") for c in nb.cells if c.cell_type == "code"]
    assert ["imports"] in tags and ["pipeline-parameters"] in tags and ["pipeline-metrics"] in tags
    rerun = kiln.run(result.notebook, cache=False, progress=False)
    assert rerun.metrics["accuracy"] == pytest.approx(result.score)
    # the model is a run artifact: kiln serve takes RUN/STEP/NAME
    frame = pd.read_csv(iris_csv).drop(columns=["species"]).head(3)
    with kiln.serve(result.model_ref, name="iris") as service:
        served = service.predict(frame)
    assert list(np.ravel(served)) == list(result.model.predict(frame))


def test_regression_from_parquet_with_a_loss_metric(tmp_path: Path) -> None:
    from sklearn.datasets import load_diabetes

    d = load_diabetes(as_frame=True).frame
    path = tmp_path / "diabetes.parquet"
    d.to_parquet(path)
    r = run_cli("automl", str(path), "--target", "target", "--metric", "rmse",
                "--time-budget", "3", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["metric"] == "rmse" and 30 < out["score"] < 80
    study = kiln.get_study(out["study"])
    assert study.info.direction == "minimize"
    assert study.best_value == min(t.value for t in study.trials)
    assert kiln.get_run(out["run"]).metrics["rmse"] == pytest.approx(out["score"])


def test_bad_input(iris_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError) as e:
        kiln.automl(iris_csv, target="Species", time_budget=5, progress=False)
    assert e.value.message == "target column 'Species' is not in the data"
    assert "species" in e.value.hint and "sepal length (cm)" in e.value.hint
    with pytest.raises(UserError, match="before any model finished training"):
        kiln.automl(iris_csv, target="species", time_budget=0.001, progress=False)
    with pytest.raises(UserError, match="must be positive"):
        kiln.automl(iris_csv, target="species", time_budget=0, progress=False)
    with pytest.raises(UserError, match="unknown task 'clustering'"):
        kiln.automl(iris_csv, target="species", task="clustering", progress=False)
    with pytest.raises(UserError, match="unknown metric 'r2' for classification") as e:
        kiln.automl(iris_csv, target="species", metric="r2", progress=False)
    assert "accuracy" in e.value.hint
    with pytest.raises(UserError, match="regression needs numbers"):
        kiln.automl(iris_csv, target="species", task="regression", progress=False)
    r = run_cli("automl", str(tmp_path / "none.csv"), "--target", "y")
    assert r.returncode == 2 and "no such data file" in r.stderr
    (tmp_path / "data.xlsx").write_text("x")
    r = run_cli("automl", str(tmp_path / "data.xlsx"), "--target", "y")
    assert r.returncode == 2 and "unknown data format '.xlsx'" in r.stderr
    (tmp_path / "broken.parquet").write_text("not parquet")
    r = run_cli("automl", str(tmp_path / "broken.parquet"), "--target", "y")
    assert r.returncode == 2 and "cannot read broken.parquet" in r.stderr


def test_the_notebook_writes_only_what_differs_from_the_defaults(tmp_path: Path) -> None:
    """XGBoost's estimators carry non-literal defaults (callbacks=[], missing=nan)."""
    xgboost = pytest.importorskip("xgboost")
    from kiln.tune.automl import write_notebook

    data = tmp_path / "d.csv"
    pd.DataFrame({"a": range(40), "b": [i % 3 for i in range(40)],
                  "y": [i * 0.5 for i in range(40)]}).to_csv(data, index=False)
    model = xgboost.XGBRegressor(n_estimators=5, max_leaves=4, tree_method="hist")
    nb = write_notebook(tmp_path / "x.ipynb", data=data, target="y", task="regression",
                        metric="rmse", model=model, seed=0)
    source = "\n".join(c.source for c in nbformat.read(nb, as_version=4).cells)
    assert "XGBRegressor(**{'max_leaves': 4, 'n_estimators': 5, 'tree_method': 'hist'})" in source
    run = kiln.run(nb, progress=False)
    assert run.status == "succeeded", run.error
    assert run.metrics["rmse"] > 0
