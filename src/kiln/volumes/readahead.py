"""Warm the page cache for a snapshot while the CLI is still importing.

`kiln snapshot create` spends its first ~0.5 s loading SQLAlchemy and Typer, all on one core,
while the disk sits idle. A forked child uses that time: it stats every file of the volume
(loading inodes and directory entries) and asks the kernel to read ahead the files changed
since the volume's latest snapshot — the only ones the snapshot will read. It only warms
caches: it writes nothing, and any failure just means no warm-up. (A thread cannot do this:
the imports hold the GIL, which starved a warm-up thread when we measured it.)

The volume's folder and last snapshot time come straight from a SQLite catalog with the
standard library; with another database there is no warm-up.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime


def start(volume: str) -> None:
    """Fork the warm-up child for `volume` (best effort; returns at once)."""
    if not hasattr(os, "fork") or not hasattr(os, "posix_fadvise"):
        return
    try:
        from kiln.home import Home

        url = Home.default().catalog_url
        if not url.startswith("sqlite:///"):
            return
        db = url.removeprefix("sqlite:///")
        if not os.path.exists(db):
            return
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2) as con:
            row = con.execute("select path from volumes where name = ?", (volume,)).fetchone()
            last = con.execute("select max(created_at) from snapshots where volume = ?",
                               (volume,)).fetchone()
        if not row:
            return
        # created_at is naive UTC; -2 s covers coarse mtimes
        since = (datetime.fromisoformat(last[0]).replace(tzinfo=UTC).timestamp() - 2
                 if last and last[0] else None)
        pid = os.fork()
    except Exception:  # noqa: BLE001 - a warm-up must never stop the snapshot
        return
    if pid == 0:
        try:
            _warm(row[0], since)
        finally:
            os._exit(0)
    _reap_later(pid)


def _warm(top: str, since: float | None) -> None:
    os.nice(5)
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                    continue
                st = e.stat(follow_symlinks=False)
                if since is not None and st.st_mtime >= since and e.is_file():
                    fd = os.open(e.path, os.O_RDONLY)
                    try:
                        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
                    finally:
                        os.close(fd)
            except OSError:
                continue


def _reap_later(pid: int) -> None:
    """Collect the child when it ends, so it never lingers as a zombie."""
    import threading

    def reap() -> None:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass

    threading.Thread(target=reap, daemon=True).start()
