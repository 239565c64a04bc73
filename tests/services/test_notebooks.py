"""Notebook servers: real JupyterLab processes in a volume, bound to loopback, found again by
name, stopped with their kernels; over the CLI and REST too."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from kiln.errors import NotFoundError, UserError
from kiln.processes import pid_alive
from kiln.runtime import Runtime
from kiln.services import notebooks as servers
from kiln.serving import services
from kiln.volumes import volumes
from tests.conftest import kiln_server, run_cli

pytest.importorskip("jupyterlab")


def test_start_in_a_volume_list_and_stop():
    rt = Runtime.open()
    vol = volumes.create("work", rt=rt)
    volumes.put_bytes("work", "hello.txt", b"hi", rt=rt)
    nb = servers.start(volume="work", rt=rt)
    try:
        assert nb.name == "work" and nb.status == "running" and nb.root == vol.path
        assert nb.url.startswith("http://127.0.0.1:")
        # the token is needed, and with it the volume's files are what the server sees
        assert httpx.get(f"{nb.url}/api/contents").status_code == 403
        listing = httpx.get(f"{nb.url}/api/contents", params={"token": nb.token}).json()
        assert "hello.txt" in {c["name"] for c in listing["content"]}
        assert [n.name for n in servers.list_servers(rt=rt)] == ["work"]
        assert services.list_services() == []  # model servers are listed apart
        with pytest.raises(UserError, match="already running"):
            servers.start(volume="work", rt=rt)
        with open(f"/proc/{nb.pid}/environ", "rb") as f:
            assert b"JUPYTER_TOKEN" in f.read()
        with open(f"/proc/{nb.pid}/cmdline", "rb") as f:
            assert nb.token.encode() not in f.read()  # never on the command line
    finally:
        stopped = servers.stop("work", rt=rt)
    assert stopped.status == "stopped" and not pid_alive(nb.pid, b"jupyterlab")
    assert (Path(vol.path) / "hello.txt").read_text() == "hi"  # the files stay


def test_bad_requests():
    rt = Runtime.open()
    with pytest.raises(NotFoundError, match="no volume"):
        servers.start(volume="nope", rt=rt)
    with pytest.raises(UserError, match="not a valid notebook server name"):
        servers.start(name="Bad Name", rt=rt)
    with pytest.raises(UserError, match="out of range"):
        servers.start(name="p", port=80, rt=rt)
    with pytest.raises(NotFoundError, match="no notebook server"):
        servers.stop("ghost", rt=rt)


def test_cli_and_rest():
    r = run_cli("notebook", "start", "--name", "scratch")
    assert r.returncode == 0, r.stderr
    assert "open http://127.0.0.1:" in r.stdout and "token=" in r.stdout
    listed = json.loads(run_cli("notebook", "ls", "--json").stdout)
    assert [(n["name"], n["status"]) for n in listed] == [("scratch", "running")]
    with kiln_server("--no-scheduler") as base, httpx.Client(base_url=f"{base}/api/v1",
                                                             timeout=150) as c:
        got = c.get("/notebooks").json()
        assert got[0]["name"] == "scratch" and "token=" in got[0]["open_url"]
        r = c.post("/notebooks", json={"volume": "missing"})
        assert r.status_code == 404 and r.json()["error"]["message"]
        r = c.post("/notebooks/scratch/stop")
        assert r.status_code == 200 and r.json()["status"] == "stopped"
        assert c.post("/notebooks/ghost/stop").status_code == 404
    r = run_cli("notebook", "stop", "scrach")
    assert r.returncode != 0 and "scratch" in r.stderr  # did you mean
