"""BLAKE3 content hashes: the one identity mechanism behind caching, dedup and lineage."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import blake3

# Below this size a single-threaded hash is faster than spinning up blake3's thread pool.
_MMAP_THRESHOLD = 4 << 20


def hash_bytes(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def hash_text(text: str) -> str:
    return hash_bytes(text.encode("utf-8"))


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys and no whitespace, so equal values hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


def hash_json(value: Any) -> str:
    return hash_bytes(canonical_json(value))


def hash_file(path: str | os.PathLike[str]) -> str:
    """Hash a file; large files are memory-mapped and hashed on all cores."""
    p = Path(path)
    if p.stat().st_size >= _MMAP_THRESHOLD:
        h = blake3.blake3(max_threads=blake3.blake3.AUTO)
        h.update_mmap(p)
        return h.hexdigest()
    with open(p, "rb") as f:
        return blake3.blake3(f.read()).hexdigest()
