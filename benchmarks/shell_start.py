"""What a user waits for at the shell: `kiln run` of a small pipeline, `kiln --help` and
`kiln runs ls`, each a fresh process timed from outside, against kfp.local running the same
steps from a script (`python pipeline.py`, the way its documentation runs a pipeline).

    python benchmarks/shell_start.py [--repeats 5] [--skip-kfp]

Both sides: a new interpreter per repeat, the median of the same number of repeats, no-op
steps, caching off (kilnflow still computes each step's cache key and records the run in its
catalog; kfp.local writes each task's outputs under its pipeline root). "warm" is a KILN_HOME
that already has a catalog; "first" is a new KILN_HOME each time (the catalog is created),
against kfp.local with a new pipeline root each time. kilnflow fsyncs what it stores;
kfp.local does not. Needs the `bench` extra for the kfp side.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _report import emit

KILN = """
import kiln

@kiln.step(cache=False)
def noop(x: int) -> int:
    return x

@kiln.pipeline(name="chain{n}")
def p() -> None:
    x = noop(0)
    for _ in range({n} - 1):
        x = noop(x)
"""

KFP = """
import sys
from kfp import dsl, local

@dsl.component(base_image="python:3.11")
def noop(x: int) -> int:
    return x

@dsl.pipeline(name="chain{n}")
def p() -> None:
    t = noop(x=0)
    t.set_caching_options(False)
    for _ in range({n} - 1):
        t = noop(x=t.output)
        t.set_caching_options(False)

if __name__ == "__main__":
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=sys.argv[1])
    p()
"""


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def median(fn: object, repeats: int) -> tuple[float, float, float]:
    got = [fn() for _ in range(repeats)]  # type: ignore[operator]
    return statistics.median(got), min(got), max(got)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-kfp", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kiln-bench-shell-"))
    kiln_cli = str(Path(sys.executable).with_name("kiln"))
    home = root / "home"
    env = {**os.environ, "KILN_HOME": str(home)}
    for n in (1, 20):
        (root / f"k{n}.py").write_text(textwrap.dedent(KILN.format(n=n)))
        (root / f"f{n}.py").write_text(textwrap.dedent(KFP.format(n=n)))
    subprocess.run([kiln_cli, "run", "k1.py:p"], env=env, cwd=root, check=True,
                   stdout=subprocess.DEVNULL)  # the warm home has a catalog
    counter = iter(range(10**6))

    def first_kiln(n: int) -> float:
        fresh = root / f"home-{next(counter)}"
        took = timed([kiln_cli, "run", f"k{n}.py:p"], {**env, "KILN_HOME": str(fresh)}, root)
        shutil.rmtree(fresh, ignore_errors=True)
        return took

    def kfp(n: int) -> float:
        out = root / f"kfp-{next(counter)}"
        took = timed([sys.executable, f"f{n}.py", str(out)], env, root)
        shutil.rmtree(out, ignore_errors=True)
        return took

    r = args.repeats
    print(f"# from the shell; {platform.node()} {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; median (min-max) of {r} fresh processes on each side")
    floor = median(lambda: timed([sys.executable, "-c", "pass"], env, root), r)
    rows: list[tuple[str, tuple[float, float, float], tuple[float, float, float] | None,
                     int]] = []
    rows.append(("kiln --help", median(lambda: timed([kiln_cli, "--help"], env, root), r),
                 None, 1))
    rows.append(("kiln runs ls", median(lambda: timed([kiln_cli, "runs", "ls"], env, root), r),
                 None, 1))
    for n in (1, 20):
        ours = median(lambda n=n: timed([kiln_cli, "run", f"k{n}.py:p"], env, root), r)
        peer = None if args.skip_kfp else median(lambda n=n: kfp(n), r)
        rows.append((f"{n}-step pipeline, warm KILN_HOME", ours, peer, n))
    ours = median(lambda: first_kiln(1), r)
    peer = None if args.skip_kfp else median(lambda: kfp(1), r)
    rows.append(("1-step pipeline, first run (new KILN_HOME)", ours, peer, 1))

    print(f"{'case':45} {'kilnflow':>20} {'kfp.local':>20} {'ratio':>6}")
    print(f"{'python -c pass (the floor)':45} {floor[0]:7.3f}s ({floor[1]:.3f}-{floor[2]:.3f})")
    for case, (m, lo, hi), peer, n in rows:
        p = f"{peer[0]:7.3f}s ({peer[1]:.3f}-{peer[2]:.3f})" if peer else ""
        ratio = f"{m / peer[0]:5.2f}x" if peer else ""
        print(f"{case:45} {m:7.3f}s ({lo:.3f}-{hi:.3f}) {p:>20} {ratio:>6}")
        note = ("vs kfp.local from the shell (python script, SubprocessRunner(use_venv=False)); "
                f"median of {r} fresh processes; caching off")
        emit("shell start", case, m, peer[0] if peer else None, "s",
             note if peer else f"absolute; median of {r}")
        if n > 1:
            emit("shell start", f"{case}, per step incl. start-up", m / n * 1000,
                 peer[0] / n * 1000 if peer else None, "ms/step", note)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
