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


def _check_ok(history: list[str] | None = None) -> None:
    r = run_cli("store", "check", "--read-data", "--json")
    assert r.returncode == 0, r.stdout + r.stderr + "\n".join((history or [])[-15:])
    assert json.loads(r.stdout)["ok"]


def _listed() -> list[dict]:
    return json.loads(run_cli("snapshot", "ls", "data", "--json").stdout)


KILL_POINTS = 200
RUN_MODULE = """
import kiln
import numpy as np

@kiln.step
def make(seed: int):
    return np.random.default_rng(seed).random(200_000)

@kiln.step
def total(x) -> float:
    return float(x.sum())

@kiln.pipeline
def numbers(seed: int = 0):
    total(make(seed))
"""


def _temp_leftover(rel: str) -> bool:
    """A file a killed restore was still writing (it writes `.NAME.kiln-XXXX`, then
    renames): never a file of the snapshot, never passed off as one."""
    return ".kiln-" in rel.rsplit("/", 1)[-1]


@pytest.mark.slow
def test_kill_9_at_200_points_of_run_snapshot_restore_prune_and_gc(volume, tmp_path: Path):
    """kill -9 at random moments of each command: afterwards every listed snapshot restores
    to exactly the bytes it was taken from, every file a killed restore left is whole and
    right, a killed run is failed (or whole), and the store checks clean, data read."""
    name, folder, _ = volume
    module = tmp_path / "numbers.py"
    module.write_text(RUN_MODULE)
    rng = random.Random(20261202)
    taken: dict[str, dict[str, bytes]] = {}  # snapshot id -> the files it must hold
    assert run_cli("volume", "retention", name, "--keep-last", "3").returncode == 0
    first = json.loads(run_cli("snapshot", "create", name, "--json").stdout)
    taken[first["id"]] = tree_of(folder)
    ops = ["run", "snapshot", "restore", "prune", "gc"]
    killed: dict[str, int] = dict.fromkeys(ops, 0)
    history: list[str] = []  # what happened at each point, for a failure's message
    took: dict[str, float] = dict.fromkeys(ops, 1.5)  # how long each command runs, learnt
    from kiln.catalog.volumes import list_snapshots
    from kiln.runtime import Runtime

    def listed() -> list[str]:  # read in this process: a CLI call per point costs ~0.5 s
        return [x.id for x in list_snapshots(Runtime.open().catalog, name)]

    for point in range(KILL_POINTS):
        if point % 10 == 0:  # the volume changes now and then, so snapshots differ
            (folder / f"gen{point}.bin").write_bytes(os.urandom(rng.randint(50_000, 900_000)))
        now = tree_of(folder)
        op = ops[point % len(ops)]
        restore_to = tmp_path / f"r{point}"
        seed = rng.randint(0, 3)
        args = {"run": ["run", f"{module}:numbers", "-p", f"seed={seed}"],
                "snapshot": ["snapshot", "create", name],
                "restore": ["snapshot", "restore", f"{name}:latest", "--to", str(restore_to)],
                "prune": ["snapshot", "prune", name],
                "gc": ["store", "gc"]}[op]
        latest = listed()[0] if op == "restore" else None
        began = time.monotonic()
        p = _start(*args)
        time.sleep(rng.uniform(0.1, 1.0) * took[op])  # somewhere inside the command
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed[op] += 1
            how = f"killed after {time.monotonic() - began:.2f}s"
        else:
            took[op] = 0.5 * took[op] + 0.5 * (time.monotonic() - began)
            how = f"exited {p.returncode}"
        out, err = p.communicate()
        history.append(f"{point} {op} {how}: {(out + err).strip()[-200:]}")
        for sid in listed():  # whatever is listed is whole: it was taken from `now`
            taken.setdefault(sid, now)
        if op == "restore" and restore_to.exists():
            want = taken[latest]
            for rel, data in tree_of(restore_to).items():
                if not _temp_leftover(rel):
                    assert data == want[rel], f"point {point}: restored {rel} differs"
        if point % 25 == 24:
            _check_ok(history)
    assert sum(killed.values()) >= KILL_POINTS // 2, killed  # most points really were kills
    print(f"kill points: {KILL_POINTS}, killed mid-command: {killed}")
    _check_ok()
    for s in _listed():
        out = tmp_path / f"verify-{s['id'][:8]}"
        assert run_cli("snapshot", "restore", s["id"], "--to", str(out)).returncode == 0
        assert tree_of(out) == taken[s["id"]], s["id"]
    runs = json.loads(run_cli("runs", "ls", "--json", "--limit", "500").stdout)
    assert runs and all(r["status"] in ("succeeded", "failed") for r in runs), \
        {r["status"] for r in runs}  # a killed run is found failed ("interrupted") when read
    import numpy as np

    import kiln

    for r in runs:  # a run recorded as succeeded holds exactly what its steps computed
        if r["status"] == "succeeded":
            run = kiln.get_run(r["id"])
            x = np.random.default_rng(run.params["seed"]).random(200_000)
            assert np.array_equal(run.output("make"), x) and run.output("total") == float(x.sum())
    r = run_cli("run", f"{module}:numbers")  # and the next run works
    assert r.returncode == 0, r.stderr
    _check_ok()


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
