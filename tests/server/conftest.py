"""A real `kiln server` process on loopback, one per test, with its own KILN_HOME."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import kiln_server


@pytest.fixture
def api(kiln_home: Path) -> Iterator[httpx.Client]:
    with kiln_server() as base, httpx.Client(base_url=f"{base}/api/v1", timeout=60) as client:
        yield client
