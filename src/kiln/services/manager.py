"""One service manager: every long-running process kilnflow starts is a row of the catalog's
services table (its kind, name, status, address, pid and log) and a process in a session of
its own, so it outlives the command that started it. Model servers and notebook servers
differ only in what they run and how they say they are ready.

A row whose process died reads as "exited"; a pid is ours only while the process's command
line carries the kind's marker, so a reused pid is never signalled.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from kiln.catalog.db import now
from kiln.catalog.refs import missing
from kiln.catalog.schema import Service
from kiln.errors import NotFoundError, UserError
from kiln.processes import pid_alive, stop_group
from kiln.runtime import Runtime


@dataclass(frozen=True)
class Kind:
    name: str  # the services table's `kind`
    what: str  # "service", "notebook server": how messages name one
    marker: bytes  # in the process's command line
    list_hint: str  # how to list them, for "no X named ..."


@dataclass
class Record:
    """A service's row, its status corrected for a process that died."""

    name: str
    kind: str
    status: str  # starting, running, stopped, failed, exited
    host: str
    port: int | None
    pid: int | None
    log_path: str
    config_json: str
    created_at: datetime


def _record(row: Service, kind: Kind) -> Record:
    status = row.status
    if status in ("running", "starting") and row.pid is not None and \
            not pid_alive(row.pid, kind.marker):
        status = "exited"
    return Record(row.name, row.kind, status, row.host, row.port, row.pid, row.log_path,
                  row.config_json, row.created_at)


def find(rt: Runtime, kind: Kind, name: str) -> Record:
    with rt.catalog.read() as s:
        row = s.get(Service, name)
        if row is None or row.kind != kind.name:  # other kinds share the table
            raise missing(s, Service.name, name, f"{kind.what} named", kind.list_hint,
                          where="name", among=Service.kind == kind.name)
        return _record(row, kind)


def list_records(rt: Runtime, kind: Kind) -> list[Record]:
    with rt.catalog.read() as s:
        return [_record(r, kind) for r in s.scalars(
            select(Service).where(Service.kind == kind.name).order_by(Service.created_at))]


def reserve(rt: Runtime, kind: Kind, name: str, *, config_json: str, host: str,
            port: int | None, log_path: Path, stop_hint: str) -> None:
    """Record `name` as starting, replacing a stopped or failed row of the same kind; a
    running one, or another kind's, is refused."""
    with rt.catalog.write() as s:
        row = s.get(Service, name)
        if row is not None:
            if row.kind != kind.name:
                raise UserError(f"'{name}' is the name of a {_what(row.kind)}", where="name",
                                hint="pick another --name")
            current = _record(row, kind)
            if current.status in ("running", "starting"):
                url = f"http://{current.host}:{current.port}" if current.port else "(starting)"
                raise UserError(f"{kind.what} '{name}' is already running at {url}",
                                where="name", hint=stop_hint)
            s.delete(row)
            s.flush()
        s.add(Service(name=name, kind=kind.name, status="starting", config_json=config_json,
                      host=host, port=port, pid=None, log_path=str(log_path),
                      created_at=now(), updated_at=now()))


def _what(kind_name: str) -> str:
    return {"notebook": "notebook server"}.get(kind_name, "model service")


def update(rt: Runtime, name: str, **values: Any) -> None:
    """Change a service's row; a row that is gone is an error (it was removed under us)."""
    with rt.catalog.write() as s:
        row = s.get(Service, name)
        if row is None:
            raise NotFoundError(f"no service named '{name}'")
        for k, v in values.items():
            setattr(row, k, v)
        row.updated_at = now()


def launch(args: list[str], *, env: dict[str, str], log_path: Path,
           cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start the process in a session of its own (stopping the session stops its children),
    output appended to its log; a thread reaps it when it ends."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                start_new_session=True)
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc


def wait_ready(rt: Runtime, kind: Kind, name: str, proc: subprocess.Popen[bytes],
               ready: Callable[[], bool], *, timeout: float, log_path: Path,
               interval: float = 0.1) -> None:
    """Wait until `ready()`; a process that exits first, or a timeout, marks the service
    failed and raises with the log's last lines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            update(rt, name, status="failed", pid=proc.pid)
            raise UserError(f"{kind.what} '{name}' exited at start (code {proc.returncode})",
                            hint=f"its log: {log_path}\n{log_tail(log_path)}")
        if ready():
            return
        time.sleep(interval)
    stop_group(proc.pid, kind.marker)
    update(rt, name, status="failed")
    raise UserError(f"{kind.what} '{name}' did not answer within {timeout:.0f} s",
                    hint=f"see its log: {log_path}")


def stop(rt: Runtime, kind: Kind, name: str, *, timeout: float = 15.0) -> Record:
    """Stop the service's whole session (a notebook's kernels, a server's workers)."""
    rec = find(rt, kind, name)
    if rec.pid and pid_alive(rec.pid, kind.marker):
        stop_group(rec.pid, kind.marker, timeout)
    update(rt, name, status="stopped")
    return find(rt, kind, name)


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def http_get(url: str, timeout: float = 2.0) -> tuple[int, dict[str, Any]]:
    """GET a service's JSON endpoint: (status, body); status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - our own URL
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"{}")
        except ValueError:
            return e.code, {}
    except (OSError, ValueError):
        return 0, {}
