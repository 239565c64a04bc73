"""Kale mount points inside a notebook step's process.

A Kale notebook reads its volumes at the paths the cluster mounted them on
(`/home/jovyan/data/train.csv`). On this machine each volume is a folder somewhere else, so a
notebook step's process translates paths under a mount point to the bound volume's folder in
Python's file functions (open, os, pathlib, shutil, glob and the libraries that call them,
such as pandas and numpy). A path under the mount point of a volume that is not bound here
fails with an error that names the volume and how to bind it. Libraries that open files in
native code (pyarrow's own readers, h5py) see the real path: give them
`os.environ["KILN_VOLUMES"]`'s folder, or a relative path.

Only step processes install this, after fork (engine/worker.py); nothing else is patched.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
from collections.abc import Callable
from typing import Any

# (function name in os, positions of its path arguments)
_OS_FUNCTIONS = {"open": (0,), "stat": (0,), "lstat": (0,), "listdir": (0,), "scandir": (0,),
                 "mkdir": (0,), "rmdir": (0,), "remove": (0,), "unlink": (0,),
                 "rename": (0, 1), "replace": (0, 1), "access": (0,), "chmod": (0,),
                 "utime": (0,), "chdir": (0,), "truncate": (0,), "readlink": (0,)}


class MountPaths:
    def __init__(self, bound: dict[str, str], missing: dict[str, str]) -> None:
        # longest mount point first, so /data/raw wins over /data
        self.bound = sorted(((m.rstrip("/") or "/", f) for m, f in bound.items()),
                            key=lambda mf: -len(mf[0]))
        self.missing = sorted(((m.rstrip("/") or "/", v) for m, v in missing.items()),
                              key=lambda mv: -len(mv[0]))
        self._lstat = os.lstat  # the real one: os.path.lexists would come back through us

    def translate(self, path: Any) -> Any:
        if isinstance(path, int) or not isinstance(path, (str, os.PathLike)):
            return path  # file descriptors, bytes paths: as given
        text = os.fspath(path)
        if not isinstance(text, str) or not text.startswith("/"):
            return path
        for mount, folder in self.bound:
            if text == mount or text.startswith(mount + "/"):
                return folder + text[len(mount):]
        for mount, volume in self.missing:
            if (text == mount or text.startswith(mount + "/")) and not self._exists(text):
                raise FileNotFoundError(
                    errno.ENOENT,
                    f"{text} is under {mount}, the mount point of the notebook's volume "
                    f"'{volume}', which is not bound on this machine; bind it with "
                    f"`kiln run NOTEBOOK --volume {volume}=VOLUME` (`kiln volume create VOLUME "
                    "--path DIR` adopts a folder)", text)
        return path

    def _exists(self, path: str) -> bool:
        try:
            self._lstat(path)
        except OSError:
            return False
        return True

    def wrap(self, fn: Callable[..., Any], positions: tuple[int, ...]) -> Callable[..., Any]:
        def translated(*args: Any, **kwargs: Any) -> Any:
            if positions and args:
                args = tuple(self.translate(a) if i in positions else a
                             for i, a in enumerate(args))
            for key in ("file", "path", "src", "dst"):
                if key in kwargs:
                    kwargs[key] = self.translate(kwargs[key])
            return fn(*args, **kwargs)

        translated.__name__ = getattr(fn, "__name__", "translated")
        translated.__doc__ = fn.__doc__
        return translated

    def install(self) -> None:
        opener = self.wrap(builtins.open, (0,))
        builtins.open = opener
        io.open = opener  # pathlib's Path.open calls io.open
        for name, positions in _OS_FUNCTIONS.items():
            if hasattr(os, name):
                setattr(os, name, self.wrap(getattr(os, name), positions))


def install(bound: dict[str, str], missing: dict[str, str]) -> MountPaths | None:
    """Translate paths under `bound` mount points (mount -> folder) and name the volume of
    `missing` ones (mount -> volume). Nothing to do for mount points that are real folders
    here already (a cluster's PVC mounts)."""
    bound = {m: f for m, f in bound.items() if m.startswith("/") and
             os.path.realpath(m) != os.path.realpath(f)}
    missing = {m: v for m, v in missing.items() if m.startswith("/")}
    if not bound and not missing:
        return None
    paths = MountPaths(bound, missing)
    paths.install()
    return paths


def explain(text: str, missing: dict[str, str]) -> str | None:
    """A hint for a failure whose message names a path under a missing volume's mount point
    (a library that opened it in native code, past the translation above)."""
    for mount, volume in missing.items():
        if mount.rstrip("/") + "/" in text or text.endswith(mount):
            return (f"{mount} is the mount point of the notebook's volume '{volume}', which is "
                    f"not bound on this machine: run with --volume {volume}=VOLUME")
    return None
