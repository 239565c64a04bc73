"""The Open Inference Protocol V2 and V1 endpoints against a real server on loopback."""

from __future__ import annotations

import numpy as np

import kiln

from .conftest import http, v2_body


def test_health_and_server_metadata(served: kiln.Service) -> None:
    assert http("GET", served.url + "/v2/health/live") == (200, {"live": True})
    assert http("GET", served.url + "/v2/health/ready") == (200, {"ready": True})
    status, doc = http("GET", served.url + "/v2")
    assert status == 200 and doc["name"] == "kilnflow" and doc["models"] == ["iris"]
    assert "binary_tensor_data" in doc["extensions"]


def test_model_metadata_reports_tensors(served: kiln.Service) -> None:
    status, doc = http("GET", served.url + "/v2/models/iris")
    assert status == 200
    assert doc["name"] == "iris" and doc["versions"] == ["1"] and doc["platform"] == "sklearn"
    assert doc["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
    assert {"name": "predict", "datatype": "INT64", "shape": [-1]} in doc["outputs"]
    assert {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]} in doc["outputs"]
    assert http("GET", served.url + "/v2/models/iris/ready") == (
        200, {"name": "iris", "ready": True})
    assert http("GET", served.url + "/v2/models/iris/versions/1/ready")[0] == 200


def test_infer_flat_and_nested_data_match_the_model(served, iris, iris_model) -> None:
    X, _ = iris
    rows = X[45:55]
    status, doc = http("POST", served.infer_url(), v2_body(rows, name="whatever", id="r-1"))
    assert status == 200, doc
    assert doc["model_name"] == "iris" and doc["model_version"] == "1" and doc["id"] == "r-1"
    out = doc["outputs"][0]
    assert out["name"] == "predict" and out["datatype"] == "INT64" and out["shape"] == [10]
    assert out["data"] == iris_model.predict(rows).tolist()
    nested = {"inputs": [{"name": "x", "shape": [10, 4], "datatype": "FP64",
                          "data": rows.tolist()}]}
    assert http("POST", served.infer_url(), nested)[1]["outputs"][0]["data"] == out["data"]


def test_requested_outputs_and_versioned_route(served, iris, iris_model) -> None:
    X, _ = iris
    body = v2_body(X[:3], outputs=[{"name": "predict_proba"}, {"name": "predict"}])
    status, doc = http("POST", served.url + "/v2/models/iris/versions/1/infer", body)
    assert status == 200, doc
    names = [o["name"] for o in doc["outputs"]]
    assert names == ["predict_proba", "predict"]
    proba = np.asarray(doc["outputs"][0]["data"]).reshape(doc["outputs"][0]["shape"])
    np.testing.assert_allclose(proba, iris_model.predict_proba(X[:3]))


def test_v1_predict_and_metadata(served, iris, iris_model) -> None:
    X, _ = iris
    status, doc = http("POST", served.url + "/v1/models/iris:predict",
                       {"instances": X[100:104].tolist()})
    assert status == 200, doc
    assert doc == {"predictions": iris_model.predict(X[100:104]).tolist()}
    assert http("GET", served.url + "/v1/models/iris") == (200, {"name": "iris", "ready": True})


def test_python_service_predict(served, iris, iris_model) -> None:
    X, _ = iris
    assert served.predict(X[:5]).tolist() == iris_model.predict(X[:5]).tolist()
    assert served.predict(X[0]).tolist() == iris_model.predict(X[:1]).tolist()  # one row


def test_several_models_on_one_server(iris, iris_model) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    tree = DecisionTreeClassifier(max_depth=1).fit(X, y)
    from kiln.serving.api import Service
    from kiln.serving.config import ModelConfig, ServeConfig

    config = ServeConfig([ModelConfig("logreg", iris_model), ModelConfig("stump", tree)], port=0)
    with Service(config) as svc:
        assert http("GET", svc.url + "/v2")[1]["models"] == ["logreg", "stump"]
        for name, model in (("logreg", iris_model), ("stump", tree)):
            doc = http("POST", svc.infer_url(name), v2_body(X))[1]
            assert doc["outputs"][0]["data"] == model.predict(X).tolist()


def test_prometheus_metrics(served, iris) -> None:
    X, _ = iris
    for _ in range(3):
        http("POST", served.infer_url(), v2_body(X[:2]))
    http("POST", served.infer_url(), {"inputs": []})
    status, text = http("GET", served.url + "/metrics")
    assert status == 200
    lines = [ln for ln in text.splitlines() if ln.startswith("kiln_inference_requests_total{")]
    ok = [ln for ln in lines if 'model="iris"' in ln and 'code="200"' in ln]
    bad = [ln for ln in lines if 'model="iris"' in ln and 'code="400"' in ln]
    assert ok and float(ok[0].rsplit(" ", 1)[1]) >= 3
    assert bad and float(bad[0].rsplit(" ", 1)[1]) >= 1
    assert "kiln_inference_request_duration_seconds_bucket" in text
    assert 'kiln_inference_batch_size_count{model="iris"}' in text


def test_binds_to_loopback_by_default(served) -> None:
    assert served.url.startswith("http://127.0.0.1:")
    assert served._sock.getsockname()[0] == "127.0.0.1"
