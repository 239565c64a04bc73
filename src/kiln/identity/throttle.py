"""Sign-in throttling: after a few wrong passwords for a name, or from an address, further
attempts are refused for a time that doubles with each failure (up to 15 minutes), and each
failure is logged. The count is kept in the catalog, so it holds across server restarts and
across the processes of one server."""

from __future__ import annotations

import logging
from datetime import timedelta

from kiln.catalog.db import Catalog, now
from kiln.catalog.sql import timestamp
from kiln.errors import TooManyAttempts

FREE_FAILURES = 3  # wrong passwords for one name before any wait (typos happen)
FREE_PER_ADDRESS = 10  # from one address, which may be a whole office behind one NAT
MAX_WAIT = 15 * 60
FORGET_AFTER = timedelta(hours=1)  # a count this old starts again

log = logging.getLogger("kiln.auth")


def _keys(name: str, address: str) -> list[str]:
    return [f"user:{name[:150]}", f"address:{address[:60]}"]


def wait_for(count: int, free: int = FREE_FAILURES) -> int:
    """Seconds to wait after `count` failures: 0, then 1, 2, 4, ... up to MAX_WAIT."""
    if count < free:
        return 0
    return int(min(2 ** min(count - free, 20), MAX_WAIT))


def check(cat: Catalog, name: str, address: str) -> None:
    """TooManyAttempts if this name or address must still wait."""
    ts = now()
    with cat.sql() as q:
        rows = q.all("SELECT key, count, last_at FROM login_failures WHERE key IN :k",
                     {"k": _keys(name, address)})
    for key, count, last in rows:
        last_at = timestamp(last)
        assert last_at is not None
        if ts - last_at > FORGET_AFTER:
            continue
        free = FREE_PER_ADDRESS if key.startswith("address:") else FREE_FAILURES
        left = wait_for(int(count), free) - (ts - last_at).total_seconds()
        if left > 0:
            log.warning("sign-in refused for %s: %d wrong passwords, %.0f s to wait",
                        key, count, left)
            raise TooManyAttempts(f"too many wrong passwords; try again in {int(left) + 1} s",
                                  retry_after=int(left) + 1, where="password",
                                  hint="wait, or ask a server admin to set a new password")


def failed(cat: Catalog, name: str, address: str) -> None:
    ts = now()
    with cat.sql(write=True) as q:
        for key in _keys(name, address):
            row = q.first("SELECT count, last_at FROM login_failures WHERE key = :k", {"k": key})
            last_at = timestamp(row[1]) if row else None
            count = 1 if row is None or last_at is None or ts - last_at > FORGET_AFTER \
                else int(row[0]) + 1
            q.all("DELETE FROM login_failures WHERE key = :k", {"k": key})
            q.all("INSERT INTO login_failures (key, count, last_at) VALUES (:k, :c, :ts)",
                  {"k": key, "c": count, "ts": ts})
            log.warning("wrong password for %s (%d in a row)", key, count)


def succeeded(cat: Catalog, name: str) -> None:
    with cat.sql(write=True) as q:
        q.all("DELETE FROM login_failures WHERE key = :k", {"k": _keys(name, "")[0]})
