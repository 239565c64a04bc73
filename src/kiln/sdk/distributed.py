"""How a step trains on several processes: `@kiln.step(distributed=kiln.PyTorchDistributed(2))`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiln.errors import PipelineDefinitionError


@dataclass(frozen=True)
class PyTorchDistributed:
    """Run the step as `workers` processes joined by torch.distributed.

    Each process gets the usual MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK and LOCAL_RANK, so
    `torch.distributed.init_process_group("gloo")` works unchanged; rank 0's return value is
    the step's output. On this machine the ranks are local processes; compiled for Kubeflow
    the step becomes a PyTorchJob (one Master, workers - 1 Workers).
    """

    workers: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) \
                or self.workers < 1:
            raise PipelineDefinitionError(
                f"PyTorchDistributed(workers=...) needs a whole number >= 1, got {self.workers!r}")

    def to_spec(self) -> dict[str, Any]:
        return {"framework": "pytorch", "workers": self.workers}
