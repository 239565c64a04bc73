"""Scheduled snapshots, taken by `kiln scheduler` (a long-running process).

A volume is due when its interval or cron time has passed since its last scheduled snapshot.
After downtime a due volume gets one snapshot, not one per missed slot (no catch-up storm),
and a volume whose snapshot is still running is skipped, never snapshotted twice at once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from kiln.catalog import volumes as records
from kiln.catalog.volumes import VolumeInfo
from kiln.errors import KilnError, UserError
from kiln.runtime import Runtime

SCHEDULED_TAG = "scheduled"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text or "")
    if not m or int(m.group(1)) == 0:
        raise UserError(f"'{text}' is not an interval", where="--every",
                        hint="write a whole number and a unit: 90s, 30m, 1h, 1d")
    return int(m.group(1)) * _UNITS[m.group(2)]


def check_cron(expr: str) -> str:
    from croniter import croniter

    if not croniter.is_valid(expr):
        raise UserError(f"'{expr}' is not a cron expression", where="--cron",
                        hint='five fields: minute hour day month weekday, e.g. "0 * * * *"')
    return expr


def set_schedule(volume: str, *, every: str | None = None, cron: str | None = None,
                 off: bool = False, rt: Runtime | None = None) -> VolumeInfo:
    rt = rt or Runtime.open()
    if off:
        sch: dict[str, Any] = {}
    elif (every is None) == (cron is None):
        raise UserError("give either --every or --cron (or --off)")
    else:
        sch = {"every": parse_interval(every)} if every else {"cron": check_cron(cron or "")}
    return records.set_volume(rt.catalog, volume, schedule=sch)


def next_due(vol: VolumeInfo, last: datetime | None) -> datetime:
    """When the volume's next scheduled snapshot is due (UTC, naive like the catalog)."""
    start = last or vol.created_at
    if "every" in vol.schedule:
        return start + timedelta(seconds=int(vol.schedule["every"]))
    from croniter import croniter

    return croniter(vol.schedule["cron"], start).get_next(datetime)  # type: ignore[no-any-return]


def _last_scheduled(rt: Runtime, volume: str) -> datetime | None:
    for s in records.list_snapshots(rt.catalog, volume):
        if SCHEDULED_TAG in s.tags:
            return s.created_at
    return None


def tick(rt: Runtime, log: Callable[[str], None] = print) -> list[str]:
    """Take every due snapshot once; returns the volumes snapshotted."""
    from kiln.catalog.runs import now
    from kiln.volumes import snapshots

    done = []
    for vol in records.list_volumes(rt.catalog):
        if not vol.schedule or next_due(vol, _last_scheduled(rt, vol.name)) > now():
            continue
        with snapshots.volume_lock(rt, vol.name, wait=False) as free:
            if not free:
                log(f"{vol.name}: a snapshot is still running; skipped")
                continue
        try:
            snap = snapshots.create(vol.name, "scheduled", [SCHEDULED_TAG], rt=rt)
            log(f"{vol.name}: snapshot {snap.short} ({snap.files} files, "
                f"{snap.added} new bytes)")
            if vol.retention:
                plan = snapshots.prune(vol.name, rt=rt)
                if plan.remove:
                    log(f"{vol.name}: pruned {len(plan.remove)} snapshots")
            done.append(vol.name)
        except KilnError as e:
            log(f"{vol.name}: snapshot failed: {e}")
    return done


def run_scheduler(rt: Runtime | None = None, *, poll: float = 5.0,
                  log: Callable[[str], None] = print, stop: Callable[[], bool] = lambda: False) -> None:
    rt = rt or Runtime.open()
    while not stop():
        tick(rt, log)
        deadline = time.monotonic() + poll
        while not stop() and time.monotonic() < deadline:
            time.sleep(min(0.2, poll))
