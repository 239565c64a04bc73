"""Paths inside a volume: everything a user names is resolved under the volume's folder.

`..`, absolute paths and symlinks that lead outside the volume are refused, so no file
operation (CLI, Python API, REST) can read or write outside it.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from kiln.errors import UserError

MAX_NAME = 255  # bytes in one path component (ext4, APFS, NTFS alike)
MAX_PATH = 4096  # bytes in a whole path (Linux's PATH_MAX)


def inside(root: Path, rel: str, *, follow_last: bool = True) -> Path:
    """`rel` ('data/train.csv') under `root`. With follow_last=False a symlink named by `rel`
    itself is allowed (to remove or move the link, not what it points to)."""
    rel = (rel or "").replace("\\", "/")
    if "\0" in rel:
        raise UserError("the path contains a NUL byte", where=repr(rel),
                        hint="name the file without control characters")
    if len(rel.encode("utf-8", "surrogateescape")) > MAX_PATH:
        raise UserError(f"the path is longer than {MAX_PATH} bytes", where=rel[:80] + "...",
                        hint="use a shorter path")
    p = PurePosixPath(rel)
    long = [x for x in p.parts if len(x.encode("utf-8", "surrogateescape")) > MAX_NAME]
    if long:
        raise UserError(f"'{long[0][:40]}...' is longer than {MAX_NAME} bytes, the longest "
                        "file name a file system holds", where=rel[:80],
                        hint="use a shorter name")
    if p.is_absolute():
        raise UserError(f"'{rel}' is an absolute path", where=rel,
                        hint="give a path relative to the volume's top folder")
    if ".." in p.parts:
        raise UserError(f"'{rel}' contains '..'", where=rel,
                        hint="paths stay inside the volume; name the file from its top folder")
    parts = [x for x in p.parts if x not in ("", ".")]
    full = root.joinpath(*parts)
    real_root = root.resolve()
    check = full if follow_last or not parts else full.parent
    real = Path(os.path.realpath(check))
    if real != real_root and real_root not in real.parents:
        raise UserError(f"'{rel}' leads outside the volume (through a symlink)", where=rel,
                        hint="volumes cannot reach files outside their folder")
    if not follow_last and parts:
        return real / full.name
    return full


def relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()
