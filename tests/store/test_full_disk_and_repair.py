"""A full disk under a run's store, records left naming lost blobs, and the way back:
`kiln store check --repair` and a gc that never refuses because of a crash."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import kiln
from tests.conftest import run_cli

BIG = '''
import kiln
import numpy as np

@kiln.step
def make(mb: int):
    return np.random.default_rng(0).random(mb * 131072)  # mb MiB of float64 noise

@kiln.step
def total(x) -> float:
    return float(x.sum())

@kiln.pipeline
def big(mb: int = 24):
    total(make(mb))
'''


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 16 MiB filesystem (tmpfs): writes past it fail with ENOSPC."""
    where = tmp_path / "disk"
    where.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(where)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_fails_the_step_with_the_real_cause_and_leaves_the_store_clean(
        small_disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KILN_STORE", str(small_disk / "store"))
    path = tmp_path / "big.py"
    path.write_text(BIG)
    r = run_cli("run", f"{path}:big")
    assert r.returncode != 0
    text = (r.stdout + r.stderr).replace("\n", " ")
    assert "No space left on device" in text or "no space left" in text.lower(), text[-2000:]
    assert "define something serializable" not in text
    runs = json.loads(run_cli("runs", "ls", "--json").stdout)
    assert runs[0]["status"] == "failed"
    detail = json.loads(run_cli("runs", "show", runs[0]["id"], "--json").stdout)
    tasks = {t["step"]: t for t in detail["tasks"]}
    assert tasks["make"]["status"] == "failed"
    assert "No space left on device" in tasks["make"]["error"]
    # downstream: skipped, or (had it started from the cached copy while the outputs were
    # being stored) failed because its input never became durable; never succeeded
    assert tasks["total"]["status"] == "skipped" or (
        tasks["total"]["status"] == "failed"
        and "upstream step 'make' could not store its outputs" in tasks["total"]["error"])
    check = run_cli("store", "check", "--read-data", "--json")
    assert check.returncode == 0 and json.loads(check.stdout)["ok"], check.stdout
    # with room again, the same pipeline runs (nothing half-written is in the way)
    r = run_cli("run", f"{path}:big", "-p", "mb=2")
    assert r.returncode == 0, r.stderr


def _lose_pack_of(kiln_home: Path, kind: str, digest: str) -> str:
    """Delete the pack holding a blob, as if a crash had kept it from the disk."""
    from kiln.runtime import Runtime

    repo = Runtime.open().store.repo
    repo.reload_index()
    pack = repo.entry(kind, digest).pack
    (kiln_home / "store" / "data" / pack[:2] / pack).unlink()
    return pack


def test_repair_marks_runs_with_lost_outputs_failed_and_gc_goes_on(kiln_home, module,
                                                                   tmp_path):
    path = module('''
import kiln

@kiln.step
def make() -> list:
    return list(range(1000))

@kiln.step
def count(xs: list) -> int:
    return len(xs)

@kiln.pipeline
def p():
    count(make())
''')
    run = kiln.run(f"{path}:p", progress=False)
    from kiln.catalog.roots import live_roots
    from kiln.runtime import Runtime

    roots = live_roots(Runtime.open().catalog)
    digest = next(d for d, who in roots.artifacts.items()
                  if any(w.startswith(f"{run.id}/make/") for w in who))
    pack = _lose_pack_of(kiln_home, "f", digest)
    r = run_cli("store", "check")
    assert r.returncode == 1 and f"pack {pack[:12]} is missing" in r.stdout
    assert "kiln store check --repair" in r.stdout
    # gc does not refuse: it names what it could not follow and how to repair
    r = run_cli("store", "gc")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "skipped:" in r.stdout and "kiln store check --repair" in r.stdout
    r = run_cli("store", "check", "--repair")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"step marked failed (its output was lost): {run.id}/make" in r.stdout
    assert f"run marked failed: {run.id}" in r.stdout
    assert "ok:" in r.stdout
    shown = json.loads(run_cli("runs", "show", run.id, "--json").stdout)
    assert shown["status"] == "failed"
    make = next(t for t in shown["tasks"] if t["step"] == "make")
    assert make["status"] == "failed" and "lost from the store" in make["error"]
    # the lost output is no cache hit: the next run computes it again
    again = kiln.run(f"{path}:p", progress=False)
    assert again.status == "succeeded" and again.output("count") == 1000
    r = run_cli("store", "check", "--read-data")
    assert r.returncode == 0 and "skipped" not in run_cli("store", "gc").stdout


def test_repair_removes_snapshots_whose_data_is_lost(kiln_home, volume, tmp_path):
    name, _, _ = volume
    first = json.loads(run_cli("snapshot", "create", name, "--json").stdout)
    _lose_pack_of(kiln_home, "t", first["tree"])
    r = run_cli("store", "check", "--repair")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"snapshot removed (its data was lost): data@{first['id'][:12]}" in r.stdout
    assert json.loads(run_cli("snapshot", "ls", name, "--json").stdout) == []
    r = run_cli("snapshot", "create", name, "--json")  # the volume snapshots again
    assert r.returncode == 0
    out = tmp_path / "back"
    assert run_cli("snapshot", "restore", f"{name}:latest", "--to", str(out)).returncode == 0
    assert run_cli("store", "check", "--read-data").returncode == 0


def test_gc_deletes_nothing_when_blobs_the_index_names_cannot_be_read(kiln_home, volume):
    """Damage is not a crash: gc cannot tell what an unreadable tree reaches, so it keeps
    everything and says what to run."""
    name, _, _ = volume
    snap = json.loads(run_cli("snapshot", "create", name, "--json").stdout)
    from kiln.runtime import Runtime

    repo = Runtime.open().store.repo
    repo.reload_index()
    e = repo.entry("t", snap["tree"])
    pack = kiln_home / "store" / "data" / e.pack[:2] / e.pack
    pack.chmod(0o644)
    data = bytearray(pack.read_bytes())
    for i in range(e.offset, e.offset + min(e.length, 64)):
        data[i] ^= 0xFF
    pack.write_bytes(bytes(data))
    before = sorted(p.name for p in (kiln_home / "store" / "data").rglob("*") if p.is_file())
    r = run_cli("store", "gc")
    assert r.returncode == 1 and "gc deleted nothing" in r.stdout
    assert "kiln store check --read-data" in r.stdout
    after = sorted(p.name for p in (kiln_home / "store" / "data").rglob("*") if p.is_file())
    assert before == after


def test_a_full_disk_under_the_step_s_own_write_names_the_disk_not_the_value(
        small_disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The step process writes its output into KILN_HOME's cache first: a full disk there
    is no reason to tell the user to return something serializable."""
    monkeypatch.setenv("KILN_HOME", str(small_disk / "home"))
    path = tmp_path / "big.py"
    path.write_text(BIG)
    r = run_cli("run", f"{path}:big")
    text = " ".join((r.stdout + r.stderr).split())
    assert r.returncode != 0 and "no space left on device" in text, text[-1500:]
    assert "serializable" not in text and "register a codec" not in text
    assert run_cli("store", "check", "--json").returncode == 0
