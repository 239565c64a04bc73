"""The catalog: every record (runs, tasks, artifacts, lineage events, metrics) in one database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiln.catalog.db import Catalog
    from kiln.catalog.runs import RunInfo, TaskInfo, get_run, list_runs, resolve_run_id

__all__ = ["Catalog", "RunInfo", "TaskInfo", "get_run", "list_runs", "resolve_run_id"]


def __getattr__(name: str) -> Any:
    # Resolved on first use: importing kiln.catalog.volumes (the snapshot path) must not load
    # catalog.runs, whose ORM classes cost 0.3 s of a cold start.
    if name == "Catalog":
        from kiln.catalog.db import Catalog

        return Catalog
    if name in __all__:
        from kiln.catalog import runs

        return getattr(runs, name)
    raise AttributeError(f"module 'kiln.catalog' has no attribute '{name}'")
