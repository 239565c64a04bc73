"""A Katib trial on Kubeflow: run the compiled pipeline with the trial's parameters through
the official KFP client, wait, and print its metrics as `name=value` for Katib's StdOut
collector. Started by the Job that `kiln compile --katib` writes.

    python -m kiln.engine.kfp.trial --package pipeline.yaml --run-name T --experiment E \
        --param lr=0.1 --metric accuracy

Metrics are read from the run's `kiln_metrics` artifacts in the pipeline root (KFP's
object store: MinIO or S3, credentials from the usual AWS_* variables).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any
from urllib.parse import urlparse


def collect_metrics(pipeline_root: str, pipeline: str, run_id: str) -> dict[str, float]:
    """Every `kiln_metrics` artifact the run wrote, merged (later tasks win)."""
    from kiln import s3 as s3_access

    url = urlparse(pipeline_root)
    if url.scheme not in ("s3", "minio"):
        raise SystemExit(f"pipeline root {pipeline_root} is not s3:// or minio://")
    # minio:// is KFP's MinIO inside the cluster, unless an endpoint is given
    s3 = s3_access.client(default_endpoint="http://minio-service.kubeflow:9000"
                          if url.scheme == "minio" else None)
    prefix = "/".join(x for x in (url.path.strip("/"), pipeline, run_id) if x) + "/"
    found: list[tuple[str, dict[str, float]]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=url.netloc, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("/kiln_metrics"):
                body = s3.get_object(Bucket=url.netloc, Key=obj["Key"])["Body"].read()
                found.append((obj["LastModified"].isoformat(), json.loads(body or b"{}")))
    merged: dict[str, float] = {}
    for _, m in sorted(found, key=lambda x: x[0]):
        merged.update(m)
    return merged


def typed(text: str, parameter_type: str) -> Any:
    """Katib substitutes every value as text; KFP wants the declared type."""
    if parameter_type == "NUMBER_INTEGER":
        return int(float(text))
    if parameter_type == "NUMBER_DOUBLE":
        return float(text)
    if parameter_type == "BOOLEAN":
        return text.strip().lower() in ("true", "1", "yes")
    if parameter_type in ("LIST", "STRUCT"):
        return json.loads(text)
    return text


def katib_lines(metrics: dict[str, float], wanted: list[str]) -> list[str]:
    return [f"{m}={metrics[m]}" for m in wanted if m in metrics]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kiln.engine.kfp.trial")
    ap.add_argument("--package", required=True)
    ap.add_argument("--run-name", required=True)
    ap.add_argument("--experiment", default="Default")
    ap.add_argument("--param", action="append", default=[])
    ap.add_argument("--metric", action="append", default=[])
    ap.add_argument("--host", default=os.environ.get("KFP_HOST"))
    ap.add_argument("--pipeline-root", default=os.environ.get(
        "KFP_PIPELINE_ROOT", "minio://mlpipeline/v2/artifacts"))
    ap.add_argument("--timeout", type=int, default=24 * 3600)
    a = ap.parse_args(argv)
    import yaml
    from kfp import Client

    with open(a.package) as f:
        package = next(yaml.safe_load_all(f))
    name = package["pipelineInfo"]["name"]
    declared = package.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    params: dict[str, Any] = {}
    for item in a.param:
        k, _, v = item.partition("=")
        if k not in declared:
            raise SystemExit(f"the pipeline has no parameter '{k}' "
                             f"(it has: {', '.join(sorted(declared)) or 'none'})")
        params[k] = typed(v, declared[k]["parameterType"])
    client = Client(host=a.host)
    run = client.create_run_from_pipeline_package(a.package, arguments=params,
                                                  run_name=a.run_name,
                                                  experiment_name=a.experiment)
    done = client.wait_for_run_completion(run.run_id, timeout=a.timeout)
    state = str(getattr(done, "state", "") or "")
    print(f"kfp run {run.run_id}: {state}", file=sys.stderr)
    if state.upper() != "SUCCEEDED":
        return 1
    for line in katib_lines(collect_metrics(a.pipeline_root, name, run.run_id), a.metric):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
