"""`kiln serve` from the command line: foreground, detached services, canary, stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from tests.conftest import free_port, run_cli, sigint_as_terminal

from .conftest import http, v2_body

ROW = np.asarray([[5.1, 3.5, 1.4, 0.2]])


@pytest.fixture
def models(tmp_path: Path, iris) -> dict[str, Path]:
    """Two constant models, so which one answered is visible in the prediction."""
    X, y = iris
    out = {}
    for label in (0, 2):
        path = tmp_path / f"const{label}.joblib"
        joblib.dump(DummyClassifier(strategy="constant", constant=label).fit(X, y), path)
        out[f"c{label}"] = path
    broken = tmp_path / "broken.joblib"
    broken.write_bytes(b"not a model")
    out["broken"] = broken
    return out


def predict(url: str, version: str | None = None) -> int:
    path = f"/v2/models/iris/versions/{version}/infer" if version else "/v2/models/iris/infer"
    status, doc = http("POST", url + path, v2_body(ROW))
    assert status == 200, doc
    return int(doc["outputs"][0]["data"][0])


def services() -> list[dict]:
    r = run_cli("serve", "ls", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_detached_service_update_canary_promote_rollback_stop(models) -> None:
    r = run_cli("serve", str(models["c0"]), "--name", "iris", "--detach", "--port", "0")
    assert r.returncode == 0, r.stderr
    assert "service iris started at http://127.0.0.1:" in r.stdout
    (svc,) = services()
    url = svc["url"]
    assert svc["status"] == "running" and svc["models"][0]["version"] == 1
    assert predict(url) == 0

    again = run_cli("serve", str(models["c0"]), "--name", "iris", "--detach", "--port", "0")
    assert again.returncode == 2 and "already running" in again.stderr

    r = run_cli("serve", "update", "iris", str(models["c2"]), "--canary", "50")
    assert r.returncode == 0, r.stderr
    assert "canary v2" in r.stdout
    seen = {predict(url) for _ in range(60)}
    assert seen == {0, 2}  # traffic split between both versions
    assert predict(url, "1") == 0 and predict(url, "2") == 2

    r = run_cli("serve", "update", "iris", str(models["broken"]), "--canary", "10")
    assert r.returncode == 2 and "did not become ready" in r.stderr, r.stderr
    assert {predict(url) for _ in range(30)} == {0, 2}  # still the previous split

    r = run_cli("serve", "rollback", "iris")
    assert r.returncode == 0, r.stderr
    assert {predict(url) for _ in range(20)} == {0}

    run_cli("serve", "update", "iris", str(models["c2"]), "--canary", "30")
    r = run_cli("serve", "promote", "iris")
    assert r.returncode == 0, r.stderr
    assert {predict(url) for _ in range(20)} == {2}
    (svc,) = services()
    assert svc["models"][0]["version"] == 3 and svc["models"][0]["canary"] is None
    assert svc["requests"] >= 100

    r = run_cli("serve", "logs", "iris")
    assert r.returncode == 0 and "reloaded models" in r.stdout
    # every model request, as it came: method, path, status and time taken
    assert " POST /v2/models/iris/infer 200 " in r.stdout
    assert "GET /v2/health/live" not in r.stdout  # probes are left out
    r = run_cli("serve", "stop", "iris")
    assert r.returncode == 0 and "stopped" in r.stdout
    assert services()[0]["status"] == "stopped"
    assert http("GET", url + "/v2/health/live")[0] == 0  # nothing listens any more


def test_two_workers_share_the_port_and_metrics(models) -> None:
    r = run_cli("serve", f"iris={models['c2']}", "--detach", "--port", "0", "--workers", "2",
                "--name", "pair")
    assert r.returncode == 0, r.stderr
    url = services()[0]["url"]
    try:
        for _ in range(40):
            assert predict(url) == 2
        r = run_cli("serve", "update", "pair", str(models["c0"]))
        assert r.returncode == 0, r.stderr
        assert {predict(url) for _ in range(40)} == {0}  # every worker reloaded
        text = http("GET", url + "/metrics")[1]
        total = sum(float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines()
                    if ln.startswith("kiln_inference_requests_total{"))
        assert total >= 60  # both workers' counts, summed
    finally:
        run_cli("serve", "stop", "pair")


def test_foreground_server_stops_cleanly_on_ctrl_c(models) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kiln.cli", "serve", str(models["c2"]),
                             "--name", "iris", "--port", str(port)],
                            stderr=subprocess.PIPE, text=True, preexec_fn=sigint_as_terminal)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while http("GET", url + "/v2/health/ready")[0] != 200:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        assert predict(url) == 2
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 130), err  # 130: stopped by Ctrl-C, as shells report it
    assert "Traceback" not in err
    assert f"serving iris ({models['c2']}) at {url}/v2/models/iris/infer" in err


def test_cli_bad_input(models, tmp_path: Path) -> None:
    r = run_cli("serve", "no/such/model/x")
    assert r.returncode == 2 and "neither a file" in r.stderr
    r = run_cli("serve", str(models["c0"]), "--name", "Bad_Name")
    assert r.returncode == 2 and "not a valid model name" in r.stderr
    r = run_cli("serve", str(models["c0"]), str(models["c2"]), "--name", "x")
    assert r.returncode == 2 and "NAME=MODEL" in r.stderr
    r = run_cli("serve", f"a={models['c0']}", f"a={models['c2']}")
    assert r.returncode == 2 and "share a name" in r.stderr
    r = run_cli("serve", "stop", "nope")
    assert r.returncode == 3 and "no service named 'nope'" in r.stderr
    r = run_cli("serve", "update", "nope", str(models["c0"]))
    assert r.returncode == 3
    r = run_cli("serve", "logs", "nope")
    assert r.returncode == 3
    busy = free_port()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", busy))
        s.listen()
        r = run_cli("serve", str(models["c0"]), "--port", str(busy))
    assert r.returncode == 2 and "cannot listen" in r.stderr
    r = run_cli("serve", str(models["broken"]), "--detach", "--name", "b", "--port", "0")
    assert r.returncode == 0 and "not ready" in r.stderr and "cannot load model" in r.stderr
    assert run_cli("serve", "stop", "b").returncode == 0
    assert os.environ["KILN_HOME"]  # every test had its own home
