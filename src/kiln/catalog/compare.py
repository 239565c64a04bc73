"""Runs side by side: every parameter and metric, and which of them differ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiln.catalog.db import Catalog
from kiln.catalog.runs import RunInfo, get_run
from kiln.errors import UserError


@dataclass
class Comparison:
    runs: list[RunInfo]
    params: dict[str, list[Any]]  # name -> value per run (None where a run lacks it)
    metrics: dict[str, list[float | None]]

    def differing(self, table: dict[str, list[Any]]) -> set[str]:
        return {k for k, vals in table.items() if len({repr(v) for v in vals}) > 1}

    def to_dict(self) -> dict[str, Any]:
        return {"runs": [r.id for r in self.runs], "params": self.params,
                "metrics": self.metrics,
                "differ": sorted(self.differing(self.params) | self.differing(self.metrics))}


def compare(cat: Catalog, refs: list[str]) -> Comparison:
    if len(refs) < 2:
        raise UserError("compare needs two runs or more", hint="kiln runs compare RUN RUN [RUN]")
    runs = [get_run(cat, r, with_events=False) for r in refs]
    pnames = sorted({k for r in runs for k in r.params})
    mnames = sorted({k for r in runs for k in r.metrics})
    return Comparison(runs, {p: [r.params.get(p) for r in runs] for p in pnames},
                      {m: [r.metrics.get(m) for r in runs] for m in mnames})
