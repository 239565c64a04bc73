"""kilnflow: notebooks and Python functions become pipelines that run on one machine.

    import kiln

    @kiln.step
    def load(n: int) -> list[int]: ...

    @kiln.pipeline(name="demo", experiment="demo")
    def demo(n: int = 10):
        train(load(n))

    run = kiln.run(demo, params={"n": 20})
"""

from __future__ import annotations

from kiln._version import __version__
from kiln.engine.api import compile, get_run, load, run
from kiln.engine.result import Run
from kiln.errors import (
    CodecError,
    KilnError,
    NotebookError,
    NotFoundError,
    ParameterError,
    PipelineDefinitionError,
    SpecError,
    UserError,
)
from kiln.marshal import Codec, register_codec
from kiln.sdk import Pipeline, StepFunction, log_metric, pipeline, step
from kiln.spec import PipelineSpec

__all__ = [
    "Codec",
    "CodecError",
    "KilnError",
    "NotFoundError",
    "NotebookError",
    "ParameterError",
    "Pipeline",
    "PipelineDefinitionError",
    "PipelineSpec",
    "Run",
    "SpecError",
    "StepFunction",
    "UserError",
    "__version__",
    "compile",
    "get_run",
    "load",
    "log_metric",
    "pipeline",
    "register_codec",
    "run",
    "step",
]
