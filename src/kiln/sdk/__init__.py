"""The Python authoring API: `@step`, `@pipeline`, `log_metric`."""

from kiln.sdk.context import log_metric, report
from kiln.sdk.decorators import Pipeline, StepFunction, pipeline, step
from kiln.sdk.distributed import PyTorchDistributed

__all__ = ["Pipeline", "PyTorchDistributed", "StepFunction", "log_metric", "pipeline", "report",
           "step"]
