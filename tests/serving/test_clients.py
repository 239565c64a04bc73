"""The clients people already use work unchanged: tritonclient[http] and KServe's REST client."""

from __future__ import annotations

import json
import subprocess
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import tritonclient.http as triton

import kiln
from tests.conftest import tool_python

from .conftest import http, v2_body

KSERVE_PINS = ["kserve==0.21.0"]


def test_tritonclient_binary_and_json(served, iris, iris_model) -> None:
    X, _ = iris
    client = triton.InferenceServerClient(served.url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("iris")
    meta = client.get_model_metadata("iris")
    assert meta["inputs"][0]["shape"] == [-1, 4]
    for binary in (True, False):
        inp = triton.InferInput("input-0", list(X.shape), "FP64")
        inp.set_data_from_numpy(X, binary_data=binary)
        outputs = [triton.InferRequestedOutput("predict", binary_data=binary),
                   triton.InferRequestedOutput("predict_proba", binary_data=binary)]
        result = client.infer("iris", [inp], outputs=outputs, request_id="t1")
        np.testing.assert_array_equal(result.as_numpy("predict"), iris_model.predict(X))
        np.testing.assert_allclose(result.as_numpy("predict_proba"), iris_model.predict_proba(X))
        assert result.get_response()["id"] == "t1"
    # without naming outputs the client asks for binary data and gets the default output
    inp = triton.InferInput("x", [2, 4], "FP32")
    inp.set_data_from_numpy(X[:2].astype(np.float32))
    np.testing.assert_array_equal(client.infer("iris", [inp]).as_numpy("predict"),
                                  iris_model.predict(X[:2].astype(np.float32)))


KSERVE_CLIENT = textwrap.dedent('''
    import asyncio, json, sys
    import numpy as np
    from kserve import InferenceRESTClient, RESTConfig, InferRequest, InferInput

    url, rows = sys.argv[1], np.asarray(json.loads(sys.argv[2]))

    async def main():
        out = {}
        v2 = InferenceRESTClient(RESTConfig(protocol="v2"))
        inp = InferInput(name="input-0", shape=list(rows.shape), datatype="FP64")
        inp.set_data_from_numpy(rows, binary_data=False)
        res = await v2.infer(url, InferRequest(model_name="iris", infer_inputs=[inp]),
                             model_name="iris")
        out["v2"] = res.outputs[0].as_numpy().tolist()
        inp = InferInput(name="input-0", shape=list(rows.shape), datatype="FP64")
        inp.set_data_from_numpy(rows, binary_data=True)
        res = await v2.infer(url, InferRequest(model_name="iris", infer_inputs=[inp]),
                             model_name="iris")
        out["v2_binary"] = res.outputs[0].as_numpy().tolist()
        out["ready"] = await v2.is_model_ready(url, "iris")
        v1 = InferenceRESTClient(RESTConfig(protocol="v1"))
        res = await v1.infer(url, {"instances": rows.tolist()}, model_name="iris")
        out["v1"] = res["predictions"]
        await v1.close(); await v2.close()
        print(json.dumps(out))

    asyncio.run(main())
''')


def test_kserve_rest_client(served, iris, iris_model, tmp_path) -> None:
    """KServe's own client, from its own venv (its pins clash with ours)."""
    py = tool_python("kserve-0.21.0", KSERVE_PINS)
    X, _ = iris
    rows = X[::15]
    script = tmp_path / "client.py"
    script.write_text(KSERVE_CLIENT)
    r = subprocess.run([str(py), str(script), served.url, json.dumps(rows.tolist())],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    expected = iris_model.predict(rows).tolist()
    assert out["v2"] == expected and out["v2_binary"] == expected and out["v1"] == expected
    assert out["ready"] is True


class SlowSum:
    """sklearn-shaped and slow enough that concurrent requests pile up into batches."""

    n_features_in_ = 4

    def predict(self, x):
        import time

        time.sleep(0.005)
        return np.asarray(x).sum(axis=1)


def test_concurrent_http_requests_are_batched() -> None:
    import sklearn.base

    class Model(sklearn.base.BaseEstimator, SlowSum):
        pass

    with kiln.serve(Model(), name="slow") as svc:
        rows = [np.full((1, 4), float(i)) for i in range(64)]
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda x: http("POST", svc.infer_url(), v2_body(x)), rows))
        for x, (status, doc) in zip(rows, results, strict=True):
            assert status == 200 and doc["outputs"][0]["data"] == [x.sum()]
        text = http("GET", svc.url + "/metrics")[1]
        count = next(float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines()
                     if ln.startswith('kiln_inference_batch_size_count{model="slow"}'))
        assert count < 64  # fewer model calls than requests
