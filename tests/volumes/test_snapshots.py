"""Snapshots: create, history, diff, restore, reading one file, retention, schedules."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from kiln.errors import NotFoundError, UserError
from tests.conftest import run_cli, tree_of


def test_snapshot_history_diff_and_restore(rt, volume, tmp_path: Path):
    from kiln.volumes import snapshots

    name, folder, files = volume
    first = snapshots.create(name, "first", ["v1"], rt=rt)
    assert (first.files, first.size) == (len(files), sum(map(len, files.values())))
    (folder / "part0" / "f000.txt").write_text("changed\n")
    (folder / "new.txt").write_text("new\n")
    (folder / "part1" / "f001.txt").unlink()
    second = snapshots.create(name, "second", rt=rt)
    # unchanged files were not read again; only the edits added bytes
    assert second.extra["reused_files"] == len(files) - 2
    assert second.added < 5000
    assert [s.id for s in snapshots.list_snapshots(name, rt=rt)] == [second.id, first.id]
    d = snapshots.diff("data:v1", "data:latest", rt=rt).to_dict()
    assert {(c["path"], c["kind"]) for c in d["changes"]} == {
        ("new.txt", "added"), ("part1/f001.txt", "removed"), ("part0/f000.txt", "modified")}
    out = snapshots.restore("data:v1", to=tmp_path / "out", rt=rt)
    assert tree_of(out) == files
    big = files["big.bin"]
    assert snapshots.read(first.id[:8], "big.bin", 2_000_000, 1000, rt=rt) == \
        big[2_000_000:2_001_000]
    with snapshots.open_file(first.id, "big.bin", rt=rt) as f:  # a seekable file object
        f.seek(-10, os.SEEK_END)
        assert f.read() == big[-10:]


def test_names_in_any_encoding_round_trip(rt, volume, tmp_path: Path):
    """UTF-8 names are stored as UTF-8; a name that is not valid UTF-8 (bytes Python keeps as
    surrogates) still snapshots, diffs and restores byte for byte."""
    from kiln.volumes import snapshots

    name, folder, _ = volume
    (folder / "données-é.csv").write_text("a\n")
    raw = os.fsencode(folder) + b"/bad-\xff-name.bin"
    with open(raw, "wb") as f:
        f.write(b"odd")
    first = snapshots.create(name, "names", rt=rt)
    out = snapshots.restore(first.id, to=tmp_path / "out", rt=rt)
    assert (out / "données-é.csv").read_text() == "a\n"
    with open(os.fsencode(out) + b"/bad-\xff-name.bin", "rb") as f:
        assert f.read() == b"odd"
    os.remove(raw)
    second = snapshots.create(name, rt=rt)
    d = snapshots.diff(first.id, second.id, rt=rt).to_dict()
    assert [(c["path"], c["kind"]) for c in d["changes"]] == [(os.fsdecode(b"bad-\xff-name.bin"),
                                                                "removed")]


def test_cli_snapshot_commands(volume, tmp_path: Path):
    name, folder, files = volume
    r = run_cli("snapshot", "create", name, "-m", "one", "--tag", "base", "--json")
    assert r.returncode == 0, r.stderr
    snap = json.loads(r.stdout)
    hist = json.loads(run_cli("snapshot", "ls", name, "--json").stdout)
    assert [h["id"] for h in hist] == [snap["id"]] and hist[0]["tags"] == ["base"]
    cat = run_cli("snapshot", "cat", "data:base", "part0/f000.txt")
    assert cat.stdout.encode() == files["part0/f000.txt"]
    show = json.loads(run_cli("snapshot", "show", snap["id"][:10], "--json").stdout)
    assert {e["path"] for e in show["entries"] if e["type"] == "file"} == set(files)
    r = run_cli("snapshot", "restore", "data:base", "--to", str(folder))
    assert r.returncode == 2 and "not empty" in r.stderr
    r = run_cli("snapshot", "restore", "data:base", "--new-volume", "copy")
    assert r.returncode == 0, r.stderr
    assert run_cli("volume", "files", "copy", "big.bin").returncode == 0
    r = run_cli("snapshot", "show", "zzzz")
    assert r.returncode == 3 and "no snapshot 'zzzz'" in r.stderr
    r = run_cli("snapshot", "cat", "data:base", "../etc/passwd")
    assert r.returncode == 2 and "'..'" in r.stderr


def test_snapshot_commands_start_without_the_orm_or_pydantic(volume):
    """Most of a second snapshot's time is the command starting (benchmarks/RESULTS.md):
    these two imports alone were 0.6 s of it from a cold cache. Run the commands and read the
    interpreter's own import log."""
    name, _, _ = volume
    for args in (["snapshot", "create", name, "-m", "one"], ["snapshot", "ls", name],
                 ["volume", "ls"]):
        r = run_cli(*args, env={"PYTHONPROFILEIMPORTTIME": "1"})  # python -X importtime
        assert r.returncode == 0, r.stderr
        imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines()
                    if line.startswith("import time:")}
        assert "kiln.catalog.volumes" in imported  # the log is the command's own
        assert not {"sqlalchemy.orm", "kiln.catalog.schema", "pydantic"} & imported, args


def test_restore_over_a_folder_needs_force(rt, volume, tmp_path: Path):
    from kiln.volumes import snapshots

    name, folder, files = volume
    snapshots.create(name, rt=rt)
    target = tmp_path / "t"
    target.mkdir()
    (target / "stray.txt").write_text("x")
    with pytest.raises(UserError, match="not empty"):
        snapshots.restore("data:latest", to=target, rt=rt)
    snapshots.restore("data:latest", to=target, force=True, rt=rt)
    assert tree_of(target) == {**files, "stray.txt": b"x"}
    snapshots.restore("data:latest", to=target, force=True, clean=True, rt=rt)
    assert tree_of(target) == files


@pytest.mark.skipif(os.geteuid() == 0 and shutil.which("setpriv") is None,
                    reason="root reads every file; needs setpriv to drop root")
def test_unreadable_files_are_skipped_with_a_warning():
    import sys
    import tempfile

    from tests.conftest import fill

    base = Path(tempfile.mkdtemp(prefix="kiln-unreadable-"))  # reachable by another user
    try:
        base.chmod(0o777)
        folder = base / "vol"
        folder.mkdir()
        files = fill(folder, small=5, big_mb=0.5)
        secret = folder / "secret.txt"
        secret.write_text("no")
        env = {**os.environ, "KILN_HOME": str(base / "home"), "HOME": str(base)}
        assert run_cli("volume", "create", "data", "--path", str(folder), env=env).returncode == 0
        for p in [base, *base.rglob("*")]:
            if not p.is_symlink():
                p.chmod(0o777 if p.is_dir() else 0o666)
        secret.chmod(0o000)
        cmd = [sys.executable, "-m", "kiln.cli", "snapshot", "create", "data", "--json"]
        if os.geteuid() == 0:
            drop = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
            probe = subprocess.run([*drop, sys.executable, "-c", "import kiln"], env=env,
                                   capture_output=True)
            if probe.returncode:  # e.g. a checkout in a 0700 folder
                pytest.skip("another user cannot import kiln from this checkout")
            cmd = [*drop, *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        assert "skipped secret.txt: Permission denied" in r.stderr
        snap = json.loads(r.stdout)
        assert snap["files"] == len(files) and snap["skipped"][0]["path"] == "secret.txt"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _snap(i: int, when: datetime, tags: list[str] | None = None):
    from kiln.catalog.volumes import SnapshotInfo

    return SnapshotInfo(f"{i:064x}", "v", "t", None, "", tags or [], 0, 0, 0, None, None, when)


def test_retention_rules_follow_restic_forget():
    from kiln.volumes.retention import decide

    start = datetime(2026, 1, 1, 0, 30)
    # one snapshot every 6 hours for 20 days, newest first
    snaps = [_snap(i, start + timedelta(hours=6 * i)) for i in range(80)][::-1]
    snaps[40].tags = ["release"]
    keep = decide(snaps, {"keep_last": 3, "keep_daily": 5, "keep_weekly": 2,
                          "keep_tags": ["release"]})
    newest = [s.id for s in snaps[:3]]
    assert all("last" in keep[i] for i in newest)
    daily = [i for i, why in keep.items() if "daily" in why]
    assert len(daily) == 5  # the newest snapshot of each of the 5 newest days
    assert len({next(s for s in snaps if s.id == i).created_at.date() for i in daily}) == 5
    assert len([i for i, why in keep.items() if "weekly" in why]) == 2
    assert "tag release" in keep[snaps[40].id]
    with pytest.raises(UserError, match="unknown retention rule 'keep_forever'"):
        decide(snaps, {"keep_forever": 1})
    with pytest.raises(UserError, match="at least 1"):
        decide(snaps, {"keep_last": 0})


def test_prune_forgets_what_the_policy_does_not_keep_and_gc_frees_it(rt, volume):
    from kiln.catalog.roots import live_roots
    from kiln.store import maintenance
    from kiln.volumes import snapshots

    name, folder, files = volume
    with pytest.raises(UserError, match="no retention policy"):
        snapshots.prune(name, rt=rt)
    ids = []
    for i in range(4):
        (folder / "gen.bin").write_bytes(os.urandom(300_000))  # each version only in its own
        ids.append(snapshots.create(name, f"gen {i}", ["keep"] if i == 0 else [], rt=rt).id)
    snapshots.set_retention(name, {"keep_last": 2, "keep_tags": ["keep"]}, rt=rt)
    plan = snapshots.prune(name, dry_run=True, rt=rt)
    assert [s.id for s in plan.remove] == [ids[1]]
    assert len(snapshots.list_snapshots(name, rt=rt)) == 4
    snapshots.prune(name, rt=rt)
    assert {s.id for s in snapshots.list_snapshots(name, rt=rt)} == {ids[0], ids[2], ids[3]}
    rep = maintenance.gc(rt.store, lambda: live_roots(rt.catalog))
    assert rep.bytes_freed > 250_000
    check = maintenance.check(rt.store, live_roots(rt.catalog), read_data=True)
    assert check.ok, check.errors
    with pytest.raises(NotFoundError):
        snapshots.get(ids[1], rt=rt)


def test_scheduled_snapshots_take_one_at_a_time_without_catch_up(rt, volume):
    from kiln.catalog import volumes as records
    from kiln.volumes import schedules, snapshots

    name, folder, _ = volume
    with pytest.raises(UserError, match="not an interval"):
        schedules.set_schedule(name, every="5 minutes", rt=rt)
    with pytest.raises(UserError, match="not a cron expression"):
        schedules.set_schedule(name, cron="every hour", rt=rt)
    schedules.set_schedule(name, every="1h", rt=rt)
    # the volume was created long ago and no scheduled snapshot ran since: many slots missed
    records.set_volume(rt.catalog, name, created_at=datetime(2020, 1, 1))
    log: list[str] = []
    assert schedules.tick(rt, log.append) == [name]
    assert schedules.tick(rt, log.append) == []  # one snapshot for all missed slots, not 50k
    assert len(snapshots.list_snapshots(name, rt=rt)) == 1
    schedules.set_schedule(name, cron="* * * * *", rt=rt)
    s = snapshots.list_snapshots(name, rt=rt)[0]
    assert schedules.next_due(records.get_volume(rt.catalog, name), s.created_at) > s.created_at
    records.set_volume(rt.catalog, name, schedule={"every": 1})
    import time

    time.sleep(1.1)
    with snapshots.volume_lock(rt, name):  # a snapshot of this volume is running
        assert schedules.tick(rt, log.append) == []
    assert "still running; skipped" in log[-1]


def test_snapshot_names_suggest_close_tags(rt, volume):
    from kiln.volumes import snapshots

    name, _, _ = volume
    with pytest.raises(NotFoundError, match="no snapshots yet"):
        snapshots.get("data:latest", rt=rt)
    snapshots.create(name, tags=["release-1"], rt=rt)
    with pytest.raises(NotFoundError) as e:
        snapshots.get("data:relase-1", rt=rt)
    assert "data:release-1" in (e.value.hint or "")
    with pytest.raises(NotFoundError, match="no volume 'dta'"):
        snapshots.get("dta:latest", rt=rt)


def test_volumes_on_an_s3_store_through_the_cli(s3_env: str, volume, tmp_path: Path):
    import boto3

    boto3.client("s3").create_bucket(Bucket="team-store")
    env = {"KILN_STORE": "s3://team-store/kiln"}
    name, folder, files = volume
    r = run_cli("snapshot", "create", name, "--json", env=env)
    assert r.returncode == 0, r.stderr
    (folder / "part0" / "f000.txt").write_text("edited")
    assert run_cli("snapshot", "create", name, env=env).returncode == 0
    out = tmp_path / "from-s3"
    first = json.loads(r.stdout)["id"]
    assert run_cli("snapshot", "restore", first, "--to", str(out), env=env).returncode == 0
    assert tree_of(out) == files
    assert run_cli("snapshot", "prune", name, "--keep-last", "1", env=env).returncode == 0
    assert run_cli("store", "gc", env=env).returncode == 0
    r = run_cli("store", "check", "--read-data", "--json", env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["ok"]
    keys = boto3.client("s3").list_objects_v2(Bucket="team-store")["Contents"]
    assert any(k["Key"].startswith("kiln/data/") for k in keys)
    assert not any(k["Key"].startswith("kiln/locks/") for k in keys)  # all released


def test_byte_ranges_read_whole_across_chunk_boundaries(rt, volume):
    from kiln.volumes import snapshots

    name, folder, files = volume
    big = files["big.bin"]  # several content-defined chunks
    snapshots.create(name, "ranges", ["ranges"], rt=rt)
    ref = f"{name}:ranges"
    assert snapshots.read(ref, "big.bin", rt=rt) == big
    for offset, length in ((0, len(big)), (1, len(big) - 2), (len(big) // 3, len(big) // 2),
                           (len(big) - 10, 100), (len(big) + 5, 10), (7, 0)):
        got = snapshots.read(ref, "big.bin", offset, length, rt=rt)
        assert got == big[offset:offset + length], (offset, length, len(got))


def test_restore_never_writes_over_kiln_home(rt, volume, tmp_path: Path, kiln_home):
    from kiln.errors import UserError
    from kiln.volumes import snapshots, volumes

    name, folder, _ = volume
    snapshots.create(name, "safe", ["safe"], rt=rt)
    for target in (kiln_home, kiln_home.parent, kiln_home / "store", kiln_home / "runs" / "x"):
        with pytest.raises(UserError, match="refusing to restore") as e:
            snapshots.restore(f"{name}:safe", to=target, force=True, clean=True, rt=rt)
        assert e.value.where == "--to"
    assert (kiln_home / "catalog.db").exists()
    # a managed volume's own folder is a fair target
    volumes.create("managed", rt=rt)
    inside = kiln_home / "volumes" / "managed"
    assert snapshots.restore(f"{name}:safe", to=inside, force=True, rt=rt) == inside
