"""What `kiln run TARGET` accepts: a notebook, `module.py[:function]`, a spec file, or objects."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from kiln.errors import KilnError, TargetError
from kiln.files import import_file, loaded_from
from kiln.spec.model import PipelineSpec
from kiln.spec.source import PipelineSource


def load_spec(target: Any) -> PipelineSpec:
    if isinstance(target, PipelineSpec):
        return target
    if isinstance(target, PipelineSource):
        return target.spec()
    if not isinstance(target, (str, os.PathLike)):
        raise TargetError(f"cannot run a {type(target).__name__}",
                          hint="pass a @kiln.pipeline, a notebook path, a spec file or "
                          "'module.py:function'")
    path, func = split_target(os.fspath(target))
    suffix = path.suffix.lower()
    if suffix == ".ipynb":
        from kiln.notebook.compiler import compile_notebook

        return compile_notebook(path)
    if suffix == ".json":
        return PipelineSpec.from_json(path.read_text(), origin=str(path))
    if suffix == ".py":
        return _module_pipeline(path, func or None).spec()
    raise TargetError(f"don't know how to run '{path.name}'",
                      hint="run a .ipynb notebook, a .py module (module.py:pipeline_function) "
                      "or a .json spec from `kiln compile`")


def split_target(text: str) -> tuple[Path, str]:
    """`module.py:function` -> (the file, 'function'); any other target -> (it, ''). The file
    must exist."""
    path_part, _, func = text.partition(":") if text.count(":") == 1 and \
        not Path(text).exists() else (text, "", "")
    if not Path(path_part).exists():
        raise TargetError(f"no such file: {path_part}", hint="check the path")
    return Path(path_part), func


def _module_name(path: Path) -> str:
    """The name to import a pipeline file as: its stem, unless that is no identifier or names
    a module that exists apart from the file (`numbers.py`, `json.py`, an installed package):
    registered under that name, the file would stand in for it for every library that
    imports it (numpy imports `numbers`), and fail in their place."""
    import importlib.util

    stem = path.stem
    if not stem.isidentifier() or stem in sys.stdlib_module_names:
        return "kiln_pipeline_module"
    loaded = sys.modules.get(stem)
    if loaded is not None:
        return stem if loaded_from(loaded, path) else "kiln_pipeline_module"
    try:
        found = importlib.util.find_spec(stem)
    except (ImportError, ValueError):
        return stem
    if found is not None and found.origin and os.path.abspath(found.origin) != str(path):
        return "kiln_pipeline_module"
    return stem


def _module_pipeline(path: Path, func: str | None) -> PipelineSource:
    import _kilnflow_kale

    _kilnflow_kale.install()  # `from kale.sdk import ...` in modules written for Kale's SDK
    path = path.resolve()
    name = _module_name(path)
    sys.path.insert(0, str(path.parent))
    existing = sys.modules.get(name)
    if loaded_from(existing, path):
        mod = existing
    else:
        try:
            mod = import_file(path, name)
        except KilnError:
            raise  # a definition error already says where and what to do
        except Exception as e:
            raise TargetError(f"importing {path.name} failed: {type(e).__name__}: {e}",
                              where=str(path)) from e
    pipelines = {k: v for k, v in vars(mod).items() if isinstance(v, PipelineSource)}
    if not func and len(pipelines) > 1:  # `from x import other_pipeline` is not this file's
        own = {k: v for k, v in pipelines.items() if getattr(v.fn, "__module__", None) == name}
        pipelines = own or pipelines
    if func:
        obj = getattr(mod, func, None)
        if obj is None:
            raise TargetError(f"{path.name} has no '{func}'",
                              hint=f"pipelines in it: {', '.join(pipelines) or 'none'}")
        if not isinstance(obj, PipelineSource):
            raise TargetError(f"'{func}' in {path.name} is not a @kiln.pipeline",
                              hint="decorate the function with @kiln.pipeline")
        return obj
    if len(pipelines) == 1:
        return next(iter(pipelines.values()))
    raise TargetError(
        f"{path.name} defines {len(pipelines)} pipelines; say which one",
        hint=f"e.g. kiln run {path.name}:{next(iter(pipelines), 'my_pipeline')}"
        + (f" (found: {', '.join(pipelines)})" if pipelines else ""))
