"""Tracing: call the pipeline function with placeholders and record the steps it calls."""

from __future__ import annotations

import ast
import contextvars
import functools
import inspect
import os
import sys
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.errors import PipelineDefinitionError
from kiln.files import defined_at
from kiln.hashing import hash_text
from kiln.marshal.builtin import _plain_json
from kiln.pysource import parse
from kiln.sdk.refs import OutputRef, ParamRef
from kiln.spec.model import FunctionRef, InputSpec, ParamSpec, PipelineSpec, StepSpec
from kiln.spec.params import PY_TYPES
from kiln.spec.validate import validate

if TYPE_CHECKING:
    from kiln.sdk.decorators import Pipeline, StepFunction

_tracer: contextvars.ContextVar[_Tracer | None] = contextvars.ContextVar("kiln_tracer",
                                                                          default=None)


def current_tracer() -> _Tracer | None:
    return _tracer.get()


def _call_site() -> str:
    """File and line of the pipeline-function line that called a step."""
    frame = sys._getframe(3)
    return f"{frame.f_code.co_filename}, line {frame.f_lineno}"


class _Tracer:
    def __init__(self) -> None:
        self.steps: list[StepSpec] = []

    def add_call(self, sf: StepFunction, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        where = _call_site()
        sig = inspect.signature(sf.fn)
        for arg in sf.volumes:
            if arg in kwargs:
                raise PipelineDefinitionError(
                    f"step '{sf.name}': '{arg}' is the folder of volume '{sf.volumes[arg]}'; "
                    "the engine passes it", where=where, hint=f"leave out {arg}=")
        # volume arguments are filled in at run time, not by the pipeline's call
        sig = sig.replace(parameters=[p for p in sig.parameters.values()
                                      if p.name not in sf.volumes])
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise PipelineDefinitionError(f"calling step '{sf.name}': {e}", where=where) from None
        inputs: list[InputSpec] = []
        for pname, val in bound.arguments.items():
            kind = sig.parameters[pname].kind
            if kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise PipelineDefinitionError(
                    f"step '{sf.name}' takes *{pname}; steps need named arguments",
                    where=where, hint="list the arguments one by one")
            inputs.append(_input(sf.name, pname, val, where))
        name = self._unique(sf.name)
        self.steps.append(StepSpec(
            name=name, kind="function", inputs=inputs, outputs=list(sf.outputs),
            function=_function_ref(sf), retries=sf.retries, timeout=sf.timeout,
            resources=dict(sf.resources), cache=sf.cache,
            distributed=sf.distributed.to_spec() if sf.distributed else None,
            volumes=dict(sf.volumes), limits=dict(sf.limits), labels=dict(sf.labels),
            annotations=dict(sf.annotations)))
        refs = tuple(OutputRef(name, o) for o in sf.outputs)
        if len(refs) == 1:
            return refs[0]
        return refs if refs else None

    def _unique(self, base: str) -> str:
        taken = {s.name for s in self.steps}
        if base not in taken:
            return base
        i = 2
        while f"{base}_{i}" in taken:
            i += 1
        return f"{base}_{i}"


def _input(step: str, arg: str, val: Any, where: str) -> InputSpec:
    if isinstance(val, OutputRef):
        return InputSpec(name=arg, step=val.step, output=val.output)
    if isinstance(val, ParamRef):
        return InputSpec(name=arg, param=val.name)
    if _plain_json(val):
        return InputSpec(name=arg, value=val)
    if isinstance(val, tuple) and any(isinstance(v, OutputRef) for v in val):
        raise PipelineDefinitionError(
            f"argument '{arg}' of step '{step}' is a tuple of step outputs", where=where,
            hint="unpack the step's outputs (`a, b = my_step()`) and pass them one by one")
    raise PipelineDefinitionError(
        f"argument '{arg}' of step '{step}' is a {type(val).__name__}; a step argument must "
        "be a step output, a pipeline parameter or a JSON literal", where=where,
        hint="create the value inside a step and pass that step's output")


@functools.lru_cache(maxsize=64)
def _module_code_hash(file: str, mtime: float) -> str:
    """Hash of a module's code other than its step and pipeline functions: its imports,
    helpers and constants, which every step of the module may use (like a notebook's
    imports/functions cells)."""
    try:
        tree = parse(Path(file).read_text())
    except (OSError, SyntaxError):
        return ""

    def is_kiln_def(node: ast.stmt) -> bool:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return False
        for d in node.decorator_list:
            target = d.func if isinstance(d, ast.Call) else d
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            if name in ("step", "pipeline"):
                return True
        return False

    tree.body = [n for n in tree.body if not is_kiln_def(n)]
    return hash_text(ast.unparse(tree))


def _function_ref(sf: StepFunction) -> FunctionRef:
    fn = sf.fn
    where = defined_at(fn)
    if "<locals>" in fn.__qualname__ or "<lambda>" in fn.__qualname__:
        raise PipelineDefinitionError(
            f"step '{sf.name}' is defined inside another function or is a lambda", where=where,
            hint="define step functions at the top level of a module so each step's process "
            "can import them")
    # A wrapper (functools.wraps, Kale's @artifact) lives elsewhere; the module that defines
    # the step is the wrapped function's.
    file = inspect.getsourcefile(inspect.unwrap(fn))
    if file is None:
        raise PipelineDefinitionError(f"cannot find the source file of step '{sf.name}'",
                                      where=where, hint="define steps in a .py file")
    file = os.path.abspath(file)
    try:
        source = inspect.getsource(fn)
    except OSError:
        source = fn.__qualname__
    module_hash = _module_code_hash(file, os.path.getmtime(file))
    return FunctionRef(module=fn.__module__, file=file, qualname=fn.__qualname__,
                       source_hash=hash_text(source + "\0" + module_hash))


def _param_specs(p: Pipeline) -> list[ParamSpec]:
    out = []
    try:
        hints = typing.get_type_hints(p.fn)
    except Exception:
        hints = {}
    for name, prm in inspect.signature(p.fn).parameters.items():
        where = defined_at(p.fn)
        if prm.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise PipelineDefinitionError(f"pipeline '{p.name}' takes *{name}", where=where,
                                          hint="pipeline parameters must be named")
        if prm.default is inspect.Parameter.empty:
            raise PipelineDefinitionError(
                f"pipeline parameter '{name}' has no default", where=where,
                hint=f"give it one, e.g. `{name}: int = 10`")
        ann = hints.get(name)
        ptype = PY_TYPES.get(typing.get_origin(ann) or ann) if ann is not None else None
        if ptype is None:
            ptype = PY_TYPES.get(type(prm.default))
        if ptype is None or not _plain_json(prm.default):
            raise PipelineDefinitionError(
                f"pipeline parameter '{name}' must be an int, float, str, bool, list or dict "
                f"with a JSON default (got {prm.default!r})", where=where)
        default = float(prm.default) if ptype == "float" else prm.default
        if ptype == "float" and type(prm.default) not in (int, float):
            raise PipelineDefinitionError(f"parameter '{name}' is a float, default "
                                          f"{prm.default!r} is not", where=where)
        out.append(ParamSpec(name=name, type=ptype, default=default))
    return out


def trace(p: Pipeline) -> PipelineSpec:
    params = _param_specs(p)
    tracer = _Tracer()
    token = _tracer.set(tracer)
    try:
        p.fn(**{prm.name: ParamRef(prm.name) for prm in params})
    finally:
        _tracer.reset(token)
    file = inspect.getsourcefile(p.fn) or ""
    spec = PipelineSpec(
        name=p.name, steps=tracer.steps, parameters=params, experiment=p.experiment,
        description=p.description, workdir=os.getcwd(),
        source={"kind": "module", "path": os.path.abspath(file) if file else "",
                "function": p.fn.__qualname__})
    validate(spec, origin=defined_at(p.fn))
    return spec
