from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest


def fill(root: Path, seed: int = 0, small: int = 60, big_mb: float = 3.0) -> dict[str, bytes]:
    """A volume-like folder: small text files in subfolders plus one multi-chunk binary."""
    rng = np.random.default_rng(seed)
    files: dict[str, bytes] = {}
    for i in range(small):
        rel = f"part{i % 3}/f{i:03d}.txt"
        files[rel] = (f"row {i}\n" * int(rng.integers(1, 400))).encode()
    files["big.bin"] = rng.integers(0, 255, int(big_mb * (1 << 20)), dtype=np.uint8).tobytes()
    files["empty.txt"] = b""
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


def tree_of(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            p = Path(dirpath) / n
            if not p.is_symlink():
                out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


@pytest.fixture
def rt():
    from kiln.runtime import Runtime

    return Runtime.open()


@pytest.fixture
def volume(rt, tmp_path: Path):
    """A volume 'data' adopted from a filled folder; returns (name, folder, files)."""
    from kiln.volumes import volumes

    folder = tmp_path / "vol"
    folder.mkdir()
    files = fill(folder)
    volumes.create("data", folder, rt=rt)
    return "data", folder, files
