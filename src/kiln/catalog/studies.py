"""Reading and writing tuning studies and their trials (the CLI, Python API and REST share these).

A trial row is written when the trial starts and rewritten whole when it ends, so a study
killed at any point shows finished trials as they were and the rest as `running`, which
`kiln tune --resume` turns into `failed` and queues again.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from kiln.catalog.db import Catalog, now
from kiln.catalog.refs import resolve_ref
from kiln.catalog.runs import new_run_id
from kiln.catalog.schema import Run, Study, Trial
from kiln.errors import UserError

TRIAL_STATES = ("running", "complete", "pruned", "failed")


@dataclass
class TrialInfo:
    number: int
    state: str
    params: dict[str, Any]
    value: float | None
    metrics: dict[str, float]
    intermediate: list[list[float]]
    run_id: str | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None

    @property
    def duration(self) -> float | None:
        if self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "state": self.state, "value": self.value,
                "params": self.params, "metrics": self.metrics, "run": self.run_id,
                "error": self.error, "intermediate": self.intermediate,
                "started_at": self.started_at.isoformat() + "Z",
                "duration": self.duration}


@dataclass
class StudyInfo:
    id: str
    name: str
    kind: str
    pipeline: str
    source: str
    status: str
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    config: dict[str, Any]
    host: str
    pid: int | None
    spec_json: str = ""
    trials: list[TrialInfo] = field(default_factory=list)

    @property
    def direction(self) -> str:
        return str(self.config.get("objective", {}).get("type", "maximize"))

    @property
    def metric(self) -> str:
        return str(self.config.get("objective", {}).get("objectiveMetricName", ""))

    def best(self) -> TrialInfo | None:
        done = [t for t in self.trials if t.state == "complete" and t.value is not None]
        if not done:
            return None
        # the best value; on a tie the earliest trial, as the live progress counts it
        sign = 1.0 if self.direction == "maximize" else -1.0
        return max(done, key=lambda t: (sign * (t.value or 0.0), -t.number))

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(TRIAL_STATES, 0)
        for t in self.trials:
            out[t.state] = out.get(t.state, 0) + 1
        return out

    def to_dict(self, *, with_trials: bool = True) -> dict[str, Any]:
        """`with_trials=False`: the summary a study list shows."""
        best = self.best()
        out = {
            "id": self.id, "name": self.name, "kind": self.kind, "pipeline": self.pipeline,
            "source": self.source, "status": self.status, "error": self.error,
            "created_at": self.created_at.isoformat() + "Z",
            "finished_at": self.finished_at.isoformat() + "Z" if self.finished_at else None,
            "objective": self.config.get("objective"), "algorithm": self.config.get("algorithm"),
            "config": self.config, "counts": self.counts(),
            "best": None if best is None else {"number": best.number, "value": best.value,
                                               "params": best.params, "run": best.run_id,
                                               "metrics": best.metrics},
        }
        if with_trials:
            out["trials"] = [t.to_dict() for t in self.trials]
        return out


def create_study(cat: Catalog, *, name: str | None, kind: str, pipeline: str, source: str,
                 spec_json: str, config: dict[str, Any]) -> StudyInfo:
    study_id = new_run_id()
    name = name or f"{pipeline}-{study_id[-5:]}"
    with cat.write() as s:
        if s.scalar(select(Study.id).where(Study.name == name)) is not None:
            raise UserError(f"a study named '{name}' already exists",
                            hint=f"continue it with `kiln tune --resume {name}`, or pick "
                                 "another --name")
        s.add(Study(id=study_id, name=name, kind=kind, pipeline_name=pipeline, source=source,
                    spec_json=spec_json, config_json=json.dumps(config), status="running",
                    created_at=now(), host=socket.gethostname(), pid=os.getpid()))
    return get_study(cat, study_id)


def claim_study(cat: Catalog, study_id: str) -> None:
    """This process now runs the study (after a resume)."""
    with cat.write() as s:
        s.execute(update(Study).where(Study.id == study_id).values(
            status="running", finished_at=None, error=None, host=socket.gethostname(),
            pid=os.getpid()))


def start_trial(cat: Catalog, study_id: str, number: int, params: dict[str, Any]) -> None:
    with cat.write() as s:
        s.add(Trial(study_id=study_id, number=number, state="running", params=params,
                    metrics={}, intermediate=[], started_at=now()))


def set_trial_run(cat: Catalog, study_id: str, number: int, run_id: str) -> None:
    with cat.write() as s:
        s.execute(update(Trial).where(Trial.study_id == study_id, Trial.number == number)
                  .values(run_id=run_id))


def finish_trial(cat: Catalog, study_id: str, number: int, *, state: str, value: float | None,
                 metrics: dict[str, float], intermediate: list[list[float]],
                 error: str | None = None) -> None:
    assert state in TRIAL_STATES
    with cat.write() as s:
        s.execute(update(Trial).where(Trial.study_id == study_id, Trial.number == number)
                  .values(state=state, value=value, metrics=metrics, intermediate=intermediate,
                          error=error, finished_at=now()))


def add_finished_trial(cat: Catalog, study_id: str, number: int, *, state: str,
                       params: dict[str, Any], value: float | None, metrics: dict[str, float],
                       started_at: datetime, error: str | None = None,
                       run_id: str | None = None) -> None:
    """A trial recorded whole after the fact (AutoML candidates)."""
    with cat.write() as s:
        s.add(Trial(study_id=study_id, number=number, state=state, params=params, value=value,
                    metrics=metrics, intermediate=[], run_id=run_id, error=error,
                    started_at=started_at, finished_at=now()))


def interrupt_running(cat: Catalog, study_id: str) -> list[TrialInfo]:
    """Mark trials (and their runs) left `running` by a dead process as failed; return them."""
    reason = "interrupted: the process running the study stopped"
    with cat.write() as s:
        rows = s.scalars(select(Trial).where(Trial.study_id == study_id,
                                             Trial.state == "running")).all()
        for t in rows:
            t.state, t.error, t.finished_at = "failed", reason, now()
            if t.run_id:
                s.execute(update(Run).where(Run.id == t.run_id, Run.status == "running")
                          .values(status="failed", error=reason, finished_at=now()))
        return [_trial_info(t) for t in rows]


def finish_study(cat: Catalog, study_id: str, status: str, error: str | None = None) -> None:
    with cat.write() as s:
        s.execute(update(Study).where(Study.id == study_id).values(
            status=status, error=error, finished_at=now()))


def resolve_study_id(cat: Catalog, ref: str) -> str:
    """A study by name, id, unique id prefix, or 'latest'."""
    return resolve_ref(cat, ref, id_col=Study.id, created_col=Study.created_at, noun="study",
                       name_col=Study.name, start_hint="start one with `kiln tune`",
                       list_hint="list studies with `kiln tune ls`",
                       ambiguous_hint="give the study's name")


def get_study(cat: Catalog, ref: str) -> StudyInfo:
    study_id = resolve_study_id(cat, ref)
    with cat.read() as s:
        st = s.get(Study, study_id)
        assert st is not None
        info = _study_info(st)
        info.spec_json = st.spec_json
        info.trials = [_trial_info(t) for t in s.scalars(
            select(Trial).where(Trial.study_id == study_id).order_by(Trial.number))]
    return info


def study_of_run(cat: Catalog, run_id: str) -> dict[str, Any] | None:
    """The study a run is a trial of, as {"name", "id", "trial"}; None for other runs."""
    with cat.sql() as q:
        row = q.first("SELECT s.name, s.id, t.number FROM trials t JOIN studies s"
                      " ON t.study_id = s.id WHERE t.run_id = :id", {"id": run_id})
    return None if row is None else {"name": row[0], "id": row[1], "trial": row[2]}


def list_studies(cat: Catalog, *, limit: int = 50, kind: str | None = None) -> list[StudyInfo]:
    with cat.read() as s:
        q = select(Study).order_by(Study.created_at.desc(), Study.id.desc()).limit(limit)
        if kind:
            q = q.where(Study.kind == kind)
        studies = [_study_info(st) for st in s.scalars(q)]
        ids = [st.id for st in studies]
        by_study: dict[str, list[TrialInfo]] = {}
        for t in s.scalars(select(Trial).where(Trial.study_id.in_(ids)).order_by(Trial.number)):
            by_study.setdefault(t.study_id, []).append(_trial_info(t))
    for st in studies:
        st.trials = by_study.get(st.id, [])
    return studies


def _study_info(st: Study) -> StudyInfo:
    return StudyInfo(st.id, st.name, st.kind, st.pipeline_name, st.source, st.status,
                     st.created_at, st.finished_at, st.error, json.loads(st.config_json),
                     st.host, st.pid)


def _trial_info(t: Trial) -> TrialInfo:
    return TrialInfo(t.number, t.state, dict(t.params or {}), t.value,  # type: ignore[call-overload]
                     dict(t.metrics or {}), list(t.intermediate or []),  # type: ignore[call-overload]
                     t.run_id, t.error, t.started_at, t.finished_at)
