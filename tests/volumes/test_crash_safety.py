"""kill -9 at random points, concurrent writers with gc, damaged bytes, a full disk: the store
and catalog stay consistent and nothing half-written is ever listed."""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import fill, run_cli, tree_of


def _start(*args: str, preexec=None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "kiln.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=preexec)


def _check_ok() -> None:
    r = run_cli("store", "check", "--read-data", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["ok"]


def _listed() -> list[dict]:
    return json.loads(run_cli("snapshot", "ls", "data", "--json").stdout)


def test_kill_9_anywhere_in_snapshot_restore_prune_and_gc(volume, tmp_path: Path):
    name, folder, _ = volume
    rng = random.Random(7)
    complete: dict[str, dict[str, bytes]] = {}  # snapshot id -> the files it must hold
    assert run_cli("volume", "retention", name, "--keep-last", "2").returncode == 0
    for i in range(10):
        (folder / f"gen{i}.bin").write_bytes(os.urandom(rng.randint(200_000, 3_000_000)))
        expected = tree_of(folder)
        op = ["snapshot", "create", name], ["snapshot", "restore", "data:latest", "--to",
                                             str(tmp_path / f"r{i}")], \
            ["snapshot", "prune", name], ["store", "gc"]
        for args in op:
            p = _start(*args)
            time.sleep(rng.uniform(0.0, 0.9))
            p.send_signal(signal.SIGKILL)
            p.communicate()
        listed = _listed()
        for s in listed:  # whatever is listed is whole
            if s["id"] not in complete:
                complete[s["id"]] = expected
        _check_ok()
        r = run_cli("snapshot", "create", name, "--json")  # the next snapshot succeeds
        assert r.returncode == 0, r.stderr
        complete[json.loads(r.stdout)["id"]] = tree_of(folder)
    for s in _listed():
        out = tmp_path / f"verify-{s['id'][:8]}"
        assert run_cli("snapshot", "restore", s["id"], "--to", str(out)).returncode == 0
        got = tree_of(out)
        assert got == complete[s["id"]] or set(got) <= set(complete[s["id"]]) | {
            f"gen{i}.bin" for i in range(10)}


def test_two_snapshots_and_gc_at_once_lose_nothing(rt, tmp_path: Path):
    from kiln.volumes import volumes

    trees = {}
    for v in ("alpha", "beta"):
        folder = tmp_path / v
        folder.mkdir()
        trees[v] = fill(folder, seed=len(v), small=80, big_mb=6)
        volumes.create(v, folder, rt=rt)
    run_cli("snapshot", "create", "alpha")  # something for gc to chew on
    (tmp_path / "alpha" / "big.bin").write_bytes(os.urandom(4 << 20))
    trees["alpha"] = tree_of(tmp_path / "alpha")
    procs = [_start("snapshot", "create", "alpha", "--json"),
             _start("snapshot", "create", "beta", "--json"),
             _start("store", "gc"), _start("snapshot", "prune", "alpha", "--keep-last", "1")]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    _check_ok()
    for v in ("alpha", "beta"):
        out = tmp_path / f"out-{v}"
        assert run_cli("snapshot", "restore", f"{v}:latest", "--to", str(out)).returncode == 0
        assert tree_of(out) == trees[v]


def _flip(path: Path, at: int) -> None:
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_flipped_byte_is_found_named_and_never_restored(rt, volume, tmp_path: Path,
                                                          kiln_home: Path):
    name, folder, files = volume
    snap = json.loads(run_cli("snapshot", "create", name, "--json").stdout)
    repo = rt.store.repo
    repo.reload_index()
    chunk = json.loads(json.dumps(
        [n for n in repo.read_json("t", snap["tree"])["nodes"] if n["name"] == "big.bin"][0]))
    e = repo.entry("d", chunk["chunks"][1])
    _flip(kiln_home / "store" / "data" / e.pack[:2] / e.pack, e.offset + 100)
    assert run_cli("store", "check").returncode == 0  # structure is intact
    r = run_cli("store", "check", "--read-data")
    assert r.returncode == 1
    assert f"pack {e.pack[:12]} is damaged" in r.stdout
    assert f"data@{snap['id'][:12]}" in r.stdout  # names the snapshot it affects
    out = tmp_path / "out"
    r = run_cli("snapshot", "restore", snap["id"], "--to", str(out))
    assert r.returncode != 0 and "damaged" in r.stderr
    assert not (out / "big.bin").exists()  # no bad data written


def test_a_damaged_index_file_is_reported_and_rebuilt_from_the_packs(rt, volume, tmp_path: Path,
                                                                     kiln_home: Path):
    name, _, files = volume
    assert run_cli("snapshot", "create", name).returncode == 0
    idx = next((kiln_home / "store" / "index").iterdir())
    _flip(idx, 5)
    r = run_cli("store", "check")
    assert r.returncode == 1 and f"index file {idx.name[:12]} is damaged" in r.stdout
    r = run_cli("snapshot", "restore", "data:latest", "--to", str(tmp_path / "x"))
    assert r.returncode != 0 and "kiln store rebuild-index" in r.stderr
    r = run_cli("store", "rebuild-index")
    assert r.returncode == 0 and "index rebuilt from" in r.stdout, r.stderr
    _check_ok()
    assert run_cli("snapshot", "restore", "data:latest", "--to", str(tmp_path / "y")).returncode == 0
    assert tree_of(tmp_path / "y") == files


def test_a_full_disk_fails_the_snapshot_cleanly(volume, tmp_path: Path):
    name, folder, _ = volume
    (folder / "huge.bin").write_bytes(os.urandom(24 << 20))

    def small_disk() -> None:  # writes past 8 MB fail with EFBIG, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8 << 20, 8 << 20))

    p = _start("snapshot", "create", name, preexec=small_disk)
    out, err = p.communicate(timeout=120)
    assert p.returncode != 0
    assert "cannot write" in err and "free disk space" in err
    assert _listed() == []
    _check_ok()
    r = run_cli("snapshot", "create", name, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["files"] > 0
    _check_ok()


@pytest.mark.parametrize("args,expect", [
    (["snapshot", "create", "nope"], "no volume 'nope'"),
    (["snapshot", "restore", "data:latest"], "say where to restore"),
    (["snapshot", "prune", "data", "--keep-last", "0"], "--keep-last"),
    (["snapshot", "create", "data", "--tag", "a:b"], "not a valid tag"),
    (["volume", "schedule", "data", "--every", "1h", "--cron", "* * * * *"], "either"),
])
def test_bad_snapshot_arguments(volume, args, expect):
    if args[1] == "restore":
        assert run_cli("snapshot", "create", "data").returncode == 0
    r = run_cli(*args)
    assert r.returncode in (2, 3) and expect in r.stderr
