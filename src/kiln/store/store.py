"""The artifact store the engines use, on top of the chunked repository.

Step processes write outputs into a local cache (a FolderStore: one plain file per artifact),
which keeps them cheap and lets downstream steps memory-map them. The engine then `ingest`s
each output into the repository, chunked and deduplicated, before the run records it. Reads
use the cached file when present and rebuild it from the repository otherwise, so the cache
can be trimmed (or lost) at any time.
"""

from __future__ import annotations

import functools
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kiln.errors import StoreError
from kiln.store.archive import chunk_file, write_file
from kiln.store.backend import Backend, LocalBackend, open_backend
from kiln.store.base import ArtifactStore, ObjectInfo
from kiln.store.folder import FolderStore
from kiln.store.locks import StoreLock
from kiln.store.repository import Repository, dumps, loads


class Store(ArtifactStore):
    def __init__(self, location: str, cache_dir: str | os.PathLike[str]) -> None:
        self.location = location
        self.cache = FolderStore(cache_dir)
        self.root = self.cache.root  # what step processes write into (see engine.worker)

    @functools.cached_property
    def backend(self) -> Backend:
        return open_backend(self.location)

    @functools.cached_property
    def _pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max(2, os.cpu_count() or 2), thread_name_prefix="kiln-ingest")

    @functools.cached_property
    def repo(self) -> Repository:
        repo = Repository(self.backend)
        self._adopt_legacy(repo)
        return repo

    def lock(self, kind: str = "shared", *, wait: float = 600.0, purpose: str = "") -> StoreLock:
        """Hold while writing blobs that no record references yet (a run, a snapshot). On
        acquiring, the index is re-read: gc may have removed blobs we remember."""
        return StoreLock(self.backend, kind, wait=wait, purpose=purpose,
                         on_acquire=self._refresh_index)

    def _refresh_index(self) -> None:
        if "repo" in self.__dict__:
            self.repo.reload_index()

    # --- ArtifactStore ---------------------------------------------------------------------

    def temp_path(self, suffix: str = "") -> Path:
        return self.cache.temp_path(suffix)

    def commit(self, tmp: Path) -> ObjectInfo:
        info = self.cache.commit(tmp)
        self.ingest(info.digest)
        return info

    def ingest(self, digest: str) -> int:
        """Move an artifact a step left in the cache into the repository; returns new bytes."""
        repo = self.repo
        if repo.has("f", digest):
            return 0
        path = self.cache.local_path(digest)
        new = _add_file(repo, path, digest, self._pool)
        repo.flush()
        return new

    def exists(self, digest: str) -> bool:
        if self.repo.has("f", digest):
            return True
        self.repo.reload_index()  # another process may have stored it since we looked
        return self.repo.has("f", digest)

    def local_path(self, digest: str) -> Path:
        if self.cache.exists(digest):
            return self.cache.local_path(digest)
        if not self.exists(digest):
            raise StoreError(
                f"artifact {digest[:12]} is missing from the store at {self.location}",
                hint="it may have been garbage-collected; re-run the step that produced it")
        chunks = loads(self.repo.read("f", digest))
        tmp = self.cache.temp_path()
        write_file(self.repo, chunks, tmp)
        info = self.cache.commit(tmp)
        if info.digest != digest:
            raise StoreError(f"artifact {digest[:12]} is damaged in the store (its content "
                             "does not match its hash)", hint="run `kiln store check --read-data`")
        return self.cache.local_path(digest)

    def _adopt_legacy(self, repo: Repository) -> None:
        """Stores written before the chunked format kept one file per object in objects/:
        move them into the cache and ingest them once."""
        if not isinstance(self.backend, LocalBackend):
            return
        legacy = self.backend.root / "objects"
        if not legacy.is_dir():
            return
        for p in legacy.glob("*/*"):
            dest = self.cache.objects / p.parent.name / p.name
            dest.parent.mkdir(exist_ok=True)
            if not dest.exists():
                os.replace(p, dest)
            if not repo.has("f", p.name):
                _add_file(repo, dest, p.name)
        repo.flush()
        shutil.rmtree(legacy, ignore_errors=True)


def _add_file(repo: Repository, path: Path, digest: str,
              pool: ThreadPoolExecutor | None = None) -> int:
    """An artifact is its chunks plus an `f` blob listing them, named by the whole file's hash."""
    chunks, new = chunk_file(repo, path, path.stat().st_size, pool)
    _, n = repo.add("f", dumps(chunks), blob_id=digest)
    return new + n
