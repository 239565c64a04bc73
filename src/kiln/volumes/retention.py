"""Which snapshots a retention policy keeps — restic's `forget` rules.

keep_last N keeps the newest N. keep_hourly/daily/weekly/monthly/yearly N keep the newest
snapshot in each of the newest N hours/days/... that have one. keep_tags keeps every snapshot
carrying one of the tags. A snapshot kept by any rule stays; the reasons are reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from kiln.catalog.volumes import SnapshotInfo
from kiln.errors import UserError

_BUCKETS: dict[str, Callable[[datetime], Any]] = {
    "hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: t.isocalendar()[:2],
    "monthly": lambda t: (t.year, t.month),
    "yearly": lambda t: t.year,
}
KEYS = ("keep_last", *(f"keep_{b}" for b in _BUCKETS), "keep_tags")


def check_policy(policy: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in policy.items():
        if key not in KEYS:
            raise UserError(f"unknown retention rule '{key}'", where=key,
                            hint=f"rules are: {', '.join(KEYS)}")
        if key == "keep_tags":
            if isinstance(value, str):
                value = [t for t in value.split(",") if t]
            if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                raise UserError("keep_tags must be a list of tags", where=key)
            if value:
                out[key] = value
        elif value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{key} must be a whole number of at least 1, not {value!r}",
                                where=key)
            out[key] = value
    return out


def decide(snapshots: Sequence[SnapshotInfo], policy: dict[str, Any]) -> dict[str, list[str]]:
    """Snapshot id -> why it is kept, for the kept ones. `snapshots` newest first."""
    policy = check_policy(policy)
    keep: dict[str, list[str]] = {}
    if "keep_last" in policy:
        for s in snapshots[:policy["keep_last"]]:
            keep.setdefault(s.id, []).append("last")
    for name, bucket in _BUCKETS.items():
        n = policy.get(f"keep_{name}")
        if not n:
            continue
        seen: set[Any] = set()
        for s in snapshots:
            b = bucket(s.created_at)
            if b in seen:
                continue
            if len(seen) >= n:
                break
            seen.add(b)
            keep.setdefault(s.id, []).append(name)
    tags = set(policy.get("keep_tags", []))
    for s in snapshots:
        hit = tags.intersection(s.tags)
        if hit:
            keep.setdefault(s.id, []).append("tag " + ",".join(sorted(hit)))
    return keep
