"""File operations every layer needs the same way: write-then-rename, and importing a .py file."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import stat
import sys
import tempfile
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kiln.errors import ModuleExit, UserError


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temporary name to write, put in place of `path` only if the block succeeds, so
    readers see the old file or the whole new one, never a part. Each writer gets its own
    temporary name, so two writing the same path at once never mix bytes.

    What is at `path` is respected: a symlink keeps being a link (its target is written); a
    device, FIFO or socket is written through, as a shell's `>` does (`-o /dev/stdout`),
    never replaced by a regular file; a folder, or a missing parent folder, is a clear error.
    """
    given = Path(path)
    target = Path(os.path.realpath(given)) if given.is_symlink() else given
    if not target.parent.is_dir():
        raise UserError(f"cannot write {given}: the folder {target.parent} does not exist",
                        where=str(given), hint="create the folder first, or write elsewhere")
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise UserError(f"cannot write {given}: {e.strerror}", where=str(given)) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise UserError(f"cannot write {given}: it is a folder", where=str(given),
                        hint="name a file (inside it, or elsewhere)")
    through = st is not None and not stat.S_ISREG(st.st_mode)
    folder = tempfile.gettempdir() if through else target.parent
    tmp = Path(folder) / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        yield tmp
        if through:
            with open(tmp, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            os.replace(tmp, target)
    except OSError as e:
        # writing the file (a full disk: no filename on the error) or putting it in place;
        # an error about another path (the block's source) is the caller's to report
        if e.filename not in (None, str(tmp), str(target)):
            raise
        raise UserError(f"cannot write {given}: {e.strerror}", where=str(given),
                        hint="check the free space and the permissions there") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_private(path: Path, text: str) -> None:
    """Write a secret (a password, a token) whole, readable by its owner only from the first
    byte: the file is made 0600, never widened and then narrowed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


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
    real_exit = os._exit

    def no_exit(code: int) -> None:  # os._exit would end this process and look like success
        raise ModuleExit(path, code, "os._exit")

    os._exit = no_exit  # type: ignore[assignment]
    try:
        spec.loader.exec_module(module)
    except SystemExit as e:  # sys.exit(), exit(), quit() at import
        sys.modules.pop(name, None)
        raise ModuleExit(path, e.code, "sys.exit") from None
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        os._exit = real_exit
    return module


def defined_at(fn: Callable[..., Any]) -> str:
    """'file.py, line 12': where a function is defined, for errors about it."""
    code = getattr(fn, "__code__", None)
    return f"{code.co_filename}, line {code.co_firstlineno}" if code else repr(fn)
