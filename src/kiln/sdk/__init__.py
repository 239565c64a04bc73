"""The Python authoring API: `@step`, `@pipeline`, `log_metric`."""

from kiln.sdk.context import log_metric, report
from kiln.sdk.decorators import Pipeline, StepFunction, pipeline, step

__all__ = ["Pipeline", "StepFunction", "log_metric", "pipeline", "report", "step"]
