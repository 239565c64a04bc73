"""Kale's SDK (`from kale.sdk import pipeline, step`) on kilnflow.

Modules written for Kale's SDK run and compile here unchanged when Kale is not installed:
`kale.sdk` resolves to these decorators (see `_kilnflow_kale.py`, which does that only when
no real `kale.sdk` can be imported). Each Kale option maps to its kilnflow meaning or is
ignored with a warning that names it; docs/kale-compatibility.md has the table.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kiln.errors import KaleSDKWarning, PipelineDefinitionError
from kiln.files import defined_at
from kiln.pysource import parse
from kiln.sdk.decorators import Pipeline, StepFunction

if TYPE_CHECKING:
    from kiln.engine.result import Run
    from kiln.spec.model import PipelineSpec


_STEP_IGNORED = {
    "retry_interval": "kilnflow retries a failed step at once",
    "retry_factor": "kilnflow retries a failed step at once",
    "retry_max_interval": "kilnflow retries a failed step at once",
}
_PIPELINE_IGNORED = {
    "volumes": "bind volumes with `kiln run --volume NAME=VOLUME` instead",
    "marshal_volume": "kilnflow passes values through its own store",
    "marshal_path": "kilnflow passes values through its own store",
    "kfp_host": "compile with `kiln compile --target kfp` and upload the package",
    "storage_class_name": "set it on the PVCs of the cluster",
    "volume_access_mode": "set it on the PVCs of the cluster",
    "timeout": "give steps their own timeout=",
    "abs_working_dir": "steps run in the module's folder",
}


def _ignore(what: str, option: str, why: str, fn: Callable[..., Any]) -> None:
    warnings.warn(f"{defined_at(fn)}: Kale {what} option '{option}' is ignored: {why}",
                  KaleSDKWarning, stacklevel=4)


def _check_options(what: str, given: dict[str, Any], known: set[str], ignored: dict[str, str],
                   fn: Callable[..., Any]) -> None:
    """Options Kale has but kilnflow does not honour warn; options Kale never had fail."""
    for option in sorted(set(given) - known):
        why = ignored.get(option)
        if why is None:
            raise PipelineDefinitionError(f"Kale's {what} has no option '{option}'",
                                          where=defined_at(fn),
                                          hint=f"its options: {', '.join(sorted(known))}")
        _ignore(what, option, why, fn)


def _output_count(fn: Callable[..., Any]) -> int:
    """How many values a Kale step returns: Kale unpacks `a, b = step()` by the function's
    `return a, b`, with no annotations to go by."""
    try:
        tree = parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return 1
    func = next((n for n in ast.walk(tree)
                 if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if func is None:
        return 1
    counts = set()
    todo: list[ast.AST] = list(func.body)
    while todo:  # the function's own returns, not those of functions nested in it
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return) and node.value is not None:
            counts.add(len(node.value.elts) if isinstance(node.value, ast.Tuple) else 1)
        todo.extend(ast.iter_child_nodes(node))
    if not counts:
        return 0
    return counts.pop() if len(counts) == 1 else 1


def step(**kwargs: Any) -> Callable[[Callable[..., Any]], StepFunction]:
    """Kale's `@step(name=..., limits=..., retry_count=..., timeout=..., annotations=...,
    labels=...)`."""
    def wrap(fn: Callable[..., Any]) -> StepFunction:
        opts = dict(kwargs)
        _check_options("@step", opts, {"name", "limits", "retry_count", "timeout",
                                       "annotations", "labels"}, _STEP_IGNORED, fn)
        n = _output_count(fn)
        outputs = (("output",) if n == 1 else tuple(f"output_{i}" for i in range(n)))
        timeout = opts.get("timeout")
        return StepFunction(fn, name=opts.get("name"), retries=int(opts.get("retry_count") or 0),
                            timeout=float(timeout) if timeout else None,
                            outputs=outputs if n else (), limits=opts.get("limits"),
                            labels=opts.get("labels"), annotations=opts.get("annotations"))

    return wrap


class KalePipeline(Pipeline):
    """A Kale `@pipeline`: traced like kilnflow's, with Kale's pipeline options applied."""

    def __init__(self, fn: Callable[..., Any], options: dict[str, Any]) -> None:
        super().__init__(fn, name=options.get("name"), experiment=options.get("experiment"),
                         description=options.get("description"))
        self.autosnapshot = bool(options.get("autosnapshot", False))
        self.image = options.get("docker_image") or None
        self.steps_defaults = _steps_defaults(options.get("steps_defaults"), fn)

    def spec(self) -> PipelineSpec:
        spec = super().spec()
        d = self.steps_defaults
        for s in spec.steps:
            s.limits = {**d.get("limits", {}), **s.limits}
            s.labels = {**d.get("labels", {}), **s.labels}
            s.annotations = {**d.get("annotations", {}), **s.annotations}
        spec.metadata = {**spec.metadata, "kubeflow_notebook": {
            "autosnapshot": self.autosnapshot, "pipeline_name": self.name,
            "experiment_name": self.experiment or "", "docker_image": self.image or ""}}
        return spec

    def __call__(self, *args: Any, **params: Any) -> Run:
        """Run the pipeline on this machine, as Kale's local run does."""
        if args:
            raise PipelineDefinitionError(
                f"positional arguments in the call of pipeline '{self.name}'; Kale's "
                "pipelines take keyword arguments only", where=defined_at(self.fn),
                hint=f"{self.fn.__name__}(name=value, ...)")
        if {"--kfp", "-K"} & set(sys.argv[1:]):
            raise PipelineDefinitionError(
                "--kfp: compile with kilnflow instead, then upload the package",
                hint=f"kiln compile {sys.argv[0]} --target kfp -o pipeline.yaml")
        from kiln.engine.api import run

        result = run(self, params=params, progress=True)
        print(f"run {result.id} {result.status}: kiln runs show {result.id}")
        return result


def _steps_defaults(value: Any, fn: Callable[..., Any]) -> dict[str, dict[str, str]]:
    if value in (None, {}, []):
        return {}
    if not isinstance(value, dict):
        raise PipelineDefinitionError("steps_defaults= takes {'labels': {...}, "
                                      "'annotations': {...}, 'limits': {...}}",
                                      where=defined_at(fn))
    out = {}
    for key, v in value.items():
        if key not in ("labels", "annotations", "limits"):
            _ignore("@pipeline steps_defaults", key, "kilnflow applies labels, annotations "
                    "and limits to every step", fn)
            continue
        if not isinstance(v, dict):
            raise PipelineDefinitionError(f"steps_defaults['{key}'] takes {{name: value}}",
                                          where=defined_at(fn))
        out[key] = {str(k): str(x) for k, x in v.items()}
    return out


def pipeline(**kwargs: Any) -> Callable[[Callable[..., Any]], KalePipeline]:
    """Kale's `@pipeline(name=..., experiment=..., description=..., autosnapshot=...,
    steps_defaults=..., docker_image=...)`."""
    def wrap(fn: Callable[..., Any]) -> KalePipeline:
        _check_options("@pipeline", kwargs, {"name", "experiment", "description",
                                             "autosnapshot", "steps_defaults", "docker_image"},
                       _PIPELINE_IGNORED, fn)
        return KalePipeline(fn, kwargs)

    return wrap


def artifact(name: str, path: str) -> Callable[[StepFunction], StepFunction]:
    """Kale's `@artifact(name, path)`: an HTML file the step writes, shown as a report."""
    def wrap(sf: StepFunction) -> StepFunction:
        if not isinstance(sf, StepFunction):
            raise PipelineDefinitionError("@artifact decorates a function decorated with @step",
                                          where=defined_at(sf))
        inner = sf.fn

        def with_artifact(*a: Any, **k: Any) -> Any:
            result = inner(*a, **k)
            from kiln.sdk.visuals import log_html

            with open(path, encoding="utf-8") as f:
                log_html(name, f.read())
            return result

        import functools

        functools.update_wrapper(with_artifact, inner)
        sf.fn = with_artifact
        return sf

    return wrap
