"""The artifact store interface: bytes in, content hash out.

Engines and codecs only use this interface, so the chunked, packed store (volumes issue) and
an S3 backend can replace the folder store without touching them.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import BinaryIO, NamedTuple


class ObjectInfo(NamedTuple):
    digest: str  # BLAKE3-256 of the bytes, lowercase hex
    size: int


class ArtifactStore(abc.ABC):
    @abc.abstractmethod
    def temp_path(self, suffix: str = "") -> Path:
        """A fresh path a writer may create; pass it to `commit` when the file is complete."""

    @abc.abstractmethod
    def commit(self, tmp: Path) -> ObjectInfo:
        """Hash a finished temp file and move it into place (atomic; identical bytes dedup)."""

    @abc.abstractmethod
    def local_path(self, digest: str) -> Path:
        """A local, read-only file holding the object's bytes (for memory-mapped reads)."""

    @abc.abstractmethod
    def exists(self, digest: str) -> bool: ...

    def open(self, digest: str) -> BinaryIO:
        return open(self.local_path(digest), "rb")

    def put_bytes(self, data: bytes, suffix: str = "") -> ObjectInfo:
        tmp = self.temp_path(suffix)
        tmp.write_bytes(data)
        return self.commit(tmp)

    def get_bytes(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()
