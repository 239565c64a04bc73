"""Notebook servers: JupyterLab started as a managed process whose working folder is a volume
(Kubeflow's notebook servers, on one machine). `kiln notebook start|ls|stop`, REST and the
dashboard call these.

A server is a row of the catalog's services table (kind "notebook") with its URL and token; it
binds to loopback, runs in its own session (it outlives the command that started it) and gets
its token through the environment, so it never shows in `ps`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from kiln.catalog.db import now
from kiln.catalog.refs import missing
from kiln.catalog.schema import Service
from kiln.errors import UserError
from kiln.processes import free_port, pid_alive, stop_group
from kiln.runtime import Runtime
from kiln.serving.services import check_name, http_get, log_tail

KIND = "notebook"
START_TIMEOUT = 120.0
_MARKER = b"jupyterlab"  # in the process's command line: a reused pid is not ours


@dataclass
class NotebookServer:
    name: str
    status: str  # starting, running, stopped, failed, exited
    volume: str | None
    root: str
    port: int | None
    pid: int | None
    token: str
    log_path: str
    created_at: datetime

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}" if self.port else ""

    @property
    def open_url(self) -> str:
        """The address to open in a browser: JupyterLab, logged in by the token."""
        return f"{self.url}/lab?token={self.token}" if self.port else ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "volume": self.volume,
                "root": self.root, "url": self.url, "open_url": self.open_url,
                "pid": self.pid, "log": self.log_path,
                "created_at": self.created_at.isoformat() + "Z"}


def _info(row: Service) -> NotebookServer:
    cfg = json.loads(row.config_json)
    status = row.status
    if status in ("running", "starting") and row.pid is not None \
            and not pid_alive(row.pid, _MARKER):
        status = "exited"
    return NotebookServer(row.name, status, cfg.get("volume"), cfg["root"], row.port, row.pid,
                          cfg["token"], row.log_path, row.created_at)


def list_servers(*, rt: Runtime | None = None) -> list[NotebookServer]:
    rt = rt or Runtime.open()
    with rt.catalog.read() as s:
        return [_info(r) for r in s.scalars(select(Service).where(Service.kind == KIND)
                                            .order_by(Service.created_at))]


def get(name: str, *, rt: Runtime | None = None) -> NotebookServer:
    rt = rt or Runtime.open()
    with rt.catalog.read() as s:
        row = s.get(Service, name)
        if row is None or row.kind != KIND:
            raise missing(s, Service.name, name, "notebook server named",
                          "list them with `kiln notebook ls`", where="name",
                          among=Service.kind == KIND)
        return _info(row)


def start(*, name: str | None = None, volume: str | None = None, port: int | None = None,
          timeout: float = START_TIMEOUT, rt: Runtime | None = None) -> NotebookServer:
    """Start JupyterLab in `volume`'s folder (or a folder of its own under KILN_HOME) and wait
    until it answers; returns it with the URL to open."""
    from kiln.volumes import volumes

    rt = rt or Runtime.open()
    name = check_name(name or volume or "notebook", "notebook server name")
    if importlib.util.find_spec("jupyterlab") is None:
        raise UserError("JupyterLab is not installed", where="notebook",
                        hint="pip install 'kilnflow[notebook]' (or pip install jupyterlab)")
    if port is not None and not 1024 <= port <= 65535:
        raise UserError(f"port {port} is out of range", where="--port", hint="1024-65535")
    root = volumes.root(volume, rt=rt) if volume else rt.home.root / "notebooks" / name
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    token = secrets.token_hex(24)
    log = rt.home.services_dir / f"notebook-{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with rt.catalog.write() as s:
        row = s.get(Service, name)
        if row is not None:
            if row.kind != KIND:
                raise UserError(f"'{name}' is the name of a model service", where="name",
                                hint="pick another --name")
            if _info(row).status in ("running", "starting"):
                raise UserError(f"notebook server '{name}' is already running at "
                                f"{_info(row).url}", where="name",
                                hint=f"open it, or stop it with `kiln notebook stop {name}`")
            s.delete(row)
            s.flush()
        s.add(Service(name=name, kind=KIND, status="starting",
                      config_json=json.dumps({"volume": volume, "root": str(root),
                                              "token": token}),
                      host="127.0.0.1", port=port, pid=None, log_path=str(log),
                      created_at=now(), updated_at=now()))
    # Its runtime files (connection files, the server's info) stay with the server's log.
    env = dict(os.environ, **rt.home.env(), JUPYTER_TOKEN=token,
               JUPYTER_RUNTIME_DIR=str(rt.home.services_dir / f"notebook-{name}.runtime"),
               PYTHONUNBUFFERED="1")
    args = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}"]
    if os.geteuid() == 0:
        args.append("--allow-root")  # containers and CI run as root; Jupyter refuses otherwise
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            args,
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            cwd=root, start_new_session=True)
    threading.Thread(target=proc.wait, daemon=True).start()  # reap it when it ends
    _set(rt, name, pid=proc.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _set(rt, name, status="failed")
            raise UserError(f"notebook server '{name}' exited at start (code "
                            f"{proc.returncode})", hint=f"its log: {log}\n{log_tail(log)}")
        if http_get(f"http://127.0.0.1:{port}/api/status?token={token}")[0] == 200:
            _set(rt, name, status="running")
            return get(name, rt=rt)
        time.sleep(0.2)
    stop_group(proc.pid, _MARKER)  # its own session: kernels go too
    _set(rt, name, status="failed")
    raise UserError(f"notebook server '{name}' did not answer within {timeout:.0f} s",
                    hint=f"see its log: {log}")


def stop(name: str, *, timeout: float = 15.0, rt: Runtime | None = None) -> NotebookServer:
    """Stop the server (its kernels with it); the volume's files stay."""
    rt = rt or Runtime.open()
    info = get(name, rt=rt)
    if info.pid and pid_alive(info.pid, _MARKER):
        stop_group(info.pid, _MARKER, timeout)  # its own session: kernels go too
    _set(rt, name, status="stopped")
    return get(name, rt=rt)


def _set(rt: Runtime, name: str, **values: Any) -> None:
    with rt.catalog.write() as s:
        row = s.get(Service, name)
        if row is not None:
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = now()

