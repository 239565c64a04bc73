"""PipelineSpec: plain dataclasses that every front-end produces and every engine consumes.

The spec is data, not code: it is written as versioned JSON (`to_json`/`from_json`), hashed for
caching and shown in the UI. Nothing here imports a front-end (sdk, notebook) or an engine.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from kiln.hashing import hash_json

SCHEMA_VERSION = 1
MIN_SCHEMA_VERSION = 1

ParamType = Literal["int", "float", "str", "bool", "list", "dict"]
PARAM_TYPES: tuple[str, ...] = ("int", "float", "str", "bool", "list", "dict")
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
        from kiln.spec.load import spec_from_json

        return spec_from_json(text, origin=origin)
