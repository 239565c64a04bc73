"""Volumes: named folders that runs mount and snapshots version, plus file operations in them.

The CLI (`kiln volume ...`), the Python API (`kiln.volumes`) and the REST API call these.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln import names
from kiln.catalog import volumes as records
from kiln.catalog.volumes import VolumeInfo
from kiln.errors import NotFoundError, UserError
from kiln.files import atomic_path
from kiln.runtime import Runtime
from kiln.volumes.paths import inside


@dataclass
class FileEntry:
    path: str
    type: str  # file, dir, symlink
    size: int
    mtime: float

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def check_name(name: str) -> str:
    return names.check_name("volume", name)


def create(name: str, path: str | Path | None = None, *, rt: Runtime | None = None) -> VolumeInfo:
    """A new managed folder under KILN_HOME/volumes, or adopt an existing folder (`path`)."""
    rt = rt or Runtime.open()
    check_name(name)
    if path is None:
        folder = rt.home.volumes_dir / name
        if folder.exists() and any(folder.iterdir()):
            raise UserError(f"{folder} already exists and is not empty",
                            hint="adopt it with --path, or pick another name")
        managed = True
    else:
        folder = Path(path).expanduser().resolve()
        if not folder.is_dir():
            raise UserError(f"{path} is not a folder", where="--path",
                            hint="create it first, or leave out --path for a managed volume")
        managed = False
    info = records.add_volume(rt.catalog, name, str(folder), managed)
    folder.mkdir(parents=True, exist_ok=True)
    return info


def get(name: str, *, rt: Runtime | None = None) -> VolumeInfo:
    return records.get_volume((rt or Runtime.open()).catalog, name)


def list_volumes(*, rt: Runtime | None = None) -> list[VolumeInfo]:
    return records.list_volumes((rt or Runtime.open()).catalog)


def listing(*, rt: Runtime | None = None) -> list[dict[str, Any]]:
    """Every volume as a dict with its latest snapshot (or None; its files and size are the
    volume's at that snapshot) and its number of snapshots: what `kiln volume ls` and GET
    /volumes show."""
    cat = (rt or Runtime.open()).catalog
    counts = records.snapshot_counts(cat)
    out = []
    for v in records.list_volumes(cat):
        snap = records.latest_snapshot(cat, v.name)
        out.append({**v.to_dict(), "latest_snapshot": snap.to_dict() if snap else None,
                    "snapshots": counts.get(v.name, 0)})
    return out


def remove(name: str, *, rt: Runtime | None = None) -> VolumeInfo:
    """Forget a volume and its snapshots (gc frees their bytes). A managed volume's folder is
    deleted; an adopted folder is left as it is."""
    rt = rt or Runtime.open()
    info = records.get_volume(rt.catalog, name)
    records.remove_volume(rt.catalog, name)
    if info.managed:
        shutil.rmtree(info.path, ignore_errors=True)
    return info


def root(name: str, *, rt: Runtime | None = None) -> Path:
    info = get(name, rt=rt)
    p = Path(info.path)
    if not p.is_dir():
        raise UserError(f"the folder of volume '{name}' ({p}) is gone",
                        hint="restore a snapshot into it with `kiln snapshot restore "
                             f"{name}:latest --to {p}`, or `kiln volume rm {name}`")
    return p


# --- file operations ----------------------------------------------------------------------


def files(name: str, path: str = "", *, rt: Runtime | None = None) -> list[FileEntry]:
    """The entries of a folder in the volume (or the one file `path` names)."""
    top = root(name, rt=rt)
    target = inside(top, path)
    if not target.exists() and not target.is_symlink():
        raise NotFoundError(f"'{path}' does not exist in volume '{name}'",
                            hint=f"`kiln volume files {name}` lists its top folder")
    items = sorted(target.iterdir(), key=lambda p: p.name) if target.is_dir() else [target]
    out = []
    for p in items:
        st = p.lstat()
        kind = "symlink" if p.is_symlink() else "dir" if p.is_dir() else "file"
        out.append(FileEntry(p.relative_to(top).as_posix(), kind,
                             st.st_size if kind == "file" else 0, st.st_mtime))
    return out


def put(name: str, source: str | Path, dest: str = "", *, rt: Runtime | None = None) -> str:
    """Copy a local file or folder into the volume (into folder `dest`, or as file `dest`)."""
    top = root(name, rt=rt)
    src = Path(source)
    if not src.exists():
        raise UserError(f"{source} does not exist", where=str(source))
    target = inside(top, dest)
    if target.is_dir():
        target = inside(top, f"{dest}/{src.name}" if dest else src.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, target, symlinks=True, dirs_exist_ok=True)
    else:
        with atomic_path(target) as tmp:
            shutil.copyfile(src, tmp)
    return target.relative_to(top).as_posix()


def put_bytes(name: str, dest: str, data: bytes, *, rt: Runtime | None = None) -> str:
    top = root(name, rt=rt)
    target = inside(top, dest)
    if target.is_dir():
        raise UserError(f"'{dest}' is a folder in volume '{name}'", where=dest,
                        hint="name the file to write, e.g. data/file.csv")
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return target.relative_to(top).as_posix()


def read_path(name: str, path: str, *, rt: Runtime | None = None) -> Path:
    """The local path of a file in the volume, checked to be inside it."""
    top = root(name, rt=rt)
    target = inside(top, path)
    if not target.is_file():
        raise NotFoundError(f"'{path}' is not a file in volume '{name}'",
                            hint=f"`kiln volume files {name}` lists what it holds")
    return target


def get_file(name: str, path: str, dest: str | Path, *, rt: Runtime | None = None) -> Path:
    src = read_path(name, path, rt=rt)
    out = Path(dest)
    if out.is_dir():
        out = out / src.name
    with atomic_path(out) as tmp:
        shutil.copyfile(src, tmp)
    return out


def rm(name: str, path: str, *, recursive: bool = False, rt: Runtime | None = None) -> None:
    top = root(name, rt=rt)
    target = inside(top, path, follow_last=False)
    if target == top.resolve() or target == top:
        raise UserError("refusing to remove the volume's top folder",
                        hint=f"`kiln volume rm {name}` removes the volume")
    if not target.exists() and not target.is_symlink():
        raise NotFoundError(f"'{path}' does not exist in volume '{name}'")
    if target.is_dir() and not target.is_symlink():
        if not recursive:
            raise UserError(f"'{path}' is a folder", hint="pass --recursive to remove it")
        shutil.rmtree(target)
    else:
        target.unlink()


def mv(name: str, src: str, dst: str, *, rt: Runtime | None = None) -> str:
    top = root(name, rt=rt)
    a = inside(top, src, follow_last=False)
    if a == top.resolve() or a == top:
        raise UserError("refusing to move the volume's top folder", where="src",
                        hint="name a file or folder inside the volume")
    if not a.exists() and not a.is_symlink():
        raise NotFoundError(f"'{src}' does not exist in volume '{name}'", where="src")
    b = inside(top, dst, follow_last=False)
    if b.is_dir() and not b.is_symlink():
        b = b / a.name
    if b == a or a in b.parents:
        raise UserError(f"cannot move '{src}' into itself", where="dst",
                        hint="choose a destination outside it")
    if b.exists() or b.is_symlink():
        raise UserError(f"'{dst}' already exists in volume '{name}'", where="dst",
                        hint="remove it first or choose another name")
    b.parent.mkdir(parents=True, exist_ok=True)
    a.rename(b)
    return b.relative_to(top.resolve()).as_posix()
