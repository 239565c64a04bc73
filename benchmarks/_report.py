"""One machine-readable line per figure, beside each benchmark's own table, so
`benchmarks/run_all.py` can gather every benchmark into one table."""

from __future__ import annotations

import json
import sys


def emit(benchmark: str, case: str, ours: float, peer: float | None, unit: str,
         notes: str = "", *, lower_is_better: bool = True) -> None:
    """`ours` and `peer` in `unit`; the ratio is ours / peer."""
    ratio = ours / peer if peer else None
    sys.stdout.write("RESULT " + json.dumps({
        "benchmark": benchmark, "case": case, "ours": ours, "peer": peer, "unit": unit,
        "ratio": ratio, "lower_is_better": lower_is_better, "notes": notes}) + "\n")
    sys.stdout.flush()
