"""Scheduled snapshots, taken by `kiln scheduler` (a long-running process, kiln.scheduler).

A volume is due when its interval or cron time has passed since its last scheduled snapshot.
After downtime a due volume gets one snapshot, not one per missed slot (no catch-up storm),
and a volume whose snapshot is still running is skipped, never snapshotted twice at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from kiln.catalog import volumes as records
from kiln.catalog.volumes import VolumeInfo
from kiln.errors import KilnError, UserError
from kiln.runtime import Runtime
from kiln.schedules_time import check_cron, next_time, parse_interval

SCHEDULED_TAG = "scheduled"


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
    return next_time(last or vol.created_at, every=vol.schedule.get("every"),
                     cron=vol.schedule.get("cron"))


def _last_scheduled(rt: Runtime, volume: str) -> datetime | None:
    for s in records.list_snapshots(rt.catalog, volume):
        if SCHEDULED_TAG in s.tags:
            return s.created_at
    return None


def tick(rt: Runtime, log: Callable[[str], None] = print) -> list[str]:
    """Take every due snapshot once; returns the volumes snapshotted."""
    from kiln.catalog.db import now
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
