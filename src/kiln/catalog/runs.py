"""Reading and writing run records. The CLI, the Python API and (later) REST all call these."""

from __future__ import annotations

import functools
import os
import re
import secrets
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Integer, bindparam, func, select, update
from sqlalchemy.orm import Session

from kiln.catalog.db import Catalog, now
from kiln.catalog.refs import resolve_ref
from kiln.catalog.schema import (
    Artifact,
    Event,
    Experiment,
    Metric,
    Run,
    RunLabel,
    RunParam,
    Task,
    TaskVolume,
    Visual,
)
from kiln.errors import NotFoundError, UserError
from kiln.marshal.registry import ArtifactRef

FINISHED = ("succeeded", "failed", "cancelled")


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
    labels: dict[str, str] = field(default_factory=dict)
    archived: bool = False
    parent_run_id: str | None = None
    pipeline_version_id: int | None = None

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

    def to_dict(self, *, with_tasks: bool = True) -> dict[str, Any]:
        """The run as the API gives it; `with_tasks=False`: the summary run lists show."""
        d: dict[str, Any] = {
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
            "labels": self.labels,
            "archived": self.archived,
            "parent_run_id": self.parent_run_id,
            "pipeline_version_id": self.pipeline_version_id,
        }
        if with_tasks:
            d["tasks"] = [
                {
                    "step": t.step,
                    "status": t.status,
                    "started_at": t.started_at.isoformat() + "Z" if t.started_at else None,
                    "attempts": t.attempts,
                    "duration": t.duration,
                    "cached_from": t.cached_from,
                    "error": t.error,
                    "outputs": {k: v.to_dict() for k, v in t.outputs.items()},
                    "inputs": {k: v.to_dict() for k, v in t.inputs.items()},
                }
                for t in self.tasks
            ]
        return d


# --- writing ---------------------------------------------------------------------------


def create_run(cat: Catalog, *, pipeline: str, experiment: str | None, spec_json: str,
               spec_digest: str, source: str, params: dict[str, tuple[str, Any]],
               steps: list[str], parent_run_id: str | None = None,
               labels: dict[str, str] | None = None, run_id: str | None = None,
               pipeline_version_id: int | None = None) -> tuple[str, dict[str, int]]:
    """Create a run with its parameters and one queued task per step, in one transaction.
    `run_id`: one chosen beforehand (a run started in the background reports it at once)."""
    run_id = run_id or new_run_id()
    with cat.write() as s:
        exp_id = _experiment_id(s, experiment) if experiment else None
        s.add(Run(id=run_id, experiment_id=exp_id, pipeline_name=pipeline, status="running",
                  created_at=now(), spec_json=spec_json, spec_digest=spec_digest, source=source,
                  parent_run_id=parent_run_id, host=socket.gethostname(), pid=os.getpid(),
                  archived=0, pipeline_version_id=pipeline_version_id))
        s.flush()
        for name, (ptype, value) in params.items():
            s.add(RunParam(run_id=run_id, name=name, type=ptype, value=value))
        for key, value in check_labels(labels or {}).items():
            s.add(RunLabel(run_id=run_id, key=key, value=value))
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
                cached_from: int | None = None, error: str | None = None,
                visuals: list[dict[str, Any]] | None = None) -> None:
    """Record a finished task whole: status, lineage events, metrics and visuals in one
    transaction."""
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
        for v in visuals or ():
            s.add(Visual(run_id=run_id, task_id=task_id, name=v["name"], kind=v["kind"],
                         data=orjson.dumps(v["data"]).decode(), created_at=ts))


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


INTERRUPTED = ("interrupted: the process that ran it (pid {pid} on {host}) ended without "
               "finishing it")


def _reap(cat: Catalog, infos: list[RunInfo]) -> None:
    """Runs recorded as running whose process on this host is gone (killed, the machine
    restarted) are failed as interrupted, the first time anything reads them."""
    running = [i for i in infos if i.status == "running"]
    if not running:
        return

    from kiln.processes import still_running

    here = socket.gethostname()
    with cat.read() as s:
        owners = {rid: (host, pid) for rid, host, pid in s.execute(
            select(Run.id, Run.host, Run.pid).where(Run.id.in_([i.id for i in running]),
                                                    Run.status == "running"))}
    for info in running:
        host, pid = owners.get(info.id, ("", None))
        since = info.created_at.replace(tzinfo=UTC).timestamp()
        if host != here or pid is None or still_running(pid, since):
            continue
        error = INTERRUPTED.format(pid=pid, host=host)
        with cat.write() as s:  # only if nothing finished it meanwhile
            result: Any = s.execute(update(Run).where(Run.id == info.id,
                                                      Run.status == "running")
                                    .values(status="failed", finished_at=now(), error=error))
            done = result.rowcount
            if done:
                s.execute(update(Task).where(Task.run_id == info.id,
                                             Task.status.in_(("queued", "running")))
                          .values(status="failed", finished_at=now(), error="interrupted"))
        if done:
            info.status, info.error = "failed", error
            for t in info.tasks:
                if t.status in ("queued", "running"):
                    t.status, t.error = "failed", "interrupted"


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


def task_visuals(cat: Catalog, task_id: int) -> list[dict[str, Any]]:
    """A task's visuals as logged, {name, kind, data} (reused by cache hits)."""
    with cat.read() as s:
        rows = s.execute(select(Visual.name, Visual.kind, Visual.data)
                         .where(Visual.task_id == task_id).order_by(Visual.id)).all()
    return [{"name": n, "kind": k, "data": orjson.loads(d)} for n, k, d in rows]


def run_visuals(cat: Catalog, run_id: str) -> list[dict[str, Any]]:
    """Every visual of a run with the step that logged it, in the order logged."""
    with cat.read() as s:
        rows = s.execute(select(Visual.name, Visual.kind, Visual.data, Task.step)
                         .outerjoin(Task, Visual.task_id == Task.id)
                         .where(Visual.run_id == run_id).order_by(Visual.id)).all()
    return [{"name": n, "kind": k, "step": st, "data": orjson.loads(d)} for n, k, d, st in rows]


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
        info.params = _params(s, [run_id]).get(run_id, {})
        info.metrics = _latest_metrics(s, [run_id]).get(run_id, {})
        info.labels = _labels(s, [run_id]).get(run_id, {})
        for t in s.scalars(select(Task).where(Task.run_id == run_id).order_by(Task.id)):
            ti = TaskInfo(t.id, t.step, t.status, t.attempts, t.started_at, t.finished_at,
                          t.cached_from, t.error, t.log_path)
            if with_events:
                ti.outputs = _events(s, t.id, "output")
                ti.inputs = _events(s, t.id, "input")
            info.tasks.append(ti)
    _reap(cat, [info])
    return info


def find_output(cat: Catalog, run: str, step: str, name: str | None = None) -> ArtifactRef:
    """An output of a recorded run's step: run id, prefix or 'latest'."""
    return get_run(cat, run).output(step, name)


def _run_info(run: Run, experiment: str | None) -> RunInfo:
    return RunInfo(run.id, run.pipeline_name, experiment, run.status, run.created_at,
                   run.finished_at, run.source, run.error, archived=bool(run.archived),
                   parent_run_id=run.parent_run_id,
                   pipeline_version_id=run.pipeline_version_id)


# The per-run details of a page of runs, as statements built once: building a select is a
# good part of a small query's cost in SQLAlchemy, and a run list asks these three each time.
_IDS: Any = bindparam("ids", expanding=True)
_LATEST_METRICS = select(Metric.run_id, Metric.name, Metric.value).where(Metric.id.in_(
    select(func.max(Metric.id)).where(Metric.run_id.in_(_IDS))
    .group_by(Metric.run_id, Metric.name)))
# Values through the JSON type (decoded by orjson, see catalog.db): casting to text in SQL
# lost digits, because SQLite keeps a numeric JSON value as a REAL and prints 15 of them.
_PARAMS = select(RunParam.run_id, RunParam.name, RunParam.value).where(RunParam.run_id.in_(_IDS))
_LABELS = select(RunLabel.run_id, RunLabel.key, RunLabel.value).where(RunLabel.run_id.in_(_IDS))


def _per_run(s: Session, stmt: Any, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    """{run id: {name: value}} from a (run_id, name, value) statement above."""
    out: dict[str, dict[str, Any]] = {}
    if not run_ids:
        return out
    for run_id, name, value in s.execute(stmt, {"ids": run_ids}):
        out.setdefault(run_id, {})[name] = value
    return out


def _latest_metrics(s: Session, run_ids: list[str]) -> dict[str, dict[str, float]]:
    """Each run's metrics, the last value recorded for each name."""
    return _per_run(s, _LATEST_METRICS, run_ids)


def _params(s: Session, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    return _per_run(s, _PARAMS, run_ids)


def _labels(s: Session, run_ids: list[str]) -> dict[str, dict[str, str]]:
    return _per_run(s, _LABELS, run_ids)


_LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,99}$")


def check_labels(labels: dict[str, Any], where: str = "labels") -> dict[str, str]:
    """Label keys are short identifiers; values are strings of at most 300 characters."""
    out = {}
    for k, v in labels.items():
        if not isinstance(k, str) or not _LABEL_KEY.match(k):
            raise UserError(f"'{k}' is not a valid label key", where=where,
                            hint="letters, digits, '.', '_', '-', '/'; at most 100 characters")
        if v is None or isinstance(v, (dict, list)) or len(str(v)) > 300:
            raise UserError(f"label '{k}' needs a text value of at most 300 characters",
                            where=where)
        out[k] = str(v)
    return out


def set_labels(cat: Catalog, ref: str, labels: dict[str, Any]) -> dict[str, str]:
    """Set labels (a value of None removes that label); returns the run's labels."""
    run_id = resolve_run_id(cat, ref)
    remove = [k for k, v in labels.items() if v is None]
    put = check_labels({k: v for k, v in labels.items() if v is not None})
    with cat.write() as s:
        for k in remove:
            row = s.get(RunLabel, (run_id, k))
            if row is not None:
                s.delete(row)
        for k, v in put.items():
            s.merge(RunLabel(run_id=run_id, key=k, value=v))
        s.flush()
        return _labels(s, [run_id]).get(run_id, {})


def set_archived(cat: Catalog, ref: str, archived: bool) -> None:
    """Archived runs leave the lists (unless asked for) and keep everything they hold."""
    run_id = resolve_run_id(cat, ref)
    with cat.write() as s:
        s.execute(update(Run).where(Run.id == run_id).values(archived=int(archived)))


def run_process(cat: Catalog, run_id: str) -> tuple[str, str, int | None]:
    """(status, host, pid) of a run: where to send a cancel."""
    with cat.read() as s:
        run = s.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"no run '{run_id}'", hint="list runs with `kiln runs ls`")
        return run.status, run.host, run.pid


def delete_run(cat: Catalog, ref: str) -> str:
    """Delete a finished run's records (tasks, events, metrics, params, labels). Artifacts it
    made stay while another record references them; `kiln store gc` frees the rest."""
    run_id = resolve_run_id(cat, ref)
    with cat.write() as s:
        run = s.get(Run, run_id)
        assert run is not None
        if run.status not in FINISHED:
            raise UserError(f"run {run_id} is still {run.status}", where="run",
                            hint="cancel it first (`kiln runs cancel`), then delete it")
        task_ids = select(Task.id).where(Task.run_id == run_id)
        # children first: SQLite enforces ON DELETE CASCADE only with foreign keys turned on.
        # Every metric row carries its run_id, so the run_id delete covers step metrics too.
        for child, col in ((Event, Event.task_id), (TaskVolume, TaskVolume.task_id)):
            s.execute(child.__table__.delete().where(col.in_(task_ids)))
        per_run: tuple[Any, ...] = (Metric, Visual, RunParam, RunLabel, Task)
        for table in per_run:
            s.execute(table.__table__.delete().where(table.run_id == run_id))
        s.delete(run)
    return run_id


_SUMMARY_COLUMNS = (Run.id, Run.pipeline_name, Run.status, Run.created_at, Run.finished_at,
                    Run.source, Run.error, Run.archived, Run.parent_run_id,
                    Run.pipeline_version_id)


@functools.lru_cache(maxsize=256)
def _list_query(filter_text: str, sort: str, experiment: bool, status: bool, pipeline: bool,
                before: bool, archived: bool | None) -> Any:
    """The run-list statement for one filter and sort, built once: building it (an aliased
    table per condition, SQLAlchemy's coercions) cost more than SQLite running it. What
    changes between calls (page, experiment, status, pipeline) is bound at execution."""
    from kiln.catalog import search

    # Plain columns, not Run entities: no identity map, and spec_json stays on disk.
    q: Any = (select(*_SUMMARY_COLUMNS, Experiment.name)
         .outerjoin(Experiment, Run.experiment_id == Experiment.id)
         .limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer)))
    q = search.order(search.apply(q, search.parse_filter(filter_text)), sort or None)
    if experiment:
        q = q.where(Experiment.name == bindparam("experiment"))
    if status:
        q = q.where(Run.status == bindparam("status"))
    if pipeline:
        q = q.where(Run.pipeline_name == bindparam("pipeline"))
    if before:
        q = q.where(Run.id < bindparam("before"))
    if archived is not None:
        q = q.where(Run.archived == int(archived))
    return q


def list_runs(cat: Catalog, *, limit: int = 50, experiment: str | None = None,
              status: str | None = None, pipeline: str | None = None,
              before: str | None = None, filter_text: str | None = None,
              sort: str | None = None, offset: int = 0,
              archived: bool | None = False) -> list[RunInfo]:
    """Newest first unless `sort` (see catalog.search). `before`: only runs older than this
    run id (ids are time-ordered), the keyset page token the REST API hands out; with `sort`
    pages go by `offset`."""
    q = _list_query(filter_text or "", sort or "", bool(experiment), bool(status),
                    bool(pipeline), bool(before), archived)
    values = {"limit": limit, "offset": offset, "experiment": experiment, "status": status,
              "pipeline": pipeline, "before": before}
    with cat.read() as s:
        rows = s.execute(q, {k: v for k, v in values.items() if v is not None}).all()
        if sort and rows:  # a misspelt sort key would sort nothing: say so
            from kiln.catalog.search import check_sort

            check_sort(s, sort)
        runs = [RunInfo(rid, pipe, exp, status, created, finished, source, error,
                        archived=bool(archived_), parent_run_id=parent,
                        pipeline_version_id=version)
                for (rid, pipe, status, created, finished, source, error, archived_, parent,
                     version, exp) in rows]
        ids = [r.id for r in runs]
        metrics, labels, params = _latest_metrics(s, ids), _labels(s, ids), _params(s, ids)
        for r in runs:
            r.metrics = metrics.get(r.id, {})
            r.labels = labels.get(r.id, {})
            r.params = params.get(r.id, {})
    _reap(cat, runs)
    return runs


def metric_series(cat: Catalog, run_id: str) -> list[tuple[str, str | None, float, int | None]]:
    """Every metric value of a run: (name, step name, value, series position)."""
    with cat.read() as s:
        rows = s.execute(select(Metric.name, Task.step, Metric.value, Metric.step)
                         .outerjoin(Task, Metric.task_id == Task.id)
                         .where(Metric.run_id == run_id).order_by(Metric.id)).all()
    return [(n, st, v, i) for n, st, v, i in rows]


def list_experiments(cat: Catalog) -> list[dict[str, Any]]:
    """Each experiment with its number of runs, the latest run's time and status counts."""
    with cat.read() as s:
        rows = s.execute(select(Experiment.name, Experiment.created_at, Run.status, func.count(),
                                func.max(Run.created_at))
                         .outerjoin(Run, Run.experiment_id == Experiment.id)
                         .group_by(Experiment.id, Run.status).order_by(Experiment.name)).all()
    out: dict[str, dict[str, Any]] = {}
    for name, created, status, n, last in rows:
        e = out.setdefault(name, {"name": name, "created_at": created.isoformat() + "Z",
                                  "runs": 0, "statuses": {}, "last_run_at": None})
        if status is not None:
            e["runs"] += n
            e["statuses"][status] = n
            stamp = last.isoformat() + "Z"
            e["last_run_at"] = max(e["last_run_at"] or stamp, stamp)
    return list(out.values())
