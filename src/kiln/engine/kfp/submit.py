"""`kiln submit`: upload a compiled pipeline as a new version and start a run (or a recurring
run) on a Kubeflow Pipelines server, through the official `kfp.Client`.

Before anything is uploaded the server is asked for its health with the same credentials, so
an unreachable host or a refused token is a clear error and leaves nothing behind; a run that
cannot be created after its version was uploaded removes that version again.
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiln.errors import UserError
from kiln.spec.model import PipelineSpec
from kiln.spec.params import convert

TOKEN_ENV = "KF_PIPELINES_TOKEN"


@dataclass
class Submitted:
    pipeline_id: str
    version_id: str
    run_id: str | None = None
    recurring_run_id: str | None = None
    url: str = ""


def kfp_cron(expr: str) -> str:
    """KFP's cron has a seconds field first; accept the usual five fields too."""
    fields = expr.split()
    if len(fields) == 5:
        return "0 " + expr.strip()
    if len(fields) == 6:
        return expr.strip()
    raise UserError(f"'{expr}' is not a cron expression",
                    hint="five fields (minute hour day month weekday), e.g. \"0 * * * *\"")


def check_server(host: str, token: str | None, timeout: float = 10) -> None:
    """Reach the server's health endpoint with our credentials, or say what is wrong."""
    url = host.rstrip("/") + "/apis/v2beta1/healthz"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}
                                 if token else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 - user's host
            r.read()
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            raise UserError(f"Kubeflow Pipelines at {host} refused the request ({e.code} "
                            f"{e.reason}): not authorised",
                            hint=f"pass --token, or set {TOKEN_ENV}") from None
        if e.code == 404:
            raise UserError(f"{host} answered 404 for {url}: is it a Kubeflow Pipelines v2 API "
                            "server?", hint="give the ml-pipeline endpoint, e.g. "
                                            "http://localhost:8888") from None
        raise UserError(f"Kubeflow Pipelines at {host} answered {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise UserError(f"cannot reach Kubeflow Pipelines at {host}: {reason}",
                        hint="check --host (e.g. kubectl port-forward svc/ml-pipeline "
                             "8888:8888 -n kubeflow)") from None


def submit(spec: PipelineSpec, *, host: str, params: dict[str, Any] | None = None,
           experiment: str | None = None, token: str | None = None,
           recurring: str | None = None, image: str | None = None,
           version: str | None = None, ship: Callable[[], Any] | None = None) -> Submitted:
    """Check the server, compile (shipping the code with `ship()`, by default the captured
    environment), upload and start the run; take back the upload if the run fails."""
    from kiln.engine.kfp.compiler import compile_kfp, dump
    from kiln.engine.kfp.containers import dns_name

    chosen = convert(spec, params or {})
    cron = kfp_cron(recurring) if recurring else None
    token = token or os.environ.get(TOKEN_ENV)
    if not host.startswith(("http://", "https://")):
        raise UserError(f"--host {host!r} is not an http(s) URL", hint="e.g. http://localhost:8888")
    check_server(host, token)
    text = dump(compile_kfp(spec, image=image, shipment=ship() if ship else None))
    import kfp

    client = kfp.Client(host=host, existing_token=token)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pipeline.yaml")
        with open(path, "w") as f:
            f.write(text)
        name = dns_name(spec.name)
        version = version or f"{name}-{spec.digest()[:12]}"
        pipeline_id = client.get_pipeline_id(name)
        created_pipeline = pipeline_id is None
        if created_pipeline:
            pipeline = client.upload_pipeline(path, pipeline_name=name,
                                              description=spec.description or None)
            pipeline_id = pipeline.pipeline_id
            versions = client.list_pipeline_versions(pipeline_id, page_size=1)
            version_id = versions.pipeline_versions[0].pipeline_version_id
        else:
            v = client.upload_pipeline_version(path, pipeline_version_name=version,
                                               pipeline_id=pipeline_id)
            version_id = v.pipeline_version_id
    try:
        exp = client.create_experiment(experiment or spec.experiment or "Default")
        out = Submitted(pipeline_id, version_id)
        job = f"{name} {version}"
        if cron:
            rr = client.create_recurring_run(exp.experiment_id, job, cron_expression=cron,
                                             params=chosen, pipeline_id=pipeline_id,
                                             version_id=version_id, no_catchup=True)
            out.recurring_run_id = rr.recurring_run_id
        else:
            run = client.run_pipeline(exp.experiment_id, job, params=chosen,
                                      pipeline_id=pipeline_id, version_id=version_id)
            out.run_id = run.run_id
            out.url = f"{host.rstrip('/')}/#/runs/details/{run.run_id}"
        return out
    except Exception:
        # Nothing half-done: take back what this call uploaded.
        client.delete_pipeline_version(pipeline_id, version_id)
        if created_pipeline:
            client.delete_pipeline(pipeline_id)
        raise
