"""Read a PipelineSpec from JSON, checking every field and naming the one at fault."""

from __future__ import annotations

import json
from typing import Any

from kiln.errors import SpecError
from kiln.spec.model import (
    MIN_SCHEMA_VERSION,
    SCHEMA_VERSION,
    Cell,
    FunctionRef,
    InputSpec,
    ParamSpec,
    PipelineSpec,
    StepSpec,
)
from kiln.spec.validate import validate


class _Reader:
    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, path: str, message: str) -> SpecError:
        return SpecError(
            message,
            where=f"{self.origin}: {path}",
            hint="regenerate the spec with `kiln compile`, or fix the field by hand",
        )

    def obj(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, found {type(value).__name__}")
        return value

    def get(self, d: dict[str, Any], key: str, path: str, types: Any, default: Any = ...) -> Any:
        if key not in d:
            if default is ...:
                raise self.fail(f"{path}.{key}", "required field is missing")
            return default
        v = d[key]
        if not isinstance(v, types) or (isinstance(v, bool) and bool not in _as_tuple(types)):
            raise self.fail(f"{path}.{key}", f"expected {_type_names(types)}, found {v!r}")
        return v


def _as_tuple(types: Any) -> tuple[Any, ...]:
    return types if isinstance(types, tuple) else (types,)


def _type_names(types: Any) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in _as_tuple(types))


def spec_from_json(text: str, *, origin: str = "spec") -> PipelineSpec:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise SpecError(
            f"not valid JSON: {e.msg}",
            where=f"{origin}: line {e.lineno}, column {e.colno}",
            hint="a spec file is the JSON that `kiln compile` writes",
        ) from None
    return spec_from_dict(raw, origin=origin)


def spec_from_dict(raw: Any, *, origin: str = "spec") -> PipelineSpec:
    r = _Reader(origin)
    d = r.obj(raw, "$")
    version = r.get(d, "schema_version", "$", int)
    if not MIN_SCHEMA_VERSION <= version <= SCHEMA_VERSION:
        raise r.fail(
            "$.schema_version",
            f"schema version {version} is not supported (this kilnflow reads "
            f"{MIN_SCHEMA_VERSION} to {SCHEMA_VERSION})",
        )
    steps_raw = r.get(d, "steps", "$", list)
    params = [
        ParamSpec(
            name=r.get(p, "name", f"$.parameters[{i}]", str),
            type=r.get(p, "type", f"$.parameters[{i}]", str),
            default=p.get("default"),
        )
        for i, p in enumerate(r.obj(x, f"$.parameters[{i}]") for i, x in enumerate(
            r.get(d, "parameters", "$", list, [])))
    ]
    spec = PipelineSpec(
        name=r.get(d, "name", "$", str),
        steps=[_step(r, s, f"$.steps[{i}]") for i, s in enumerate(steps_raw)],
        parameters=params,
        experiment=r.get(d, "experiment", "$", (str, type(None)), None),
        description=r.get(d, "description", "$", str, ""),
        prelude=[_cell(r, c, f"$.prelude[{i}]") for i, c in enumerate(
            r.get(d, "prelude", "$", list, []))],
        workdir=r.get(d, "workdir", "$", (str, type(None)), None),
        source=r.get(d, "source", "$", dict, {}),
        metadata=r.get(d, "metadata", "$", dict, {}),
        schema_version=version,
    )
    validate(spec, origin=origin)
    return spec


def _cell(r: _Reader, raw: Any, path: str) -> Cell:
    c = r.obj(raw, path)
    return Cell(
        source=r.get(c, "source", path, str),
        index=r.get(c, "index", path, int, 0),
        filename=r.get(c, "filename", path, str, "<spec>"),
    )


def _step(r: _Reader, raw: Any, path: str) -> StepSpec:
    s = r.obj(raw, path)
    fn_raw = r.get(s, "function", path, (dict, type(None)), None)
    fn = None
    if fn_raw is not None:
        fp = f"{path}.function"
        fn = FunctionRef(
            module=r.get(fn_raw, "module", fp, str),
            file=r.get(fn_raw, "file", fp, str),
            qualname=r.get(fn_raw, "qualname", fp, str),
            source_hash=r.get(fn_raw, "source_hash", fp, str, ""),
        )
    inputs = []
    for i, x in enumerate(r.get(s, "inputs", path, list, [])):
        ip = f"{path}.inputs[{i}]"
        xd = r.obj(x, ip)
        inputs.append(
            InputSpec(
                name=r.get(xd, "name", ip, str),
                step=r.get(xd, "step", ip, (str, type(None)), None),
                output=r.get(xd, "output", ip, (str, type(None)), None),
                param=r.get(xd, "param", ip, (str, type(None)), None),
                value=xd.get("value"),
            )
        )
    timeout = r.get(s, "timeout", path, (int, float, type(None)), None)
    return StepSpec(
        name=r.get(s, "name", path, str),
        kind=r.get(s, "kind", path, str),
        inputs=inputs,
        outputs=list(r.get(s, "outputs", path, list, [])),
        after=list(r.get(s, "after", path, list, [])),
        cells=[_cell(r, c, f"{path}.cells[{i}]") for i, c in enumerate(
            r.get(s, "cells", path, list, []))],
        function=fn,
        retries=r.get(s, "retries", path, int, 0),
        timeout=float(timeout) if timeout is not None else None,
        resources=r.get(s, "resources", path, dict, {}),
        distributed=_distributed(r.get(s, "distributed", path, (dict, type(None)), None),
                                 f"{path}.distributed"),
        limits=r.get(s, "limits", path, dict, {}),
        labels=r.get(s, "labels", path, dict, {}),
        annotations=r.get(s, "annotations", path, dict, {}),
        cache=r.get(s, "cache", path, bool, True),
        image=r.get(s, "image", path, (str, type(None)), None),
        volumes=_volumes(r.get(s, "volumes", path, dict, {}), f"{path}.volumes"),
    )


def _volumes(d: dict[str, Any], where: str) -> dict[str, str]:
    for mount, vol in d.items():
        if not isinstance(vol, str) or not vol:
            raise SpecError(f"volume of mount '{mount}' must be a volume name, got {vol!r}",
                            where=f"{where}.{mount}")
    return dict(d)


def _distributed(d: dict[str, Any] | None, where: str) -> dict[str, Any] | None:
    if d is None:
        return None
    workers = d.get("workers")
    if d.get("framework") != "pytorch":
        raise SpecError(f"distributed framework {d.get('framework')!r} is not supported",
                        where=where, hint="use pytorch")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SpecError(f"distributed workers must be a whole number >= 1, got {workers!r}",
                        where=f"{where}.workers")
    return {"framework": "pytorch", "workers": workers}
