"""A real `kiln server` process on loopback, one per test, with its own KILN_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port


@pytest.fixture
def api(kiln_home: Path) -> Iterator[httpx.Client]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kiln.cli", "server", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ})
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=60)
    deadline = time.monotonic() + 60
    while True:
        try:
            if client.get("/health").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
        time.sleep(0.2)
    yield client
    client.close()
    proc.terminate()
    proc.communicate(timeout=10)
