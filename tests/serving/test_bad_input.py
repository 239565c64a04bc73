"""Every malformed request gets a 4xx with {"error": ...}; the server keeps serving after each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import kiln
from kiln.serving.api import Service
from kiln.serving.config import ModelConfig, ServeConfig

from .conftest import http, v2_body

ROW = [[5.1, 3.5, 1.4, 0.2]]


def still_serving(svc: kiln.Service) -> None:
    status, doc = http("POST", svc.infer_url(), v2_body(np.asarray(ROW)))
    assert status == 200, doc


@pytest.mark.parametrize("raw, status, words", [
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (b'{"inputs": []}', 400, "non-empty list"),
    (b'{"inputs": [{"shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}', 400,
     "inputs[0].name"),
    (b'{"inputs": [{"name": "a", "shape": [1, 4], "datatype": "FP128", "data": [1, 2, 3, 4]}]}',
     400, "not a V2 datatype"),
    (b'{"inputs": [{"name": "a", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3]}]}',
     400, "has 3 values but shape [1, 4] needs 4"),
    (b'{"inputs": [{"name": "a", "shape": [1, -4], "datatype": "FP64", "data": [1]}]}', 400,
     "non-negative integers"),
    (b'{"inputs": [{"name": "a", "shape": [1, 4], "datatype": "INT64", "data": [1.5, 2, 3, 4]}]}',
     400, "does not match datatype INT64"),
    (b'{"inputs": [{"name": "a", "shape": [1, 4], "datatype": "FP64", "data": ["a", "b", "c", "d"]}]}',
     400, "does not match datatype FP64"),
    (b'{"inputs": [{"name": "a", "shape": [2, 2], "datatype": "FP64", "data": [[1, 2], [3]]}]}',
     400, "ragged"),
    (b'{"inputs": [{"name": "a", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]}',
     400, "expects [-1, 4]"),
    (b'{"inputs": [{"name": "a", "shape": [4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}',
     400, "expects [-1, 4]"),
    (b'{"inputs": [{"name": "a", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]},'
     b'{"name": "b", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}', 400,
     "one input tensor"),
    (b'{"inputs": [{"name": "a", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}],'
     b'"outputs": [{"name": "nope"}]}', 400, "unknown output 'nope'"),
    # values the datatype cannot hold, impossible shapes, parameters of the wrong type
    (b'{"inputs": [{"name": "a", "shape": [1, 4], "datatype": "INT8", "data": [1000, 2, 3, 4]}]}',
     400, "outside INT8's range -128..127"),
    (b'{"inputs": [{"name": "a", "shape": [1, 4], "datatype": "UINT8", "data": [-1, 2, 3, 4]}]}',
     400, "outside UINT8's range 0..255"),
    (b'{"inputs": [{"name": "a", "shape": [1, 4], "datatype": "FP32", "data": [1e39, 2, 3, 4]}]}',
     400, "beyond FP32's range"),
    (b'{"inputs": [{"name": "a", "shape": [4611686018427387905, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}',
     400, "asks for more than"),
    (b'{"inputs": [{"name": "a", "shape": [0, 4], "datatype": "FP64", "data": []}]}',
     400, "holds no values"),
    (b'{"inputs": [{"name": "a", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4], "parameters": 5}]}',
     400, "inputs[0].parameters must be an object"),
    (b'{"inputs": [{"name": "a", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}], "parameters": [1]}',
     400, "'parameters' must be an object"),
    (b'{"inputs": [{"name": "a", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}], "outputs": [{"name": "predict", "parameters": "x"}]}',
     400, "outputs[0].parameters must be an object"),
])
def test_bad_requests_are_400_with_a_message(served, raw, status, words) -> None:
    got, doc = http("POST", served.infer_url(), raw=raw)
    assert got == status, doc
    assert set(doc) == {"error"} and words in doc["error"], doc["error"]
    still_serving(served)


def test_unknown_model_version_route_and_method(served) -> None:
    body = v2_body(np.asarray(ROW))
    status, doc = http("POST", served.url + "/v2/models/nope/infer", body)
    assert status == 404 and "no model named 'nope'" in doc["error"] and "iris" in doc["error"]
    status, doc = http("POST", served.url + "/v2/models/iris/versions/7/infer", body)
    assert status == 404 and "no version '7'" in doc["error"]
    assert http("GET", served.url + "/v2/models/iris/infer")[0] == 405
    assert http("GET", served.url + "/v2/nothing/here")[0] == 404
    assert http("GET", served.url + "/v1/models/nope")[0] == 404
    assert http("POST", served.url + "/v1/models/iris:predict", {"instances": []})[0] == 400
    assert http("POST", served.url + "/v1/models/iris:predict",
                {"instances": [[1, 2], [3]]})[0] == 400
    still_serving(served)


def test_body_over_the_limit_is_413(iris_model) -> None:
    config = ServeConfig([ModelConfig("iris", iris_model)], port=0, max_body=2048)
    with Service(config) as svc:
        big = v2_body(np.ones((200, 4)))
        status, doc = http("POST", svc.infer_url(), big)
        assert status == 413 and "limit" in doc["error"]
        still_serving(svc)


def test_missing_and_extra_named_inputs(iris) -> None:
    X, y = iris
    cols = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    model = LinearRegression().fit(pd.DataFrame(X, columns=cols), y)
    with kiln.serve(model, name="named") as svc:
        def named(names: list[str]) -> dict:
            return {"inputs": [{"name": n, "shape": [2], "datatype": "FP64", "data": [1.0, 2.0]}
                               for n in names]}

        status, doc = http("POST", svc.infer_url(), named(cols))
        assert status == 200, doc
        expected = model.predict(pd.DataFrame([[1.0] * 4, [2.0] * 4], columns=cols))
        np.testing.assert_allclose(doc["outputs"][0]["data"], expected)
        status, doc = http("POST", svc.infer_url(), named(cols[:3]))
        assert status == 400 and "missing inputs: petal_width" in doc["error"]
        status, doc = http("POST", svc.infer_url(), named([*cols, "colour"]))
        assert status == 400 and "unexpected inputs: colour" in doc["error"]
        # one [N, 4] tensor still works, whatever its name
        assert http("POST", svc.infer_url(), v2_body(np.asarray(ROW), name="x"))[0] == 200


class Flaky:
    """A custom predictor that raises on negative input."""

    def predict(self, x):
        if (np.asarray(x) < 0).any():
            raise ValueError("negative values are not allowed")
        return np.asarray(x).sum(axis=1)


def test_a_predictor_that_raises_is_500_and_the_next_request_is_served() -> None:
    with kiln.serve(Flaky(), name="flaky") as svc:
        status, doc = http("POST", svc.infer_url(), v2_body(np.asarray([[-1.0, 2.0]])))
        assert status == 500 and doc == {"error": "ValueError: negative values are not allowed"}
        status, doc = http("POST", svc.infer_url(), v2_body(np.asarray([[1.0, 2.0]])))
        assert status == 200 and doc["outputs"][0]["data"] == [3.0]


def test_a_model_that_fails_to_load_is_not_ready_with_the_reason(tmp_path: Path,
                                                                   iris_model) -> None:
    broken = tmp_path / "broken.joblib"
    broken.write_bytes(b"this is not a pickle")
    config = ServeConfig([ModelConfig("good", iris_model), ModelConfig("bad", str(broken))],
                         port=0)
    with Service(config) as svc:
        status, doc = http("GET", svc.url + "/v2/models/bad/ready")
        assert status == 503 and doc["ready"] is False and "cannot load model" in doc["error"]
        status, doc = http("GET", svc.url + "/v2/health/ready")
        assert status == 503 and "bad v1" in doc["error"]
        assert http("GET", svc.url + "/v2/health/live")[0] == 200
        status, doc = http("POST", svc.infer_url("bad"), v2_body(np.asarray(ROW)))
        assert status == 503 and "not ready" in doc["error"]
        assert http("GET", svc.url + "/v2/models/bad")[1]["state"] == "failed"
        assert http("POST", svc.infer_url("good"), v2_body(np.asarray(ROW)))[0] == 200


def test_kiln_serve_refuses_a_model_that_cannot_load(tmp_path: Path) -> None:
    broken = tmp_path / "broken.joblib"
    broken.write_bytes(b"garbage")
    with pytest.raises(kiln.ModelError, match="cannot load model"):
        kiln.serve(str(broken))
    with pytest.raises(kiln.ModelError, match="neither a file"):
        kiln.serve("no/such/thing/here")


def test_metrics_label_only_served_models(served) -> None:
    for i in range(50):
        http("GET", f"{served.url}/v2/models/nope-{i}/ready")
    still_serving(served)
    from urllib.request import urlopen

    with urlopen(f"{served.url}/metrics") as r:
        text = r.read().decode()
    assert "nope-" not in text
    assert 'model="_unknown"' in text
