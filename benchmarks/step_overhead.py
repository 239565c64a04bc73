"""Per-step overhead: kilnflow's local engine vs kfp.local (SubprocessRunner) vs plain calls.

A 50-step chain and a 50-step fan-out of no-op steps, run by each in this process:
    python benchmarks/step_overhead.py [--steps 50] [--repeats 3] [--skip-kfp]
Needs the `bench` extra for the kfp side (pip install -e '.[bench]').
"""


# No `from __future__ import annotations`: kfp reads the component annotations at runtime.
import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import kiln

N = int(os.environ.get("KILN_BENCH_STEPS", "50"))


@kiln.step(cache=False)
def noop(x: int) -> int:
    return x


@kiln.pipeline(name="chain")
def chain() -> None:
    x = noop(0)
    for _ in range(N - 1):
        x = noop(x)


@kiln.pipeline(name="fanout")
def fanout() -> None:
    root = noop(0)
    for _ in range(N - 1):
        noop(root)


def plain(shape: str) -> float:
    t = time.perf_counter()
    x = noop.fn(0)
    for _ in range(N - 1):
        x = noop.fn(x) if shape == "chain" else noop.fn(0)
    return time.perf_counter() - t


def ours(shape: str) -> float:
    target = chain if shape == "chain" else fanout
    t = time.perf_counter()
    run = kiln.run(target, cache=False, progress=False)
    elapsed = time.perf_counter() - t
    assert run.status == "succeeded", run.error
    return elapsed


def kfp_package(shape: str, root: Path) -> Path:
    from kfp import compiler, dsl

    @dsl.component(base_image="python:3.11")
    def kfp_noop(x: int) -> int:
        return x

    @dsl.pipeline(name=f"kfp-{shape}")
    def pipe() -> None:
        first = kfp_noop(x=0)
        prev = first
        for _ in range(N - 1):
            t = kfp_noop(x=prev.output if shape == "chain" else first.output)
            t.set_caching_options(False)
            prev = t
        first.set_caching_options(False)

    path = root / f"{shape}.yaml"
    compiler.Compiler().compile(pipe, str(path))
    return path


def kfp_local(shape: str, root: Path) -> float:
    from kfp import components, local

    package = kfp_package(shape, root)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root / "kfp"))
    pipeline = components.load_component_from_file(str(package))
    t = time.perf_counter()
    pipeline()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-kfp", action="store_true")
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="kiln-bench-")
    os.environ["KILN_HOME"] = home
    print(f"# step overhead, {N} no-op steps; {platform.node()} {platform.processor() or ''} "
          f"{os.cpu_count()} cores, Python {platform.python_version()}")
    ours("chain")  # warm-up: starts the fork server, creates the catalog
    rows = []
    for shape in ("chain", "fanout"):
        floor = statistics.median(plain(shape) for _ in range(args.repeats))
        mine = statistics.median(ours(shape) for _ in range(args.repeats))
        kfp = None
        if not args.skip_kfp:
            kfp = kfp_local(shape, Path(home))  # ~1 s a step: once is enough
        rows.append((shape, floor, mine, kfp))
    print(f"{'shape':8} {'plain/step':>12} {'kiln/step':>12} {'kfp.local/step':>15} "
          f"{'kfp/kiln':>9}")
    for shape, floor, mine, kfp in rows:
        per = (mine - floor) / N
        kper = (kfp - floor) / N if kfp else float("nan")
        print(f"{shape:8} {floor / N * 1000:10.3f}ms {per * 1000:10.1f}ms "
              f"{kper * 1000:13.1f}ms {kper / per:8.1f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
