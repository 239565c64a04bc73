"""The embedded default store: one read-only file per object, named by its BLAKE3 hash.

Layout under the store root:  objects/<first 2 hex>/<64 hex>  and  tmp/ for writes in progress.
A writer creates a file in tmp/, and `commit` hashes it and renames it into objects/, so an
object is either whole or absent; a crash leaves at most a stray file in tmp/.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from kiln.errors import StoreError
from kiln.hashing import hash_file
from kiln.store.base import ArtifactStore, ObjectInfo

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class FolderStore(ArtifactStore):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.tmp = self.root / "tmp"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def _path(self, digest: str) -> Path:
        if not _DIGEST.match(digest):
            raise StoreError(f"'{digest}' is not an object id (64 lowercase hex digits)")
        return self.objects / digest[:2] / digest

    def temp_path(self, suffix: str = "") -> Path:
        return self.tmp / f"{uuid.uuid4().hex}{suffix}"

    def commit(self, tmp: Path) -> ObjectInfo:
        digest = hash_file(tmp)
        size = tmp.stat().st_size
        dest = self._path(digest)
        if dest.exists():
            tmp.unlink()  # identical bytes are already stored
        else:
            dest.parent.mkdir(exist_ok=True)
            os.chmod(tmp, 0o444)  # content-addressed objects never change
            os.replace(tmp, dest)
        return ObjectInfo(digest, size)

    def local_path(self, digest: str) -> Path:
        p = self._path(digest)
        if not p.exists():
            raise StoreError(
                f"object {digest[:12]} is missing from the store at {self.root}",
                hint="it may have been garbage-collected; re-run the step that produced it",
            )
        return p

    def exists(self, digest: str) -> bool:
        return self._path(digest).exists()
