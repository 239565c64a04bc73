from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

# Two steps: `load` reads no tuned parameter (so the cache shares it), `train` reads x and k.
# The objective is a bowl with its minimum at x=0.3, k=3; `train` reports it as it "trains".
PIPES = '''
import os
import time
import kiln

@kiln.step
def load(n: int) -> list:
    return list(range(n))

@kiln.step
def train(data: list, x: float, k: int, mode: str, pause: float) -> float:
    if mode == "fail" and x > 0.5:
        raise ValueError(f"x={x} is too large for this model")
    loss = (x - 0.3) ** 2 + 0.01 * (k - 3) ** 2
    for epoch in range(5):
        kiln.report(loss * (5 - epoch), step=epoch)
        time.sleep(pause)
    if mode != "silent":
        kiln.log_metric("loss", loss)
    kiln.log_metric("other", 1.0)
    return loss

@kiln.pipeline(name="bowl")
def bowl(n: int = 10, x: float = 0.0, k: int = 1, mode: str = "ok", pause: float = 0.0):
    train(load(n), x, k, mode, pause)
'''


@pytest.fixture
def bowl(tmp_path: Path) -> str:
    path = tmp_path / "bowl.py"
    path.write_text(textwrap.dedent(PIPES))
    return f"{path}:bowl"


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def _write(name: str, text: str) -> Path:
        p = tmp_path / name
        p.write_text(textwrap.dedent(text))
        return p

    return _write
