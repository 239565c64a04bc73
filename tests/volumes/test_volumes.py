"""Volumes and file operations: CLI and Python API share them; paths never leave the volume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiln.errors import NotFoundError, UserError
from tests.conftest import run_cli


def test_create_list_files_and_remove_through_the_cli(tmp_path: Path, kiln_home: Path):
    assert run_cli("volume", "create", "raw").returncode == 0
    src = tmp_path / "in.csv"
    src.write_text("a,b\n1,2\n")
    assert run_cli("volume", "put", "raw", str(src), "data/in.csv").returncode == 0
    listing = json.loads(run_cli("volume", "files", "raw", "data", "--json").stdout)
    assert listing == [{"path": "data/in.csv", "type": "file", "size": 8,
                        "mtime": listing[0]["mtime"]}]
    assert run_cli("volume", "mv", "raw", "data/in.csv", "data/moved.csv").returncode == 0
    out = tmp_path / "back.csv"
    assert run_cli("volume", "get", "raw", "data/moved.csv", str(out)).returncode == 0
    assert out.read_text() == "a,b\n1,2\n"
    vols = json.loads(run_cli("volume", "ls", "--json").stdout)
    assert [v["name"] for v in vols] == ["raw"] and vols[0]["managed"] is True
    r = run_cli("volume", "rm", "raw")
    assert r.returncode == 2 and "--yes" in r.stderr  # it holds files
    assert run_cli("volume", "rm", "raw", "data/moved.csv").returncode == 0
    assert run_cli("volume", "rm", "raw", "data", "-r").returncode == 0
    assert run_cli("volume", "rm", "raw").returncode == 0
    assert not (kiln_home / "volumes" / "raw").exists()


def test_adopted_folders_are_kept_when_the_volume_goes(rt, tmp_path: Path):
    from kiln.volumes import volumes

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "keep.txt").write_text("x")
    volumes.create("mine", folder, rt=rt)
    with pytest.raises(UserError, match="already the volume 'mine'"):
        volumes.create("other", folder, rt=rt)
    volumes.remove("mine", rt=rt)
    assert (folder / "keep.txt").exists()


@pytest.mark.parametrize("bad", ["../outside.txt", "/etc/passwd", "a/../../x", "link/passwd",
                                 "escape"])
def test_paths_that_leave_the_volume_are_refused(rt, tmp_path: Path, bad: str):
    from kiln.volumes import volumes

    folder = tmp_path / "v"
    folder.mkdir()
    (folder / "link").symlink_to("/etc")
    (folder / "escape").symlink_to("/etc/passwd")
    volumes.create("v", folder, rt=rt)
    for op in (lambda: volumes.read_path("v", bad, rt=rt),
               lambda: volumes.put_bytes("v", bad, b"x", rt=rt),
               lambda: volumes.files("v", bad, rt=rt)):
        with pytest.raises(UserError) as e:
            op()
        assert e.value.where == bad
    assert (tmp_path / "outside.txt").exists() is False


def test_a_symlink_inside_the_volume_can_itself_be_removed(rt, tmp_path: Path):
    from kiln.volumes import volumes

    folder = tmp_path / "v"
    folder.mkdir()
    (folder / "escape").symlink_to("/etc/passwd")
    volumes.create("v", folder, rt=rt)
    volumes.rm("v", "escape", rt=rt)
    assert not (folder / "escape").is_symlink() and Path("/etc/passwd").exists()


def test_bad_names_and_unknown_volumes_get_clear_errors(rt):
    from kiln.volumes import volumes

    with pytest.raises(UserError, match="not a valid volume name"):
        volumes.create("Bad Name", rt=rt)
    volumes.create("training-data", rt=rt)
    with pytest.raises(NotFoundError) as e:
        volumes.files("training-dat", rt=rt)
    assert "training-data" in (e.value.hint or "")
    r = run_cli("volume", "files", "nope")
    assert r.returncode == 3 and "no volume 'nope'" in r.stderr


def test_moves_that_cannot_be_done_are_refused(rt):
    from kiln.volumes import volumes

    volumes.create("mv")
    volumes.put_bytes("mv", "a/b/f.txt", b"x")
    volumes.put_bytes("mv", "g.txt", b"y")
    with pytest.raises(UserError, match="top folder"):
        volumes.mv("mv", "", "")  # found by schemathesis: was an OSError (a 500 over REST)
    with pytest.raises(UserError, match="into itself"):
        volumes.mv("mv", "a", "a/b")
    with pytest.raises(UserError, match="already exists"):
        volumes.mv("mv", "g.txt", "a/b/f.txt")
    assert volumes.mv("mv", "a/b", "") == "b"  # into the top folder keeps the name
    assert sorted(f.path for f in volumes.files("mv", "")) == ["a", "b", "g.txt"]
