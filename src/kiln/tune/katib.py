"""`kiln compile --katib`: a Katib Experiment (v1beta1) whose trials run the compiled
Kubeflow pipeline with the trial's parameters.

The output is two YAML documents for one `kubectl apply -f`: a ConfigMap holding the KFP
package, and the Experiment. Each trial is a batch/v1 Job (like Kale's) that runs
`python -m kiln.engine.kfp.trial`: it starts a KFP run of the package with the trial's
parameters, waits for it, and prints the run's metrics as `name=value` lines for Katib's
StdOut metrics collector.
"""

from __future__ import annotations

import os
import re
from typing import Any

from kiln.errors import SpecError
from kiln.spec.model import PipelineSpec

CONTAINER = "trial"
PACKAGE_DIR = "/kiln"


def experiment(spec: PipelineSpec, config: Any, *, image: str | None = None,
               name: str | None = None, namespace: str | None = None,
               shipment: Any = None) -> list[dict[str, Any]]:
    """[ConfigMap, Experiment] for `spec` tuned as `config` (a StudyConfig). `shipment`:
    what travels with the pipeline (engine/kfp/shipping.py; by default captured here)."""
    from kiln.engine.kfp.compiler import DEFAULT_IMAGE, KFP_VERSION, compile_kfp, dump
    from kiln.engine.kfp.containers import dns_name, prepare
    from kiln.engine.kfp.environment import RUNTIME_IMPORTS, pinned
    from kiln.engine.kfp.shipping import ship_spec

    shipment = shipment or ship_spec(spec)
    package = dump(compile_kfp(spec, image=image, shipment=shipment))
    # the trial starts KFP runs (kfp.Client) and reads their metrics (S3): it gets kfp,
    # boto3 and the runtime as they are here, like a step gets its libraries
    trial_needs = pinned(["kfp", "boto3", "yaml", *RUNTIME_IMPORTS])
    trial_needs.setdefault("kfp", f"kfp=={KFP_VERSION}")
    trial_plan = shipment.plan_for(trial_needs)
    exp_name = dns_name(name or spec.name)[:63].rstrip("-")
    cm_name = f"{exp_name}-pipeline"[:63]
    meta: dict[str, Any] = {"name": exp_name,
                            "labels": {"app.kubernetes.io/created-by": "kilnflow"}}
    cm_meta: dict[str, Any] = {"name": cm_name,
                               "labels": {"app.kubernetes.io/created-by": "kilnflow"}}
    if namespace:
        meta["namespace"] = cm_meta["namespace"] = namespace
    katib = config.to_katib()
    trial_params = []
    args = ["--package", f"{PACKAGE_DIR}/pipeline.yaml", "--run-name", "${trialSpec.Name}",
            "--experiment", exp_name]
    for p in config.parameters:
        tname = re.sub(r"[^A-Za-z0-9]", "", p.name) or "p"
        trial_params.append({"name": tname, "description": f"pipeline parameter {p.name}",
                             "reference": p.name})
        args += ["--param", f"{p.name}=${{trialParameters.{tname}}}"]
    for k, v in config.fixed.items():
        args += ["--param", f"{k}={v}"]
    for m in [config.objective.metric, *config.objective.additional]:
        args += ["--metric", m]
    image = image or spec.metadata.get("kubeflow_notebook", {}).get("docker_image") or \
        DEFAULT_IMAGE
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"annotations": {"sidecar.istio.io/inject": "false"},
                             "labels": {"access-ml-pipeline": "true"}},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": "default-editor",
                    "containers": [{
                        "name": CONTAINER,
                        "image": image,
                        "command": ["sh", "-c", f"{prepare(trial_plan)} && exec python3 -m "
                                    "kiln.engine.kfp.trial \"$@\"", "--"],
                        "args": args,
                        "env": [
                            {"name": "KFP_HOST", "value": "http://ml-pipeline.kubeflow:8888"},
                            # KFP's artifact store in a Kubeflow profile namespace
                            *({"name": env, "valueFrom": {"secretKeyRef": {
                                "name": "mlpipeline-minio-artifact", "key": key,
                                "optional": True}}}
                              for env, key in (("AWS_ACCESS_KEY_ID", "accesskey"),
                                               ("AWS_SECRET_ACCESS_KEY", "secretkey"))),
                        ],
                        "volumeMounts": [{"name": "pipeline", "mountPath": PACKAGE_DIR,
                                          "readOnly": True}],
                    }],
                    "volumes": [{"name": "pipeline", "configMap": {"name": cm_name}}],
                },
            },
        },
    }
    exp_spec: dict[str, Any] = {
        **katib,
        "metricsCollectorSpec": {"collector": {"kind": "StdOut"}},
        "trialTemplate": {
            "primaryContainerName": CONTAINER,
            "retain": False,
            "trialParameters": trial_params,
            "trialSpec": job,
        },
    }
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": cm_meta,
         "data": {"pipeline.yaml": package}},
        {"apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment", "metadata": meta,
         "spec": exp_spec},
    ]


def experiment_yaml(spec: PipelineSpec, target: Any, *, image: str | None = None,
                    config: str | os.PathLike[str] | None = None,
                    params: dict[str, Any] | None = None, shipment: Any = None) -> str:
    """What `kiln compile PATH --katib` writes; the study comes from `config` or the
    notebook's katib_metadata, checked exactly as `kiln tune` checks it."""
    import yaml

    from kiln.tune.config import from_notebook, study_config

    if config is None and not from_notebook(spec.metadata):
        raise SpecError("the pipeline has no katib_metadata to turn into an Experiment",
                        where=str(target),
                        hint="add it in Kale's Katib panel, or pass --config FILE")
    cfg = study_config(spec, config=config, params=params)
    docs = experiment(spec, cfg, image=image,
                      name=spec.metadata.get("kubeflow_notebook", {}).get("experiment_name")
                      or spec.name, shipment=shipment)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return "".join(("---\n" if i else "") + yaml.dump(d, Dumper=dumper, sort_keys=False,
                                                       width=100)
                   for i, d in enumerate(docs))
