"""The chunked store: dedup, compression, packs, artifacts on top of it, S3."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from kiln.errors import StoreError
from kiln.store.archive import archive, chunk_file, restore
from kiln.store.backend import LocalBackend, S3Backend
from kiln.store.repository import Repository, blob_hash
from kiln.store.store import Store
from tests.conftest import fill, tree_of


def test_identical_content_is_stored_once_and_read_back_verified(tmp_path: Path):
    repo = Repository(LocalBackend(tmp_path / "s"))
    text = b"the same bytes " * 10000
    bid, new = repo.add("d", text)
    assert new > 0 and new < len(text)  # compressible: zstd pays
    assert repo.add("d", text) == (bid, 0)
    noise = os.urandom(100_000)
    nid, stored = repo.add("d", noise)
    assert stored == len(noise)  # incompressible: kept raw
    repo.flush()
    again = Repository(LocalBackend(tmp_path / "s"))  # another process: reads the index files
    assert again.read("d", bid) == text and again.read("d", nid) == noise
    assert bid == blob_hash(text)


def test_pack_headers_describe_their_blobs_so_the_index_can_be_rebuilt(tmp_path: Path):
    repo = Repository(LocalBackend(tmp_path / "s"))
    ids = [repo.add("d", os.urandom(5000))[0] for _ in range(10)]
    repo.flush()
    (pid, size), = list(repo.packs())
    header = repo.pack_header(pid, size)
    assert sorted(b[1] for b in header) == sorted(ids)
    for t, bid, off, length, _raw, _comp in header:
        e = repo.entry(t, bid)
        assert (e.pack, e.offset, e.length) == (pid, off, length)


def test_content_defined_chunks_survive_an_insertion(tmp_path: Path):
    """Inserting bytes near the start of a large file changes only the chunks around it."""
    repo = Repository(LocalBackend(tmp_path / "s"))
    data = np.random.default_rng(1).integers(0, 255, 12 << 20, dtype=np.uint8).tobytes()
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(data)
    b.write_bytes(data[:1000] + b"inserted!" + data[1000:])
    ca, _ = chunk_file(repo, a, a.stat().st_size)
    cb, new = chunk_file(repo, b, b.stat().st_size)
    assert len(ca) >= 6  # FastCDC, ~1 MiB average
    assert len(set(ca) & set(cb)) >= len(ca) - 2
    assert new < 5 << 20


def test_artifacts_live_in_the_repository_and_the_cache_can_go(tmp_path: Path):
    store = Store(str(tmp_path / "store"), tmp_path / "cache")
    tmp = store.temp_path(".bin")
    payload = np.random.default_rng(2).integers(0, 255, 3 << 20, dtype=np.uint8).tobytes()
    tmp.write_bytes(payload)
    info = store.commit(tmp)
    for p in (tmp_path / "cache").rglob("*"):  # lose every cached copy
        if p.is_file():
            p.chmod(0o644)
            p.unlink()
    fresh = Store(str(tmp_path / "store"), tmp_path / "cache2")
    assert fresh.exists(info.digest)
    assert fresh.local_path(info.digest).read_bytes() == payload
    with pytest.raises(StoreError, match="missing"):
        fresh.local_path("0" * 64)


def test_a_store_from_before_the_chunked_format_is_adopted(tmp_path: Path):
    from kiln.hashing import hash_bytes

    legacy = tmp_path / "store" / "objects"
    digest = hash_bytes(b"old artifact")
    (legacy / digest[:2]).mkdir(parents=True)
    (legacy / digest[:2] / digest).write_bytes(b"old artifact")
    store = Store(str(tmp_path / "store"), tmp_path / "cache")
    assert store.exists(digest)
    assert not legacy.exists()
    assert store.local_path(digest).read_bytes() == b"old artifact"


def test_unknown_format_version_is_refused(tmp_path: Path):
    be = LocalBackend(tmp_path / "s")
    be.put("config", json.dumps({"version": 99, "id": "x"}).encode())
    with pytest.raises(StoreError, match="format version 99"):
        Repository(be)


def test_snapshot_and_restore_through_a_real_s3_server(s3_env: str, tmp_path: Path):
    import boto3

    boto3.client("s3").create_bucket(Bucket="kiln")
    src = tmp_path / "src"
    src.mkdir()
    files = fill(src, small=30, big_mb=2)
    repo = Repository(S3Backend("s3://kiln/team"))
    tree, stats = archive(repo, src)
    assert stats.files == len(files)
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="kiln")["Contents"]]
    assert all(k.startswith("team/") for k in keys) and "team/config" in keys
    out = tmp_path / "out"
    out.mkdir()
    restore(Repository(S3Backend("s3://kiln/team")), tree, out)
    assert tree_of(out) == files


def test_s3_store_errors_say_what_to_check(s3_env: str):
    with pytest.raises(StoreError, match="cannot reach the bucket 'nope'"):
        S3Backend("s3://nope/x")


@pytest.mark.parametrize("ahead", [(1, 1), (64, 512)], ids=["held-back", "free"])
def test_the_walk_stores_the_same_trees_however_far_it_runs_ahead(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ahead: tuple[int, int]):
    """The walk runs ahead of the file reads by at most so many folders and reads; held back
    to one of each (trees then stored mid-walk, deepest first), the trees must come out the
    same as when nothing holds it back, and a second snapshot must still reuse them."""
    from kiln.store import archive as archive_module

    monkeypatch.setattr(archive_module, "_AHEAD_FOLDERS", ahead[0])
    monkeypatch.setattr(archive_module, "_AHEAD_FILES", ahead[1])
    root = tmp_path / "data"
    files = fill(root)
    for i in range(5):  # files beside subfolders at the top, and folders three deep
        (root / f"top{i}.txt").write_text(f"top {i}\n")
        files[f"top{i}.txt"] = f"top {i}\n".encode()
        deep = root / "a" / "b" / f"c{i}"
        deep.mkdir(parents=True)
        (deep / "leaf.txt").write_text(f"leaf {i}\n")
        files[f"a/b/c{i}/leaf.txt"] = f"leaf {i}\n".encode()
    repo = Repository(LocalBackend(tmp_path / "s"))
    tree, stats = archive(repo, root)
    assert stats.files == len(files) and stats.reused_files == 0
    # the same content gives the same root tree, whatever order the trees were stored in
    other, _ = archive(Repository(LocalBackend(tmp_path / "s2")), root)
    assert other == tree
    (root / "a" / "b" / "c3" / "leaf.txt").write_text("changed\n")
    files["a/b/c3/leaf.txt"] = b"changed\n"
    second, stats = archive(repo, root, tree)
    assert second != tree and stats.reused_files == len(files) - 1
    (tmp_path / "out").mkdir()
    restore(repo, second, tmp_path / "out")
    assert tree_of(tmp_path / "out") == files


def test_gc_that_repacks_a_pack_into_the_very_same_pack_keeps_it(tmp_path: Path):
    """Packs are named by their bytes: merging small packs where only one holds live blobs
    makes that same pack again, which gc must not then delete (found by the kill test: a
    snapshot's tree was lost)."""
    from kiln.store.maintenance import check, gc
    from kiln.store.roots import Roots

    store = Store(str(tmp_path / "store"), tmp_path / "cache")
    repo = store.repo
    live = [repo.add("d", f"live blob {i}".encode() * 50)[0] for i in range(2)]
    fid = repo.add("f", json.dumps(live).encode())[0]
    repo.flush()  # one small pack: all live
    repo.add("d", b"dead blob" * 50)
    repo.flush()  # another small pack: nothing references it
    roots = Roots(artifacts={fid: ["run/step/out"]})
    packs_before = {p for p, _ in repo.packs()}
    gc(store, lambda: roots)
    assert check(store, roots, read_data=True).ok
    for bid in live:
        assert repo.read("d", bid).startswith(b"live blob")
    assert {p for p, _ in repo.packs()} & packs_before  # a pack was made again and kept
