"""One replica of a distributed step's PyTorchJob: `python -m kiln.engine.kfp.replica JOB`.

Reads the step and its inputs from the job's exchange in the store (kiln.engine.kfp.pytorchjob),
runs it with the operator's MASTER_ADDR/MASTER_PORT/WORLD_SIZE/RANK, and reports how it ended;
rank 0 also writes its outputs and metrics back for the launcher.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from kiln.engine.kfp.compiler import METRICS_OUTPUT
from kiln.engine.kfp.executor import prepared, run_task
from kiln.engine.kfp.pytorchjob import Exchange, store_backend


class _Folder:
    """What kfp's executor hands a step for an artifact: something with a `.path`."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)


class _Metrics(_Folder):
    def log_metric(self, name: str, value: float) -> None:
        pass  # run_task also writes every value to `path` as JSON, which is what is sent back


def main(job: str) -> int:
    rank = int(os.environ.get("RANK", "0"))
    os.environ.setdefault("LOCAL_RANK", "0")  # one replica per pod
    exchange = Exchange(store_backend(), job)
    spec = exchange.get_json("job.json")
    task: dict[str, Any] = spec["task"]
    with tempfile.TemporaryDirectory(prefix="kiln-replica-") as tmp:
        root = Path(tmp)
        args: dict[str, Any] = dict(spec["params"])
        for name in spec["inputs"]:
            exchange.pull_folder(f"in/{name}", root / "in" / name)
            args[name] = _Folder(root / "in" / name)
        outs = {o: _Folder(root / "out" / o) for o in task["outputs"]}
        metrics = _Metrics(root / "metrics.json")
        try:
            with prepared(task):
                keyed = {task.get("output_keys", {}).get(o, o): art for o, art in outs.items()}
                run_task(task, {**args, **keyed, METRICS_OUTPUT: metrics},
                         keep_outputs=rank == 0)
            if rank == 0:
                for name, art in outs.items():
                    exchange.push_folder(f"out/{name}", art.path)
                exchange.put_json("metrics.json", json.loads(Path(metrics.path).read_text()))
        except BaseException as e:  # noqa: BLE001 - every failure is reported to the launcher
            message = "".join(traceback.format_exception_only(type(e), e)).strip()
            exchange.put_json(f"rank{rank}.json", {"status": "failed", "error": message})
            return 1
    exchange.put_json(f"rank{rank}.json", {"status": "succeeded"})
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m kiln.engine.kfp.replica JOB")
    sys.exit(main(sys.argv[1]))
