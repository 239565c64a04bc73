"""The store: every byte kilnflow keeps, chunked, deduplicated and named by BLAKE3 hashes."""

from kiln.store.base import ArtifactStore, ObjectInfo
from kiln.store.folder import FolderStore
from kiln.store.store import Store

__all__ = ["ArtifactStore", "FolderStore", "ObjectInfo", "Store"]
