"""`@kiln.step(distributed=kiln.PyTorchDistributed(workers=N))`: N local processes joined by
torch.distributed (gloo on CPU); rank 0's outputs are the step's."""

from __future__ import annotations

import pytest

import kiln
from kiln.errors import PipelineDefinitionError, SpecError

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


def test_kfp_compile_says_distributed_steps_are_not_supported_yet(tmp_path):
    from tests.conftest import run_cli

    path = tmp_path / "ddp.py"
    path.write_text(DDP)
    r = run_cli("compile", f"{path}:ddp", "--target", "kfp")
    assert r.returncode == 2
    assert "step 'train' is distributed (2 PyTorch workers)" in r.stderr
    assert "not supported yet" in r.stderr


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
