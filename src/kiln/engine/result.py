"""`Run`: what `kiln.run()` returns, and the read side of a recorded run."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from kiln.errors import KilnError
from kiln.marshal.registry import default_registry

if TYPE_CHECKING:  # the catalog (SQLAlchemy) loads only when a run is read
    from kiln.catalog.runs import RunInfo
    from kiln.runtime import Runtime


class StepOutputs(Mapping[str, Any]):
    """One step's outputs by name, loaded from the store when first read."""

    def __init__(self, run: Run, step: str) -> None:
        self._run = run
        self._step = step

    def __getitem__(self, name: str) -> Any:
        return self._run.output(self._step, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._run.info.task(self._step).outputs)

    def __len__(self) -> int:
        return len(self._run.info.task(self._step).outputs)


class Run:
    """A pipeline run: `status`, `params`, `metrics`, and `outputs[step][name]`."""

    def __init__(self, info: RunInfo, runtime: Runtime) -> None:
        self._info = info
        self._rt = runtime

    @property
    def id(self) -> str:
        return self._info.id

    @property
    def name(self) -> str:
        """Readable, shown beside the id; given with `name=` or made up."""
        return self._info.name

    @property
    def status(self) -> str:
        return self._info.status

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._info.params)

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self._info.metrics)

    @property
    def error(self) -> str | None:
        return self._info.error

    @property
    def info(self) -> RunInfo:
        return self._info

    @property
    def steps(self) -> dict[str, str]:
        """Each step's final state."""
        return {t.step: t.status for t in self._info.tasks}

    @property
    def outputs(self) -> Mapping[str, StepOutputs]:
        return {t.step: StepOutputs(self, t.step) for t in self._info.tasks}

    def output(self, step: str, name: str | None = None) -> Any:
        return default_registry.load(self._info.output(step, name), self._rt.store)

    def logs(self, step: str) -> str:
        path = self._info.task(step).log_path
        if not path:
            return ""
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def raise_for_status(self) -> Run:
        if self.status != "succeeded":
            raise KilnError(f"run {self.id} {self.status}: {self.error or ''}".strip())
        return self

    def __repr__(self) -> str:
        return f"<Run {self.id} {self._info.pipeline} {self.status}>"
