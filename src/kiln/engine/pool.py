"""Step processes, started by forking a warm server that has kiln and the libraries the
pipeline's steps import already imported. A fresh `python -m ...` per step would spend
~0.5 s importing before any user code ran; a fork costs a few milliseconds and still gives
each step its own process, so a crash, leak or import in one step cannot touch another.

The server preloads only what the pipeline needs: numpy, pandas and pyarrow cost 0.3 s to
import, which a one-step pipeline that never touches them would wait for. It is started as
soon as the pipeline is known (`prepare`), so it boots while the caller opens the catalog.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import multiprocessing.spawn
import threading
import weakref
from typing import Any

_BASE = ["kiln.engine.worker"]
# Imported with a library because kilnflow's codecs use them for its values (a DataFrame is
# stored as Parquet), so the step's outputs are written without importing them per step.
_COMPANIONS = {"pandas": ["pyarrow.parquet"]}
_PROCESS_PREFIX = "kiln-step:"

_lock = threading.Lock()
_ctx: multiprocessing.context.ForkServerContext | None = None
_preload: list[str] = []
_live: weakref.WeakSet[multiprocessing.process.BaseProcess] = weakref.WeakSet()


def _wanted(modules: list[str]) -> list[str]:
    out = list(_BASE)
    for m in modules:
        for name in [m, *_COMPANIONS.get(m.split(".")[0], [])]:
            if name not in out:
                out.append(name)
    return out


def prepare(modules: list[str]) -> None:
    """Make the fork server preload `modules` (the libraries a pipeline's steps import, e.g.
    sklearn) and start it now, in the background. A server already running without them is
    restarted only when none of its steps is alive: a running step's exit status comes back
    through the server that forked it. Otherwise the steps import what is missing themselves,
    which is slower but gives the same results."""
    global _ctx, _preload
    with _lock:
        wanted = _wanted(modules)
        if _ctx is not None:
            missing = [m for m in wanted if m not in _preload]
            if not missing or any(p.is_alive() for p in list(_live)):
                return
            _stop_server()
            wanted = _preload + missing
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(wanted)
        _ctx, _preload = ctx, wanted
        multiprocessing.forkserver.ensure_running()  # spawns and returns: boots meanwhile


def preloaded() -> list[str]:
    return list(_preload)


def _stop_server() -> None:
    server = multiprocessing.forkserver._forkserver
    stop = getattr(server, "_stop", None)  # CPython 3.8+; without it the old server stays
    if stop is not None:
        stop()


def start(task: dict[str, Any]) -> multiprocessing.process.BaseProcess:
    from kiln.engine.worker import run_task

    if _ctx is None:
        prepare([])
    assert _ctx is not None
    p = _ctx.Process(target=run_task, args=(task,), name=f"{_PROCESS_PREFIX}{task['step']}",
                     daemon=False)
    p.start()
    _live.add(p)
    return p


# multiprocessing makes every child re-import the parent's __main__ (as __mp_main__) before
# its target runs, so functions defined there unpickle. A step never needs that: the worker
# loads the step's module from its file itself. For `kiln run` the re-import was the whole
# CLI (Typer, Rich), for a user's script its top level, in every step. Our processes are
# told apart by name; every other process keeps multiprocessing's behaviour.
_get_preparation_data = multiprocessing.spawn.get_preparation_data


def _preparation_data(name: str) -> dict[str, Any]:
    data: dict[str, Any] = _get_preparation_data(name)
    if name.startswith(_PROCESS_PREFIX):
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
    return data


multiprocessing.spawn.get_preparation_data = _preparation_data
