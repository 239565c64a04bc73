"""`@kiln.step` and `@kiln.pipeline`: plain Python functions become pipeline steps."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from kiln.errors import PipelineDefinitionError
from kiln.files import defined_at
from kiln.sdk.distributed import PyTorchDistributed

if TYPE_CHECKING:
    from kiln.engine.result import Run
    from kiln.spec.model import PipelineSpec

F = TypeVar("F", bound=Callable[..., Any])


def _output_names(fn: Callable[..., Any], declared: tuple[str, ...] | None) -> tuple[str, ...]:
    """Output names from `outputs=`, a NamedTuple or tuple[...] annotation, or one 'output'."""
    if declared is not None:
        for n in declared:
            if not isinstance(n, str) or not n.isidentifier():
                raise PipelineDefinitionError(f"output name {n!r} is not a valid identifier",
                                              where=defined_at(fn))
        return tuple(declared)
    try:
        ann = typing.get_type_hints(fn).get("return", inspect.Signature.empty)
    except Exception:  # unresolvable forward references: fall back to the raw annotation
        ann = inspect.signature(fn).return_annotation
    if ann is None or ann is type(None):
        return ()
    _check_storable(fn, ann)
    if isinstance(ann, type) and issubclass(ann, tuple) and hasattr(ann, "_fields"):
        return tuple(ann._fields)
    if typing.get_origin(ann) is tuple:
        args = typing.get_args(ann)
        if args and args[-1] is not Ellipsis:
            return tuple(f"output_{i}" for i in range(len(args)))
    return ("output",)


def _check_storable(fn: Callable[..., Any], ann: Any) -> None:
    """Outputs are stored and cross process (and container) boundaries: an open file or a
    stream cannot, so say so when the step is defined rather than when it has run."""
    import io

    parts = typing.get_args(ann) if typing.get_origin(ann) is tuple else (ann,)
    for part in parts:
        base = typing.get_origin(part) or part
        if isinstance(base, type) and (issubclass(base, (io.IOBase, typing.IO))):
            raise PipelineDefinitionError(
                f"step '{fn.__name__}' returns {getattr(part, '__name__', part)}, an open file; "
                "step outputs are stored and read by other processes",
                where=defined_at(fn), hint="return the data (bytes, str, a DataFrame) or write the "
                                       "file into a volume and return its path")


class StepFunction:
    """A function marked as a step. Called inside a pipeline it adds a node to the graph;
    called anywhere else it is the plain function (handy in tests and notebooks)."""

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None, retries: int = 0,
                 timeout: float | None = None, resources: dict[str, Any] | None = None,
                 cache: bool = True, outputs: tuple[str, ...] | None = None,
                 distributed: PyTorchDistributed | None = None,
                 volumes: dict[str, str] | None = None, limits: dict[str, str] | None = None,
                 labels: dict[str, str] | None = None,
                 annotations: dict[str, str] | None = None) -> None:
        if not callable(fn):
            raise PipelineDefinitionError(f"@kiln.step needs a function, got {fn!r}")
        if retries < 0:
            raise PipelineDefinitionError("retries must be 0 or more", where=defined_at(fn))
        if timeout is not None and timeout <= 0:
            raise PipelineDefinitionError("timeout must be a positive number of seconds",
                                          where=defined_at(fn))
        self.fn = fn
        self.name = name or fn.__name__
        self.retries = retries
        self.timeout = float(timeout) if timeout is not None else None
        self.resources = dict(resources or {})
        self.cache = cache
        self.outputs = _output_names(fn, outputs)
        if distributed is not None and not isinstance(distributed, PyTorchDistributed):
            raise PipelineDefinitionError("distributed= takes kiln.PyTorchDistributed(workers=N)",
                                          where=defined_at(fn))
        self.distributed = distributed
        self.volumes = _check_volumes(fn, volumes or {})
        # Kubernetes settings of the step's pod on Kubeflow (Kale's @step has them too)
        self.limits = _str_map(fn, "limits", limits)
        self.labels = _str_map(fn, "labels", labels)
        self.annotations = _str_map(fn, "annotations", annotations)
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from kiln.sdk.tracing import current_tracer

        tracer = current_tracer()
        if tracer is None:
            return self.fn(*args, **kwargs)
        return tracer.add_call(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<kiln step {self.name}>"


@overload
def step(fn: F, /) -> StepFunction: ...


@overload
def step(*, name: str | None = None, retries: int = 0, timeout: float | None = None,
         resources: dict[str, Any] | None = None, cache: bool = True,
         outputs: tuple[str, ...] | None = None,
         distributed: PyTorchDistributed | None = None,
         volumes: dict[str, str] | None = None) -> Callable[[F], StepFunction]: ...


def step(fn: Callable[..., Any] | None = None, /, *, name: str | None = None, retries: int = 0,
         timeout: float | None = None, resources: dict[str, Any] | None = None,
         cache: bool = True, outputs: tuple[str, ...] | None = None,
         distributed: PyTorchDistributed | None = None,
         volumes: dict[str, str] | None = None) -> Any:
    """Mark a function as a pipeline step; works bare (`@step`) or with options.

    `volumes={"data": "myvol"}` mounts the volume `myvol`: the step's argument `data` is its
    folder (a str path), filled in by the engine rather than by the pipeline's call."""
    opts = dict(name=name, retries=retries, timeout=timeout, resources=resources, cache=cache,
                outputs=outputs, distributed=distributed, volumes=volumes)
    if fn is not None:
        return StepFunction(fn, **opts)  # type: ignore[arg-type]
    return lambda f: StepFunction(f, **opts)  # type: ignore[arg-type]


class Pipeline:
    """A traced pipeline function; its arguments with defaults are the pipeline's parameters."""

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None,
                 experiment: str | None = None, description: str | None = None) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.experiment = experiment
        self.description = description if description is not None else (
            inspect.getdoc(fn) or "")
        functools.update_wrapper(self, fn)

    def spec(self) -> PipelineSpec:
        from kiln.sdk.tracing import trace

        return trace(self)

    def __call__(self, **params: Any) -> Run:
        """Run the pipeline on this machine and wait for it."""
        from kiln.engine.api import run

        return run(self, params=params)

    def __repr__(self) -> str:
        return f"<kiln pipeline {self.name}>"


@overload
def pipeline(fn: F, /) -> Pipeline: ...


@overload
def pipeline(*, name: str | None = None, experiment: str | None = None,
             description: str | None = None) -> Callable[[F], Pipeline]: ...


def pipeline(fn: Callable[..., Any] | None = None, /, *, name: str | None = None,
             experiment: str | None = None, description: str | None = None) -> Any:
    """Mark a function that wires steps together as a pipeline."""
    if fn is not None:
        return Pipeline(fn, name=name, experiment=experiment, description=description)
    return lambda f: Pipeline(f, name=name, experiment=experiment, description=description)


def _str_map(fn: Callable[..., Any], what: str, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise PipelineDefinitionError(f"{what}= takes {{name: value}}", where=defined_at(fn),
                                      hint=f'{what}={{"nvidia.com/gpu": "1"}}' if what == "limits"
                                      else f'{what}={{"team": "ml"}}')
    return {k: str(v) for k, v in value.items()}


def _check_volumes(fn: Callable[..., Any], volumes: Any) -> dict[str, str]:
    if not isinstance(volumes, dict):
        raise PipelineDefinitionError("volumes= takes {argument: volume name}",
                                      where=defined_at(fn), hint='volumes={"data": "myvol"}')
    params = inspect.signature(fn).parameters
    for arg, vol in volumes.items():
        if arg not in params:
            raise PipelineDefinitionError(
                f"volumes names '{arg}', which is not an argument of {fn.__name__}",
                where=defined_at(fn), hint=f"add a parameter `{arg}: str` to receive the folder")
        if not isinstance(vol, str) or not vol:
            raise PipelineDefinitionError(f"the volume for '{arg}' must be a volume name",
                                          where=defined_at(fn))
    return dict(volumes)
