"""Passing ~1 GB between two steps vs the limit: writing and reading the same data alone.

    python benchmarks/data_passing.py [--repeats 3]      (KILN_BENCH_GB=1.0)

numpy: kilnflow step -> step vs np.save + fsync + np.load, in two access modes each side:
memory-mapped (kilnflow hands the consumer a mapped array; the limit loads with
mmap_mode="r") and copied (the consumer copies the array first; the limit uses np.load).
DataFrame: vs Parquet write + fsync + read (both sides read Parquet into memory).
Both sides end by summing the received data, so mapped data is really read.

Our time runs from the producing step's `return` until both the consumer's sum is done and
the output is durable in the store (the run's end: the step is recorded only after its
outputs are stored and fsynced), so it includes the cached copy, the content hash, the
chunked, compressed store write, its fsyncs, the process start and the load. The limit
writes one plain file and fsyncs it; it neither hashes, compresses nor keeps two copies.

Every run, on both sides, passes data of its own (a new seed): the store is content
addressed, and a repeat of the same bytes would only be hashed, never written again (the
--quick table once showed that as a copied read faster than a mapped one).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time

import numpy as np
import pandas as pd
from _report import emit

import kiln

GB = float(os.environ.get("KILN_BENCH_GB", "1.0"))
ROWS = int(GB * (1 << 30) / 8 / 8)  # 8 float64 columns


def make_array(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(int(GB * (1 << 30) / 8))


def make_frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({f"c{i}": rng.random(ROWS) for i in range(8)})


@kiln.step(cache=False)
def produce(kind: str, seed: int) -> object:
    value = make_array(seed) if kind == "numpy" else make_frame(seed)
    kiln.log_metric("t_return", time.time())
    return value


@kiln.step(cache=False)
def consume(value: object, copy: bool) -> None:
    if isinstance(value, np.ndarray):
        total = float((np.array(value) if copy else value).sum())
    else:
        total = float(value.to_numpy().sum())
    kiln.log_metric("t_done", time.time())
    kiln.log_metric("total", total)


@kiln.pipeline(name="data-passing")
def passing(kind: str = "numpy", copy: bool = False, seed: int = 0) -> None:
    consume(produce(kind, seed), copy)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_seeds = iter(range(1, 1 << 30))  # one per run, either side: never the same bytes twice


def baseline(kind: str, folder: str, copy: bool) -> float:
    seed = next(_seeds)
    value = make_array(seed) if kind == "numpy" else make_frame(seed)
    path = os.path.join(folder, "baseline" + (".npy" if kind == "numpy" else ".parquet"))
    t = time.perf_counter()
    if kind == "numpy":
        np.save(path, value)
        _fsync(path)
        back = np.load(path) if copy else np.load(path, mmap_mode="r")
        float(back.sum())
        del back
    else:
        value.to_parquet(path, compression="snappy")
        _fsync(path)
        float(pd.read_parquet(path).to_numpy().sum())
    elapsed = time.perf_counter() - t
    os.unlink(path)
    return elapsed


def ours(kind: str, copy: bool) -> float:
    run = kiln.run(passing, params={"kind": kind, "copy": copy, "seed": next(_seeds)},
                   cache=False, progress=False)
    assert run.status == "succeeded", run.error
    # the run ends once every step is recorded, and a step is recorded only after its
    # outputs are stored and fsynced
    durable = run.info.finished_at.replace(tzinfo=datetime.UTC).timestamp()
    return max(run.metrics["t_done"], durable) - run.metrics["t_return"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="kiln-bench-")
    os.environ["KILN_HOME"] = home
    print(f"# data passing, {GB:g} GB; {platform.node()} {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"# median of {args.repeats}; both sides fsync what they write; ours also hashes, "
          "compresses and keeps a cached copy")
    print(f"{'data':10} {'read':7} {'limit':>8} {'kiln':>8} {'ratio':>6}")
    cases = (("numpy", False, "np.save+fsync+load(mmap)"), ("numpy", True,
             "np.save+fsync+load"), ("dataframe", True, "parquet w+fsync+r"))
    for kind, copy, limit_name in cases:
        limit = statistics.median(baseline(kind, home, copy) for _ in range(args.repeats))
        mine = statistics.median(ours(kind, copy) for _ in range(args.repeats))
        read = "copied" if copy else "mapped"
        print(f"{kind:10} {read:7} {limit:7.2f}s {mine:7.2f}s {mine / limit:5.2f}x   "
              f"(limit: {limit_name})")
        emit("data passing", f"{GB:g} GB {kind}, {read} read", mine, limit, "s",
             f"vs {limit_name}; until durable on both sides")


if __name__ == "__main__":
    main()
