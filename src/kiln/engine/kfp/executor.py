"""Runs one step inside a KFP component: called by the program the compiler writes, through
kfp's own executor (which has already turned the executor input into paths and values).

Each output is a KFP artifact directory holding a small folder store and `ref.json` (codec,
digest, type), so values cross steps exactly as they do on the local engine.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sys
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kiln.engine import mountpaths
from kiln.engine.kfp.compiler import METRICS_OUTPUT
from kiln.engine.worker import compute, user_traceback
from kiln.marshal.registry import ArtifactRef, default_registry
from kiln.sdk import context
from kiln.store.folder import FolderStore

REF_FILE = "ref.json"


def load_artifact(path: str) -> Any:
    folder = Path(path)
    ref = ArtifactRef.from_dict(json.loads((folder / REF_FILE).read_text()))
    return default_registry.load(ref, FolderStore(folder / "store"))


def save_artifact(value: Any, path: str, what: str) -> None:
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    ref = default_registry.save(value, FolderStore(folder / "store"), what=what)
    (folder / REF_FILE).write_text(json.dumps(ref.to_dict()))


def run_step(blob: str, args: dict[str, Any]) -> None:
    task = json.loads(zlib.decompress(base64.b64decode(blob)))
    if task.get("distributed"):
        _launch(task, args)
        return
    with prepared(task):
        run_task(task, args)


@contextlib.contextmanager
def prepared(task: dict[str, Any]) -> Iterator[None]:
    """The step's working folder, and its module's source (which travels inside the
    component) written where import finds it."""
    if task.get("workdir") and os.path.isdir(task["workdir"]):
        os.chdir(task["workdir"])  # kfp.local on the machine that compiled: files beside it
        sys.path.insert(0, task["workdir"])
    with tempfile.TemporaryDirectory(prefix="kiln-module-") as folder:
        if task["function"]:
            file = os.path.join(folder, task["function"]["file"])
            Path(file).write_text(task["function"]["source"])
            task["function"] = {**task["function"], "file": file}
        yield


def _launch(task: dict[str, Any], args: dict[str, Any]) -> None:
    """A distributed step: run it as a PyTorchJob, then give rank 0's outputs and metrics to
    KFP as this task's own."""
    from kiln.engine.kfp import pytorchjob

    metrics_art = args.pop(METRICS_OUTPUT)
    outs = {o: args.pop(task.get("output_keys", {}).get(o, o)) for o in task["outputs"]}
    inputs = {n: v.path for n, v in args.items() if hasattr(v, "path")}
    params = {n: v for n, v in args.items() if n not in inputs}
    exchange, metrics = pytorchjob.launch(task, params, inputs)
    try:
        for name, art in outs.items():
            exchange.pull_folder(f"out/{name}", art.path)
        write_metrics(metrics_art, metrics)
    finally:
        exchange.remove()


def _mounts(volumes: dict[str, dict[str, str]]) -> dict[str, str]:
    """mount -> folder. On a cluster the PVC is at its mount path; under kfp.local on the
    machine that compiled, nothing is mounted there, so the local volume's folder stands in."""
    out = {}
    for mount, v in volumes.items():
        out[mount] = v["path"] if os.path.isdir(v["path"]) else \
            (_local_volume(v["volume"]) or v["path"])
    return out


def _local_volume(name: str) -> str | None:
    from kiln.catalog.volumes import get_volume
    from kiln.errors import KilnError
    from kiln.runtime import Runtime

    try:
        return get_volume(Runtime.open().catalog, name).path
    except KilnError:
        return None


def run_task(task: dict[str, Any], args: dict[str, Any], *, keep_outputs: bool = True) -> None:
    """Load the inputs in `args`, compute, save the outputs into their artifacts' folders and
    the last value of each metric into the Metrics artifact. `keep_outputs=False` (a
    distributed step's ranks but 0) computes without saving outputs."""
    metrics_art = args.pop(METRICS_OUTPUT)
    ctx = context.StepContext(os.environ.get("KFP_RUN_ID", "kfp"), task["step"])
    context.set_current(ctx)
    outs = {o: args.pop(task.get("output_keys", {}).get(o, o)) for o in task["outputs"]}

    mounts = _mounts(task.get("volumes") or {})
    os.environ["KILN_VOLUMES"] = json.dumps(mounts)
    if task["kind"] == "cells":  # under kfp.local a mount path may stand for a local folder
        mountpaths.install(mounts, {})

    def load_values() -> dict[str, Any]:
        values: dict[str, Any] = dict(task["constants"])
        if task["kind"] == "function":
            values.update(mounts)  # the step's volume arguments get the mounted folders
        for name, value in args.items():
            values[name] = load_artifact(value.path) if hasattr(value, "path") else value
        task["params"] = {p: values[p] for p in task["params"]}
        return values

    try:
        try:
            results = compute(task, load_values)
        except BaseException as e:
            text, _ = user_traceback(e)
            sys.stderr.write(text)
            raise
        for name, art in outs.items() if keep_outputs else ():
            save_artifact(results[name], art.path, f"'{name}' of step '{task['step']}'")
        last: dict[str, float] = {}
        for name, value, _step in ctx.metrics:
            last[name] = value  # a KFP Metrics artifact holds scalars: the last of each series
        write_metrics(metrics_art, last)
    finally:
        context.set_current(None)


def write_metrics(metrics_art: Any, last: dict[str, float]) -> None:
    for name, value in last.items():
        metrics_art.log_metric(name, value)
    Path(metrics_art.path).parent.mkdir(parents=True, exist_ok=True)
    Path(metrics_art.path).write_text(json.dumps(last))
