"""Compile time of a 100-step pipeline: `kiln compile --target kfp` vs the kfp DSL compiler.

The same graph both ways: a chain of STEPS steps, each reading the previous step's output
and one pipeline parameter. kilnflow compiles the @kiln.pipeline (spec + KFP IR); kfp builds
@dsl.component tasks in a @dsl.pipeline and runs `compiler.Compiler().compile`.
    python benchmarks/kfp_compile.py [--steps 100] [--repeats 5]
Needs kfp (dev or bench extra).
"""

# No `from __future__ import annotations`: kfp reads the component annotations at runtime.
import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import kiln
from kiln.engine.kfp.compiler import compile_kfp, dump

STEPS = int(os.environ.get("KILN_BENCH_STEPS", "100"))


@kiln.step
def add(x: int, k: int) -> int:
    return x + k


@kiln.pipeline(name="chain")
def chain(k: int = 1) -> None:
    x = add(0, k)
    for _ in range(STEPS - 1):
        x = add(x, k)


def ours(out: str) -> float:
    t = time.perf_counter()
    text = dump(compile_kfp(kiln.compile(chain)))
    with open(out, "w") as f:
        f.write(text)
    return time.perf_counter() - t


def theirs(out: str) -> float:
    from kfp import compiler, dsl

    t = time.perf_counter()

    @dsl.component(base_image="python:3.11")
    def kfp_add(x: int, k: int) -> int:
        return x + k

    @dsl.pipeline(name="chain")
    def kfp_chain(k: int = 1):
        x = kfp_add(x=0, k=k)
        for _ in range(STEPS - 1):
            x = kfp_add(x=x.output, k=k)

    compiler.Compiler().compile(kfp_chain, out)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    import kfp

    folder = tempfile.mkdtemp(prefix="kiln-bench-kfp-")
    a, b = os.path.join(folder, "ours.yaml"), os.path.join(folder, "kfp.yaml")
    ours(a), theirs(b)  # warm both (imports, caches)
    mine = statistics.median(ours(a) for _ in range(args.repeats))
    kfps = statistics.median(theirs(b) for _ in range(args.repeats))
    print(f"# {platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"kfp {kfp.__version__}, {STEPS} steps, median of {args.repeats}")
    print("| compiler | time | size | ratio |")
    print("|---|---|---|---|")
    kib_a, kib_b = os.path.getsize(a) // 1024, os.path.getsize(b) // 1024
    print(f"| kfp DSL + Compiler | {kfps * 1000:.0f} ms | {kib_b} KiB | 1.00× |")
    print(f"| kiln compile --target kfp | {mine * 1000:.0f} ms | {kib_a} KiB | "
          f"{mine / kfps:.2f}× |")


if __name__ == "__main__":
    main()
