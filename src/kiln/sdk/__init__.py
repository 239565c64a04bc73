"""The Python authoring API: `@step`, `@pipeline`, `log_metric` and the `log_*` visuals."""

from kiln.sdk.context import log_metric, report
from kiln.sdk.decorators import Pipeline, StepFunction, pipeline, step
from kiln.sdk.distributed import PyTorchDistributed
from kiln.sdk.visuals import (
    log_confusion_matrix,
    log_html,
    log_markdown,
    log_roc,
    log_table,
)

__all__ = ["Pipeline", "PyTorchDistributed", "StepFunction", "log_confusion_matrix", "log_html",
           "log_markdown", "log_metric", "log_roc", "log_table", "pipeline", "report", "step"]
