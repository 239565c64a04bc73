"""Running a PipelineSpec: the local process engine (and, later, the Kubeflow compiler)."""

from kiln.engine.api import compile, get_run, load, run
from kiln.engine.result import Run

__all__ = ["Run", "compile", "get_run", "load", "run"]
