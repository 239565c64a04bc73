"""Recurring runs: a pipeline uploaded with `kiln pipeline upload`, started by the scheduler
every interval or on a cron schedule (`kiln schedule create|ls|pause|resume|rm`).

A schedule fires when its next slot after the last start has passed. After downtime it fires
once, and the next slot is counted from then: no catch-up storm. While `max_concurrency` of its
runs are still running it waits, and fires once one ends. Its runs are ordinary background
runs (kiln.engine.launch) with the label schedule=NAME, so `kiln runs ls --filter
"labels.schedule = NAME"` lists them.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from kiln.catalog import schedules as records
from kiln.catalog.db import now
from kiln.catalog.schedules import ScheduleInfo
from kiln.catalog.schema import Run, RunLabel
from kiln.errors import KilnError, UserError
from kiln.processes import pid_alive
from kiln.runtime import Runtime
from kiln.schedules_time import check_cron, next_time, parse_interval

LABEL = "schedule"


def create(name: str, pipeline: str, *, every: str | None = None, cron: str | None = None,
           version: int | None = None, params: dict[str, Any] | None = None,
           experiment: str | None = None, max_concurrency: int = 1,
           rt: Runtime | None = None) -> ScheduleInfo:
    """Checked whole before it is recorded: the pipeline and version exist, the parameters fit
    the pipeline's types, and the interval or cron expression reads."""
    from kiln.catalog import pipelines
    from kiln.engine import versions
    from kiln.engine.targets import load_spec
    from kiln.spec.params import convert

    rt = rt or Runtime.open()
    records.check_name(name)
    if (every is None) == (cron is None):
        raise UserError("give either --every or --cron", where="every",
                        hint='e.g. --every 1h, or --cron "0 3 * * *" (03:00 UTC daily)')
    seconds = parse_interval(every) if every is not None else None
    expr = check_cron(cron) if cron is not None else None
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) \
            or not 1 <= max_concurrency <= 100:
        raise UserError(f"max concurrency must be 1-100, got {max_concurrency!r}",
                        where="max_concurrency")
    v = pipelines.get_version(rt.catalog, pipeline, version)
    # Stored as given by the user; converting checks them against the pipeline's types now.
    convert(load_spec(versions.target(v, rt)), params or {})
    return records.add_schedule(rt.catalog, name, pipeline=pipeline, version=version,
                                params=params or {}, experiment=experiment, every=seconds,
                                cron=expr, max_concurrency=max_concurrency)


def next_start(sch: ScheduleInfo) -> datetime | None:
    """When the schedule next starts a run (UTC, naive like the catalog); None while paused."""
    if sch.paused:
        return None
    return next_time(sch.last_started_at or sch.created_at, every=sch.every, cron=sch.cron)


def due(sch: ScheduleInfo) -> bool:
    at = next_start(sch)
    return at is not None and at <= now()


def running(rt: Runtime, name: str) -> int:
    """This schedule's runs still running. A run on this machine whose process is gone (killed
    with its machine's power, say) no longer counts, or it would hold the schedule forever."""
    with rt.catalog.read() as s:
        rows = s.execute(select(Run.host, Run.pid).join(RunLabel, RunLabel.run_id == Run.id)
                         .where(RunLabel.key == LABEL, RunLabel.value == name,
                                Run.status == "running")).all()
    here = socket.gethostname()
    # No pid yet means the run is just starting: it counts.
    return sum(1 for host, pid in rows if host != here or pid is None or pid_alive(pid))


def fire(rt: Runtime, sch: ScheduleInfo) -> str:
    """Start one run of the schedule now; returns its id."""
    from kiln.engine import launch

    return launch.run_version(sch.pipeline, sch.version, sch.params,
                              experiment=sch.experiment, labels={LABEL: sch.name}, rt=rt)


def tick(rt: Runtime, log: Callable[[str], None] = print) -> list[str]:
    """Start every due schedule's run once; returns the run ids started."""
    started = []
    for sch in records.list_schedules(rt.catalog):
        if not due(sch):
            continue
        busy = running(rt, sch.name)
        if busy >= sch.max_concurrency:
            continue  # fires once a run ends; the slot is not recorded, so none is lost
        at = now()
        try:
            run_id = fire(rt, sch)
        except KilnError as e:
            # Recorded as this slot's start, so a broken schedule retries at its next slot
            # instead of at every poll.
            records.record_start(rt.catalog, sch.name, at, None, str(e))
            log(f"schedule {sch.name}: could not start a run: {e}")
            continue
        records.record_start(rt.catalog, sch.name, at, run_id, None)
        log(f"schedule {sch.name}: started run {run_id}")
        started.append(run_id)
    return started
