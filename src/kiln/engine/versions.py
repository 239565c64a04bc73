"""Uploaded pipeline versions: keep the file in the store, record the spec it compiles to, and
put it back on disk when a run of it starts.

An upload is checked by compiling it, so a broken notebook is refused at upload time with the
compiler's error (file, cell, line) rather than when someone runs it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kiln.catalog import pipelines as records
from kiln.catalog.pipelines import VersionInfo
from kiln.errors import UserError
from kiln.files import atomic_path
from kiln.names import check_name, valid
from kiln.runtime import Runtime

SUFFIXES = (".ipynb", ".py", ".json")
MAX_UPLOAD = 50 << 20  # a pipeline is code, not data: data goes in volumes


def upload(data: bytes, filename: str, *, name: str | None = None, entry: str = "",
           message: str = "", description: str = "", reuse: bool = False,
           rt: Runtime | None = None) -> VersionInfo:
    """Add a version of pipeline `name` (default: the name the file's pipeline declares).
    `reuse`: the latest version instead, when it holds the same file (`kiln run` on a server
    uploads what it runs, and a run of an unchanged file should not add a version)."""
    from kiln.engine.targets import load_spec

    rt = rt or Runtime.open()
    base = os.path.basename(filename or "")
    if not base or base != filename.replace("\\", "/").rsplit("/", 1)[-1] or \
            not base.lower().endswith(SUFFIXES) or base.startswith("."):
        raise UserError(f"cannot take '{filename}' as a pipeline", where="file",
                        hint="upload a notebook (.ipynb), a module (.py) or a spec (.json)")
    if len(data) > MAX_UPLOAD:
        raise UserError(f"'{base}' is {len(data) >> 20} MB; pipelines are limited to "
                        f"{MAX_UPLOAD >> 20} MB", where="file",
                        hint="keep data in a volume and read it from the pipeline")
    if entry and not base.endswith(".py"):
        raise UserError("an entry function only applies to a .py module", where="entry")
    if name is not None:
        check_name("pipeline", name)
    with rt.store.lock("shared", purpose=f"upload of {base}"):
        info = rt.store.put_bytes(data, suffix=Path(base).suffix)
        path = _materialize(rt, info.digest, base)
        try:
            spec = load_spec(f"{path}:{entry}" if entry else str(path))
        except UserError as e:  # name the uploaded file, not where we keep it
            e.where = e.where.replace(str(path), base) if e.where else "file"
            e.message = e.message.replace(str(path), base)
            raise
        except SyntaxError as e:
            raise UserError(f"{base} does not compile: {e.msg} (line {e.lineno})",
                            where="file") from None
        pipeline = name or spec.name
        if not valid("pipeline", pipeline):
            raise UserError(f"the file's pipeline name '{pipeline}' is not a valid name",
                            where="name", hint="pass a name for the pipeline")
        return records.add_version(rt.catalog, pipeline=pipeline, filename=base, entry=entry,
                                   digest=info.digest, spec_json=spec.to_json(indent=None),
                                   spec_digest=spec.digest(), message=message,
                                   description=description or spec.description, reuse=reuse)


def target(version: VersionInfo, rt: Runtime) -> str:
    """A path `kiln run` accepts for this version (the file is put back if it went away)."""
    path = _materialize(rt, version.digest, version.filename)
    return f"{path}:{version.entry}" if version.entry else str(path)


def _materialize(rt: Runtime, digest: str, filename: str) -> Path:
    """KILN_HOME/pipelines/DIGEST/FILENAME, written once; a module's steps import from it."""
    folder = rt.home.root / "pipelines" / digest[:32]
    path = folder / filename
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            shutil.copyfile(rt.store.local_path(digest), tmp)
    return path
