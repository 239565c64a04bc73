"""File operations every layer needs the same way: write-then-rename, and importing a .py file."""

from __future__ import annotations

import importlib.util
import os
import sys
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary name beside `path`, renamed onto it only if the block succeeds, so readers
    see the old file or the whole new one, never a part. Each writer gets its own temporary
    name, so two writing the same path at once (server threads, processes) never mix bytes."""
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def loaded_from(module: types.ModuleType | None, path: Path | str) -> bool:
    """True if `module` was imported from the file at `path` (an absolute path)."""
    return module is not None and \
        os.path.abspath(getattr(module, "__file__", "") or "") == str(path)


def import_file(path: Path | str, name: str) -> types.ModuleType:
    """Import the Python file at `path` as module `name` (registered in sys.modules, so
    pickles and dataclasses that look the module up find it). A failed import leaves no
    half-executed module behind."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def defined_at(fn: Callable[..., Any]) -> str:
    """'file.py, line 12': where a function is defined, for errors about it."""
    code = getattr(fn, "__code__", None)
    return f"{code.co_filename}, line {code.co_firstlineno}" if code else repr(fn)
