"""Notebook servers: JupyterLab started as a managed service whose working folder is a volume
(Kubeflow's notebook servers, on one machine). `kiln notebook start|ls|stop`, REST and the
dashboard call these.

A server binds to loopback and gets its token through the environment, so the token never
shows in `ps`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kiln.errors import UserError
from kiln.names import check_name
from kiln.processes import free_port
from kiln.runtime import Runtime
from kiln.services import manager
from kiln.services.manager import Kind, Record, http_get

KIND = Kind("notebook", "notebook server", b"jupyterlab", "list them with `kiln notebook ls`")
START_TIMEOUT = 120.0


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


def _server(rec: Record) -> NotebookServer:
    cfg = json.loads(rec.config_json)
    return NotebookServer(rec.name, rec.status, cfg.get("volume"), cfg["root"], rec.port,
                          rec.pid, cfg["token"], rec.log_path, rec.created_at)


def list_servers(*, rt: Runtime | None = None) -> list[NotebookServer]:
    return [_server(r) for r in manager.list_records(rt or Runtime.open(), KIND)]


def get(name: str, *, rt: Runtime | None = None) -> NotebookServer:
    return _server(manager.find(rt or Runtime.open(), KIND, name))


def start(*, name: str | None = None, volume: str | None = None, port: int | None = None,
          timeout: float = START_TIMEOUT, rt: Runtime | None = None) -> NotebookServer:
    """Start JupyterLab in `volume`'s folder (or a folder of its own under KILN_HOME) and wait
    until it answers; returns it with the URL to open."""
    from kiln.volumes import volumes

    rt = rt or Runtime.open()
    name = check_name("service", name or volume or "notebook", what="notebook server name")
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
    manager.reserve(rt, KIND, name, config_json=json.dumps(
        {"volume": volume, "root": str(root), "token": token}), host="127.0.0.1", port=port,
        log_path=log, stop_hint=f"open it, or stop it with `kiln notebook stop {name}`")
    # Its runtime files (connection files, the server's info) stay with the server's log.
    # kilnflow's panel (a prebuilt extension shipped in the package) is found on JUPYTER_PATH,
    # for editable and wheel installs alike
    panel = str(Path(__file__).resolve().parents[1] / "jupyter" / "share")
    jpath = os.pathsep.join(p for p in (panel, os.environ.get("JUPYTER_PATH", "")) if p)
    env = dict(os.environ, **rt.home.env(), JUPYTER_TOKEN=token, JUPYTER_PATH=jpath,
               JUPYTER_RUNTIME_DIR=str(rt.home.services_dir / f"notebook-{name}.runtime"),
               PYTHONUNBUFFERED="1")
    args = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}",
            # the panel's endpoints (kiln.jupyter), in this home and namespace (env above)
            "--ServerApp.jpserver_extensions={'kiln.jupyter': True}"]
    if os.geteuid() == 0:
        args.append("--allow-root")  # containers and CI run as root; Jupyter refuses otherwise
    proc = manager.launch(args, env=env, log_path=log, cwd=root)
    manager.update(rt, name, pid=proc.pid)
    status_url = f"http://127.0.0.1:{port}/api/status?token={token}"
    manager.wait_ready(rt, KIND, name, proc, lambda: http_get(status_url)[0] == 200,
                       timeout=timeout, log_path=log, interval=0.2)
    manager.update(rt, name, status="running")
    return get(name, rt=rt)


def stop(name: str, *, timeout: float = 15.0, rt: Runtime | None = None) -> NotebookServer:
    """Stop the server (its kernels with it); the volume's files stay."""
    return _server(manager.stop(rt or Runtime.open(), KIND, name, timeout=timeout))
