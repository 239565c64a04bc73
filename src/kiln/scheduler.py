"""The scheduler: one loop (`kiln scheduler`, or a thread of `kiln server`) that takes due
volume snapshots (kiln.volumes.schedules) and starts due recurring runs
(kiln.engine.recurring). Both share how an interval or cron schedule is read and when it is
next due: after downtime a schedule fires once, not once per missed slot (no catch-up storm).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from kiln.errors import UserError
from kiln.home import DEFAULT_NAMESPACE
from kiln.runtime import Runtime

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


def next_time(start: datetime, *, every: int | None = None, cron: str | None = None) -> datetime:
    """The first slot after `start` (UTC, naive like the catalog)."""
    if every:
        return start + timedelta(seconds=int(every))
    from croniter import croniter

    return croniter(cron, start).get_next(datetime)  # type: ignore[no-any-return]


def tick(rt: Runtime, log: Callable[[str], None] = print) -> None:
    """Everything due, once, in every namespace: volume snapshots, then recurring runs."""
    from kiln.engine import recurring
    from kiln.volumes import schedules

    for ns in rt.home.namespaces():
        here = rt if ns == rt.home.namespace else Runtime.open(rt.home.for_namespace(ns))
        say = log if ns == DEFAULT_NAMESPACE else (lambda m, ns=ns: log(f"[{ns}] {m}"))
        schedules.tick(here, say)
        recurring.tick(here, say)


def run_scheduler(rt: Runtime | None = None, *, poll: float = 5.0,
                  log: Callable[[str], None] = print,
                  stop: Callable[[], bool] = lambda: False) -> None:
    rt = rt or Runtime.open()
    while not stop():
        tick(rt, log)
        deadline = time.monotonic() + poll
        while not stop() and time.monotonic() < deadline:
            time.sleep(min(0.2, poll))
