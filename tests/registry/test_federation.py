"""Two (and three) installations on loopback, each its own server, catalog and store:
publish on A, subscribe on B, change 1% on A and publish, B syncs only the change; a sync cut
off by kill -9 resumes without fetching again what arrived; a peer sending damaged pieces is
dropped for another (or the sync fails clearly and writes nothing); the registry being down
does not stop a peer that has the version; peers that chunk differently are refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.registry.conftest import Site, same_tree, serving, write_files


@pytest.fixture
def a(tmp_path: Path) -> Site:
    return Site(tmp_path / "a")


@pytest.fixture
def b(tmp_path: Path) -> Site:
    return Site(tmp_path / "b")


def publish(site: Site, *args: str) -> dict:
    r = site.cli("publish", *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_b_follows_a_and_moves_only_the_change(a: Site, b: Site):
    assert a.cli("volume", "create", "data").returncode == 0
    write_files(a.volume_path("data"), 100, 100_000)  # 10 MB in 100 files
    with serving(a):
        publish(a, "data", "--bucket", "local/features", "-m", "first", "--visibility", "public")
        with serving(b):  # noqa: SIM117 - B's client needs B's address
            with b.api() as api_b:
                r = api_b.post("/subscriptions", json={"bucket": "local/features", "to": "feat",
                                                       "sources": [a.url]})
                assert r.status_code == 201, r.text
                first = r.json()["sync"]
                assert first["version"] == 1 and first["fetched"] == first["pieces"]
                assert same_tree(a.volume_path("data"), b.volume_path("feat"))
                # 1% of the volume changes on A: one file of the hundred
                changed = a.volume_path("data") / "part-0042.bin"
                changed.write_bytes(os.urandom(100_000))
                publish(a, "data", "--bucket", "local/features", "-m", "second")
                sid = r.json()["id"]
                second = api_b.post(f"/subscriptions/{sid}/sync").json()
                assert second["version"] == 2 and second["held"] == 1
                # the changed file's chunk and the root tree; everything else was here
                assert second["fetched"] == 2 and second["present"] == second["pieces"] - 2
                assert second["content_bytes"] <= 1.2 * 100_000 + 4096
                assert second["bytes_received"] < 2 * 100_000 + 32_000, second
                assert same_tree(a.volume_path("data"), b.volume_path("feat"))
                again = api_b.post(f"/subscriptions/{sid}/sync").json()
                assert again["up_to_date"] and again["fetched"] == 0
                # B's volume keeps each received version as a snapshot, the newest restored
                snaps = api_b.get("/volumes/feat/snapshots").json()
                assert len(snaps) == 2 and "local/features v2" in snaps[0]["message"]
                # B now also holds the bucket as a mirror of A
                shown = api_b.get("/registry/buckets/local/features").json()
                assert shown["origin"] == a.url and shown["head"] == 2


def test_a_sync_cut_off_by_kill_resumes_without_fetching_again(a: Site, b: Site):
    assert a.cli("volume", "create", "big").returncode == 0
    (a.volume_path("big") / "seed.txt").write_text("v1")
    with serving(a):
        publish(a, "big", "--bucket", "local/big")
        r = b.cli("subscribe", "local/big", "--to", "big", "--from", a.url, "--json")
        assert r.returncode == 0, r.stderr
        sid = json.loads(r.stdout)["id"]
        write_files(a.volume_path("big"), 60, 300_000)  # 18 MB, 60 chunks
        publish(a, "big", "--bucket", "local/big")
        proc = subprocess.Popen([sys.executable, "-m", "kiln.cli", "subscription", "sync",
                                 str(sid), "--json"], env={**os.environ, **b.env,
                                                           "KILN_SYNC_BATCH_BYTES": "700000"},
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("batch 5/"):
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=60)
        proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL
        # nothing landed: the volume still holds v1 and the subscription says v1
        assert not (b.volume_path("big") / "part-0000.bin").exists()
        r = b.cli("subscription", "sync", str(sid), "--json")
        assert r.returncode == 0, r.stderr
        done = json.loads(r.stdout)
        assert done["version"] == 2
        assert done["present"] >= 5 * 2  # five batches of two pieces arrived before the kill
        assert done["fetched"] == done["pieces"] - done["present"]
        assert same_tree(a.volume_path("big"), b.volume_path("big"))
        # the kill left no pin behind for gc to keep
        r = b.cli("store", "check")
        assert r.returncode == 0, r.stdout + r.stderr


def _damage_chunks(site: Site) -> None:
    """Flip bytes inside every pack's blobs (not headers) of a store: a damaged disk."""
    for pack in (site.home / "store" / "data").rglob("*"):
        if pack.is_file():
            data = bytearray(pack.read_bytes())
            for i in range(100, min(len(data) - 4096, 200_000), 997):
                data[i] ^= 0xFF
            pack.write_bytes(bytes(data))


def test_a_peer_sending_damaged_pieces_is_dropped_for_another(a: Site, b: Site, tmp_path):
    m = Site(tmp_path / "m")
    assert a.cli("volume", "create", "data").returncode == 0
    write_files(a.volume_path("data"), 5, 400_000)
    with serving(a):
        publish(a, "data", "--bucket", "local/data")
        r = m.cli("subscribe", "local/data", "--to", "data", "--from", a.url)
        assert r.returncode == 0, r.stderr
        _damage_chunks(a)
        with serving(m):
            # B asks the damaged A first, then the mirror M
            r = b.cli("subscribe", "local/data", "--to", "data", "--from", a.url,
                      "--from", m.url, "--json")
            assert r.returncode == 0, r.stderr
            got = json.loads(r.stdout)["sync"]
            assert got["source"] == m.url and got["dropped"]
            assert "does not match its id" in got["dropped"][0]
            assert same_tree(m.volume_path("data"), b.volume_path("data"))
        # with only the damaged A: a clear failure, and nothing written
        c = Site(tmp_path / "c")
        r = c.cli("subscribe", "local/data", "--to", "data", "--from", a.url)
        assert r.returncode == 1 and "no source sent local/data v1 whole" in r.stderr
        assert "does not match its id" in r.stderr
        assert not c.volume_path("data").exists() or not any(c.volume_path("data").iterdir())
        r = c.cli("subscription", "ls", "--json")
        assert json.loads(r.stdout) == []  # a subscription whose first sync failed is not kept


def test_peers_still_sync_while_the_origin_is_down(a: Site, b: Site, tmp_path):
    c = Site(tmp_path / "c")
    assert a.cli("volume", "create", "data").returncode == 0
    write_files(a.volume_path("data"), 3, 50_000)
    with serving(a):
        publish(a, "data", "--bucket", "local/data")
        assert b.cli("subscribe", "local/data", "--to", "copy", "--from", a.url).returncode == 0
        origin = a.url
    # A is down now; C asks A first, then B, which has the version
    with serving(b):
        r = c.cli("subscribe", "local/data", "--to", "data", "--from", origin,
                  "--from", b.url, "--json")
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)["sync"]
        assert got["source"] == b.url and "cannot be reached" in got["dropped"][0]
        assert same_tree(a.volume_path("data"), c.volume_path("data"))


def test_stores_that_chunk_differently_are_refused(a: Site, b: Site):
    assert a.cli("volume", "create", "data").returncode == 0
    (a.volume_path("data") / "f.txt").write_text("x")
    store = b.home / "store"
    store.mkdir(parents=True)
    (store / "config").write_text(json.dumps({
        "version": 1, "id": "0" * 32, "chunk_min": 65536, "chunk_avg": 262144,
        "chunk_max": 1048576, "pack_size": 16777216, "zstd_level": 3}))
    with serving(a):
        publish(a, "data", "--bucket", "local/data")
        r = b.cli("subscribe", "local/data", "--to", "data", "--from", a.url)
        assert r.returncode == 2 and "chunks its store differently" in r.stderr
        assert "chunk_avg 1048576 there, 262144 here" in r.stderr


def test_gc_keeps_published_content_and_the_scheduler_follows(a: Site, b: Site, monkeypatch):
    """A published version outlives its snapshot on the publisher (gc keeps it), and the
    subscriber's scheduler brings new versions without being asked."""
    from kiln.catalog.volumes import delete_snapshots, list_snapshots
    from kiln.home import Home
    from kiln.runtime import Runtime
    from kiln.scheduler import tick

    assert a.cli("volume", "create", "data").returncode == 0
    write_files(a.volume_path("data"), 4, 200_000)
    with serving(a):
        publish(a, "data", "--bucket", "local/data")
        assert b.cli("subscribe", "local/data", "--to", "data", "--from", a.url).returncode == 0
        # the publisher drops the snapshot and collects garbage: the version's content stays
        rt_a = Runtime.open(Home(a.home.resolve()))
        delete_snapshots(rt_a.catalog, [s.id for s in list_snapshots(rt_a.catalog)])
        write_files(a.volume_path("data"), 4, 200_000, seed=1)
        publish(a, "data", "--bucket", "local/data", "-m", "new files")
        delete_snapshots(rt_a.catalog, [s.id for s in list_snapshots(rt_a.catalog)])
        r = a.cli("store", "gc")
        assert r.returncode == 0, r.stderr
        assert a.cli("store", "check", "--read-data").returncode == 0
        rt_b = Runtime.open(Home(b.home.resolve()))
        monkeypatch.setenv("KILN_SYNC_INTERVAL", "0")
        logged: list[str] = []
        tick(rt_b, logged.append)
        assert any("local/data v2" in m for m in logged), logged
        assert same_tree(a.volume_path("data"), b.volume_path("data"))
        tick(rt_b, logged.append)  # nothing new: nothing fetched, nothing said
        assert len([m for m in logged if "local/data v2" in m]) == 1
