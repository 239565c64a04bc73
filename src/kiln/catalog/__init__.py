"""The catalog: every record (runs, tasks, artifacts, lineage events, metrics) in one database."""

from kiln.catalog.db import Catalog
from kiln.catalog.runs import RunInfo, TaskInfo, get_run, list_runs, resolve_run_id

__all__ = ["Catalog", "RunInfo", "TaskInfo", "get_run", "list_runs", "resolve_run_id"]
