"""Processes kilnflow starts and finds again (model and notebook servers, studies, ranks):
whether one is alive, stopping one with its children, a free port on loopback."""

from __future__ import annotations

import os
import signal
import socket
import time
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


def started_at(pid: int) -> float | None:
    """When process `pid` started (epoch seconds), where the system says (Linux's /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat[stat.rindex(")") + 2:].split()[19])  # field 22: starttime
        # Boot time from the uptime (centiseconds), not /proc/stat's btime: btime is whole
        # seconds, up to 1 s early, which made a process started 2.5 s after a run look
        # older than the run on a machine booted at x.9 s.
        import time

        boot = time.time() - float(Path("/proc/uptime").read_text().split()[0])
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def still_running(pid: int | None, since: float) -> bool:
    """True if `pid` is alive and is the process that was running at `since` (epoch seconds):
    one that started later got the pid after the recorded process ended."""
    if not pid_alive(pid):
        return False
    assert pid is not None
    start = started_at(pid)
    return start is None or start <= since + 2.0  # start times are rounded to clock ticks


def stop_group(pid: int, cmdline_marker: bytes, timeout: float = 15.0) -> None:
    """Stop a process started in its own session and everything it started (a server's
    workers, a notebook's kernels): SIGTERM, then SIGKILL after `timeout` seconds."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while pid_alive(pid, cmdline_marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid, cmdline_marker):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
