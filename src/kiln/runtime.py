"""The state one process works with: KILN_HOME, its catalog and its store, opened once."""

from __future__ import annotations

from dataclasses import dataclass

from kiln.catalog.db import Catalog
from kiln.home import Home
from kiln.store.store import Store


@dataclass
class Runtime:
    home: Home
    catalog: Catalog
    store: Store

    @classmethod
    def open(cls, home: Home | None = None) -> Runtime:
        home = (home or Home.default()).ensure()
        return _open_cached(home, home.catalog_url, home.store_location)


_OPEN: dict[tuple[Home, str, str], Runtime] = {}
_MAX_OPEN = 8


def _open_cached(home: Home, url: str, store: str) -> Runtime:
    key = (home, url, store)
    rt = _OPEN.get(key)
    if rt is None:
        rt = Runtime(home, Catalog(url, lock_dir=home.root, schema=home.catalog_schema),
                     Store(store, home.cache_dir))
        while len(_OPEN) >= _MAX_OPEN:  # the oldest goes, its connections closed with it
            _OPEN.pop(next(iter(_OPEN))).catalog.close()
        _OPEN[key] = rt
    return rt


def close_all() -> None:
    """Close every opened runtime's database connections and forget them."""
    while _OPEN:
        _OPEN.popitem()[1].catalog.close()


def forget_after_fork() -> None:
    """In a forked child: drop the parent's pooled connections without closing them (closing
    a PostgreSQL connection would end it for the parent too); the child opens its own."""
    while _OPEN:
        _OPEN.popitem()[1].catalog.forget_connections()
