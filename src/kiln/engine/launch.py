"""Runs started in the background (by the REST API and the dashboard) and stopped on request.

A background run is `kiln run ... --run-id ID` in its own process and session, so it outlives
the server that started it and is cancelled the way a user at a terminal cancels one (SIGINT).
`start` returns once the run's record exists, so the caller can show it at once; if the process
dies before that, its output becomes the error.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from kiln.catalog import runs as records
from kiln.engine.targets import load_spec
from kiln.errors import NotFoundError, UserError
from kiln.files import atomic_path
from kiln.runtime import Runtime
from kiln.spec.params import convert

START_TIMEOUT = 120.0  # seconds for the process to record its run (imports, compiling)


def run_version(pipeline: str, version: int | None = None, params: dict[str, Any] | None = None,
                *, experiment: str | None = None, labels: dict[str, str] | None = None,
                rt: Runtime | None = None, name: str | None = None) -> str:
    """Start a run of an uploaded pipeline version (default: its latest); returns the run id."""
    from kiln.catalog import pipelines
    from kiln.engine import versions

    rt = rt or Runtime.open()
    v = pipelines.get_version(rt.catalog, pipeline, version)
    target = versions.target(v, rt)
    return _start(rt, target, params or {}, experiment=experiment, labels=labels,
                  extra=["--pipeline-version-id", str(v.id), *_name_args(name)])


def clone(run: str, params: dict[str, Any] | None = None, *,
          labels: dict[str, str] | None = None, rt: Runtime | None = None,
          name: str | None = None) -> str:
    """A new run of the same pipeline with the parameters of `run`, changed by `params`.
    With no changes it is a retry: steps that succeeded before come from the cache."""
    rt = rt or Runtime.open()
    info = records.get_run(rt.catalog, run, with_events=False)
    folder = rt.home.root / "specs"
    folder.mkdir(exist_ok=True)
    spec_path = folder / f"{info.id}.json"
    if not spec_path.exists():
        with atomic_path(spec_path) as tmp:
            tmp.write_text(info.spec_json)
    extra = ["--parent-run", info.id, *_name_args(name)]
    if info.pipeline_version_id is not None:
        extra += ["--pipeline-version-id", str(info.pipeline_version_id)]
    return _start(rt, str(spec_path), {**info.params, **(params or {})},
                  experiment=info.experiment, labels={**info.labels, **(labels or {})},
                  extra=extra)


def resume(run: str, from_step: str, params: dict[str, Any] | None = None, *,
           rt: Runtime | None = None, name: str | None = None) -> str:
    """`kiln run --resume RUN --from STEP` in the background (checked here first)."""
    from kiln.engine import resume as resuming

    rt = rt or Runtime.open()
    plan = resuming.plan(rt, run, from_step, params or {})  # refuses a bad step or parameter
    args = ["--resume", plan.parent_id, "--from", from_step, *_name_args(name)]
    return _spawn(rt, args + _param_args(plan.spec, params or {}))


def _name_args(name: str | None) -> list[str]:
    """--name NAME, checked here so a bad one is refused before a process starts."""
    if name is None:
        return []
    from kiln.names import check_name

    return ["--name", check_name("run", name)]


def _start(rt: Runtime, target: str, params: dict[str, Any], *, experiment: str | None,
           labels: dict[str, str] | None, extra: list[str]) -> str:
    spec = load_spec(target)
    records.check_labels(labels or {})
    args = [target, *_param_args(spec, params), *extra]
    if experiment:
        args += ["--experiment", experiment]
    for k, v in (labels or {}).items():
        args += ["--label", f"{k}={v}"]
    return _spawn(rt, args)


def _param_args(spec: Any, params: dict[str, Any]) -> list[str]:
    """-p NAME=VALUE for each value, checked against the spec's types first."""
    out = []
    for k, v in convert(spec, params).items():
        text = v if isinstance(v, str) else json.dumps(v)
        out += ["-p", f"{k}={text}"]
    return out


def _spawn(rt: Runtime, args: list[str]) -> str:
    run_id = records.new_run_id()
    logs = rt.home.root / "logs" / "launch"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{run_id}.log"
    env = {**os.environ, **rt.home.env()}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kiln.cli", "run", *args, "--quiet",
                                 "--run-id", run_id], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=rt.home.root,
                                start_new_session=True)
    threading.Thread(target=proc.wait, daemon=True).start()  # reap it when it ends
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if _exists(rt, run_id):
            return run_id
        if proc.poll() is not None and not _exists(rt, run_id):
            raise UserError(f"the run did not start: {_last_error(log)}", where="run",
                            hint=f"its output is in {log}")
        time.sleep(0.05)
    proc.kill()
    raise UserError(f"the run did not start within {START_TIMEOUT:.0f} s",
                    hint=f"its output is in {log}")


def _exists(rt: Runtime, run_id: str) -> bool:
    try:
        records.resolve_run_id(rt.catalog, run_id)
        return True
    except NotFoundError:
        return False


def _last_error(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("error:") or "Error" in ln:
            return ln.removeprefix("error:").strip()
    return lines[-1] if lines else "the process ended without output"


def cancel(run: str, *, rt: Runtime | None = None, wait: float = 0.0) -> str:
    """Ask a running run to stop (SIGINT, as Ctrl-C would): running steps are stopped and the
    run is recorded as cancelled. A run whose process is gone is marked cancelled at once.
    Returns the run's status after waiting up to `wait` seconds."""
    rt = rt or Runtime.open()
    run_id = records.resolve_run_id(rt.catalog, run)
    # reading it fails it as interrupted if its process is gone, or the pid now belongs to
    # a process that started later: such a pid is never signalled
    records.get_run(rt.catalog, run_id, with_events=False)
    status, host, pid = records.run_process(rt.catalog, run_id)
    if status in records.FINISHED:
        raise UserError(f"run {run_id} has already {status}", where="run",
                        hint="only running runs can be cancelled")
    if host and host != socket.gethostname():
        raise UserError(f"run {run_id} runs on {host}", where="run",
                        hint="cancel it from that machine")
    try:
        if pid is None:
            raise ProcessLookupError
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        records.finish_run(rt.catalog, run_id, "cancelled",
                           "cancelled; its process had already ended")
        return "cancelled"
    return wait_for(run_id, timeout=wait, rt=rt)


def wait_for(run: str, *, timeout: float, rt: Runtime | None = None) -> str:
    """The run's status once it has finished, or when `timeout` seconds have passed."""
    rt = rt or Runtime.open()
    deadline = time.monotonic() + timeout
    while True:
        status = records.get_run(rt.catalog, run, with_events=False).status
        if status in records.FINISHED or time.monotonic() >= deadline:
            return status
        time.sleep(0.1)
