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
_extra: list[str] = []


def started() -> bool:
    """Whether this process has started steps (and so fixed the fork server's preload)."""
    return _ctx is not None


def warm(modules: list[str]) -> None:
    """Also preload these (the libraries a pipeline's steps import, e.g. sklearn), so each
    step does not pay their import again. Only before the first step of this process: there
    is one fork server per process and its preload is fixed when it starts."""
    if not started():
        _extra.extend(m for m in modules if m not in _extra and m not in _PRELOAD)


def context() -> multiprocessing.context.ForkServerContext:
    global _ctx
    if _ctx is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD + _extra)
        _ctx = ctx
    return _ctx


def start(task: dict[str, Any]) -> multiprocessing.process.BaseProcess:
    from kiln.engine.worker import run_task

    p = context().Process(target=run_task, args=(task,), name=f"kiln-{task['step']}",
                          daemon=False)
    p.start()
    return p
