"""Model sources and families: run artifacts, files, folders, custom classes; sklearn, XGBoost,
LightGBM, torch."""

from __future__ import annotations

import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest

import kiln

from .conftest import http, v2_body


def test_serve_a_run_artifact_by_reference(module, iris) -> None:
    path = module(textwrap.dedent('''
        import kiln
        from sklearn.datasets import load_iris
        from sklearn.tree import DecisionTreeClassifier

        @kiln.step
        def train(depth: int):
            X, y = load_iris(return_X_y=True)
            return DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)

        @kiln.pipeline(name="iris-tree")
        def iris_tree(depth: int = 2):
            train(depth)
    '''))
    run = kiln.run(str(path), progress=False).raise_for_status()
    X, _ = iris
    expected = run.output("train").predict(X)
    for ref in (f"{run.id}/train/output", "latest/train/output", f"{run.id[:8]}/train/output"):
        with kiln.serve(ref, name="tree") as svc:
            assert svc.predict(X).tolist() == expected.tolist()
    with pytest.raises(kiln.NotFoundError, match="no output 'model'"):
        kiln.serve(f"{run.id}/train/model")
    with pytest.raises(kiln.NotFoundError, match="no step 'fit'"):
        kiln.serve(f"{run.id}/fit/output")
    with pytest.raises(kiln.NotFoundError, match="no run 'zzz'"):
        kiln.serve("zzz/train/output")


def test_serve_files_and_folders(tmp_path: Path, iris, iris_model) -> None:
    X, _ = iris
    joblib.dump(iris_model, tmp_path / "model.joblib")
    with kiln.serve(str(tmp_path / "model.joblib")) as svc:
        assert svc.predict(X).tolist() == iris_model.predict(X).tolist()
    with kiln.serve(str(tmp_path)) as svc:  # a KServe-style folder
        assert svc.predict(X[:3]).tolist() == iris_model.predict(X[:3]).tolist()
    (tmp_path / "other.pkl").write_bytes(b"")
    (tmp_path / "model.joblib").rename(tmp_path / "first.joblib")
    with pytest.raises(kiln.ModelError, match="several model files"):
        kiln.serve(str(tmp_path))
    (tmp_path / "notes.csv").write_text("a,b\n")
    with pytest.raises(kiln.ModelError, match="cannot tell the model format"):
        kiln.serve(str(tmp_path / "notes.csv"))


def test_xgboost_booster_and_sklearn_wrapper(tmp_path: Path, iris) -> None:
    xgb = pytest.importorskip("xgboost")
    X, y = iris
    booster = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2},
                        xgb.DMatrix(X, label=y), num_boost_round=5)
    booster.save_model(str(tmp_path / "model.ubj"))
    expected = booster.predict(xgb.DMatrix(X))
    for source in (booster, str(tmp_path / "model.ubj")):
        with kiln.serve(source, name="xgb") as svc:
            doc = http("GET", svc.url + "/v2/models/xgb")[1]
            assert doc["platform"] == "xgboost" and doc["inputs"][0]["shape"] == [-1, 4]
            np.testing.assert_allclose(svc.predict(X.astype(np.float32)), expected, rtol=1e-5)
    clf = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y)
    with kiln.serve(clf, name="xgbc") as svc:
        assert svc.predict(X).tolist() == clf.predict(X).tolist()


def test_lightgbm_booster(tmp_path: Path, iris) -> None:
    lgb = pytest.importorskip("lightgbm")
    X, y = iris
    booster = lgb.train({"objective": "regression", "verbose": -1, "num_leaves": 4},
                        lgb.Dataset(X, label=y.astype(float)), num_boost_round=5)
    booster.save_model(str(tmp_path / "model.txt"))
    with kiln.serve(str(tmp_path / "model.txt"), name="lgb") as svc:
        assert http("GET", svc.url + "/v2/models/lgb")[1]["platform"] == "lightgbm"
        np.testing.assert_allclose(svc.predict(X), booster.predict(X))


PREDICTOR = '''
import numpy as np

class Doubler:
    """A KServe-style custom model."""
    inputs = [{"name": "values", "datatype": "FP64", "shape": [-1, 2]}]
    outputs = [{"name": "doubled", "datatype": "FP64", "shape": [-1, 2]}]

    def load(self):
        self.factor = 2.0

    def preprocess(self, x):
        return np.asarray(x, dtype=float)

    def predict(self, x):
        return {"doubled": x * self.factor}

    def postprocess(self, y):
        y["doubled"] = y["doubled"] + 0.5
        return y
'''


def test_custom_predictor_class_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "predictor.py").write_text(PREDICTOR)
    with kiln.serve(f"{tmp_path / 'predictor.py'}:Doubler", name="doubler") as svc:
        meta = http("GET", svc.url + "/v2/models/doubler")[1]
        assert meta["platform"] == "custom" and meta["outputs"][0]["name"] == "doubled"
        status, doc = http("POST", svc.infer_url(), v2_body(np.asarray([[1.0, 2.0]])))
        assert status == 200, doc
        assert doc["outputs"][0] == {"name": "doubled", "shape": [1, 2], "datatype": "FP64",
                                     "data": [2.5, 4.5]}
    with pytest.raises(kiln.ModelError, match="no 'Tripler'"):
        kiln.serve(f"{tmp_path / 'predictor.py'}:Tripler")


def test_torch_module(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    torch.save(net, tmp_path / "model.pt")  # a pickled module (its class is importable)
    batch = torch.export.Dim("batch")
    exported = torch.export.export(net, (torch.from_numpy(x),),
                                   dynamic_shapes={"input": {0: batch}})
    torch.export.save(exported, str(tmp_path / "model.pt2"))
    for source in (net, str(tmp_path / "model.pt"), str(tmp_path / "model.pt2")):
        with kiln.serve(source, name="net") as svc:
            assert http("GET", svc.url + "/v2/models/net")[1]["platform"] == "pytorch"
            np.testing.assert_allclose(svc.predict(x), expected, rtol=1e-5, atol=1e-6)
