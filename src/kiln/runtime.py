"""The state one process works with: KILN_HOME, its catalog and its store, opened once."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

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
        return _open_cached(home.root.as_posix(), home.catalog_url, home.store_location)


@functools.lru_cache(maxsize=8)
def _open_cached(root: str, url: str, store: str) -> Runtime:
    home = Home(Path(root))
    return Runtime(home, Catalog(url, lock_dir=home.root), Store(store, home.cache_dir))
