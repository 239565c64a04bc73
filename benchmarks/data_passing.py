"""Passing ~1 GB between two steps vs the limit: writing and reading the same data alone.

    python benchmarks/data_passing.py [--gb 1.0]

numpy: kilnflow step -> step vs np.save + np.load.  DataFrame: vs Parquet write + read.
Both sides end by summing the received data, so lazily mapped data is really read.
Our time runs from the producing step's `return` to the consumer's sum, and includes the
content hash, the atomic move into the store, the process start and the load.
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

import kiln

GB = float(os.environ.get("KILN_BENCH_GB", "1.0"))
ROWS = int(GB * (1 << 30) / 8 / 8)  # 8 float64 columns


def make_array() -> np.ndarray:
    return np.random.default_rng(0).random(int(GB * (1 << 30) / 8))


def make_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({f"c{i}": rng.random(ROWS) for i in range(8)})


@kiln.step(cache=False)
def produce(kind: str) -> object:
    value = make_array() if kind == "numpy" else make_frame()
    kiln.log_metric("t_return", time.time())
    return value


@kiln.step(cache=False)
def consume(value: object) -> None:
    total = float(np.asarray(value).sum()) if isinstance(value, np.ndarray) else \
        float(value.to_numpy().sum())
    kiln.log_metric("t_done", time.time())
    kiln.log_metric("total", total)


@kiln.pipeline(name="data-passing")
def passing(kind: str = "numpy") -> None:
    consume(produce(kind))


def baseline(kind: str, folder: str) -> float:
    value = make_array() if kind == "numpy" else make_frame()
    path = os.path.join(folder, "baseline")
    t = time.perf_counter()
    if kind == "numpy":
        np.save(path + ".npy", value)
        back = np.load(path + ".npy")
        float(back.sum())
    else:
        value.to_parquet(path + ".parquet", compression="snappy")
        back = pd.read_parquet(path + ".parquet")
        float(back.to_numpy().sum())
    elapsed = time.perf_counter() - t
    os.unlink(path + (".npy" if kind == "numpy" else ".parquet"))
    return elapsed


def ours(kind: str) -> float:
    run = kiln.run(passing, params={"kind": kind}, cache=False, progress=False)
    assert run.status == "succeeded", run.error
    return run.metrics["t_done"] - run.metrics["t_return"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="kiln-bench-")
    os.environ["KILN_HOME"] = home
    print(f"# data passing, {GB:g} GB; {platform.node()} {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"{'data':10} {'limit':>8} {'kiln':>8} {'ratio':>6}")
    for kind, limit_name in (("numpy", "np.save+load"), ("dataframe", "parquet w+r")):
        limit = statistics.median(baseline(kind, home) for _ in range(args.repeats))
        mine = statistics.median(ours(kind) for _ in range(args.repeats))
        print(f"{kind:10} {limit:7.2f}s {mine:7.2f}s {mine / limit:5.2f}x   (limit: {limit_name})")


if __name__ == "__main__":
    main()
