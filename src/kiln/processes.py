"""Whether a process recorded in the catalog (a model server, a study) is still alive."""

from __future__ import annotations

import os
from pathlib import Path


def pid_alive(pid: int | None, cmdline_marker: bytes | None = None) -> bool:
    """True if `pid` runs on this host; with `cmdline_marker`, only if its command line holds
    it (a reused pid then counts as gone)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if cmdline_marker is None:
        return True
    try:
        return cmdline_marker in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
