"""`@kiln.step(distributed=kiln.PyTorchDistributed(workers=N))`: N local processes joined by
torch.distributed (gloo on CPU); rank 0's outputs are the step's."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import kiln
from kiln.errors import PipelineDefinitionError, SpecError, UserError

torch = pytest.importorskip("torch")

DDP = '''
import os
import kiln

@kiln.step(distributed=kiln.PyTorchDistributed(workers=2))
def train(epochs: int, fail_rank: int) -> dict:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if rank == fail_rank:
        raise RuntimeError(f"rank {rank} gives up")
    torch.manual_seed(0)
    model = DistributedDataParallel(torch.nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(rank)  # each rank its own shard of data
    x = torch.randn(64, 4, generator=gen)
    y = x.sum(1, keepdim=True)
    for epoch in range(epochs):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        kiln.log_metric("loss", float(loss), step=epoch)
    w = model.module.weight.detach().clone()
    gathered = [torch.zeros_like(w) for _ in range(world)]
    dist.all_gather(gathered, w)
    dist.destroy_process_group()
    return {"rank": rank, "world": world, "same": all(torch.equal(gathered[0], g) for g in gathered),
            "env": [os.environ[k] for k in ("MASTER_ADDR", "WORLD_SIZE", "RANK")],
            "loss": float(loss)}

@kiln.pipeline(name="ddp")
def ddp(epochs: int = 20, fail_rank: int = -1):
    train(epochs, fail_rank)
'''


def test_ddp_trains_with_two_gloo_workers_and_keeps_rank_0s_output(tmp_path):
    path = tmp_path / "ddp.py"
    path.write_text(DDP)
    run = kiln.run(f"{path}:ddp", progress=False)
    assert run.status == "succeeded", run.error
    out = run.output("train")
    assert out["rank"] == 0 and out["world"] == 2
    assert out["same"]  # DDP kept both ranks' weights identical
    assert out["env"] == ["127.0.0.1", "2", "0"]
    assert run.metrics["loss"] == pytest.approx(out["loss"])
    assert out["loss"] < 1.0
    spec = kiln.compile(f"{path}:ddp")
    assert spec.step("train").distributed == {"framework": "pytorch", "workers": 2}


def test_a_failing_rank_fails_the_step_without_hanging_the_others(tmp_path):
    path = tmp_path / "ddp.py"
    path.write_text(DDP)
    run = kiln.run(f"{path}:ddp", params={"fail_rank": 1}, progress=False)
    assert run.status == "failed"
    assert "rank 1: RuntimeError: rank 1 gives up" in run.error


def test_bad_distributed_options(tmp_path):
    with pytest.raises(PipelineDefinitionError, match="whole number >= 1"):
        kiln.PyTorchDistributed(workers=0)
    with pytest.raises(PipelineDefinitionError, match="takes kiln.PyTorchDistributed"):
        kiln.step(distributed=2)(lambda: None)  # type: ignore[arg-type]
    path = tmp_path / "ddp.py"
    path.write_text(DDP)
    text = kiln.compile(f"{path}:ddp").to_json()
    with pytest.raises(SpecError, match="framework 'mpi' is not supported"):
        kiln.PipelineSpec.from_json(text.replace('"framework": "pytorch"', '"framework": "mpi"'))
    with pytest.raises(SpecError, match="workers must be a whole number"):
        kiln.PipelineSpec.from_json(text.replace('"workers": 2', '"workers": 0'))


TRAINING_PINS = ["kubeflow-training==1.9.4"]

# Loads the PyTorchJob with the training SDK's deserializer (as its TrainingClient does with
# what the API server returns) and reports what the CRD and the operator require.
CHECK_JOB = textwrap.dedent('''
    import json, sys, yaml
    from kubeflow.training import ApiClient, KubeflowOrgV1PyTorchJob
    from kubeflow.training import constants

    class Response:
        def __init__(self, data): self.data = data

    job = ApiClient().deserialize(Response(json.dumps(yaml.safe_load(open(sys.argv[1])))),
                                  constants.PYTORCHJOB_MODEL)
    assert isinstance(job, KubeflowOrgV1PyTorchJob)
    specs = job.spec.pytorch_replica_specs
    out = {"api": job.api_version, "kind": job.kind, "name": job.metadata.name,
           "run_policy": [job.spec.run_policy.backoff_limit, job.spec.run_policy.clean_pod_policy],
           "replicas": {}}
    for kind, rs in specs.items():
        c = rs.template.spec.containers[0]
        out["replicas"][kind] = {
            "count": rs.replicas, "restart": rs.restart_policy, "container": c.name,
            "is_the_operators": c.name == constants.PYTORCHJOB_CONTAINER,
            "image": c.image, "command": c.command,
            "limits": c.resources.limits if c.resources else None,
            "env": {e.name: e.value for e in c.env or []},
            "secret": [f.secret_ref.name for f in c.env_from or []],
            "labels": rs.template.metadata.labels}
    print(json.dumps(out))
''')


def _compiled_task(package: Path, step: str) -> dict:
    """The task blob the compiled component hands the launcher."""
    import base64
    import re
    import zlib

    docs = list(yaml.safe_load_all(package.read_text()))
    program = docs[0]["deploymentSpec"]["executors"][f"exec-{step}"]["container"]["command"][-1]
    blob = re.search(r"run_step\('([^']+)'", program).group(1)
    return json.loads(zlib.decompress(base64.b64decode(blob)))


def test_kfp_compiles_a_distributed_step_to_a_pytorchjob_the_training_sdk_loads(tmp_path):
    from kiln.engine.kfp import pytorchjob
    from tests.conftest import run_cli, tool_python

    path = tmp_path / "ddp.py"
    path.write_text(DDP.replace("@kiln.step(distributed=kiln.PyTorchDistributed(workers=2))",
                                "@kiln.step(distributed=kiln.PyTorchDistributed(workers=3), "
                                "resources={'cpu': 2, 'memory': '4Gi'})"))
    package = tmp_path / "ddp.yaml"
    r = run_cli("compile", f"{path}:ddp", "--target", "kfp", "--image", "reg.local/torch:2",
                "-o", str(package))
    assert r.returncode == 0, r.stderr
    platform = list(yaml.safe_load_all(package.read_text()))[1]
    conf = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-train"]
    # the launcher gets the shared store from the kiln-store Secret (kfp-kubernetes' shape)
    assert conf["secretAsEnv"][0]["secretName"] == "kiln-store"
    assert {"secretKey": "KILN_STORE", "envVar": "KILN_STORE"} in conf["secretAsEnv"][0]["keyToEnv"]

    task = _compiled_task(package, "train")
    assert task["distributed"] == {"framework": "pytorch", "workers": 3}
    job = pytorchjob.job_name(task["step"])
    body = pytorchjob.manifest(job, image=task["image"], workers=3, plan=task["plan"],
                               namespace="team-a",
                               resources=task["resources"], labels=task["labels"],
                               env={"KILN_STORE": "s3://ml/kiln"})
    out = tmp_path / "job.yaml"
    out.write_text(yaml.safe_dump(body))
    # what the CRD requires (training-operator's kubeflow.org_pytorchjobs.yaml, v1):
    # spec.pytorchReplicaSpecs; in each replica's pod spec, containers, each with a name
    assert set(body["spec"]["pytorchReplicaSpecs"]) == {"Master", "Worker"}
    for rs in body["spec"]["pytorchReplicaSpecs"].values():
        assert rs["template"]["spec"]["containers"]
        assert all(c["name"] for c in rs["template"]["spec"]["containers"])

    checker = tmp_path / "check.py"
    checker.write_text(CHECK_JOB)
    res = subprocess.run([str(tool_python("training-1.9.4", TRAINING_PINS)), str(checker),
                          str(out)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["api"] == "kubeflow.org/v1" and got["kind"] == "PyTorchJob" and got["name"] == job
    assert got["run_policy"] == [0, "None"]
    assert set(got["replicas"]) == {"Master", "Worker"}
    master, worker = got["replicas"]["Master"], got["replicas"]["Worker"]
    assert master["count"] == 1 and worker["count"] == 2  # 3 workers: a Master and 2 Workers
    for rep in (master, worker):
        assert rep["is_the_operators"] and rep["restart"] == "Never"
        assert rep["image"] == "reg.local/torch:2"
        assert rep["command"][-1] == job and "kiln.engine.kfp.replica" in rep["command"][2]
        # the replica prepares its container from the step's plan, as the launcher did
        assert "<<'KILN_BOOTSTRAP'" in rep["command"][2] and "torch==" in rep["command"][2]
        assert rep["limits"] == {"cpu": "2", "memory": "4Gi"}
        assert rep["env"]["KILN_STORE"] == "s3://ml/kiln" and rep["secret"] == ["kiln-store"]
        assert rep["labels"] == {"kilnflow.dev/job": job}


def test_a_distributed_step_runs_under_kfp_local_with_the_same_result(tmp_path):
    """kfp.local on this machine: the launcher starts the replicas as processes with the
    operator's environment; rank 0's output and metrics come back through the store."""
    from kiln.engine.kfp.executor import load_artifact
    from kiln.home import Home
    from tests.conftest import run_cli
    from tests.engine.test_kfp import run_kfp_local

    path = tmp_path / "ddp.py"
    path.write_text(DDP)
    package = tmp_path / "ddp.yaml"
    assert run_cli("compile", f"{path}:ddp", "-t", "kfp", "-o", str(package)).returncode == 0
    out = run_kfp_local(package, tmp_path, {"epochs": 12})
    local = kiln.run(f"{path}:ddp", params={"epochs": 12}, progress=False)
    value = load_artifact(str(Path(out["train"]["dir"]) / "output"))
    assert value["rank"] == 0 and value["world"] == 2 and value["same"]
    assert value["env"] == ["127.0.0.1", "2", "0"]
    assert value["loss"] == pytest.approx(local.output("train")["loss"])
    assert out["train"]["metrics"] == pytest.approx(local.metrics)
    # the exchange is cleaned up
    assert not (Path(Home.default().store_location) / "jobs").exists() or \
        not any((Path(Home.default().store_location) / "jobs").iterdir())


def test_a_failing_replica_fails_the_kfp_task_with_its_error(tmp_path):
    from tests.conftest import run_cli
    from tests.engine.test_kfp import RUNNER

    path = tmp_path / "ddp.py"
    path.write_text(DDP)
    package = tmp_path / "ddp.yaml"
    assert run_cli("compile", f"{path}:ddp", "-t", "kfp", "-o", str(package)).returncode == 0
    runner = tmp_path / "run.py"
    runner.write_text(RUNNER)
    r = subprocess.run([sys.executable, str(runner), str(package), str(tmp_path / "root"),
                        json.dumps({"fail_rank": 1})], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode != 0
    assert "rank 1: RuntimeError: rank 1 gives up" in r.stdout + r.stderr


def test_the_launcher_refuses_an_unknown_mode(tmp_path, monkeypatch):
    from kiln.engine.kfp import pytorchjob

    monkeypatch.setenv("KILN_PYTORCHJOB", "slurm")
    task = {"step": "train", "distributed": {"workers": 2}, "outputs": []}
    with pytest.raises(UserError, match="KILN_PYTORCHJOB='slurm'"):
        pytorchjob.launch(task, {}, {})


def test_job_state_reads_the_newest_true_condition():
    from kiln.engine.kfp.pytorchjob import job_state

    assert job_state({}) == ("Pending", "")
    obj = {"status": {"conditions": [
        {"type": "Created", "status": "True"}, {"type": "Running", "status": "False"},
        {"type": "Failed", "status": "True", "message": "PyTorchJob train failed"}]}}
    assert job_state(obj) == ("Failed", "PyTorchJob train failed")


def test_a_notebook_step_tagged_distributed_runs_on_two_ranks(notebook):
    nb = notebook([
        (["imports"], "import os\nimport torch\nimport torch.distributed as dist"),
        (["pipeline-parameters"], "SCALE = 3"),
        (["step:reduce", "distributed:pytorch:2"], """\
            dist.init_process_group("gloo")
            t = torch.tensor([float(dist.get_rank() + 1) * SCALE])
            dist.all_reduce(t)
            total = float(t.item())
            world = dist.get_world_size()
            dist.destroy_process_group()
        """),
        (["pipeline-metrics"], "print(total)\nprint(world)"),
    ])
    run = kiln.run(nb, progress=False)
    assert run.status == "succeeded", run.error
    assert run.metrics == {"total": 9.0, "world": 2.0}  # (1 + 2) * 3 summed over both ranks


def test_bad_distributed_tag(notebook):
    from kiln.errors import NotebookError

    nb = notebook([(["step:a", "distributed:mpi:2"], "a = 1")])
    with pytest.raises(NotebookError, match="use distributed:pytorch:N"):
        kiln.compile(nb)
