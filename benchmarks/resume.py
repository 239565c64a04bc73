"""Resuming a run from its last step vs running it again.

A three-step pipeline: `load` (build a 3M-row table), `features` (group-bys over it), and a
cheap `fit` that reads a parameter. Changing that parameter and resuming from `fit` should
cost a small fraction of the full run; a user without kilnflow re-runs the whole script
(measured as the same three functions called in-process).
    python benchmarks/resume.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time

import numpy as np
import pandas as pd
from _report import emit

import kiln


def _load(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"user": rng.integers(0, 50_000, rows), "x": rng.standard_normal(rows),
                         "y": rng.standard_normal(rows)})


def _features(df: pd.DataFrame) -> pd.DataFrame:
    g = df.groupby("user")
    cols = [g.x.mean(), g.x.std(), g.y.quantile(0.9), g.y.median()]
    for i in range(3):
        cols.append(g.x.apply(lambda s, t=i * 0.5: (s > t).mean()).rename(f"share{i}"))
    return pd.concat(cols, axis=1).set_axis([f"f{i}" for i in range(len(cols))], axis=1)


def _fit(feats: pd.DataFrame, alpha: float) -> float:
    x = feats.fillna(0).to_numpy()
    w = np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ x[:, 0])
    return float(w.sum())


@kiln.step
def load(rows: int) -> pd.DataFrame:
    return _load(rows)


@kiln.step
def features(df: pd.DataFrame) -> pd.DataFrame:
    return _features(df)


@kiln.step
def fit(feats: pd.DataFrame, alpha: float) -> float:
    value = _fit(feats, alpha)
    kiln.log_metric("weight_sum", value)
    return value


@kiln.pipeline(name="resume-bench")
def resume_bench(rows: int = 3_000_000, alpha: float = 1.0):
    fit(features(load(rows)), alpha)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.environ["KILN_HOME"] = tempfile.mkdtemp(prefix="kiln-resume-bench-")
    full, resumed, script = [], [], []
    for i in range(args.repeats):
        t = time.perf_counter()
        run = kiln.run(resume_bench, cache=False, progress=False)
        full.append(time.perf_counter() - t)
        run.raise_for_status()
        t = time.perf_counter()
        again = kiln.resume(run.id, "fit", {"alpha": 2.0 + i}, progress=False)
        resumed.append(time.perf_counter() - t)
        again.raise_for_status()
        assert again.steps["features"] == "cached" and again.steps["fit"] == "succeeded"
        t = time.perf_counter()
        _fit(_features(_load(3_000_000)), 2.0 + i)
        script.append(time.perf_counter() - t)
    f, r, s = (statistics.median(x) for x in (full, resumed, script))
    print(f"# resume from the last step; {platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, median of {args.repeats}")
    print(f"full run            {f:7.2f}s")
    print(f"resume --from fit   {r:7.2f}s   {r / f:.2f}x of the full run")
    print(f"re-run the script   {s:7.2f}s   (resume is {s / r:.1f}x faster)")
    emit("resume", "resume --from the last step", r, s, "s",
         "vs re-running the whole script")


if __name__ == "__main__":
    main()
