"""Reading and writing run records. The CLI, the Python API and REST all call these.

The statements are plain SQL text run through `Catalog.sql` (see catalog.sql): every run
writes and reads these records, and on SQLite they then never import SQLAlchemy. Only the
run list's filter and sort (catalog.search) build their SQL with SQLAlchemy.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from kiln.catalog.db import Catalog, now
from kiln.catalog.sql import Json, Statements, timestamp
from kiln.errors import NotFoundError, UserError
from kiln.marshal.registry import ArtifactRef
from kiln.names import check_name, made_up_run_name

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
    name: str = ""  # readable, given (--name) or made up; the id stays the key

    @property
    def duration(self) -> float | None:
        if self.finished_at:
            return (self.finished_at - self.created_at).total_seconds()
        return None

    def task(self, step: str) -> TaskInfo:
        for task in self.tasks:
            if task.step == step:
                return task
        raise NotFoundError(f"run {self.id} has no step '{step}'",
                            hint=f"steps: {', '.join(x.step for x in self.tasks)}")

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
            "name": self.name,
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
                    "step": task.step,
                    "status": task.status,
                    "started_at": task.started_at.isoformat() + "Z" if task.started_at else None,
                    "attempts": task.attempts,
                    "duration": task.duration,
                    "cached_from": task.cached_from,
                    "error": task.error,
                    "outputs": {k: v.to_dict() for k, v in task.outputs.items()},
                    "inputs": {k: v.to_dict() for k, v in task.inputs.items()},
                }
                for task in self.tasks
            ]
        return d


# --- writing ---------------------------------------------------------------------------


def create_run(cat: Catalog, *, pipeline: str, experiment: str | None, spec_json: str,
               spec_digest: str, source: str, params: dict[str, tuple[str, Any]],
               steps: list[str], parent_run_id: str | None = None,
               labels: dict[str, str] | None = None, run_id: str | None = None,
               pipeline_version_id: int | None = None,
               name: str | None = None) -> tuple[str, dict[str, int]]:
    """Create a run with its parameters and one queued task per step, in one transaction.
    `run_id`: one chosen beforehand (a run started in the background reports it at once).
    `name`: readable and shown beside the id (default: made up, as `brisk-otter-417`)."""
    run_id = run_id or new_run_id()
    name = check_name("run", name) if name else made_up_run_name()
    labels = check_labels(labels or {})
    with cat.sql(write=True) as q:
        exp_id = _experiment_id(q, experiment) if experiment else None
        q.all("INSERT INTO runs (id, experiment_id, pipeline_name, status, created_at, spec_json,"
              " spec_digest, source, parent_run_id, host, pid, archived, pipeline_version_id,"
              " name)"
              " VALUES (:id, :exp, :pipeline, 'running', :ts, :spec_json, :spec_digest,"
              " :source, :parent, :host, :pid, 0, :version, :name)",
              {"id": run_id, "exp": exp_id, "pipeline": pipeline, "ts": now(), "name": name,
               "spec_json": spec_json, "spec_digest": spec_digest, "source": source,
               "parent": parent_run_id, "host": socket.gethostname(), "pid": os.getpid(),
               "version": pipeline_version_id})
        q.many("INSERT INTO run_params (run_id, name, type, value)"
               " VALUES (:run_id, :name, :type, :value)",
               [{"run_id": run_id, "name": name, "type": ptype, "value": Json(value)}
                for name, (ptype, value) in params.items()])
        q.many("INSERT INTO run_labels (run_id, key, value) VALUES (:run_id, :key, :value)",
               [{"run_id": run_id, "key": k, "value": v} for k, v in labels.items()])
        q.many("INSERT INTO tasks (run_id, step, status, attempts)"
               " VALUES (:run_id, :step, 'queued', 0)",
               [{"run_id": run_id, "step": st} for st in steps])
        ids: dict[str, int] = dict(q.all("SELECT step, id FROM tasks WHERE run_id = :id",
                                         {"id": run_id}))
        return run_id, {st: ids[st] for st in steps}


def _experiment_id(q: Statements, name: str) -> int:
    found = q.scalar("SELECT id FROM experiments WHERE name = :name", {"name": name})
    if found is None:
        found = q.scalar("INSERT INTO experiments (name, created_at) VALUES (:name, :ts)"
                         " RETURNING id", {"name": name, "ts": now()})
    return int(found)


# The columns a task's record may be changed in, by set_task's callers.
_TASK_COLUMNS = frozenset({"status", "attempts", "started_at", "finished_at", "error",
                           "log_path", "cache_key", "cached_from"})


def set_task(cat: Catalog, task_id: int, **values: Any) -> None:
    unknown = set(values) - _TASK_COLUMNS
    if unknown:
        raise ValueError(f"tasks have no column {', '.join(sorted(unknown))}")
    assignments = ", ".join(f"{k} = :{k}" for k in values)
    with cat.sql(write=True) as q:
        q.all(f"UPDATE tasks SET {assignments} WHERE id = :task_id",  # noqa: S608 - names checked
              {**values, "task_id": task_id})


def finish_task(cat: Catalog, task_id: int, run_id: str, *, status: str,
                inputs: dict[str, ArtifactRef], outputs: dict[str, ArtifactRef],
                metrics: list[tuple[str, float, int | None]], cache_key: str | None,
                cached_from: int | None = None, error: str | None = None,
                visuals: list[dict[str, Any]] | None = None) -> None:
    """Record a finished task whole: status, lineage events, metrics and visuals in one
    transaction."""
    ts = now()
    with cat.sql(write=True) as q:
        q.all("UPDATE tasks SET status = :status, finished_at = :ts, error = :error,"
              " cache_key = :key, cached_from = :cached_from WHERE id = :id",
              {"status": status, "ts": ts, "error": error, "key": cache_key,
               "cached_from": cached_from, "id": task_id})
        q.many("INSERT INTO events (task_id, artifact_id, kind, name)"
               " VALUES (:task_id, :artifact_id, :kind, :name)",
               [{"task_id": task_id, "artifact_id": _artifact_id(q, ref), "kind": kind,
                 "name": name}
                for kind, refs in (("input", inputs), ("output", outputs))
                for name, ref in refs.items()])
        q.many("INSERT INTO metrics (run_id, task_id, name, value, step, created_at)"
               " VALUES (:run_id, :task_id, :name, :value, :step, :ts)",
               [{"run_id": run_id, "task_id": task_id, "name": name, "value": float(value),
                 "step": step, "ts": ts} for name, value, step in metrics])
        q.many("INSERT INTO visuals (run_id, task_id, name, kind, data, created_at)"
               " VALUES (:run_id, :task_id, :name, :kind, :data, :ts)",
               [{"run_id": run_id, "task_id": task_id, "name": v["name"], "kind": v["kind"],
                 "data": orjson.dumps(v["data"]).decode(), "ts": ts} for v in visuals or ()])


def _artifact_id(q: Statements, ref: ArtifactRef) -> int:
    key = {"digest": ref.digest, "codec": ref.codec, "version": ref.codec_version,
           "type_name": ref.type_name}
    found = q.scalar("SELECT id FROM artifacts WHERE digest = :digest AND codec = :codec"
                     " AND codec_version = :version AND type_name = :type_name LIMIT 1", key)
    if found is None:
        found = q.scalar("INSERT INTO artifacts (digest, size, codec, codec_version, type_name,"
                         " created_at) VALUES (:digest, :size, :codec, :version, :type_name,"
                         " :ts) RETURNING id", {**key, "size": ref.size, "ts": now()})
    return int(found)


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
    with cat.sql() as q:
        owners = {rid: (host, pid) for rid, host, pid in q.all(
            "SELECT id, host, pid FROM runs WHERE id IN :ids AND status = 'running'",
            {"ids": [i.id for i in running]})}
    for info in running:
        host, pid = owners.get(info.id, ("", None))
        since = info.created_at.replace(tzinfo=UTC).timestamp()
        if host != here or pid is None or still_running(pid, since):
            continue
        error = INTERRUPTED.format(pid=pid, host=host)
        with cat.sql(write=True) as q:  # only if nothing finished it meanwhile
            done = q.rowcount("UPDATE runs SET status = 'failed', finished_at = :ts,"
                              " error = :error WHERE id = :id AND status = 'running'",
                              {"ts": now(), "error": error, "id": info.id})
            if done:
                q.all("UPDATE tasks SET status = 'failed', finished_at = :ts,"
                      " error = 'interrupted' WHERE run_id = :id"
                      " AND status IN ('queued', 'running')", {"ts": now(), "id": info.id})
        if done:
            info.status, info.error = "failed", error
            for task in info.tasks:
                if task.status in ("queued", "running"):
                    task.status, task.error = "failed", "interrupted"


def finish_run(cat: Catalog, run_id: str, status: str, error: str | None = None) -> None:
    ts = now()
    with cat.sql(write=True) as q:
        q.all("UPDATE runs SET status = :status, finished_at = :ts, error = :error"
              " WHERE id = :id", {"status": status, "ts": ts, "error": error, "id": run_id})
        q.all("UPDATE tasks SET status = :status, finished_at = :ts WHERE run_id = :id"
              " AND status IN ('queued', 'running')",
              {"status": "cancelled" if status == "cancelled" else "skipped", "ts": ts,
               "id": run_id})


# --- reading ---------------------------------------------------------------------------

_EVENTS = ("SELECT e.task_id, e.kind, e.name, a.digest, a.size, a.codec, a.codec_version,"
           " a.type_name FROM events e JOIN artifacts a ON e.artifact_id = a.id")


def _events(q: Statements, where: str, params: dict[str, Any]
            ) -> dict[tuple[int, str], dict[str, ArtifactRef]]:
    """{(task id, kind): {name: artifact}} of the events `where` selects, in recorded order."""
    out: dict[tuple[int, str], dict[str, ArtifactRef]] = {}
    for task_id, kind, name, digest, size, codec, version, type_name in q.all(
            f"{_EVENTS} WHERE {where} ORDER BY e.id", params):  # noqa: S608 - our own clauses
        out.setdefault((task_id, kind), {})[name] = ArtifactRef(digest, size, codec, version,
                                                                type_name)
    return out


def cache_hit(cat: Catalog, cache_key: str) -> tuple[int, dict[str, ArtifactRef]] | None:
    """The newest task that succeeded with this cache key, and its outputs."""
    with cat.sql() as q:
        task_id = q.scalar("SELECT id FROM tasks WHERE cache_key = :key AND status = 'succeeded'"
                           " ORDER BY id DESC LIMIT 1", {"key": cache_key})
        if task_id is None:
            return None
        events = _events(q, "e.task_id = :id AND e.kind = 'output'", {"id": task_id})
        return task_id, events.get((task_id, "output"), {})


def task_metrics(cat: Catalog, task_id: int) -> list[tuple[str, float, int | None]]:
    """A task's metric values, in the order they were logged (reused by cache hits)."""
    with cat.sql() as q:
        rows = q.all("SELECT name, value, step FROM metrics WHERE task_id = :id ORDER BY id",
                     {"id": task_id})
    return [(n, v, st) for n, v, st in rows]


def task_visuals(cat: Catalog, task_id: int) -> list[dict[str, Any]]:
    """A task's visuals as logged, {name, kind, data} (reused by cache hits)."""
    with cat.sql() as q:
        rows = q.all("SELECT name, kind, data FROM visuals WHERE task_id = :id ORDER BY id",
                     {"id": task_id})
    return [{"name": n, "kind": k, "data": orjson.loads(d)} for n, k, d in rows]


def run_visuals(cat: Catalog, run_id: str) -> list[dict[str, Any]]:
    """Every visual of a run with the step that logged it, in the order logged."""
    with cat.sql() as q:
        rows = q.all("SELECT v.name, v.kind, v.data, t.step FROM visuals v"
                     " LEFT OUTER JOIN tasks t ON v.task_id = t.id"
                     " WHERE v.run_id = :id ORDER BY v.id", {"id": run_id})
    return [{"name": n, "kind": k, "step": st, "data": orjson.loads(d)} for n, k, d, st in rows]


def resolve_run_id(cat: Catalog, ref: str) -> str:
    """A full run id, a run's name, a unique prefix of an id, or 'latest'. Ids are lowercase
    hex; one typed or pasted in capitals still resolves."""
    if ref != "latest" and all(c in "0123456789abcdefABCDEF" for c in ref):
        ref = ref.lower()
    with cat.sql() as q:  # a whole id, as every run prints: no SQLAlchemy for that
        if q.scalar("SELECT id FROM runs WHERE id = :id", {"id": ref}) is not None:
            return ref
        named = [r[0] for r in q.all("SELECT id FROM runs WHERE name = :name"
                                     " ORDER BY created_at DESC LIMIT 6", {"name": ref})]
    if len(named) == 1:
        return str(named[0])
    if named:
        raise NotFoundError(f"{len(named) if len(named) < 6 else 'several'} runs are named "
                            f"'{ref}': {', '.join(named[:5])}", hint="give the run's id")
    from kiln.catalog import tables
    from kiln.catalog.refs import resolve_ref

    return resolve_ref(cat, ref, id_col=tables.runs.c.id, created_col=tables.runs.c.created_at,
                       noun="run", start_hint="start one with `kiln run`",
                       list_hint="list runs with `kiln runs ls`")


_RUN_COLUMNS = ("r.id, r.pipeline_name, e.name, r.status, r.created_at, r.finished_at,"
                " r.source, r.error, r.archived, r.parent_run_id, r.pipeline_version_id,"
                " r.name")


def _run_info(row: tuple[Any, ...]) -> RunInfo:
    (rid, pipe, exp, status, created, finished, source, error, archived, parent, version,
     name) = row
    created_at = timestamp(created)
    assert created_at is not None
    return RunInfo(rid, pipe, exp, status, created_at, timestamp(finished), source, error,
                   archived=bool(archived), parent_run_id=parent, pipeline_version_id=version,
                   name=name or "")


def get_run(cat: Catalog, ref: str, *, with_events: bool = True) -> RunInfo:
    run_id = resolve_run_id(cat, ref)
    with cat.sql() as q:
        row = q.first(f"SELECT {_RUN_COLUMNS}, r.spec_json FROM runs r"  # noqa: S608
                      " LEFT OUTER JOIN experiments e ON r.experiment_id = e.id"
                      " WHERE r.id = :id", {"id": run_id})
        assert row is not None
        info = _run_info(row[:-1])
        info.spec_json = row[-1]
        info.params = _params(q, [run_id]).get(run_id, {})
        info.metrics = _latest_metrics(q, [run_id]).get(run_id, {})
        info.labels = _labels(q, [run_id]).get(run_id, {})
        events = _events(q, "e.task_id IN (SELECT id FROM tasks WHERE run_id = :id)",
                         {"id": run_id}) if with_events else {}
        for tid, step, status, attempts, started, finished, cached_from, error, log in q.all(
                "SELECT id, step, status, attempts, started_at, finished_at, cached_from,"
                " error, log_path FROM tasks WHERE run_id = :id ORDER BY id", {"id": run_id}):
            ti = TaskInfo(tid, step, status, attempts, timestamp(started), timestamp(finished),
                          cached_from, error, log)
            ti.outputs = events.get((tid, "output"), {})
            ti.inputs = events.get((tid, "input"), {})
            info.tasks.append(ti)
    _reap(cat, [info])
    return info


def find_output(cat: Catalog, run: str, step: str, name: str | None = None) -> ArtifactRef:
    """An output of a recorded run's step: run id, prefix or 'latest'."""
    return get_run(cat, run).output(step, name)


def _per_run(q: Statements, sql: str, run_ids: list[str],
             decode: bool = False) -> dict[str, dict[str, Any]]:
    """{run id: {name: value}} from a (run_id, name, value) statement over `:ids`."""
    out: dict[str, dict[str, Any]] = {}
    if not run_ids:
        return out
    for run_id, name, value in q.all(sql, {"ids": run_ids}):
        out.setdefault(run_id, {})[name] = q.load_json(value) if decode else value
    return out


def _latest_metrics(q: Statements, run_ids: list[str]) -> dict[str, dict[str, float]]:
    """Each run's metrics, the last value recorded for each name."""
    return _per_run(q, "SELECT run_id, name, value FROM metrics WHERE id IN"
                       " (SELECT MAX(id) FROM metrics WHERE run_id IN :ids"
                       " GROUP BY run_id, name)", run_ids)


def _params(q: Statements, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    # The stored JSON, decoded here: casting to text in SQL lost digits, because SQLite keeps
    # a numeric JSON value as a REAL and prints 15 of them.
    return _per_run(q, "SELECT run_id, name, value FROM run_params WHERE run_id IN :ids",
                    run_ids, decode=True)


def _labels(q: Statements, run_ids: list[str]) -> dict[str, dict[str, str]]:
    return _per_run(q, "SELECT run_id, key, value FROM run_labels WHERE run_id IN :ids",
                    run_ids)


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
    with cat.sql(write=True) as q:
        if remove or put:
            q.all("DELETE FROM run_labels WHERE run_id = :id AND key IN :keys",
                  {"id": run_id, "keys": remove + list(put)})
        q.many("INSERT INTO run_labels (run_id, key, value) VALUES (:run_id, :key, :value)",
               [{"run_id": run_id, "key": k, "value": v} for k, v in put.items()])
        return _labels(q, [run_id]).get(run_id, {})


def set_archived(cat: Catalog, ref: str, archived: bool) -> None:
    """Archived runs leave the lists (unless asked for) and keep everything they hold."""
    run_id = resolve_run_id(cat, ref)
    with cat.sql(write=True) as q:
        q.all("UPDATE runs SET archived = :archived WHERE id = :id",
              {"archived": int(archived), "id": run_id})


def run_process(cat: Catalog, run_id: str) -> tuple[str, str, int | None]:
    """(status, host, pid) of a run: where to send a cancel."""
    with cat.sql() as q:
        row = q.first("SELECT status, host, pid FROM runs WHERE id = :id", {"id": run_id})
    if row is None:
        raise NotFoundError(f"no run '{run_id}'", hint="list runs with `kiln runs ls`")
    return row[0], row[1], row[2]


def delete_run(cat: Catalog, ref: str) -> str:
    """Delete a finished run's records (tasks, events, metrics, params, labels). Artifacts it
    made stay while another record references them; `kiln store gc` frees the rest."""
    run_id = resolve_run_id(cat, ref)
    with cat.sql(write=True) as q:
        status = q.scalar("SELECT status FROM runs WHERE id = :id", {"id": run_id})
        if status not in FINISHED:
            raise UserError(f"run {run_id} is still {status}", where="run",
                            hint="cancel it first (`kiln runs cancel`), then delete it")
        # children first: SQLite enforces ON DELETE CASCADE only with foreign keys turned on.
        # Every metric row carries its run_id, so the run_id delete covers step metrics too.
        for child in ("events", "task_volumes"):
            q.all(f"DELETE FROM {child} WHERE task_id IN"  # noqa: S608 - fixed names
                  " (SELECT id FROM tasks WHERE run_id = :id)", {"id": run_id})
        for table in ("metrics", "visuals", "run_params", "run_labels", "tasks"):
            q.all(f"DELETE FROM {table} WHERE run_id = :id", {"id": run_id})  # noqa: S608
        q.all("DELETE FROM runs WHERE id = :id", {"id": run_id})
    return run_id


_LIST_FILTERS = {"experiment": "e.name = :experiment", "status": "r.status = :status",
                 "pipeline": "r.pipeline_name = :pipeline", "before": "r.id < :before"}


def list_runs(cat: Catalog, *, limit: int = 50, experiment: str | None = None,
              status: str | None = None, pipeline: str | None = None,
              before: str | None = None, filter_text: str | None = None,
              sort: str | None = None, offset: int = 0,
              archived: bool | None = False) -> list[RunInfo]:
    """Newest first unless `sort` (see catalog.search). `before`: only runs older than this
    run id (ids are time-ordered), the keyset page token the REST API hands out; with `sort`
    pages go by `offset`."""
    from kiln.catalog import search

    clauses = search.Clauses()
    conditions = search.where(search.parse_filter(filter_text or ""), clauses)
    given = {"experiment": experiment, "status": status, "pipeline": pipeline,
             "before": before}
    conditions += [_LIST_FILTERS[k] for k, v in given.items() if v is not None]
    if archived is not None:
        conditions.append(f"r.archived = {int(archived)}")
    order = search.order(sort or None, clauses)
    sql = (f"SELECT {_RUN_COLUMNS} FROM runs r"  # noqa: S608 - our own clauses, values bound
           " LEFT OUTER JOIN experiments e ON r.experiment_id = e.id"
           + (" WHERE " + " AND ".join(conditions) if conditions else "")
           + f" ORDER BY {order} LIMIT :limit OFFSET :offset")
    params = {**clauses.params, **{k: v for k, v in given.items() if v is not None},
              "limit": limit, "offset": offset}
    with cat.sql() as q:
        runs = [_run_info(row) for row in q.all(sql, params)]
        if sort and runs:  # a misspelt sort key would sort nothing: say so
            search.check_sort(q, sort)
        ids = [r.id for r in runs]
        metrics, labels, values = _latest_metrics(q, ids), _labels(q, ids), _params(q, ids)
        for r in runs:
            r.metrics = metrics.get(r.id, {})
            r.labels = labels.get(r.id, {})
            r.params = values.get(r.id, {})
    _reap(cat, runs)
    return runs


def metric_series(cat: Catalog, run_id: str) -> list[tuple[str, str | None, float, int | None]]:
    """Every metric value of a run: (name, step name, value, series position)."""
    with cat.sql() as q:
        rows = q.all("SELECT m.name, t.step, m.value, m.step FROM metrics m"
                     " LEFT OUTER JOIN tasks t ON m.task_id = t.id"
                     " WHERE m.run_id = :id ORDER BY m.id", {"id": run_id})
    return [(n, st, v, i) for n, st, v, i in rows]


def list_experiments(cat: Catalog) -> list[dict[str, Any]]:
    """Each experiment with its number of runs, the latest run's time and status counts."""
    with cat.sql() as q:
        rows = q.all("SELECT e.name, e.created_at, r.status, COUNT(*), MAX(r.created_at)"
                     " FROM experiments e LEFT OUTER JOIN runs r ON r.experiment_id = e.id"
                     " GROUP BY e.id, r.status ORDER BY e.name")
    out: dict[str, dict[str, Any]] = {}
    for name, created, status, n, last in rows:
        e = out.setdefault(name, {"name": name,
                                  "created_at": _iso(timestamp(created)),
                                  "runs": 0, "statuses": {}, "last_run_at": None})
        if status is not None:
            e["runs"] += n
            e["statuses"][status] = n
            stamp = _iso(timestamp(last))
            e["last_run_at"] = max(e["last_run_at"] or stamp, stamp)
    return list(out.values())


def _iso(value: datetime | None) -> str:
    assert value is not None
    return value.isoformat() + "Z"
