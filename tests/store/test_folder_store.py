from __future__ import annotations

import os

import blake3
import pytest

from kiln.errors import StoreError
from kiln.store import FolderStore


def test_objects_are_named_by_the_blake3_of_their_bytes_and_read_only(tmp_path):
    store = FolderStore(tmp_path)
    info = store.put_bytes(b"hello")
    assert info.digest == blake3.blake3(b"hello").hexdigest() and info.size == 5
    path = store.local_path(info.digest)
    assert path.read_bytes() == b"hello"
    assert not os.access(path, os.W_OK) or os.geteuid() == 0
    assert path.stat().st_mode & 0o222 == 0
    assert store.get_bytes(info.digest) == b"hello"


def test_large_files_hash_the_same_as_small_ones(tmp_path):
    store = FolderStore(tmp_path)
    data = os.urandom(5 << 20)
    assert store.put_bytes(data).digest == blake3.blake3(data).hexdigest()


def test_missing_objects_and_bad_ids_are_clear_errors(tmp_path):
    store = FolderStore(tmp_path)
    with pytest.raises(StoreError, match="missing from the store"):
        store.local_path("0" * 64)
    with pytest.raises(StoreError, match="not an object id"):
        store.local_path("../../etc/passwd")
