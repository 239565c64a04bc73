"""`kiln serve export --kserve`: an InferenceService the KServe SDK accepts, model uploaded to S3."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import boto3
import joblib
import yaml

import kiln
from tests.conftest import run_cli, tool_python

from .test_clients import KSERVE_PINS

CHECK = textwrap.dedent('''
    import json, re, sys, yaml
    import kserve.models, kubernetes.client
    from kserve import ApiClient, V1beta1InferenceService

    def build(cls, data, path):
        """Strictly build SDK model objects: every key must be a field the SDK knows."""
        by_json = {v: k for k, v in cls.attribute_map.items()}
        kwargs = {}
        for key, value in data.items():
            if key not in by_json:
                raise SystemExit(f"unknown field {path}.{key} for {cls.__name__}")
            attr = by_json[key]
            kwargs[attr] = convert(cls.openapi_types[attr], value, f"{path}.{key}")
        return cls(**kwargs)

    def convert(type_name, value, path):
        m = re.match(r"^(?:dict\\(str, |Dict\\[str, )(.+)[)\\]]$", type_name)
        if m:
            return {k: convert(m.group(1), v, f"{path}.{k}") for k, v in value.items()}
        m = re.match(r"^(?:list\\[|List\\[)(.+)\\]$", type_name)
        if m:
            return [convert(m.group(1), v, f"{path}[{i}]") for i, v in enumerate(value)]
        cls = getattr(kserve.models, type_name, None) or getattr(kubernetes.client, type_name,
                                                                 None)
        return build(cls, value, path) if cls is not None else value

    def prune(d):  # the SDK fills the container's required `name` with ""
        if isinstance(d, dict):
            return {k: prune(v) for k, v in d.items() if v != ""}
        return d

    doc = yaml.safe_load(open(sys.argv[1]))
    isvc = build(V1beta1InferenceService, doc, "$")
    assert isvc.metadata.name and isvc.spec.predictor, "required: metadata.name, spec.predictor"
    model = isvc.spec.predictor.model
    print(json.dumps({
        "kind": isvc.kind, "api_version": isvc.api_version, "name": isvc.metadata.name,
        "format": model.model_format.name, "storage_uri": model.storage_uri,
        "protocol": model.protocol_version, "cpu": model.resources.limits["cpu"],
        "round_trip": prune(ApiClient().sanitize_for_serialization(isvc)) == doc,
    }))
''')


def check_with_kserve_sdk(manifest: Path, tmp_path: Path) -> dict:
    py = tool_python("kserve-0.21.0", KSERVE_PINS)
    script = tmp_path / "check.py"
    script.write_text(CHECK)
    r = subprocess.run([str(py), str(script), str(manifest)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_export_uploads_to_s3_and_the_sdk_accepts_the_manifest(s3_env, iris_model, tmp_path):
    s3 = boto3.client("s3", endpoint_url=s3_env)
    s3.create_bucket(Bucket="models")
    model = tmp_path / "iris.joblib"
    joblib.dump(iris_model, model)
    out = tmp_path / "isvc.yaml"
    r = run_cli("serve", "export", str(model), "--kserve", "-o", str(out), "--name", "iris",
                "--storage-uri", "s3://models/iris/v1", "--namespace", "team-a")
    assert r.returncode == 0, r.stderr
    assert "uploaded s3://models/iris/v1/model.joblib" in r.stdout
    body = s3.get_object(Bucket="models", Key="iris/v1/model.joblib")["Body"].read()
    assert body == model.read_bytes()
    doc = yaml.safe_load(out.read_text())
    assert doc["metadata"] == {"name": "iris", "namespace": "team-a",
                               "labels": {"app.kubernetes.io/managed-by": "kilnflow"},
                               "annotations": {"kilnflow.io/model": str(model)}}
    checked = check_with_kserve_sdk(out, tmp_path)
    assert checked == {"kind": "InferenceService", "api_version": "serving.kserve.io/v1beta1",
                       "name": "iris", "format": "sklearn",
                       "storage_uri": "s3://models/iris/v1", "protocol": "v2", "cpu": "1",
                       "round_trip": True}


def test_export_a_run_artifact_to_the_configured_s3_store(s3_env, module, tmp_path,
                                                          monkeypatch) -> None:
    xgb = __import__("pytest").importorskip("xgboost")
    boto3.client("s3", endpoint_url=s3_env).create_bucket(Bucket="kiln")
    monkeypatch.setenv("KILN_STORE", "s3://kiln/team")
    path = module(textwrap.dedent('''
        import kiln, xgboost as xgb
        from sklearn.datasets import load_iris

        @kiln.step
        def train():
            X, y = load_iris(return_X_y=True)
            return xgb.train({"objective": "multi:softprob", "num_class": 3},
                             xgb.DMatrix(X, label=y), num_boost_round=3)

        @kiln.pipeline(name="xgb-iris")
        def p():
            train()
    '''))
    run = kiln.run(str(path), progress=False).raise_for_status()
    out = tmp_path / "isvc.yaml"
    r = run_cli("serve", "export", f"{run.id}/train/output", "--kserve", "-o", str(out),
                "--name", "xgb-iris")
    assert r.returncode == 0, r.stderr
    doc = yaml.safe_load(out.read_text())
    model = doc["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "xgboost"}
    uri = model["storageUri"]
    assert uri.startswith("s3://kiln/team/models/xgb-iris/")
    key = uri.removeprefix("s3://kiln/") + "/model.ubj"
    data = boto3.client("s3", endpoint_url=s3_env).get_object(Bucket="kiln", Key=key)
    booster = xgb.Booster()
    booster.load_model(bytearray(data["Body"].read()))  # KServe's runtime reads it as is
    assert booster.num_features() == 4


def test_export_to_other_storage_writes_a_local_copy(iris_model, tmp_path) -> None:
    model = tmp_path / "iris.joblib"
    joblib.dump(iris_model, model)
    out = tmp_path / "deploy" / "isvc.yaml"
    r = run_cli("serve", "export", str(model), "--kserve", "-o", str(out),
                "--storage-uri", "pvc://models/iris", "--protocol", "v1")
    assert r.returncode == 0, r.stderr
    copy = tmp_path / "deploy" / "isvc-model" / "model.joblib"
    assert copy.read_bytes() == model.read_bytes()
    assert f"copy {copy.parent} to pvc://models/iris" in r.stdout
    doc = yaml.safe_load(out.read_text())
    assert doc["metadata"]["name"] == "iris"
    assert doc["spec"]["predictor"]["model"]["protocolVersion"] == "v1"


def test_export_bad_input(iris_model, tmp_path) -> None:
    model = tmp_path / "iris.joblib"
    joblib.dump(iris_model, model)
    out = tmp_path / "isvc.yaml"
    r = run_cli("serve", "export", str(model), "-o", str(out))
    assert r.returncode == 2 and "--kserve" in r.stderr
    r = run_cli("serve", "export", str(model), "--kserve", "-o", str(out))
    assert r.returncode == 2 and "--storage-uri" in r.stderr
    (tmp_path / "p.py").write_text("class P:\n    def predict(self, x):\n        return x\n")
    r = run_cli("serve", "export", f"{tmp_path / 'p.py'}:P", "--kserve", "-o", str(out),
                "--storage-uri", "pvc://x")
    assert r.returncode == 2 and "custom predictor class needs its own container image" in r.stderr
    r = run_cli("serve", "export", str(model), "--kserve", "-o", str(out), "--storage-uri",
                "pvc://x", "--name", "Not_Valid")
    assert r.returncode == 2 and "not a valid InferenceService name" in r.stderr
    r = run_cli("serve", "export", str(model), "--kserve", "-o", str(out), "--storage-uri",
                "s3://no-such-bucket/x", env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                                              "AWS_ACCESS_KEY_ID": "x",
                                              "AWS_SECRET_ACCESS_KEY": "x",
                                              "AWS_DEFAULT_REGION": "us-east-1"})
    assert r.returncode == 2 and "cannot upload the model" in r.stderr
    assert not out.exists()  # nothing written when the upload failed
