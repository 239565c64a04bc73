"""The local engine: runs a PipelineSpec's steps as processes on this machine.

The scheduler lives in the calling process. It starts every step whose upstream steps are
done (up to `parallelism` at once), reuses cached outputs, retries, enforces timeouts,
streams logs to an observer, and records everything in the catalog as it happens.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from kiln.catalog import runs as records
from kiln.catalog.db import now
from kiln.engine import pool
from kiln.engine.cache import cache_key
from kiln.engine.mounts import RunMounts, autosnapshot
from kiln.engine.progress import Observer
from kiln.engine.warm import imported_libraries
from kiln.errors import KilnError
from kiln.marshal.registry import ArtifactRef
from kiln.processes import free_port
from kiln.runtime import Runtime
from kiln.sdk.context import read_metrics_file, read_visuals_file
from kiln.spec.model import PipelineSpec, StepSpec
from kiln.spec.params import resolve
from kiln.spec.validate import downstream, order_steps


@dataclass
class _Finish:
    """A finished step's record, written once its outputs are stored (`stored` done)."""

    step: str
    stored: Future[Any]
    fields: dict[str, Any]  # records.finish_task's keyword arguments
    upstream: list[str]


@dataclass
class _Running:
    step: StepSpec
    process: BaseProcess
    task: dict[str, Any]
    started: float
    attempt: int
    key: str | None
    inputs: dict[str, ArtifactRef]
    log_offset: int = 0
    partial: str = ""
    metrics_offset: int = 0
    peers: list[BaseProcess] = field(default_factory=list)  # ranks 1.. of a distributed step

    @property
    def processes(self) -> list[BaseProcess]:
        return [self.process, *self.peers]


@dataclass
class RunOptions:
    parallelism: int = field(default_factory=lambda: os.cpu_count() or 1)
    cache: bool = True
    experiment: str | None = None
    parent_run_id: str | None = None
    source: str = ""
    snapshot: bool | None = None  # autosnapshot mounted volumes (None: the spec's metadata)
    # step -> (task id, outputs) to reuse as they are (kiln run --resume)
    reuse: dict[str, tuple[int, dict[str, ArtifactRef]]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None  # chosen by whoever started the run in the background
    pipeline_version_id: int | None = None
    name: str | None = None  # readable; made up when not given


class LocalEngine:
    def __init__(self, rt: Runtime, *, observer: Observer | None = None) -> None:
        self.rt = rt
        self.home = rt.home
        self.catalog = rt.catalog
        self.store = rt.store
        self.observer = observer or Observer()

    def run(self, spec: PipelineSpec, params: dict[str, Any], options: RunOptions) -> str:
        values = resolve(spec, params)
        pool.prepare(imported_libraries(spec))  # usually done already, by api.run
        order = order_steps(spec)
        snapshot = autosnapshot(spec) if options.snapshot is None else options.snapshot
        mounts = RunMounts(self.rt, spec, snapshot)  # an unknown volume fails before the run
        ptypes = {p.name: p.type for p in spec.parameters}
        run_id, task_ids = records.create_run(
            self.catalog, pipeline=spec.name, experiment=options.experiment or spec.experiment,
            spec_json=spec.to_json(indent=None), spec_digest=spec.digest(),
            source=options.source, params={k: (ptypes[k], v) for k, v in values.items()},
            steps=order, parent_run_id=options.parent_run_id, labels=options.labels,
            run_id=options.run_id, pipeline_version_id=options.pipeline_version_id,
            name=options.name)
        # the shared lock keeps gc away from outputs no record references yet
        with self.store.lock("shared", purpose=f"run {run_id}"):
            _Scheduler(self, spec, values, options, run_id, task_ids, order, mounts).run()
        return run_id


class _Scheduler:
    def __init__(self, engine: LocalEngine, spec: PipelineSpec, values: dict[str, Any],
                 options: RunOptions, run_id: str, task_ids: dict[str, int],
                 order: list[str], mounts: RunMounts) -> None:
        self.e = engine
        self.mounts = mounts
        self.spec = spec
        self.values = values
        self.options = options
        self.run_id = run_id
        self.task_ids = task_ids
        self.order = order
        self.state = {s: "queued" for s in order}
        self.outputs: dict[str, dict[str, ArtifactRef]] = {}
        self.running: dict[str, _Running] = {}
        self.errors: list[str] = []
        self.run_dir = engine.home.run_dir(run_id)
        self.env = dict(os.environ)
        # One thread stores outputs in the order steps finished, and each step's record is
        # written only after its outputs (and every earlier step's) are in the store: a crash
        # or a full disk never leaves the catalog naming a blob the store never got.
        self.ingest_pool = ThreadPoolExecutor(1, thread_name_prefix="kiln-store")
        self.finishes: list[_Finish] = []
        self.unstored: set[str] = set()  # steps whose outputs could not be stored

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        obs = self.e.observer
        obs.started(self.run_id, self.spec.name, self.order)
        try:
            try:
                self.mounts.start(self.run_id)
            except KilnError as e:
                records.finish_run(self.e.catalog, self.run_id, "failed",
                                   f"snapshotting the volumes before the first step failed: {e}")
                obs.finished("failed")
                return
            while True:
                reason = obs.stop_reason()
                if reason:
                    self._cancel(reason)
                    obs.finished("cancelled")
                    return
                self._start_ready()
                if not self.running:
                    break
                self._wait()
                self._record_finished(block=False)
        except BaseException:
            self._cancel()
            obs.finished("cancelled")
            raise
        finally:
            self._settle_ingests()
        status = "failed" if self.errors else "succeeded"
        records.finish_run(self.e.catalog, self.run_id, status,
                           "; ".join(self.errors) if self.errors else None)
        obs.finished(status)

    def _settle_ingests(self) -> None:
        """Wait for outputs still being stored, then record every step still unrecorded."""
        self.ingest_pool.shutdown(wait=True)
        self._record_finished(block=True)

    def _queue_finish(self, step: StepSpec, fields: dict[str, Any],
                      digests: list[str] | None = None) -> None:
        """Store `digests` (behind every earlier step's outputs), then record the step."""
        todo = tuple(digests or ())

        def store() -> None:
            for d in todo:
                self.e.store.ingest(d)

        self.finishes.append(_Finish(step.name, self.ingest_pool.submit(store), fields,
                                     step.upstream()))
        self._record_finished(block=False)

    def _record_finished(self, block: bool) -> None:
        """Record finished steps in the order they finished, each once its outputs are
        durable; a step whose outputs (or an upstream step's) could not be stored fails with
        the real cause, and no cache entry names it."""
        while self.finishes:
            f = self.finishes[0]
            if not block and not f.stored.done():
                return
            self.finishes.pop(0)
            err = f.stored.exception()
            fields = f.fields
            lost = [u for u in f.upstream if u in self.unstored]
            if fields["status"] == "succeeded" and (err is not None or lost):
                if err is not None:
                    why = err.message if isinstance(err, KilnError) else str(err) or repr(err)
                    msg = f"storing its outputs failed: {why}"
                else:
                    msg = f"upstream step '{lost[0]}' could not store its outputs"
                fields = {**fields, "status": "failed", "outputs": {}, "cache_key": None,
                          "error": msg}
                self.unstored.add(f.step)
                self.state[f.step] = "failed"
                self.errors.append(f"step '{f.step}' failed: {msg}")
                self.e.observer.state(f.step, "failed", msg)
                self._skip_downstream(f.step)  # those not started yet; started ones fail above
            records.finish_task(self.e.catalog, self.task_ids[f.step], self.run_id, **fields)

    def _ready(self) -> list[StepSpec]:
        done = ("succeeded", "cached")
        return [self.spec.step(n) for n in self.order if self.state[n] == "queued"
                and all(self.state[u] in done for u in self.spec.step(n).upstream())]

    def _start_ready(self) -> None:
        progressed = True
        while progressed:  # cache hits can make more steps ready at once
            progressed = False
            for step in self._ready():
                if len(self.running) >= max(1, self.options.parallelism):
                    return
                inputs = {i.name: self.outputs[i.step][i.output]  # type: ignore[index]
                          for i in step.inputs if i.step}
                if step.name in self.options.reuse:
                    self._reuse_outputs(step, inputs, *self.options.reuse[step.name])
                    progressed = True
                    continue
                step_values = self._step_values(step)
                key: str | None = cache_key(self.spec, step, inputs, step_values)
                if step.volumes:  # files outside the inputs: cache only on known content
                    part = self.mounts.cache_part(step)
                    key = None if part is None else cache_key(
                        self.spec, step, inputs, {**step_values, "\0volumes": part})
                if key and self.options.cache and step.cache and self._reuse(step, key, inputs):
                    progressed = True
                    continue
                self._launch(step, key, inputs, step_values, attempt=1)

    def _step_values(self, step: StepSpec) -> dict[str, Any]:
        """Parameter and literal values the step reads, by the name it reads them as."""
        out = {}
        for i in step.inputs:
            if i.param is not None:
                out[i.name] = self.values[i.param]
            elif i.step is None:
                out[i.name] = i.value
        return out

    def _reuse(self, step: StepSpec, key: str, inputs: dict[str, ArtifactRef]) -> bool:
        hit = records.cache_hit(self.e.catalog, key)
        if hit is None:
            return False
        source_task, outs = hit
        if set(outs) != set(step.outputs) or not all(self.e.store.exists(r.digest)
                                                      for r in outs.values()):
            return False
        self._reuse_outputs(step, inputs, source_task, outs, key)
        return True

    def _reuse_outputs(self, step: StepSpec, inputs: dict[str, ArtifactRef], source_task: int,
                       outs: dict[str, ArtifactRef], key: str | None = None) -> None:
        """Record `step` as done with another task's outputs (a cache hit, or a resume)."""
        self.outputs[step.name] = outs
        self.state[step.name] = "cached"
        records.finish_task(self.e.catalog, self.task_ids[step.name], self.run_id,
                            status="cached", inputs=inputs, outputs=outs,
                            metrics=records.task_metrics(self.e.catalog, source_task),
                            visuals=records.task_visuals(self.e.catalog, source_task),
                            cache_key=key, cached_from=source_task)
        self.e.observer.state(step.name, "cached")

    def _launch(self, step: StepSpec, key: str | None, inputs: dict[str, ArtifactRef],
                values: dict[str, Any], attempt: int) -> None:
        tdir = self.run_dir / step.name
        tdir.mkdir(parents=True, exist_ok=True)
        result = tdir / "result.json"
        result.unlink(missing_ok=True)
        log = tdir / "log.txt"
        mount_values, mount_env = self.mounts.task_fields(step)
        if step.volumes:
            from kiln.catalog.volumes import record_task_volumes

            record_task_volumes(self.e.catalog, self.task_ids[step.name], self.mounts.seen(step))
        task = {
            "run_id": self.run_id,
            "step": step.name,
            "kind": step.kind,
            "cells": [c.__dict__ for c in step.cells],
            "prelude": [c.__dict__ for c in self.spec.prelude] if step.kind == "cells" else [],
            "function": step.function.__dict__ if step.function else None,
            "outputs": list(step.outputs),
            "inputs": {k: r.to_dict() for k, r in inputs.items()},
            "constants": {**values, **mount_values},
            "params": self.values if step.kind == "cells" else {},
            "workdir": self.spec.workdir,
            "store_root": str(self.e.store.root),
            "log_path": str(log),
            "result_path": str(result),
            "metrics_path": str(tdir / "metrics.jsonl"),
            "env": {**self.env, **mount_env} if mount_env else self.env,
        }
        if attempt > 1:
            with open(log, "a") as f:
                f.write(f"--- attempt {attempt} ---\n")
        offset = log.stat().st_size if log.exists() else 0
        mpath = tdir / "metrics.jsonl"
        moffset = mpath.stat().st_size if mpath.exists() else 0
        peer_tasks = self._distributed(step, task, tdir)
        proc = pool.start(task)
        peers = [pool.start(t) for t in peer_tasks]
        self.running[step.name] = _Running(step, proc, task, time.monotonic(), attempt, key,
                                           inputs, log_offset=offset, metrics_offset=moffset,
                                           peers=peers)
        self.state[step.name] = "running"
        records.set_task(self.e.catalog, self.task_ids[step.name], status="running",
                         started_at=now(), attempts=attempt, log_path=str(log))
        self.e.observer.state(step.name, "running" if attempt == 1 else "retrying",
                              "" if attempt == 1 else f"attempt {attempt}")

    def _distributed(self, step: StepSpec, task: dict[str, Any],
                     tdir: Path) -> list[dict[str, Any]]:
        """For a distributed step: rank 0's environment in `task`, and the other ranks' tasks
        (own log, result and metrics files; their outputs are not kept)."""
        if not step.distributed:
            return []
        world = int(step.distributed["workers"])
        port = free_port()  # for the rendezvous on loopback
        shared = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                  "WORLD_SIZE": str(world), "LOCAL_WORLD_SIZE": str(world)}
        task["env"] = {**task["env"], **shared, "RANK": "0", "LOCAL_RANK": "0"}
        peers = []
        for rank in range(1, world):
            for suffix in ("log.txt", "result.json", "metrics.jsonl", "visuals.jsonl"):
                (tdir / f"rank{rank}.{suffix}").unlink(missing_ok=True)
            peers.append({**task, "rank": rank,
                          "env": {**task["env"], "RANK": str(rank), "LOCAL_RANK": str(rank)},
                          "log_path": str(tdir / f"rank{rank}.log.txt"),
                          "result_path": str(tdir / f"rank{rank}.result.json"),
                          "metrics_path": str(tdir / f"rank{rank}.metrics.jsonl")})
        return peers

    def _wait(self) -> None:
        deadlines = [r.started + r.step.timeout for r in self.running.values() if r.step.timeout]
        timeout = 0.1  # log lines stream at least this often
        if deadlines:
            timeout = max(0.0, min(timeout, min(deadlines) - time.monotonic()))
        ready = wait([p.sentinel for r in self.running.values() for p in r.processes],
                     timeout=timeout)
        for r in list(self.running.values()):
            self._tail(r)
            self._tail_metrics(r)
            procs = r.processes
            if any(p.sentinel in ready for p in procs):
                alive = [p for p in procs if p.is_alive()]
                crashed = any(p.exitcode not in (0, None) for p in procs if not p.is_alive())
                if alive and crashed:
                    for p in alive:  # the other ranks would wait in a collective forever
                        _stop(p)
                if not alive or crashed:
                    for p in procs:
                        p.join()
                    self._finished(r)
            elif r.step.timeout and time.monotonic() - r.started > r.step.timeout:
                for p in procs:
                    _stop(p)
                self._tail(r)
                self._finished(r, timed_out=True)

    # --- results --------------------------------------------------------------------------

    def _finished(self, r: _Running, timed_out: bool = False) -> None:
        del self.running[r.step.name]
        result_path = Path(r.task["result_path"])
        result: dict[str, Any] = {}
        if result_path.exists() and not timed_out:
            result = json.loads(result_path.read_text())
        metrics = read_metrics_file(Path(r.task["metrics_path"]))
        visuals = read_visuals_file(Path(r.task["metrics_path"]))
        peer_error = self._peer_error(r)
        if peer_error and (not result or result.get("status") == "succeeded"):
            # rank 0 finished, or was stopped because another rank failed: report that rank
            result = {"status": "failed", "error": peer_error}
        if result.get("status") == "succeeded":
            outs = {k: ArtifactRef.from_dict(v) for k, v in result["outputs"].items()}
        if result.get("status") == "succeeded" and r.step.volumes:
            try:
                self.mounts.after(r.step, self.run_id)
            except KilnError as e:
                result = {"status": "failed", "error": f"snapshotting its volumes failed: {e}"}
        if result.get("status") == "succeeded":
            # Downstream steps start now, reading the cached copies; the outputs go into the
            # chunked store in the background and the step is recorded once they are there.
            self.outputs[r.step.name] = outs
            self.state[r.step.name] = "succeeded"
            self._queue_finish(r.step, dict(status="succeeded", inputs=r.inputs, outputs=outs,
                                            metrics=metrics, visuals=visuals, cache_key=r.key),
                               [x.digest for x in outs.values()])
            self.e.observer.state(r.step.name, "succeeded",
                                  f"{time.monotonic() - r.started:.2f}s")
            return
        if timed_out:
            error = f"timed out after {r.step.timeout:g}s"
        elif result:
            error = result["error"] + (f" (at {result['where']})" if result.get("where") else "")
        else:
            error = _exit_reason(r.process.exitcode)
        if r.attempt <= r.step.retries:
            self.e.observer.state(r.step.name, "retrying", f"after: {error}")
            self._launch(r.step, r.key, r.inputs, r.task["constants"], attempt=r.attempt + 1)
            return
        self.state[r.step.name] = "failed"
        self.errors.append(f"step '{r.step.name}' failed: {error}")
        self._queue_finish(r.step, dict(status="failed", inputs=r.inputs, outputs={},
                                        metrics=metrics, visuals=visuals, cache_key=None,
                                        error=error))
        self.e.observer.state(r.step.name, "failed", error)
        self._skip_downstream(r.step.name)

    def _skip_downstream(self, failed: str) -> None:
        """Steps after `failed` that have not started never will: recorded as skipped."""
        for d in downstream(self.spec, failed):
            if self.state[d] == "queued":
                self.state[d] = "skipped"
                records.set_task(self.e.catalog, self.task_ids[d], status="skipped",
                                 error=f"upstream step '{failed}' failed")
                self.e.observer.state(d, "skipped")

    def _peer_error(self, r: _Running) -> str | None:
        """The first failure among ranks 1.. of a distributed step, as `rank N: error`."""
        for rank, p in enumerate(r.peers, start=1):
            if p.exitcode == 0:
                continue
            path = Path(r.task["result_path"]).with_name(f"rank{rank}.result.json")
            try:
                res = json.loads(path.read_text())
                why = res.get("error") or _exit_reason(p.exitcode)
            except (OSError, ValueError):
                why = _exit_reason(p.exitcode)
            return f"rank {rank}: {why}"
        return None

    def _tail(self, r: _Running) -> None:
        """Pass new complete log lines of a running step to the observer."""
        path = r.task["log_path"]
        try:
            with open(path, "rb") as f:
                f.seek(r.log_offset)
                data = f.read()
        except FileNotFoundError:
            return
        if not data:
            return
        r.log_offset += len(data)
        text = r.partial + data.decode("utf-8", errors="replace")
        lines = text.split("\n")
        r.partial = lines.pop()
        if not r.process.is_alive() and r.partial:
            lines.append(r.partial)
            r.partial = ""
        for line in lines:
            self.e.observer.log(r.step.name, line.rstrip("\r"))

    def _tail_metrics(self, r: _Running) -> None:
        """Pass metrics a running step logged since the last look to the observer."""
        try:
            with open(r.task["metrics_path"], "rb") as f:
                f.seek(r.metrics_offset)
                data = f.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1  # whole lines only; the rest is still being written
        if not end:
            return
        r.metrics_offset += end
        for line in data[:end].splitlines():
            try:
                name, value, index = json.loads(line)
            except (ValueError, TypeError):
                continue
            self.e.observer.metric(r.step.name, str(name), float(value), index)

    def _cancel(self, reason: str = "cancelled by the user") -> None:
        for r in list(self.running.values()):
            for p in r.processes:
                _stop(p)
        self.running.clear()
        records.finish_run(self.e.catalog, self.run_id, "cancelled", reason)


def _stop(p: BaseProcess) -> None:
    p.terminate()
    p.join(3)
    if p.is_alive():
        p.kill()
        p.join()


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        import signal

        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"the step's process was killed by {name}"
    return f"the step's process exited with code {code} without a result"
