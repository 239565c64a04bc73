"""Reading and writing run records. The CLI, the Python API and (later) REST all call these."""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kiln.catalog.db import Catalog
from kiln.catalog.refs import resolve_ref
from kiln.catalog.schema import Artifact, Event, Experiment, Metric, Run, RunParam, Task
from kiln.errors import NotFoundError
from kiln.marshal.registry import ArtifactRef

FINISHED = ("succeeded", "failed", "cancelled")


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_run_id() -> str:
    """Time-ordered and unique across processes: 11 hex digits of ms, 5 random."""
    return f"{int(time.time() * 1000):011x}{secrets.token_hex(3)[:5]}"


@dataclass
class TaskInfo:
    id: int
    step: str
    status: str
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    cached_from: int | None
    error: str | None
    log_path: str | None
    outputs: dict[str, ArtifactRef] = field(default_factory=dict)
    inputs: dict[str, ArtifactRef] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


@dataclass
class RunInfo:
    id: str
    pipeline: str
    experiment: str | None
    status: str
    created_at: datetime
    finished_at: datetime | None
    source: str
    error: str | None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tasks: list[TaskInfo] = field(default_factory=list)
    spec_json: str = ""

    @property
    def duration(self) -> float | None:
        if self.finished_at:
            return (self.finished_at - self.created_at).total_seconds()
        return None

    def task(self, step: str) -> TaskInfo:
        for t in self.tasks:
            if t.step == step:
                return t
        raise NotFoundError(f"run {self.id} has no step '{step}'",
                            hint=f"steps: {', '.join(t.step for t in self.tasks)}")

    def output(self, step: str, name: str | None = None) -> ArtifactRef:
        """The stored output `name` of `step` (the only one when `name` is None)."""
        task = self.task(step)
        if name is None:
            if len(task.outputs) != 1:
                raise NotFoundError(f"step '{step}' has {len(task.outputs)} outputs; name one",
                                    hint=f"outputs: {', '.join(task.outputs) or 'none'}")
            name = next(iter(task.outputs))
        if name not in task.outputs:
            raise NotFoundError(f"step '{step}' of run {self.id} has no output '{name}'",
                                hint=f"outputs: {', '.join(task.outputs) or 'none'}")
        return task.outputs[name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pipeline": self.pipeline,
            "experiment": self.experiment,
            "status": self.status,
            "created_at": self.created_at.isoformat() + "Z",
            "finished_at": self.finished_at.isoformat() + "Z" if self.finished_at else None,
            "duration": self.duration,
            "source": self.source,
            "error": self.error,
            "params": self.params,
            "metrics": self.metrics,
            "tasks": [
                {
                    "step": t.step,
                    "status": t.status,
                    "attempts": t.attempts,
                    "duration": t.duration,
                    "cached_from": t.cached_from,
                    "error": t.error,
                    "outputs": {k: v.to_dict() for k, v in t.outputs.items()},
                    "inputs": {k: v.to_dict() for k, v in t.inputs.items()},
                }
                for t in self.tasks
            ],
        }


# --- writing ---------------------------------------------------------------------------


def create_run(cat: Catalog, *, pipeline: str, experiment: str | None, spec_json: str,
               spec_digest: str, source: str, params: dict[str, tuple[str, Any]],
               steps: list[str], parent_run_id: str | None = None) -> tuple[str, dict[str, int]]:
    """Create a run with its parameters and one queued task per step, in one transaction."""
    run_id = new_run_id()
    with cat.write() as s:
        exp_id = _experiment_id(s, experiment) if experiment else None
        s.add(Run(id=run_id, experiment_id=exp_id, pipeline_name=pipeline, status="running",
                  created_at=now(), spec_json=spec_json, spec_digest=spec_digest, source=source,
                  parent_run_id=parent_run_id, host=socket.gethostname(), pid=os.getpid()))
        s.flush()
        for name, (ptype, value) in params.items():
            s.add(RunParam(run_id=run_id, name=name, type=ptype, value=value))
        tasks = [Task(run_id=run_id, step=st, status="queued", attempts=0) for st in steps]
        s.add_all(tasks)
        s.flush()
        return run_id, {t.step: t.id for t in tasks}


def _experiment_id(s: Session, name: str) -> int:
    found = s.scalar(select(Experiment.id).where(Experiment.name == name))
    if found is not None:
        return found
    exp = Experiment(name=name, created_at=now())
    s.add(exp)
    s.flush()
    return exp.id


def set_task(cat: Catalog, task_id: int, **values: Any) -> None:
    with cat.write() as s:
        s.execute(update(Task).where(Task.id == task_id).values(**values))


def finish_task(cat: Catalog, task_id: int, run_id: str, *, status: str,
                inputs: dict[str, ArtifactRef], outputs: dict[str, ArtifactRef],
                metrics: list[tuple[str, float, int | None]], cache_key: str | None,
                cached_from: int | None = None, error: str | None = None) -> None:
    """Record a finished task whole: status, lineage events and metrics in one transaction."""
    with cat.write() as s:
        s.execute(update(Task).where(Task.id == task_id).values(
            status=status, finished_at=now(), error=error, cache_key=cache_key,
            cached_from=cached_from))
        for kind, refs in (("input", inputs), ("output", outputs)):
            for name, ref in refs.items():
                s.add(Event(task_id=task_id, artifact_id=_artifact_id(s, ref), kind=kind,
                            name=name))
        ts = now()
        for name, value, step in metrics:
            s.add(Metric(run_id=run_id, task_id=task_id, name=name, value=float(value),
                         step=step, created_at=ts))


def _artifact_id(s: Session, ref: ArtifactRef) -> int:
    q = select(Artifact.id).where(Artifact.digest == ref.digest, Artifact.codec == ref.codec,
                                  Artifact.codec_version == ref.codec_version,
                                  Artifact.type_name == ref.type_name)
    found = s.scalar(q)
    if found is not None:
        return found
    a = Artifact(digest=ref.digest, size=ref.size, codec=ref.codec,
                 codec_version=ref.codec_version, type_name=ref.type_name, created_at=now())
    s.add(a)
    s.flush()
    return a.id


def finish_run(cat: Catalog, run_id: str, status: str, error: str | None = None) -> None:
    with cat.write() as s:
        s.execute(update(Run).where(Run.id == run_id).values(
            status=status, finished_at=now(), error=error))
        s.execute(update(Task).where(Task.run_id == run_id,
                                     Task.status.in_(("queued", "running"))).values(
            status="cancelled" if status == "cancelled" else "skipped", finished_at=now()))


# --- reading ---------------------------------------------------------------------------


def cache_hit(cat: Catalog, cache_key: str) -> tuple[int, dict[str, ArtifactRef]] | None:
    """The newest task that succeeded with this cache key, and its outputs."""
    with cat.read() as s:
        task_id = s.scalar(
            select(Task.id).where(Task.cache_key == cache_key, Task.status == "succeeded")
            .order_by(Task.id.desc()).limit(1))
        if task_id is None:
            return None
        return task_id, _events(s, task_id, "output")


def task_metrics(cat: Catalog, task_id: int) -> list[tuple[str, float, int | None]]:
    """A task's metric values, in the order they were logged (reused by cache hits)."""
    with cat.read() as s:
        rows = s.execute(select(Metric.name, Metric.value, Metric.step)
                         .where(Metric.task_id == task_id).order_by(Metric.id)).all()
    return [(n, v, st) for n, v, st in rows]


def _events(s: Session, task_id: int, kind: str) -> dict[str, ArtifactRef]:
    rows = s.execute(
        select(Event.name, Artifact).join(Artifact, Event.artifact_id == Artifact.id)
        .where(Event.task_id == task_id, Event.kind == kind)).all()
    return {name: ArtifactRef(a.digest, a.size, a.codec, a.codec_version, a.type_name)
            for name, a in rows}


def resolve_run_id(cat: Catalog, ref: str) -> str:
    """A full run id, a unique prefix of one, or 'latest'."""
    return resolve_ref(cat, ref, id_col=Run.id, created_col=Run.created_at, noun="run",
                       start_hint="start one with `kiln run`",
                       list_hint="list runs with `kiln runs ls`")


def get_run(cat: Catalog, ref: str, *, with_events: bool = True) -> RunInfo:
    run_id = resolve_run_id(cat, ref)
    with cat.read() as s:
        run = s.get(Run, run_id)
        assert run is not None
        exp = s.get(Experiment, run.experiment_id) if run.experiment_id else None
        info = _run_info(run, exp.name if exp else None)
        info.spec_json = run.spec_json
        info.params = {p.name: p.value for p in s.scalars(
            select(RunParam).where(RunParam.run_id == run_id))}
        info.metrics = _latest_metrics(s, [run_id]).get(run_id, {})
        for t in s.scalars(select(Task).where(Task.run_id == run_id).order_by(Task.id)):
            ti = TaskInfo(t.id, t.step, t.status, t.attempts, t.started_at, t.finished_at,
                          t.cached_from, t.error, t.log_path)
            if with_events:
                ti.outputs = _events(s, t.id, "output")
                ti.inputs = _events(s, t.id, "input")
            info.tasks.append(ti)
    return info


def find_output(cat: Catalog, run: str, step: str, name: str | None = None) -> ArtifactRef:
    """An output of a recorded run's step: run id, prefix or 'latest'."""
    return get_run(cat, run).output(step, name)


def _run_info(run: Run, experiment: str | None) -> RunInfo:
    return RunInfo(run.id, run.pipeline_name, experiment, run.status, run.created_at,
                   run.finished_at, run.source, run.error)


def _latest_metrics(s: Session, run_ids: list[str]) -> dict[str, dict[str, float]]:
    """Each run's metrics, the last value recorded for each name."""
    last = (select(func.max(Metric.id)).where(Metric.run_id.in_(run_ids))
            .group_by(Metric.run_id, Metric.name))
    out: dict[str, dict[str, float]] = {}
    for m in s.scalars(select(Metric).where(Metric.id.in_(last))):
        out.setdefault(m.run_id, {})[m.name] = m.value
    return out


def list_runs(cat: Catalog, *, limit: int = 50, experiment: str | None = None,
              status: str | None = None, pipeline: str | None = None,
              before: str | None = None, filter_text: str | None = None,
              sort: str | None = None, offset: int = 0) -> list[RunInfo]:
    """Newest first unless `sort` (see catalog.search). `before`: only runs older than this
    run id (ids are time-ordered), the keyset page token the REST API hands out; with `sort`
    pages go by `offset`."""
    from kiln.catalog import search

    with cat.read() as s:
        q = (select(Run, Experiment.name).outerjoin(Experiment, Run.experiment_id == Experiment.id)
             .limit(limit).offset(offset))
        q = search.order(search.apply(q, search.parse_filter(filter_text or "")), sort)
        if experiment:
            q = q.where(Experiment.name == experiment)
        if status:
            q = q.where(Run.status == status)
        if pipeline:
            q = q.where(Run.pipeline_name == pipeline)
        if before:
            q = q.where(Run.id < before)
        rows = s.execute(q).all()
        runs = [_run_info(r, e) for r, e in rows]
        metrics = _latest_metrics(s, [r.id for r in runs])
        for r in runs:
            r.metrics = metrics.get(r.id, {})
    return runs


def metric_series(cat: Catalog, run_id: str) -> list[tuple[str, str | None, float, int | None]]:
    """Every metric value of a run: (name, step name, value, series position)."""
    with cat.read() as s:
        rows = s.execute(select(Metric.name, Task.step, Metric.value, Metric.step)
                         .outerjoin(Task, Metric.task_id == Task.id)
                         .where(Metric.run_id == run_id).order_by(Metric.id)).all()
    return [(n, st, v, i) for n, st, v, i in rows]
