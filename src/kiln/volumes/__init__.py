"""Volumes and their snapshots: `kiln.volumes.create("data")`, `kiln.volumes.snapshot("data")`.

The same functions back `kiln volume`, `kiln snapshot` and the REST API. They load on first use
(PEP 562): importing one light module of this package does not load the catalog.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiln.volumes.schedules import set_schedule
    from kiln.volumes.snapshots import create as snapshot
    from kiln.volumes.snapshots import (
        diff,
        list_snapshots,
        open_file,
        prune,
        restore,
        set_retention,
    )
    from kiln.volumes.snapshots import get as get_snapshot
    from kiln.volumes.snapshots import read as read_snapshot_file
    from kiln.volumes.volumes import (
        create,
        files,
        get,
        get_file,
        list_volumes,
        mv,
        put,
        put_bytes,
        remove,
        rm,
        root,
    )

_WHERE = {
    "set_schedule": ("schedules", "set_schedule"),
    "snapshot": ("snapshots", "create"),
    "diff": ("snapshots", "diff"),
    "open_file": ("snapshots", "open_file"),
    "prune": ("snapshots", "prune"),
    "restore": ("snapshots", "restore"),
    "set_retention": ("snapshots", "set_retention"),
    "get_snapshot": ("snapshots", "get"),
    "list_snapshots": ("snapshots", "list_snapshots"),
    "read_snapshot_file": ("snapshots", "read"),
    **{n: ("volumes", n) for n in ("create", "files", "get", "get_file", "list_volumes", "mv",
                                   "put", "put_bytes", "remove", "rm", "root")},
}

__all__ = [  # literal, so linters and type checkers see it (a test keeps it equal to _WHERE)
    "create",
    "diff",
    "files",
    "get",
    "get_file",
    "get_snapshot",
    "list_snapshots",
    "list_volumes",
    "mv",
    "open_file",
    "prune",
    "put",
    "put_bytes",
    "read_snapshot_file",
    "remove",
    "restore",
    "rm",
    "root",
    "set_retention",
    "set_schedule",
    "snapshot",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        module, attr = _WHERE[name]
        value = getattr(importlib.import_module(f"kiln.volumes.{module}"), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kiln.volumes' has no attribute '{name}'")
