"""Checks every PipelineSpec must pass before an engine sees it: names, references, cycles."""

from __future__ import annotations

import re
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING

from kiln.errors import SpecError

if TYPE_CHECKING:
    from kiln.spec.model import PipelineSpec

PARAM_TYPES: tuple[str, ...] = ("int", "float", "str", "bool", "list", "dict")
STEP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KINDS = ("function", "cells", "metrics")


def _fail(origin: str, field: str, message: str, hint: str | None = None) -> SpecError:
    return SpecError(message, where=f"{origin}: {field}", hint=hint)


def validate(spec: PipelineSpec, *, origin: str = "spec") -> None:
    if not spec.steps:
        raise _fail(origin, "steps", f"pipeline '{spec.name}' has no steps",
                    "a notebook needs at least one cell tagged step:NAME; "
                    "a Python pipeline must call at least one @kiln.step")
    params = {}
    for i, p in enumerate(spec.parameters):
        if not p.name.isidentifier():
            raise _fail(origin, f"parameters[{i}].name", f"'{p.name}' is not a valid name")
        if p.name in params:
            raise _fail(origin, f"parameters[{i}].name", f"duplicate parameter '{p.name}'")
        if p.type not in PARAM_TYPES:
            raise _fail(origin, f"parameters[{i}].type",
                        f"unknown parameter type '{p.type}' (known: {', '.join(PARAM_TYPES)})")
        params[p.name] = p
    names: dict[str, int] = {}
    for i, s in enumerate(spec.steps):
        if not STEP_NAME.match(s.name):
            raise _fail(origin, f"steps[{i}].name", f"invalid step name '{s.name}'",
                        "use letters, digits and _, starting with a letter or _")
        if s.name in names:
            raise _fail(origin, f"steps[{i}].name", f"duplicate step name '{s.name}'")
        if s.kind not in KINDS:
            raise _fail(origin, f"steps[{i}].kind", f"unknown step kind '{s.kind}'")
        if s.kind == "function" and s.function is None:
            raise _fail(origin, f"steps[{i}].function", "a function step needs `function`")
        if s.kind == "cells" and not any(c.source.strip() for c in s.cells):
            raise _fail(origin, f"steps[{i}].cells", f"step '{s.name}' has no code")
        if s.retries < 0:
            raise _fail(origin, f"steps[{i}].retries", "retries must be 0 or more")
        if s.timeout is not None and s.timeout <= 0:
            raise _fail(origin, f"steps[{i}].timeout", "timeout must be a positive number")
        names[s.name] = i
    for i, s in enumerate(spec.steps):
        for j, inp in enumerate(s.inputs):
            f = f"steps[{i}].inputs[{j}]"
            if inp.step is not None:
                if inp.step not in names:
                    raise _fail(origin, f, f"step '{s.name}' reads '{inp.name}' from unknown "
                                f"step '{inp.step}'")
                src = spec.steps[names[inp.step]]
                if inp.output not in src.outputs:
                    raise _fail(origin, f, f"step '{s.name}' reads output '{inp.output}' that "
                                f"step '{inp.step}' does not produce (it has: "
                                f"{', '.join(src.outputs) or 'none'})")
            elif inp.param is not None and inp.param not in params:
                raise _fail(origin, f, f"step '{s.name}' reads unknown parameter '{inp.param}'")
        for j, a in enumerate(s.after):
            if a not in names:
                raise _fail(origin, f"steps[{i}].after[{j}]",
                            f"step '{s.name}' runs after unknown step '{a}'")
    try:
        order_steps(spec)
    except CycleError as e:
        cycle = " -> ".join(e.args[1])
        raise _fail(origin, "steps", f"the steps form a cycle: {cycle}",
                    "check the prev: tags (or step arguments) along that path") from None


def order_steps(spec: PipelineSpec) -> list[str]:
    """Step names in an order where every step comes after the ones it depends on."""
    ts: TopologicalSorter[str] = TopologicalSorter()
    for s in spec.steps:
        ts.add(s.name, *s.upstream())
    return list(ts.static_order())


def downstream(spec: PipelineSpec, name: str) -> set[str]:
    """Every step that depends, directly or not, on `name`."""
    children: dict[str, list[str]] = {s.name: [] for s in spec.steps}
    for s in spec.steps:
        for u in s.upstream():
            children[u].append(s.name)
    out: set[str] = set()
    todo = [name]
    while todo:
        for c in children[todo.pop()]:
            if c not in out:
                out.add(c)
                todo.append(c)
    return out
