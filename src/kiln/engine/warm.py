"""Which installed libraries a pipeline's steps import, to preload them in the fork server.

A step process is forked from a server that has already imported kiln, numpy and pandas; a
step that imports scikit-learn or LightGBM would otherwise pay that import (often 0.5-1 s)
in every step of every run. Only libraries installed in site-packages are preloaded, never
the user's own modules (importing those could run their code in the server).
"""

from __future__ import annotations

import importlib.util
import sysconfig
from pathlib import Path

from kiln.engine.imports import imports_in
from kiln.spec.model import PipelineSpec

_SITE = tuple(str(Path(sysconfig.get_path(p)).resolve()) for p in ("purelib", "platlib"))
_LIMIT = 12  # enough for the libraries that matter; the server starts once


def imported_libraries(spec: PipelineSpec) -> list[str]:
    sources: list[str] = [c.source for c in spec.prelude]
    files: set[str] = set()
    for step in spec.steps:
        sources += [c.source for c in step.cells]
        if step.function is not None:
            files.add(step.function.file)
    for f in files:
        try:
            sources.append(Path(f).read_text())
        except OSError:
            continue
    names = [i.module for src in sources for i in imports_in(src, "")]
    out: list[str] = []
    for name in dict.fromkeys(names):
        if name.split(".")[0] == "kiln" or not _installed(name):
            continue
        out.append(name)
        if len(out) >= _LIMIT:
            break
    return out


def _installed(name: str) -> bool:
    """A module of an installed distribution (found without importing its parents' code)."""
    top = name.split(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    origin = getattr(spec, "origin", None) if spec else None
    if not origin:
        return False
    return str(Path(origin).resolve()).startswith(_SITE)
