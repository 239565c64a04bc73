"""How an interval or cron schedule is read and when it is next due: one rule for volume
snapshot schedules (kiln.volumes.schedules) and recurring runs (kiln.engine.recurring).
After downtime a schedule fires once, not once per missed slot (no catch-up storm)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from kiln.errors import UserError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text or "")
    if not m or int(m.group(1)) == 0:
        raise UserError(f"'{text}' is not an interval", where="--every",
                        hint="write a whole number and a unit: 90s, 30m, 1h, 1d")
    return int(m.group(1)) * _UNITS[m.group(2)]


def format_interval(seconds: int) -> str:
    """Seconds as the user would have typed them: 3600 -> "1h", 5400 -> "90m", 90 -> "90s"."""
    for unit, size in sorted(_UNITS.items(), key=lambda u: -u[1]):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def check_cron(expr: str) -> str:
    from croniter import croniter

    if not croniter.is_valid(expr):
        raise UserError(f"'{expr}' is not a cron expression", where="--cron",
                        hint='five fields: minute hour day month weekday, e.g. "0 * * * *"')
    return expr


def next_time(start: datetime, *, every: int | None = None, cron: str | None = None) -> datetime:
    """The first slot after `start` (UTC, naive like the catalog)."""
    if every:
        return start + timedelta(seconds=int(every))
    from croniter import croniter

    return croniter(cron, start).get_next(datetime)  # type: ignore[no-any-return]
