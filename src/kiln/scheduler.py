"""The scheduler: one loop (`kiln scheduler`, or a thread of `kiln server`) that takes due
volume snapshots (kiln.volumes.schedules), starts due recurring runs (kiln.engine.recurring)
and brings subscriptions to their buckets' newest versions (kiln.registry.sync).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kiln.home import DEFAULT_NAMESPACE
from kiln.runtime import Runtime


def tick(rt: Runtime, log: Callable[[str], None] = print) -> None:
    """Everything due, once, in every namespace: volume snapshots, recurring runs, then
    subscriptions to registry buckets."""
    from kiln.engine import recurring
    from kiln.registry import sync
    from kiln.volumes import schedules

    for ns in rt.home.namespaces():
        here = rt if ns == rt.home.namespace else Runtime.open(rt.home.for_namespace(ns))
        say = log if ns == DEFAULT_NAMESPACE else (lambda m, ns=ns: log(f"[{ns}] {m}"))
        schedules.tick(here, say)
        recurring.tick(here, say)
        sync.tick(here, say)


def run_scheduler(rt: Runtime | None = None, *, poll: float = 5.0,
                  log: Callable[[str], None] = print,
                  stop: Callable[[], bool] = lambda: False) -> None:
    rt = rt or Runtime.open()
    while not stop():
        tick(rt, log)
        deadline = time.monotonic() + poll
        while not stop() and time.monotonic() < deadline:
            time.sleep(min(0.2, poll))
