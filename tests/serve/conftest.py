from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import kiln


@pytest.fixture(scope="session")
def iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return X, y


@pytest.fixture(scope="session")
def iris_model(iris: tuple[np.ndarray, np.ndarray]) -> LogisticRegression:
    X, y = iris
    return LogisticRegression(max_iter=1000).fit(X, y)


@pytest.fixture
def served(iris_model: LogisticRegression) -> Iterator[kiln.Service]:
    with kiln.serve(iris_model, name="iris") as svc:
        yield svc


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
         raw: bytes | None = None) -> tuple[int, Any]:
    """One request; returns (status, parsed JSON or text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, payload = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, payload = e.code, e.read()
    except OSError as e:  # nothing listening
        return 0, str(e)
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode()


def v2_body(x: np.ndarray, name: str = "input-0", datatype: str = "FP64",
            **extra: Any) -> dict[str, Any]:
    return {"inputs": [{"name": name, "shape": list(x.shape), "datatype": datatype,
                        "data": x.reshape(-1).tolist()}], **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tool_python(name: str, pins: list[str]) -> Path:
    """A venv of its own for a client whose pins clash with ours, cached between runs."""
    cache = Path(os.environ.get("KILN_TEST_CACHE", Path.home() / ".cache" / "kiln-tests"))
    venv = cache / name
    py = venv / "bin" / "python"
    marker = venv / ".complete"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *pins], check=True,
                       capture_output=True)
        marker.write_text(" ".join(pins))
    return py


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """A real S3-compatible server (moto's standalone server) on loopback."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def s3_env(moto_s3: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_s3)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return moto_s3
