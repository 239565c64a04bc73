"""Volumes and their snapshots: `kiln.volumes.create("data")`, `kiln.volumes.snapshot("data")`.

The same functions back `kiln volume`, `kiln snapshot` and the REST API.
"""

from kiln.volumes.schedules import set_schedule
from kiln.volumes.snapshots import create as snapshot
from kiln.volumes.snapshots import diff, open_file, prune, restore, set_retention
from kiln.volumes.snapshots import get as get_snapshot
from kiln.volumes.snapshots import list_snapshots
from kiln.volumes.snapshots import read as read_snapshot_file
from kiln.volumes.volumes import (create, files, get, get_file, list_volumes, mv, put, put_bytes,
                                  remove, rm, root)

__all__ = ["create", "diff", "files", "get", "get_file", "get_snapshot", "list_snapshots", "list_volumes", "mv",
           "open_file", "prune", "put", "put_bytes", "read_snapshot_file", "remove", "restore",
           "rm", "root", "set_retention", "set_schedule", "snapshot"]
