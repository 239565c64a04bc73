"""What traces into a PipelineSpec: `@kiln.pipeline` and Kale's `@pipeline` (kiln.sdk).

The engine takes any such object (`kiln.run(my_pipeline)`, a module's pipelines) through
this protocol, so it need not import the SDK, whose pipelines in turn run themselves through
the engine (`my_pipeline(n=3)`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from kiln.spec.model import PipelineSpec


@runtime_checkable
class PipelineSource(Protocol):
    name: str
    fn: Callable[..., Any]

    def spec(self) -> PipelineSpec: ...
