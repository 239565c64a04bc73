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

from kiln._version import __version__
from kiln.engine.api import compile, get_run, load, resume, run
from kiln.engine.result import Run
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
from kiln.marshal import Codec, register_codec
from kiln.sdk import (
    Pipeline,
    PyTorchDistributed,
    StepFunction,
    log_metric,
    pipeline,
    report,
    step,
)
from kiln.serving.api import Service, serve
from kiln.spec import PipelineSpec
from kiln.tune.api import Study, automl, get_study, tune

__all__ = [
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
    "load",
    "log_metric",
    "pipeline",
    "register_codec",
    "report",
    "resume",
    "run",
    "serve",
    "step",
    "tune",
    "volumes",
]


def __getattr__(name: str) -> object:
    # `kiln.volumes` opens the catalog; load it on first use so `import kiln` stays light
    if name == "volumes":
        import importlib

        return importlib.import_module("kiln.volumes")
    raise AttributeError(f"module 'kiln' has no attribute {name!r}")
