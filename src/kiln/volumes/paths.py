"""Paths inside a volume: everything a user names is resolved under the volume's folder.

`..`, absolute paths and symlinks that lead outside the volume are refused, so no file
operation (CLI, Python API, REST) can read or write outside it.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from kiln.errors import UserError


def inside(root: Path, rel: str, *, follow_last: bool = True) -> Path:
    """`rel` ('data/train.csv') under `root`. With follow_last=False a symlink named by `rel`
    itself is allowed (to remove or move the link, not what it points to)."""
    rel = (rel or "").replace("\\", "/")
    p = PurePosixPath(rel)
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
