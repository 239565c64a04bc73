"""What a step's code can reach while it runs: metrics logging and where it is."""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson


@dataclass
class StepContext:
    run_id: str
    step: str
    metrics_path: Path | None = None
    metrics: list[tuple[str, float, int | None]] = field(default_factory=list)
    visuals: list[dict[str, Any]] = field(default_factory=list)

    def log_visual(self, visual: dict[str, Any]) -> None:
        """A confusion matrix, ROC curve, table or report (kiln.sdk.visuals checked it)."""
        self.visuals.append(visual)
        if self.metrics_path is not None:
            with open(visuals_path(self.metrics_path), "ab") as f:
                f.write(orjson.dumps(visual) + b"\n")

    def log(self, name: str, value: float, step: int | None) -> None:
        self.metrics.append((name, value, step))
        if self.metrics_path is not None:
            # One line per value, flushed at once, so a step that crashes keeps what it logged.
            with open(self.metrics_path, "a") as f:
                f.write(json.dumps([name, value, step]) + "\n")


_current: StepContext | None = None


def current() -> StepContext | None:
    return _current


def set_current(ctx: StepContext | None) -> None:
    global _current
    _current = ctx


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """Record a scalar metric for the running step (`step` places it in a series).

    Outside a pipeline run (e.g. trying code in a notebook) the value is only printed.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("metric name must be a non-empty string")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"metric '{name}' must be a number, got {type(value).__name__}")
    v = float(value)
    if math.isnan(v):
        raise ValueError(f"metric '{name}' is NaN")
    ctx = _current
    if ctx is None:
        print(f"[kiln] metric {name} = {v}" + (f" (step {step})" if step is not None else ""))
        return
    ctx.log(name, v, step)


REPORT_METRIC = "report"


def report(value: float, step: int) -> None:
    """Report an intermediate value of the objective (e.g. validation accuracy after epoch
    `step`). A tuning study compares trials by these and stops the unpromising ones early
    (median stopping, successive halving, hyperband). Outside a study it is an ordinary
    metric series named "report".
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"report step must be a whole number >= 0, got {step!r}")
    log_metric(REPORT_METRIC, value, step)


def visuals_path(metrics_path: Path) -> Path:
    """Where a step's visuals go: beside its metrics file (metrics.jsonl -> visuals.jsonl)."""
    return metrics_path.with_name(metrics_path.name.replace("metrics.jsonl", "visuals.jsonl"))


def read_visuals_file(metrics_path: Path) -> list[dict[str, Any]]:
    path = visuals_path(metrics_path)
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().splitlines():
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue  # a line cut short by a crash
    return out


def read_metrics_file(path: Path) -> list[tuple[str, float, int | None]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            name, value, step = json.loads(line)
        except (ValueError, TypeError):
            continue  # a line cut short by a crash
        out.append((str(name), float(value), step))
    return out

