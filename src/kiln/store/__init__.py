"""The store: every byte kilnflow keeps, chunked, deduplicated and named by BLAKE3 hashes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiln.store.base import ArtifactStore, ObjectInfo
from kiln.store.folder import FolderStore

if TYPE_CHECKING:
    from kiln.store.store import Store

__all__ = ["ArtifactStore", "FolderStore", "ObjectInfo", "Store"]


def __getattr__(name: str) -> object:
    # the chunked store pulls in fastcdc and zstandard; codecs only need the interface above
    if name == "Store":
        from kiln.store.store import Store

        return Store
    raise AttributeError(f"module 'kiln.store' has no attribute {name!r}")
