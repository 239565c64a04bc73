"""Per-step overhead: kilnflow's local engine vs kfp.local (SubprocessRunner) vs plain calls.

A 50-step chain and a 50-step fan-out of no-op steps, run by each side, measured two ways
with the same repeats on both sides:
- cold: a fresh Python process runs the pipeline once (interpreter start, imports, and for
  kilnflow a new KILN_HOME: catalog creation, fork server start), timed from outside;
- warm: in this process, after one untimed run, the median of the repeats.
    python benchmarks/step_overhead.py [--repeats 3] [--skip-kfp]     (KILN_BENCH_STEPS=50)
kilnflow records every step in its catalog and stores its output (fsynced); kfp.local
writes each task's outputs as files under its pipeline root. Caching is off on both sides.
Needs the `bench` extra for the kfp side (pip install -e '.[bench]').
"""


# No `from __future__ import annotations`: kfp reads the component annotations at runtime.
import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import emit

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


def cold(side: str, shape: str, root: Path) -> float:
    """One run in a fresh process, wall time from outside (a fresh KILN_HOME each)."""
    home = tempfile.mkdtemp(prefix="kiln-bench-cold-", dir=root)
    t = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--child", side, shape, home], check=True,
                   env={**os.environ, "KILN_HOME": home}, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def warm(side: str, shape: str, root: Path, repeats: int) -> float:
    run = (lambda: ours(shape)) if side == "kiln" else (lambda: kfp_local(shape, root))
    run()  # untimed: starts the fork server / loads kfp, creates the catalog
    return statistics.median(run() for _ in range(repeats))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-kfp", action="store_true")
    ap.add_argument("--child", nargs=3, metavar=("SIDE", "SHAPE", "ROOT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        side, shape, root = args.child
        if side == "kiln":
            ours(shape)
        else:
            kfp_local(shape, Path(root))
        return
    home = tempfile.mkdtemp(prefix="kiln-bench-")
    os.environ["KILN_HOME"] = home
    root = Path(home)
    print(f"# step overhead, {N} no-op steps; {platform.node()} {platform.processor() or ''} "
          f"{os.cpu_count()} cores, Python {platform.python_version()}; median of "
          f"{args.repeats} on both sides, cold and warm apart; caching off on both")
    sides = ["kiln"] + ([] if args.skip_kfp else ["kfp"])
    rows = []
    for shape in ("chain", "fanout"):
        floor = statistics.median(plain(shape) for _ in range(args.repeats))
        for mode in ("cold", "warm"):
            got = {}
            for side in sides:
                if mode == "cold":
                    got[side] = statistics.median(cold(side, shape, root)
                                                  for _ in range(args.repeats))
                else:
                    got[side] = warm(side, shape, root, args.repeats)
            rows.append((shape, mode, floor, got))
    print(f"{'shape':8} {'mode':5} {'kiln total':>11} {'kiln/step':>10} {'kfp total':>10} "
          f"{'kfp/step':>9} {'kfp/kiln':>9}")
    for shape, mode, floor, got in rows:
        per = (got["kiln"] - floor) / N
        kfp = got.get("kfp")
        kper = (kfp - floor) / N if kfp else float("nan")
        print(f"{shape:8} {mode:5} {got['kiln']:10.2f}s {per * 1000:8.1f}ms "
              f"{(kfp or float('nan')):9.2f}s {kper * 1000:7.1f}ms {kper / per:8.1f}x")
        emit("step overhead", f"{N}-step {shape}, {mode}", per * 1000,
             kper * 1000 if kfp else None, "ms/step",
             f"vs kfp.local; median of {args.repeats} both sides")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
