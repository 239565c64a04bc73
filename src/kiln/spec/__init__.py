"""PipelineSpec, the one pivot between front-ends (sdk, notebook) and engines."""

from kiln.spec.model import (
    SCHEMA_VERSION,
    Cell,
    FunctionRef,
    InputSpec,
    ParamSpec,
    PipelineSpec,
    StepSpec,
    spec_from_dict,
    spec_from_json,
)
from kiln.spec.validate import downstream, order_steps, validate

__all__ = [
    "SCHEMA_VERSION",
    "Cell",
    "FunctionRef",
    "InputSpec",
    "ParamSpec",
    "PipelineSpec",
    "StepSpec",
    "downstream",
    "order_steps",
    "spec_from_dict",
    "spec_from_json",
    "validate",
]
