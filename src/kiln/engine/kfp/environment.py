"""What each compiled step needs installed, captured where the pipeline was compiled.

A step's imports (its cells and the notebook's imports/functions cells, or its function's
whole module) resolve here, at compile time, to one of:

- the standard library: nothing to do;
- kilnflow itself (`kiln`, Kale's `kale.sdk` shim): the runtime, shipped by shipping.py;
- local code: a module or package beside the notebook or module (or an editable install of
  the notebook's own folder), packed and shipped with the pipeline;
- a distribution installed here: pinned to its installed version, with everything it needs
  (its requirements, evaluated for this platform, also pinned), so the container gets the
  versions the data scientist developed with.

An import that resolves to nothing is a compile-time error naming the step and the line,
unless it is guarded (`try: import x` / `except ImportError`) or written by a %%writefile
cell of the pipeline. A distribution that cannot be reproduced elsewhere (installed from a
local folder, or editable from outside the notebook's folder) is an error too.

`--requirements FILE` lines and the notebook's `kiln.requirements` metadata override the
captured pin of a distribution of the same name, and are added to every step otherwise.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata as metadata
import importlib.util
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from kiln.engine.imports import Import, guarded_lines, imports_in, walk_imports
from kiln.errors import SpecError, UserError
from kiln.pysource import parse
from kiln.spec.model import PipelineSpec, StepSpec

# What the step runtime itself imports besides the standard library (tests/engine/
# test_kfp_environment.py checks this against a fresh interpreter's sys.modules).
RUNTIME_IMPORTS = ("blake3", "orjson", "cloudpickle")
# A distributed step's launcher also reaches the shared store (S3) and the Kubernetes API.
DISTRIBUTED_IMPORTS = ("boto3", "kubernetes")
# Libraries a value's codec needs beside the value's own (kiln/marshal/builtin.py): a
# DataFrame is written as Parquet.
CODEC_COMPANIONS = {"pandas": ("pyarrow",)}
# Build tools the image brings; pinning them would only slow the install.
_SKIP = frozenset({"pip", "setuptools", "wheel", "kilnflow"})
RUNTIME_MODULES = frozenset({"kiln", "_kilnflow_kale"})


@dataclass
class StepEnvironment:
    """One step's needs: pinned requirements (canonical name -> pip requirement), the local
    modules it imports, and for each import what provides it (for --explain)."""

    requirements: dict[str, str] = field(default_factory=dict)
    local: set[str] = field(default_factory=set)
    provided: dict[str, str] = field(default_factory=dict)


@dataclass
class Environment:
    steps: dict[str, StepEnvironment]
    local: dict[str, Path]  # top-level module name -> its file or package folder
    wheels: dict[str, Path]  # canonical name -> a wheel file on this machine that installs it


def capture(spec: PipelineSpec, *, requirements: Iterable[str] = ()) -> Environment:
    """Resolve every step's imports. `requirements` (pip requirement lines) override."""
    overrides = _parse_overrides(spec, list(requirements))
    resolver = _Resolver(overrides, written_modules(spec))
    steps: dict[str, StepEnvironment] = {}
    sources: dict[str, list[Import]] = {}  # a module's imports, read once for all its steps
    resolved: dict[Any, StepEnvironment] = {}  # steps with the same imports resolve alike
    for step in spec.steps:
        folders = _folders(spec, step)
        if step.function is not None:
            fkey = f"{step.function.file}:{step.function.qualname}"
            if fkey not in sources:
                sources[fkey] = step_imports(spec, step)
            imports = sources[fkey]
        else:
            imports = step_imports(spec, step)
        key = (tuple(imports), tuple(folders), bool(step.distributed))
        if key not in resolved:
            env = StepEnvironment()
            for imp in imports:
                resolver.resolve(step.name, imp, folders, env)
            for top in RUNTIME_IMPORTS + (DISTRIBUTED_IMPORTS if step.distributed else ()):
                resolver.resolve(step.name, Import(top, "the kilnflow runtime", optional=True),
                                 folders, env)
            resolved[key] = env
        done = resolved[key]
        steps[step.name] = StepEnvironment(dict(done.requirements), set(done.local),
                                           dict(done.provided))
    # A value's libraries travel with it: a step gets what the steps it receives values
    # from needed (the codec that reads a DataFrame needs pandas even if the step never
    # imports it).
    for name in _order(spec):
        env = steps[name]
        for i in spec.step(name).inputs:
            if i.step is not None:
                env.requirements = {**steps[i.step].requirements, **env.requirements}
    for env in steps.values():
        for lib, companions in CODEC_COMPANIONS.items():
            if lib in env.requirements:
                for c in companions:
                    resolver.add_distribution(c, env)
        for name, line in overrides.items():
            env.requirements[name] = line
    return Environment(steps, resolver.local, resolver.wheels)


def pinned(imports: Iterable[str]) -> dict[str, str]:
    """The pinned closure of the distributions that provide `imports` here (for containers
    that are not steps, like Katib's trial); modules not installed are left out."""
    resolver = _Resolver({}, {})
    env = StepEnvironment()
    for name in imports:
        resolver.resolve("", Import(name, "kilnflow", optional=True), [], env)
    return env.requirements


def _order(spec: PipelineSpec) -> list[str]:
    from kiln.spec.validate import order_steps

    return order_steps(spec)


def _folders(spec: PipelineSpec, step: StepSpec) -> list[Path]:
    """Where the step finds local modules: its module's folder, then the working folder."""
    out = []
    if step.function is not None:
        out.append(Path(step.function.file).resolve().parent)
    if spec.workdir:
        out.append(Path(spec.workdir).resolve())
    return list(dict.fromkeys(out))


def step_imports(spec: PipelineSpec, step: StepSpec) -> list[Import]:
    """Every import the step's code makes, with where it is written."""
    if step.function is not None:
        path = Path(step.function.file)
        try:
            source = path.read_text()
        except OSError as e:
            raise SpecError(f"step '{step.name}': cannot read its module {path}: {e}",
                            hint="compile on the machine that has the pipeline's code") from None
        return _function_imports(source, str(path), step.function.qualname)
    out: list[Import] = []
    cells = [*spec.prelude, *step.cells] if step.kind == "cells" else []
    for cell in cells:
        out.extend(imports_in(cell.source, cell.filename))
    return out


def written_modules(spec: PipelineSpec) -> dict[str, str]:
    """Modules a %%writefile cell of the pipeline writes: name -> the body it writes."""
    out: dict[str, str] = {}
    for cell in [*spec.prelude, *(c for s in spec.steps for c in s.cells)]:
        try:
            tree = parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.With) or len(node.items) != 1:
                continue
            item = node.items[0]
            call = item.context_expr
            if not (isinstance(item.optional_vars, ast.Name)
                    and item.optional_vars.id == "__kiln_writefile"
                    and isinstance(call, ast.Call) and call.args
                    and isinstance(call.args[0], ast.Constant)):
                continue
            target = str(call.args[0].value)
            body = ""
            for stmt in node.body:
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and \
                        stmt.value.args and isinstance(stmt.value.args[0], ast.Constant):
                    body = str(stmt.value.args[0].value)
            if target.endswith(".py"):
                out[Path(target).stem] = body
    return out


def _function_imports(source: str, where: str, qualname: str) -> list[Import]:
    """The imports a function step runs: its module's top-level code (run when the module is
    imported), the function itself and the module's functions these refer to, transitively.
    Imports in the module's other functions (the pipeline's, helpers the step never names)
    are not the step's."""
    try:
        tree = parse(source)
    except SyntaxError:
        return []
    defs = (ast.FunctionDef, ast.AsyncFunctionDef)
    funcs = {n.name: n for n in tree.body if isinstance(n, defs)}
    # (a script's `if __name__ == "__main__":` block does not run when the step imports it)
    nodes: list[ast.AST] = [n for n in tree.body if not isinstance(n, defs)
                            and not _is_main_block(n)]
    todo = [qualname.split(".")[0]] + [n.id for stmt in nodes for n in ast.walk(stmt)
                                       if isinstance(n, ast.Name)]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in funcs:
            continue
        seen.add(name)
        nodes.append(funcs[name])
        todo += [n.id for n in ast.walk(funcs[name]) if isinstance(n, ast.Name)]
    guarded = guarded_lines(tree)
    out: list[Import] = []
    for node in nodes:
        out.extend(walk_imports(node, where, guarded))
    return out


def _is_main_block(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and \
        test.left.id == "__name__" and any(isinstance(c, ast.Constant) and c.value == "__main__"
                                           for c in test.comparators)


def _parse_overrides(spec: PipelineSpec, lines: list[str]) -> dict[str, str]:
    """--requirements lines, then the notebook's `kiln.requirements` metadata: canonical
    name -> requirement as written."""
    out: dict[str, str] = {}
    meta = spec.metadata.get("kiln", {}).get("requirements", [])
    for line, where in [*((x, "--requirements") for x in lines),
                        *((x, f"metadata kiln.requirements[{i}]") for i, x in enumerate(meta))]:
        try:
            req = Requirement(line)
        except InvalidRequirement as e:
            raise UserError(f"'{line}' is not a pip requirement: {e}", where=where,
                            hint="write NAME==VERSION, NAME>=VERSION or NAME @ URL") from None
        out[canonicalize_name(req.name)] = line.strip()
    return out


def read_requirements(path: Path) -> list[str]:
    """A requirements file's requirement lines; pip options are refused, with the line."""
    try:
        text = path.read_text()
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}", where="--requirements",
                        hint="give a pip requirements file") from None
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise UserError(f"pip option '{line}' is not supported here",
                            where=f"{path}, line {n}",
                            hint="list requirements only (NAME==VERSION); set the index "
                                 "with PIP_INDEX_URL in the image")
        try:
            Requirement(line)
        except InvalidRequirement as e:
            raise UserError(f"'{line}' is not a pip requirement: {e}",
                            where=f"{path}, line {n}") from None
        out.append(line)
    return out


@functools.lru_cache(maxsize=1)
def _module_distributions() -> dict[str, list[str]]:
    return dict(metadata.packages_distributions())


class _Resolver:
    def __init__(self, overrides: dict[str, str], written: dict[str, str]) -> None:
        self.overrides = overrides
        self.written = written
        self.local: dict[str, Path] = {}
        self.wheels: dict[str, Path] = {}
        self._pins: dict[str, dict[str, str]] = {}  # distribution -> its pinned closure

    def resolve(self, step: str, imp: Import, folders: list[Path],
                env: StepEnvironment) -> None:
        top = imp.top
        if top in env.provided or top == "__future__":
            return
        if top in sys.stdlib_module_names or top in sys.builtin_module_names:
            return
        if top in RUNTIME_MODULES or (top == "kale" and "kale" not in _module_distributions()):
            env.provided[top] = "kilnflow"
            return
        local = _beside(top, folders)
        if local is not None:
            self._add_local(step, top, local, folders, env)
            return
        dists = self._distributions(imp)
        if dists:
            for d in dists:
                if d == "kilnflow":
                    env.provided[top] = "kilnflow"
                    continue
                self._add_closure(step, imp, d, folders, env)
            return
        found = importlib.util.find_spec(top) if _importable_name(top) else None
        origin = _origin_path(found)
        if origin is not None and any(_inside(origin, f) for f in folders):
            self._add_local(step, top, origin, folders, env)
            return
        if canonicalize_name(top) in self.overrides:
            env.provided[top] = "--requirements"
            return
        if top in self.written:  # a %%writefile cell writes it when the pipeline runs
            env.provided[top] = "%%writefile"
            for inner in imports_in(self.written[top], f"%%writefile {top}.py"):
                self.resolve(step, inner, folders, env)
            return
        if imp.optional:
            return
        if found is not None:
            raise UserError(f"step '{step}': `import {imp.module}` comes from {origin or top}, "
                            "which no installed distribution provides, so a container cannot "
                            "install it", where=imp.where,
                            hint="move the module beside the notebook or module (it then "
                                 "travels with the pipeline), or package it and list it in "
                                 "--requirements")
        raise UserError(f"step '{step}': no module named '{imp.module}' here: it is not in the "
                        "standard library, beside the pipeline, or installed",
                        where=imp.where,
                        hint="install it (pip install ...) before compiling, list its "
                             "distribution in --requirements, or remove the import")

    def add_distribution(self, dist: str, env: StepEnvironment) -> None:
        """A distribution the step needs for another reason (a codec's companion), when it
        is installed here."""
        try:
            metadata.distribution(dist)
        except metadata.PackageNotFoundError:
            return
        env.requirements.update(self._closure(dist, None, "", []))

    def _distributions(self, imp: Import) -> list[str]:
        """The distributions that provide the import; for a namespace package shared by
        several (google.*), the ones whose files hold the imported module."""
        dists = list(dict.fromkeys(_module_distributions().get(imp.top, [])))
        if len(dists) <= 1:
            return dists
        parts = imp.module.split(".")
        for depth in range(len(parts), 1, -1):
            prefix = "/".join(parts[:depth])
            hits = [d for d in dists if _holds(d, prefix)]
            if hits:
                return hits
        return dists

    def _add_local(self, step: str, top: str, path: Path, folders: list[Path],
                   env: StepEnvironment) -> None:
        env.provided[top] = "local"
        env.local.add(top)
        self.local.setdefault(top, path)
        # the local module's own imports are the step's too
        for f in [path] if path.is_file() else sorted(path.rglob("*.py")):
            try:
                text = f.read_text()
            except (OSError, UnicodeDecodeError):
                continue
            for imp in imports_in(text, str(f)):
                self.resolve(step, imp, folders, env)

    def _add_closure(self, step: str, imp: Import, dist: str, folders: list[Path],
                     env: StepEnvironment) -> None:
        env.provided[imp.top] = dist
        pins = self._closure(dist, imp, step, folders)
        env.requirements.update(pins)
        if canonicalize_name(dist) not in pins and imp.top in self.local:
            env.provided[imp.top] = "local"  # an editable install of the pipeline's project
            env.local.add(imp.top)
        for name in pins:
            if name in self.wheels:
                env.provided[imp.top] = f"{dist} (wheel)"

    def _closure(self, dist: str, imp: Import | None, step: str,
                 folders: list[Path]) -> dict[str, str]:
        if dist in self._pins:
            return self._pins[dist]
        pins: dict[str, str] = {}
        todo = [dist]
        marker_env = {k: str(v) for k, v in default_environment().items()}
        while todo:
            name = todo.pop()
            key = canonicalize_name(name)
            if key in pins or key in _SKIP:
                continue
            try:
                d = metadata.distribution(name)
            except metadata.PackageNotFoundError:
                continue  # an optional dependency not installed here; pip resolves it
            pin = self._pin(d, key, imp, step, folders)  # (reads the metadata once more)
            if pin is None:
                continue  # the pipeline's own project: its modules travel as local code
            pins[key] = pin
            todo += _requires(d, marker_env, extras=name == dist)
        self._pins[dist] = pins
        return pins

    def _pin(self, d: metadata.Distribution, key: str, imp: Import | None, step: str,
             folders: list[Path]) -> str | None:
        name = d.metadata["Name"] or key
        version = d.version.split("+")[0]  # a local build label (+cpu) is no index's
        direct = d.read_text("direct_url.json")
        if not direct:
            return f"{name}=={version}"
        info = json.loads(direct)
        url = str(info.get("url", ""))
        if "vcs_info" in info:
            vcs = info["vcs_info"]
            return f"{name} @ {vcs.get('vcs', 'git')}+{url}@{vcs.get('commit_id', '')}"
        path = Path(unquote(urlparse(url).path)) if url.startswith("file:") else None
        if "archive_info" in info:
            if path is None:
                return f"{name} @ {url}"
            if path.suffix == ".whl" and path.is_file():
                self.wheels[key] = path
                return f"{name}=={version}"
        elif path is not None and info.get("dir_info", {}).get("editable") and \
                any(_inside(path, f) or _inside(f, path) for f in folders):
            # an editable install of the pipeline's own project: its modules are local code
            for top in _tops_of(d):
                found = importlib.util.find_spec(top) if _importable_name(top) else None
                origin = _origin_path(found)
                if origin is not None:
                    self.local.setdefault(top, origin)
            return None
        what = f"`import {imp.module}` needs {name} {d.version}" if imp else \
            f"{name} {d.version}"
        raise UserError(
            f"step '{step}': {what}, installed from the local path {path or url}"
            f"{' (editable)' if info.get('dir_info', {}).get('editable') else ''}, which a "
            "container cannot install",
            where=imp.where if imp else None,
            hint=f"build a wheel (pip wheel --no-deps {path or url} -w wheels/) and "
                 "install it from there, publish it to an index, or list a requirement for "
                 "it in --requirements")


# Extras that are for the package's developers, not its users.
_DEV_EXTRAS = frozenset({"test", "tests", "testing", "dev", "develop", "development", "doc",
                         "docs", "lint", "typing", "all", "full", "complete", "benchmark"})


def _requires(d: metadata.Distribution, marker_env: dict[str, str], *,
              extras: bool) -> list[str]:
    """The distributions `d` requires on this platform. With `extras`, also those of each
    of its extras whose requirements are all installed here: libraries it uses when present
    (xgboost's scikit-learn wrapper needs scikit-learn, which xgboost does not require)."""
    base: list[str] = []
    optional: dict[str, list[str]] = {}
    meta = d.metadata  # parsed on each access: read it once
    provided = [e for e in meta.get_all("Provides-Extra") or [] if e not in _DEV_EXTRAS]
    lines = meta.get_all("Requires-Dist")
    for line in lines if lines is not None else d.requires or []:  # (egg-info: requires.txt)
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is None or req.marker.evaluate({**marker_env, "extra": ""}):
            base.append(req.name)
            continue
        if not extras:
            continue
        for extra in provided:
            if req.marker.evaluate({**marker_env, "extra": extra}):
                optional.setdefault(extra, []).append(req.name)
    if extras:
        own = canonicalize_name(meta["Name"] or "")
        for names in optional.values():
            names = [n for n in names if canonicalize_name(n) != own]
            if names and all(_installed(n) for n in names):
                base += names
    return base


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
        return True
    except metadata.PackageNotFoundError:
        return False


def _beside(top: str, folders: list[Path]) -> Path | None:
    for folder in folders:
        file = folder / f"{top}.py"
        if file.is_file():
            return file
        pkg = folder / top
        if pkg.is_dir() and (pkg / "__init__.py").is_file():
            return pkg
    return None


def _importable_name(top: str) -> bool:
    return top.isidentifier()


def _origin_path(spec: importlib.machinery.ModuleSpec | None) -> Path | None:
    if spec is None:
        return None
    if spec.origin and spec.origin not in ("built-in", "frozen") and os.path.exists(spec.origin):
        origin = Path(spec.origin).resolve()
        return origin.parent if origin.name == "__init__.py" else origin
    locations = list(spec.submodule_search_locations or [])
    return Path(locations[0]).resolve() if locations else None


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _holds(dist: str, prefix: str) -> bool:
    try:
        files = metadata.distribution(dist).files or []
    except metadata.PackageNotFoundError:
        return False
    return any(str(f).startswith(prefix + "/") or str(f) == prefix + ".py" for f in files)


def _tops_of(d: metadata.Distribution) -> list[str]:
    name = d.metadata["Name"]
    return [top for top, dists in _module_distributions().items() if name in dists]
