"""Step processes, started by forking a warm server that has kiln (and numpy/pandas)
imported. A fresh `python -m ...` per step would spend ~0.5 s importing before any user
code ran; a fork costs a few milliseconds and still gives each step its own process, so a
crash, leak or import in one step cannot touch another."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
from typing import Any

# What the fork server imports once so each step starts warm. Missing optional modules are
# skipped by multiprocessing itself.
_PRELOAD = ["kiln.engine.worker", "numpy", "pandas", "pyarrow.parquet"]

_ctx: multiprocessing.context.ForkServerContext | None = None


def context() -> multiprocessing.context.ForkServerContext:
    global _ctx
    if _ctx is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        _ctx = ctx
    return _ctx


def start(task: dict[str, Any]) -> multiprocessing.process.BaseProcess:
    from kiln.engine.worker import run_task

    p = context().Process(target=run_task, args=(task,), name=f"kiln-{task['step']}",
                          daemon=False)
    p.start()
    return p
