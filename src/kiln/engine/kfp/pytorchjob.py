"""A distributed step on Kubeflow: the pipeline task launches a PyTorchJob and waits for it.

The KFP task (the launcher) cannot hand its input artifacts to the job's pods, which run
elsewhere in the cluster, so the two meet in kilnflow's store (`KILN_STORE`, S3 on a cluster):

    jobs/<job>/job.json          the step (its code, constants) and its parameter values
    jobs/<job>/in/<input>/...    each input artifact's folder (ref.json + codec files)
    jobs/<job>/out/<output>/...  rank 0's outputs, the same shape
    jobs/<job>/metrics.json      rank 0's last value of each metric
    jobs/<job>/rank<N>.json      each rank's end: {"status", "error"}

The launcher removes `jobs/<job>/` when it is done. Each replica runs
`python -m kiln.engine.kfp.replica <job>` with the environment the training operator gives
(MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK), so `init_process_group("gloo"|"nccl")` works.

Where the launcher runs decides how the job runs: inside a cluster (KUBERNETES_SERVICE_HOST
set) it creates the PyTorchJob through the Kubernetes API; elsewhere (kfp.local on a laptop)
it starts the replicas as local processes with the same command and environment, so the same
package can be tried before it is submitted. KILN_PYTORCHJOB=cluster|local forces one.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiln.engine.kfp.containers import STORE_SECRET, dns_name, prepare
from kiln.errors import KilnError, UserError
from kiln.store.backend import Backend, LocalBackend

GROUP, VERSION, PLURAL, KIND = "kubeflow.org", "v1", "pytorchjobs", "PyTorchJob"
CONTAINER = "pytorch"  # the training operator finds the container to configure by this name
_PASS_ON = ("KILN_STORE", "KILN_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL", "KILN_NAMESPACE",
            "AWS_DEFAULT_REGION")
_SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class Exchange:
    """`jobs/<job>/` in the store's backend: where the launcher and the replicas meet."""

    def __init__(self, backend: Backend, job: str) -> None:
        self.backend = backend
        self.prefix = f"jobs/{job}/"

    def put_json(self, name: str, value: Any) -> None:
        self.backend.put(self.prefix + name, json.dumps(value).encode())

    def get_json(self, name: str) -> Any:
        return json.loads(self.backend.get(self.prefix + name))

    def has(self, name: str) -> bool:
        return self.backend.exists(self.prefix + name)

    def push_folder(self, name: str, folder: str | os.PathLike[str]) -> None:
        root = Path(folder)
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            self.backend.put(f"{self.prefix}{name}/{path.relative_to(root).as_posix()}",
                             path.read_bytes())

    def pull_folder(self, name: str, folder: str | os.PathLike[str]) -> None:
        root = Path(folder)
        head = f"{self.prefix}{name}/"
        found = False
        for key, _size in self.backend.list(head):
            target = root / key[len(head):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.backend.get(key))
            found = True
        if not found:
            raise KilnError(f"'{name}' is missing from the job's exchange ({self.prefix})")

    def remove(self) -> None:
        for key, _size in list(self.backend.list(self.prefix)):
            self.backend.delete(key)
        if isinstance(self.backend, LocalBackend):  # a folder keeps its emptied directories
            shutil.rmtree(self.backend.root / self.prefix, ignore_errors=True)


def store_backend() -> Backend:
    from kiln.home import Home
    from kiln.store.backend import open_backend

    return open_backend(Home.default().store_location)


def job_name(step: str) -> str:
    """A DNS-1123 name for the job (its Services take it too): short, unique per launch."""
    return f"kiln-{dns_name(step)[:40].strip('-')}-{secrets.token_hex(4)}"


def replica_command(job: str, plan: dict[str, Any]) -> list[str]:
    """The replica's command: prepare the container from the step's plan (its libraries,
    kilnflow's runtime, the local code, as the launcher's component does), then run the
    replica entry point."""
    return ["sh", "-c", f'{prepare(plan)} && exec python3 -m kiln.engine.kfp.replica "$0"',
            job]


def manifest(job: str, *, image: str, workers: int, plan: dict[str, Any],
             namespace: str | None = None,
             resources: dict[str, Any] | None = None, labels: dict[str, str] | None = None,
             annotations: dict[str, str] | None = None,
             env: dict[str, str] | None = None) -> dict[str, Any]:
    """The PyTorchJob (kubeflow.org/v1): one Master and `workers - 1` Workers, each running
    the replica command. Pods never restart on their own: retrying is the pipeline task's
    (retries=), which launches a whole new job."""
    container: dict[str, Any] = {
        "name": CONTAINER, "image": image, "command": replica_command(job, plan),
        "env": [{"name": k, "value": v} for k, v in sorted((env or {}).items())]
        + [{"name": "PYTHONUNBUFFERED", "value": "1"}],
        "envFrom": [{"secretRef": {"name": STORE_SECRET, "optional": True}}],
    }
    if resources:
        container["resources"] = {"limits": dict(resources), "requests": dict(resources)}
    template: dict[str, Any] = {"spec": {"containers": [container]}}
    meta: dict[str, Any] = {"labels": {"kilnflow.dev/job": job, **(labels or {})}}
    if annotations:
        meta["annotations"] = dict(annotations)
    # Istio's sidecar would keep a finished replica's pod running, so the job would never
    # end: it is turned off, as in Kubeflow's own training examples.
    meta.setdefault("annotations", {})["sidecar.istio.io/inject"] = "false"
    template["metadata"] = meta
    specs = {"Master": {"replicas": 1, "restartPolicy": "Never", "template": template}}
    if workers > 1:
        specs["Worker"] = {"replicas": workers - 1, "restartPolicy": "Never",
                           "template": template}
    metadata: dict[str, Any] = {"name": job, "labels": {"kilnflow.dev/job": job}}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "metadata": metadata,
            "spec": {"pytorchReplicaSpecs": specs,
                     "runPolicy": {"cleanPodPolicy": "None", "backoffLimit": 0}}}


def launch(task: dict[str, Any], params: dict[str, Any], inputs: dict[str, str],
           log: Callable[[str], None] = print) -> tuple[Exchange, dict[str, Any]]:
    """Run the distributed step: stage `inputs` (name -> artifact folder) and `params`, run
    the job, and return the exchange holding rank 0's outputs (the caller copies them out and
    then calls `remove()`) with its metrics."""
    dist = task["distributed"]
    workers = int(dist["workers"])
    job = job_name(task["step"])
    ex = Exchange(store_backend(), job)
    try:
        ex.put_json("job.json", {"task": task, "params": params, "inputs": sorted(inputs)})
        for name, folder in inputs.items():
            ex.push_folder(f"in/{name}", folder)
        mode = os.environ.get("KILN_PYTORCHJOB") or (
            "cluster" if os.environ.get("KUBERNETES_SERVICE_HOST") else "local")
        if mode == "cluster":
            _run_on_cluster(job, task, workers, log)
        elif mode == "local":
            _run_locally(job, workers, log)
        else:
            raise UserError(f"KILN_PYTORCHJOB={mode!r}", hint="use cluster or local")
        _raise_for_ranks(ex, workers)
        return ex, ex.get_json("metrics.json")
    except BaseException:
        ex.remove()
        raise


def _raise_for_ranks(ex: Exchange, workers: int) -> None:
    """A failed rank's own error, which says more than 'the job failed'."""
    ends = {r: ex.get_json(f"rank{r}.json") for r in range(workers) if ex.has(f"rank{r}.json")}
    failed = [f"rank {r}: {e.get('error')}" for r, e in sorted(ends.items())
              if e.get("status") != "succeeded"]
    if failed:
        raise KilnError("; ".join(failed))
    if ends.get(0, {}).get("status") != "succeeded":
        raise KilnError("the job ended without rank 0 reporting its outputs",
                        hint="see the Master pod's log")


def _run_locally(job: str, workers: int, log: Callable[[str], None]) -> None:
    """The replicas as processes on this machine, with the environment the operator gives
    (MASTER_ADDR is the Master's Service there, loopback here). A failed rank stops the rest:
    the others would wait in a collective forever."""
    from kiln.processes import free_port, stop_group

    log(f"PyTorchJob {job}: {workers} replicas as local processes (no cluster here)")
    base = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()),
            "WORLD_SIZE": str(workers), "PYTHONUNBUFFERED": "1"}
    procs = []
    logs = []
    with tempfile.TemporaryDirectory(prefix="kiln-ranks-") as tmp:
        for rank in range(workers):
            out = None if rank == 0 else open(os.path.join(tmp, f"rank{rank}.log"), "wb")
            logs.append(out)
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "kiln.engine.kfp.replica", job],
                env={**base, "RANK": str(rank), "LOCAL_RANK": str(rank)},
                stdout=out, stderr=subprocess.STDOUT if out else None, start_new_session=True))
        try:
            while any(p.poll() is None for p in procs):
                if any(p.returncode not in (None, 0) for p in procs):
                    break
                time.sleep(0.1)
        finally:
            for p in procs:
                if p.poll() is None:
                    stop_group(p.pid, b"kiln.engine.kfp.replica", timeout=5)
                    p.wait()
            for f in logs:
                if f is not None:
                    f.close()


def _run_on_cluster(job: str, task: dict[str, Any], workers: int,
                    log: Callable[[str], None]) -> None:
    """Create the PyTorchJob in this pod's namespace, follow its conditions, delete it."""
    from kubernetes import client, config

    config.load_incluster_config()
    namespace = _SA_NAMESPACE.read_text().strip() if _SA_NAMESPACE.exists() else "default"
    env = {k: os.environ[k] for k in _PASS_ON if os.environ.get(k)}
    body = manifest(job, image=task["image"], workers=workers, plan=task["plan"],
                    namespace=namespace,
                    resources=task.get("resources"), labels=task.get("labels"),
                    annotations=task.get("annotations"), env=env)
    api = client.CustomObjectsApi()
    try:
        api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    except client.ApiException as e:
        raise KilnError(f"cannot create PyTorchJob {job} in namespace {namespace}: "
                        f"{e.status} {e.reason}",
                        hint="the pipeline's service account needs create/get/delete on "
                             "pytorchjobs.kubeflow.org, and the training operator must be "
                             "installed (docs/kubeflow.md)") from None
    log(f"PyTorchJob {job}: created in {namespace} ({workers} replicas); "
        f"logs: kubectl logs -n {namespace} {job}-master-0")
    try:
        seen = ""
        timeout = task.get("timeout") or 0
        deadline = time.monotonic() + timeout if timeout else None
        while True:
            obj = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, job)
            state, message = job_state(obj)
            if state != seen:
                log(f"PyTorchJob {job}: {state}" + (f" ({message})" if message else ""))
                seen = state
            if state in ("Succeeded", "Failed"):
                return
            if deadline is not None and time.monotonic() > deadline:
                raise KilnError(f"PyTorchJob {job} ran past the step's timeout ({timeout}s)")
            time.sleep(5)
    finally:
        try:
            api.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, job,
                                                propagation_policy="Background")
        except client.ApiException:
            pass


def job_state(obj: dict[str, Any]) -> tuple[str, str]:
    """The newest true condition of a PyTorchJob (Created, Running, Succeeded, Failed...)."""
    conds = [c for c in (obj.get("status") or {}).get("conditions") or []
             if c.get("status") == "True"]
    if not conds:
        return "Pending", ""
    last = conds[-1]
    return str(last.get("type")), str(last.get("message") or "")
