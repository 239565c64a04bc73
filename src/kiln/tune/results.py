"""What a finished (or running) study reads as: `kiln.tune()` and `kiln.get_study()` return it,
and so does AutoML."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiln.catalog.studies import StudyInfo, TrialInfo
    from kiln.engine.result import Run


class Study:
    """A tuning study's record: `status`, `trials`, `best` (value, params, run)."""

    def __init__(self, info: StudyInfo) -> None:
        self._info = info

    @property
    def id(self) -> str:
        return self._info.id

    @property
    def name(self) -> str:
        return self._info.name

    @property
    def status(self) -> str:
        return self._info.status

    @property
    def error(self) -> str | None:
        return self._info.error

    @property
    def trials(self) -> list[TrialInfo]:
        return list(self._info.trials)

    @property
    def best(self) -> TrialInfo | None:
        return self._info.best()

    @property
    def best_params(self) -> dict[str, Any]:
        b = self.best
        return dict(b.params) if b else {}

    @property
    def best_value(self) -> float | None:
        b = self.best
        return b.value if b else None

    @property
    def best_run(self) -> Run | None:
        """The best trial's pipeline run: its outputs feed `kiln.serve`."""
        from kiln.engine.api import get_run

        b = self.best
        return get_run(b.run_id) if b and b.run_id else None

    @property
    def info(self) -> StudyInfo:
        return self._info

    def to_dict(self) -> dict[str, Any]:
        return self._info.to_dict()

    def __repr__(self) -> str:
        return f"<Study {self.name} {self.status} best={self.best_value}>"
