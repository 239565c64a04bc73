"""PipelineSpec: plain dataclasses that every front-end produces and every engine consumes.

The spec is data, not code: it is written as versioned JSON (`to_json`/`from_json`, both
here, so the format is read and written in one place), hashed for caching and shown in the
UI. Nothing here imports a front-end (sdk, notebook) or an engine.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from kiln.errors import SpecError
from kiln.hashing import hash_json
from kiln.spec.validate import validate

SCHEMA_VERSION = 1
MIN_SCHEMA_VERSION = 1

ParamType = Literal["int", "float", "str", "bool", "list", "dict"]
StepKind = Literal["function", "cells", "metrics"]


@dataclass
class ParamSpec:
    """A pipeline parameter: typed, with a default."""

    name: str
    type: str
    default: Any


@dataclass
class Cell:
    """Source code from one notebook cell (or one prelude block of a module)."""

    source: str
    index: int  # 1-based position in the notebook, for error messages
    filename: str  # shown in tracebacks, e.g. "train.ipynb [cell 5]"


@dataclass
class FunctionRef:
    """Where an SDK step's function lives, so a worker process can import it."""

    module: str  # importable module name ("__main__" when the pipeline ran as a script)
    file: str  # absolute path of the module file; used when `module` cannot be imported
    qualname: str
    source_hash: str  # hash of the function's source plus the module's non-step code


@dataclass
class InputSpec:
    """A value a step reads: another step's output, a parameter, or a literal constant."""

    name: str  # the variable or argument name inside the step
    step: str | None = None
    output: str | None = None
    param: str | None = None
    value: Any = None  # literal constant when step and param are both None


@dataclass
class StepSpec:
    name: str
    kind: str  # one of StepKind
    inputs: list[InputSpec] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)  # extra ordering edges without data
    cells: list[Cell] = field(default_factory=list)  # kind == "cells"
    function: FunctionRef | None = None  # kind == "function"
    retries: int = 0
    timeout: float | None = None  # seconds
    resources: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    cache: bool = True
    image: str | None = None
    # {"framework": "pytorch", "workers": N}: N processes with torch.distributed; rank 0's
    # outputs are kept (locally: processes; on Kubeflow: a PyTorchJob)
    distributed: dict[str, Any] | None = None
    # mount -> volume name. A function step gets the volume's folder as the argument named
    # `mount`; a notebook step (Kale `volumes`, mount = mount_point) finds it in KILN_VOLUMES.
    volumes: dict[str, str] = field(default_factory=dict)

    def upstream(self) -> list[str]:
        """Every step this one must wait for: data inputs and explicit `after` edges."""
        seen: list[str] = []
        for s in [i.step for i in self.inputs if i.step] + self.after:
            if s is not None and s not in seen:
                seen.append(s)
        return seen

    def params_used(self) -> list[str]:
        return sorted({i.param for i in self.inputs if i.param})


@dataclass
class PipelineSpec:
    name: str
    steps: list[StepSpec]
    parameters: list[ParamSpec] = field(default_factory=list)
    experiment: str | None = None
    description: str = ""
    prelude: list[Cell] = field(default_factory=list)  # imports + functions cells
    workdir: str | None = None  # steps run here (the notebook's folder)
    source: dict[str, Any] = field(default_factory=dict)  # {"kind": ..., "path": ...}
    metadata: dict[str, Any] = field(default_factory=dict)  # e.g. kubeflow_notebook, kept whole
    schema_version: int = SCHEMA_VERSION

    def step(self, name: str) -> StepSpec:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def param(self, name: str) -> ParamSpec:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    def digest(self) -> str:
        return hash_json(self.to_dict())

    @classmethod
    def from_json(cls, text: str, *, origin: str = "spec") -> PipelineSpec:
        return spec_from_json(text, origin=origin)


# --- reading a spec from JSON, checking every field and naming the one at fault ----------


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
