"""Export a model as a KServe InferenceService (serving.kserve.io/v1beta1).

The model file is laid out as KServe's runtimes look for it (sklearn: model.joblib; xgboost:
model.ubj; lightgbm: model.bst) and uploaded when the storage URI is s3://; otherwise a local
copy is written beside the manifest for the user to place at the URI.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln.errors import ModelError, UserError
from kiln.files import atomic_path
from kiln.serving.loading import ModelSource, default_name, find_model_file, resolve
from kiln.serving.services import check_name

API_VERSION = "serving.kserve.io/v1beta1"
# Our codec / file suffix → (KServe modelFormat, the file name its runtime loads)
_FORMATS = {
    "sklearn-joblib": ("sklearn", "model.joblib"),
    "xgboost": ("xgboost", "model.ubj"),
    "lightgbm": ("lightgbm", "model.bst"),
    ".joblib": ("sklearn", "model.joblib"),
    ".pkl": ("sklearn", "model.pkl"),
    ".pickle": ("sklearn", "model.pickle"),
    ".ubj": ("xgboost", "model.ubj"),
    ".json": ("xgboost", "model.json"),
    ".bst": ("xgboost", "model.bst"),
    ".txt": ("lightgbm", "model.bst"),
}


@dataclass
class Export:
    name: str
    model_format: str
    storage_uri: str
    manifest: dict[str, Any]
    uploaded: str | None = None
    local_copy: Path | None = None


def _model_file(src: ModelSource) -> tuple[str, str, bytes]:
    """(modelFormat, file name, bytes) for a model KServe's stock runtimes can serve."""
    assert src.path is not None
    if src.kind == "class":
        raise ModelError("a custom predictor class needs its own container image on KServe",
                         hint="build an image with the class (KServe custom model) and "
                              "reference it in the InferenceService by hand")
    if src.kind == "artifact":
        assert src.artifact is not None
        key, path = src.artifact.codec, src.path
    else:
        path = find_model_file(src.path) if src.path.is_dir() else src.path
        key = path.suffix.lower()
        if key == ".bst" and path.read_bytes()[:4] == b"tree":
            key = ".txt"  # LightGBM's text format under KServe's name
    if key not in _FORMATS:
        raise ModelError(f"KServe's stock runtimes cannot serve a '{key}' model",
                         hint="export scikit-learn, XGBoost or LightGBM models; PyTorch "
                              "needs a TorchServe archive, custom code a custom image")
    fmt, filename = _FORMATS[key]
    data = path.read_bytes()
    if data.startswith(b"KILNXGBB"):  # our XGBoost codec's header before the UBJSON model
        data = data[8:]
    return fmt, filename, data


def manifest(name: str, fmt: str, storage_uri: str, *, namespace: str | None = None,
             protocol: str = "v2", cpu: str = "1", memory: str = "2Gi",
             source: str = "") -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "labels": {"app.kubernetes.io/managed-by": "kilnflow"},
        "annotations": {"kilnflow.io/model": source} if source else {},
    }
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": metadata,
        "spec": {"predictor": {"model": {
            "modelFormat": {"name": fmt},
            "protocolVersion": protocol,
            "storageUri": storage_uri,
            "resources": {"requests": {"cpu": cpu, "memory": memory},
                          "limits": {"cpu": cpu, "memory": memory}},
        }}},
    }


def export(model: str, output: Path, *, name: str | None = None, namespace: str | None = None,
           storage_uri: str | None = None, protocol: str = "v2", cpu: str = "1",
           memory: str = "2Gi") -> Export:
    if protocol not in ("v1", "v2"):
        raise UserError(f"--protocol {protocol} is not v1 or v2")
    src = resolve(model)
    name = check_name(name or default_name(model), "InferenceService name")
    fmt, filename, data = _model_file(src)
    uri = storage_uri or _default_uri(name, src)
    result = Export(name, fmt, uri, {})
    if uri.startswith("s3://"):
        result.uploaded = upload_s3(uri.rstrip("/") + "/" + filename, data)
    else:
        folder = output.with_name(output.stem + "-model")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / filename).write_bytes(data)
        result.local_copy = folder
    result.manifest = manifest(name, fmt, uri, namespace=namespace, protocol=protocol, cpu=cpu,
                               memory=memory, source=model)
    _write_yaml(result.manifest, output)
    return result


def _default_uri(name: str, src: ModelSource) -> str:
    store = os.environ.get("KILN_STORE", "")
    if store.startswith("s3://"):
        tag = src.artifact.digest[:16] if src.artifact else "latest"
        return f"{store.rstrip('/')}/models/{name}/{tag}"
    raise UserError("say where the cluster will read the model from",
                    hint="pass --storage-uri s3://bucket/path (uploaded for you), gs://... or "
                         "pvc://..., or set KILN_STORE=s3://bucket/prefix")


def upload_s3(uri: str, data: bytes) -> str:
    """Put `data` at an s3:// URI (the endpoint resolved as for the store: kiln.s3)."""
    from kiln import s3

    client = s3.client()
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket or not key:
        raise UserError(f"'{uri}' is not s3://bucket/key")
    try:
        client.put_object(Bucket=bucket, Key=key, Body=data)
    except (BotoCoreError, ClientError) as e:
        raise UserError(f"cannot upload the model to {uri}: {e}",
                        hint="check the bucket, credentials and KILN_S3_ENDPOINT_URL (or "
                             "AWS_ENDPOINT_URL)") from None
    return uri


def _write_yaml(doc: dict[str, Any], output: Path) -> None:
    import yaml

    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(output) as tmp:
        tmp.write_text(yaml.safe_dump(doc, sort_keys=False))

