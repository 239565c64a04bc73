"""The artifact store: every byte kilnflow keeps, named by its BLAKE3 hash."""

from kiln.store.base import ArtifactStore, ObjectInfo
from kiln.store.folder import FolderStore

__all__ = ["ArtifactStore", "FolderStore", "ObjectInfo"]
