"""Schedule records: recurring runs of a pipeline (kiln.engine.recurring starts them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from kiln import names
from kiln.catalog.db import Catalog, now
from kiln.catalog.refs import missing
from kiln.catalog.schema import Schedule
from kiln.errors import UserError


@dataclass
class ScheduleInfo:
    name: str
    pipeline: str
    version: int | None
    params: dict[str, Any]
    experiment: str | None
    every: int | None
    cron: str | None
    max_concurrency: int
    paused: bool
    created_at: datetime
    last_started_at: datetime | None
    last_run_id: str | None
    last_error: str | None

    @property
    def when(self) -> str:
        from kiln.schedules_time import format_interval

        return f"every {format_interval(self.every)}" if self.every else f"cron {self.cron}"

    def to_dict(self) -> dict[str, Any]:
        def stamp(d: datetime | None) -> str | None:
            return d.isoformat() + "Z" if d else None

        return {"name": self.name, "pipeline": self.pipeline, "version": self.version,
                "params": self.params, "experiment": self.experiment, "every": self.every,
                "when": self.when, "cron": self.cron, "max_concurrency": self.max_concurrency,
                "paused": self.paused, "created_at": stamp(self.created_at),
                "last_started_at": stamp(self.last_started_at),
                "last_run_id": self.last_run_id, "last_error": self.last_error}


def _info(s: Schedule) -> ScheduleInfo:
    return ScheduleInfo(s.name, s.pipeline, s.version, dict(s.params or {}),  # type: ignore[call-overload]
                        s.experiment, s.every, s.cron, s.max_concurrency, bool(s.paused),
                        s.created_at, s.last_started_at, s.last_run_id, s.last_error)


def check_name(name: str) -> str:
    return names.check_name("schedule", name)


def add_schedule(cat: Catalog, name: str, *, pipeline: str, version: int | None,
                 params: dict[str, Any], experiment: str | None, every: int | None,
                 cron: str | None, max_concurrency: int) -> ScheduleInfo:
    check_name(name)
    with cat.write() as s:
        if s.scalar(select(Schedule.id).where(Schedule.name == name)) is not None:
            raise UserError(f"a schedule named '{name}' exists", where="name",
                            hint="pick another name, or remove it with `kiln schedule rm`")
        row = Schedule(name=name, pipeline=pipeline, version=version, params=params,
                       experiment=experiment, every=every, cron=cron,
                       max_concurrency=max_concurrency, paused=0, created_at=now())
        s.add(row)
        s.flush()
        return _info(row)


def list_schedules(cat: Catalog) -> list[ScheduleInfo]:
    with cat.read() as s:
        return [_info(x) for x in s.scalars(select(Schedule).order_by(Schedule.name))]


def get_schedule(cat: Catalog, name: str) -> ScheduleInfo:
    with cat.read() as s:
        row = s.scalar(select(Schedule).where(Schedule.name == name))
        if row is None:
            raise missing(s, Schedule.name, name, "schedule",
                          "list them with `kiln schedule ls`", where="name")
        return _info(row)


def set_paused(cat: Catalog, name: str, paused: bool) -> ScheduleInfo:
    get_schedule(cat, name)
    with cat.write() as s:
        s.execute(update(Schedule).where(Schedule.name == name).values(paused=int(paused)))
    return get_schedule(cat, name)


def record_start(cat: Catalog, name: str, at: datetime, run_id: str | None,
                 error: str | None) -> None:
    """The scheduler fired `name` at `at`: the run it started, or why none started."""
    with cat.write() as s:
        values: dict[str, Any] = {"last_started_at": at, "last_error": error}
        if run_id:
            values["last_run_id"] = run_id
        s.execute(update(Schedule).where(Schedule.name == name).values(**values))


def delete_schedule(cat: Catalog, name: str) -> None:
    """Stops future runs; runs it started stay (with their schedule label)."""
    get_schedule(cat, name)
    with cat.write() as s:
        s.execute(delete(Schedule).where(Schedule.name == name))
