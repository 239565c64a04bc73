"""kilnflow: notebooks and Python functions become pipelines that run on one machine.

    import kiln

    @kiln.step
    def load(n: int) -> list[int]: ...

    @kiln.pipeline(name="demo", experiment="demo")
    def demo(n: int = 10):
        train(load(n))

    run = kiln.run(demo, params={"n": 20})
    service = kiln.serve(run.output("train"))   # Open Inference Protocol V2 on loopback
    study = kiln.tune(demo, space={"n": (10, 100)}, objective="accuracy", trials=20)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiln._version import __version__
from kiln.errors import (
    CodecError,
    KilnError,
    ModelError,
    NotebookError,
    NotFoundError,
    ParameterError,
    PipelineDefinitionError,
    RequestError,
    SpecError,
    UserError,
)

# `tune` is also the name of the subpackage kiln.tune: bind the function now, or the first
# import of kiln.tune.* would set the attribute to the package (kiln.tune.api is light).
from kiln.tune.api import automl, get_study, tune
from kiln.tune.results import Study

# The rest of the public API loads on first use (PEP 562), so `import kiln` — and every `kiln`
# command, which imports this package first — does not pay for the engine, codecs, serving
# and tuning modules it does not touch.
_LAZY = {
    "compile": "kiln.engine.api", "get_run": "kiln.engine.api", "load": "kiln.engine.api",
    "resume": "kiln.engine.api", "run": "kiln.engine.api", "Run": "kiln.engine.result",
    "search_runs": "kiln.engine.api", "lineage": "kiln.engine.api",
    "Codec": "kiln.marshal", "register_codec": "kiln.marshal",
    "Pipeline": "kiln.sdk", "PyTorchDistributed": "kiln.sdk", "StepFunction": "kiln.sdk",
    "log_metric": "kiln.sdk", "pipeline": "kiln.sdk", "report": "kiln.sdk", "step": "kiln.sdk",
    "log_confusion_matrix": "kiln.sdk", "log_html": "kiln.sdk", "log_markdown": "kiln.sdk",
    "log_roc": "kiln.sdk", "log_table": "kiln.sdk",
    "Service": "kiln.serving.api", "serve": "kiln.serving.api",
    "PipelineSpec": "kiln.spec",
    "Client": "kiln.client",
}

if TYPE_CHECKING:
    from kiln import volumes
    from kiln.client import Client
    from kiln.engine.api import compile, get_run, lineage, load, resume, run, search_runs
    from kiln.engine.result import Run
    from kiln.marshal import Codec, register_codec
    from kiln.sdk import (
        Pipeline,
        PyTorchDistributed,
        StepFunction,
        log_confusion_matrix,
        log_html,
        log_markdown,
        log_metric,
        log_roc,
        log_table,
        pipeline,
        report,
        step,
    )
    from kiln.serving.api import Service, serve
    from kiln.spec import PipelineSpec

__all__ = [
    "Client",
    "Codec",
    "CodecError",
    "KilnError",
    "ModelError",
    "NotFoundError",
    "NotebookError",
    "ParameterError",
    "Pipeline",
    "PipelineDefinitionError",
    "PipelineSpec",
    "PyTorchDistributed",
    "RequestError",
    "Run",
    "Service",
    "SpecError",
    "StepFunction",
    "Study",
    "UserError",
    "__version__",
    "automl",
    "compile",
    "get_run",
    "get_study",
    "lineage",
    "load",
    "log_confusion_matrix",
    "log_html",
    "log_markdown",
    "log_metric",
    "log_roc",
    "log_table",
    "pipeline",
    "register_codec",
    "report",
    "resume",
    "run",
    "search_runs",
    "serve",
    "step",
    "tune",
    "volumes",
]


def __getattr__(name: str) -> object:
    import importlib

    if name == "volumes":
        return importlib.import_module("kiln.volumes")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kiln' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, "volumes"})
