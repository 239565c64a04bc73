"""The Jupyter server extension the notebook panel talks to (kiln.jupyter), in a real
`jupyter server`: analysing a notebook as edited (its steps and graph, or the first error
with its cell), running it as a pipeline version and following its steps' states, and
refusing bad input and callers without Jupyter's token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, make_notebook

TOKEN = "panel-test-token"


@pytest.fixture
def jupyter(kiln_home: Path, tmp_path: Path) -> Iterator[httpx.Client]:
    pytest.importorskip("jupyter_server")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}", "--allow-root",
         "--ServerApp.jpserver_extensions={'kiln.jupyter': True}",
         f"--ServerApp.root_dir={tmp_path}"],
        env={**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "jcfg"),
             "JUPYTER_DATA_DIR": str(tmp_path / "jdata")},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}/kilnflow",
                          headers={"Authorization": f"token {TOKEN}"}, timeout=60)
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/status",
                             headers={"Authorization": f"token {TOKEN}"}).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.3)
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.communicate(timeout=30)


def notebook_json(tmp_path: Path, cells: list[tuple[list[str] | None, str]]) -> dict:
    return json.loads(make_notebook(tmp_path / "nb.ipynb", cells).read_text())


def test_analyse_shows_steps_graph_and_the_cell_of_an_error(jupyter: httpx.Client,
                                                            tmp_path: Path):
    good = notebook_json(tmp_path, [
        (["imports"], "import math"),
        (["pipeline-parameters"], "N = 3"),
        (["block:load"], "xs = list(range(N))"),
        (["block:total", "prev:load"], "t = sum(xs)"),
    ])
    r = jupyter.post("/analyse", json={"notebook": good, "name": "sums.ipynb"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["ok"] and [s["name"] for s in got["steps"]] == ["load", "total"]
    assert got["steps"][1]["after"] == ["load"] and got["parameters"] == ["N"]
    assert {"from": "load", "to": "total"} in [
        {k: e[k] for k in ("from", "to")} for e in got["graph"]["edges"]]
    bad = notebook_json(tmp_path, [
        (["block:load"], "xs = [1, 2]"),
        (["block:total", "prev:load"], "t = sum(xs) + missing_name"),
    ])
    got = jupyter.post("/analyse", json={"notebook": bad}).json()
    assert not got["ok"] and got["error"]["cell"] == 1 and "missing_name" in \
        got["error"]["message"]
    r = jupyter.post("/analyse", json={"notebook": "not a notebook"})
    assert r.status_code == 400 and "cells" in r.json()["error"]["hint"]
    r = jupyter.post("/analyse", content=b"{not json")
    assert r.status_code == 400


def test_run_from_the_panel_and_follow_its_steps(jupyter: httpx.Client, tmp_path: Path):
    nb = notebook_json(tmp_path, [
        (["block:load"], "xs = [1, 2, 3]"),
        (["block:total", "prev:load"], "t = sum(xs)\nprint(t)"),
    ])
    r = jupyter.post("/run", json={"notebook": nb, "name": "panel.ipynb"})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    deadline = time.monotonic() + 120
    while True:
        run = jupyter.get(f"/runs/{run_id}").json()
        if run["status"] != "running":
            break
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert run["status"] == "succeeded"
    assert {t["step"]: t["status"] for t in run["tasks"]} == {"load": "succeeded",
                                                              "total": "succeeded"}
    assert jupyter.get("/runs/0000000000000000").status_code == 404
    log = jupyter.get(f"/runs/{run_id}/steps/total/log").json()
    assert log["status"] == "succeeded" and log["log"].strip().endswith("6")
    r = jupyter.post("/serve", json={"run": run_id})
    assert r.status_code == 400 and "stored no model" in r.json()["error"]["message"]
    r = jupyter.post("/tune", json={"path": "../../etc/passwd.ipynb"})
    assert r.status_code == 400


def test_submit_to_a_kubeflow_that_is_not_there_is_a_clear_error(jupyter: httpx.Client,
                                                                 tmp_path: Path):
    make_notebook(tmp_path / "sub.ipynb", [(["block:one"], "x = 1")])
    r = jupyter.post("/submit", json={"path": "sub.ipynb", "host": "http://127.0.0.1:9"})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert "cannot reach Kubeflow Pipelines" in err["message"] and err["hint"]
    r = jupyter.post("/submit", json={"path": "sub.ipynb"})
    assert r.status_code == 400 and "endpoint" in r.json()["error"]["message"]


def test_callers_without_jupyter_s_token_are_refused(jupyter: httpx.Client):
    r = httpx.post(str(jupyter.base_url) + "/analyse", json={"notebook": {"cells": []}})
    assert r.status_code == 403
