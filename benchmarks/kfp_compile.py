"""Compile time of a 100-step pipeline: `kiln compile --target kfp` vs the kfp DSL compiler,
and what a compiled step costs in a fresh virtual environment.

1. The same graph both ways: a chain of STEPS steps, each reading the previous step's output
   and one pipeline parameter. kilnflow compiles the @kiln.pipeline (spec, environment
   capture, runtime wheel, KFP IR); kfp builds @dsl.component tasks in a @dsl.pipeline and
   runs `compiler.Compiler().compile`.
2. Install: a one-step pipeline importing pandas and scikit-learn runs under kfp.local's
   SubprocessRunner(use_venv=True) (a fresh venv per task, only kfp in it), first with an
   empty pip cache, then reusing it. The same step as a kfp DSL component with
   `packages_to_install` set to the same pins is the peer; ours also installs kilnflow's
   runtime (a wheel from the local store). kfp.local's own venv setup (pip, setuptools,
   wheel upgrades) is in both totals.
    python benchmarks/kfp_compile.py [--repeats 5] [--no-install]
Needs kfp (dev or bench extra); the install part needs PyPI.
"""

# No `from __future__ import annotations`: kfp reads the component annotations at runtime.
import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

from _report import emit

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


INSTALL_MODULE = '''
import kiln


@kiln.step
def fit(n: int) -> float:
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    df = pd.DataFrame({"x": range(n), "y": [2.0 * i + 1 for i in range(n)]})
    model = LinearRegression().fit(df[["x"]], df["y"])
    kiln.log_metric("slope", float(model.coef_[0]))
    return float(model.coef_[0])


@kiln.pipeline(name="fit-pipeline")
def fit_pipeline(n: int = 50):
    fit(n)
'''

PEER_MODULE = '''
from kfp import dsl


@dsl.component(base_image="python:3.11", packages_to_install=PINS)
def fit(n: int) -> float:
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    df = pd.DataFrame({"x": range(n), "y": [2.0 * i + 1 for i in range(n)]})
    model = LinearRegression().fit(df[["x"]], df["y"])
    return float(model.coef_[0])


@dsl.pipeline(name="fit-pipeline")
def fit_pipeline(n: int = 50):
    fit(n=n)
'''

RUN_LOCAL = '''
import sys, time
from kfp import local, components
local.init(runner=local.SubprocessRunner(use_venv=True), pipeline_root=sys.argv[2])
t = time.perf_counter()
components.load_component_from_file(sys.argv[1])(n=50)
print(f"TOTAL {time.perf_counter() - t:.2f}")
'''


def install_times(folder: str) -> list[str]:
    """Fresh-venv task time, cold and warm pip cache, ours and kfp's with the same pins."""
    import re
    import subprocess

    from kfp import compiler

    from kiln.engine.kfp.environment import capture

    mod = os.path.join(folder, "fitmod.py")
    with open(mod, "w") as f:
        f.write(INSTALL_MODULE)
    ours_yaml = os.path.join(folder, "fit-kiln.yaml")
    spec = kiln.compile(f"{mod}:fit_pipeline")
    with open(ours_yaml, "w") as f:
        f.write(dump(compile_kfp(spec)))
    pins = sorted(capture(spec).steps["fit"].requirements.values())
    peer_py = os.path.join(folder, "fitpeer.py")
    with open(peer_py, "w") as f:
        f.write(f"PINS = {pins!r}\n" + PEER_MODULE)
    sys.path.insert(0, folder)
    # imported by name: this module is itself compiled (its steps), and a written-at-run-time
    # module named in an import statement would be one that "exists nowhere"
    import importlib

    fitpeer = importlib.import_module("fitpeer")

    peer_yaml = os.path.join(folder, "fit-kfp.yaml")
    compiler.Compiler().compile(fitpeer.fit_pipeline, peer_yaml)
    runner = os.path.join(folder, "run_local.py")
    with open(runner, "w") as f:
        f.write(RUN_LOCAL)
    rows = []
    for side, package in (("kilnflow", ours_yaml), ("kfp packages_to_install", peer_yaml)):
        cache = tempfile.mkdtemp(prefix="kiln-bench-pipcache-")  # not shared between sides
        for label in ("cold pip cache", "warm pip cache"):
            env = {**os.environ, "PIP_CACHE_DIR": cache}
            out = subprocess.run([sys.executable, runner, package,
                                  tempfile.mkdtemp(dir=folder)], capture_output=True,
                                 text=True, env=env, timeout=3600)
            if out.returncode != 0:
                raise SystemExit(f"{side}, {label}: {out.stdout[-2000:]}{out.stderr[-2000:]}")
            total = float(re.findall(r"TOTAL ([0-9.]+)", out.stdout)[-1])
            prep = re.findall(r"container prepared in ([0-9.]+) s", out.stdout)
            rows.append(f"| {side} | {label} | {total:.1f} s | "
                        f"{prep[-1] + ' s' if prep else 'n/a'} |")
    return [f"One step (pandas + scikit-learn, {len(pins)} pinned distributions) in a fresh "
            "venv under kfp.local:", "", "| side | pip cache | task total | our bootstrap |",
            "|---|---|---|---|", *rows]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-install", action="store_true",
                    help="skip the fresh-venv install measurement (needs PyPI)")
    args = ap.parse_args()
    import kfp

    # the runtime wheel goes into this run's own store, not the user's
    os.environ.setdefault("KILN_HOME", tempfile.mkdtemp(prefix="kiln-bench-home-"))
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
    emit("kfp compile", f"{STEPS}-step chain", mine * 1000, kfps * 1000, "ms",
         f"vs kfp DSL + Compiler, median of {args.repeats}, warm; package {kib_a} vs {kib_b} KiB")
    if not args.no_install:
        print()
        print("\n".join(install_times(folder)))


if __name__ == "__main__":
    main()
