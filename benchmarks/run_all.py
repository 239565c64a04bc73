"""Every benchmark, one table: each script runs as its own process (the arguments below), and
the figures it prints as `RESULT` lines (benchmarks/_report.py) are gathered into one table.

    python benchmarks/run_all.py --quick     reduced sizes and repeats: a few minutes
    python benchmarks/run_all.py             the sizes RESULTS.md quotes: an hour or more

--quick figures are for spotting a regression, not for quoting: fewer repeats, smaller data.
Each row says what was compared and how (cold/warm, cache, durability, settings).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# label -> (full arguments, quick arguments, extra environment for quick); the label is the
# script's name, with a word after it when a script runs twice with different data.
RUNS: dict[str, tuple[list[str], list[str], dict[str, str]]] = {
    "shell_start.py": (["--repeats", "5"], ["--repeats", "3"], {}),
    "step_overhead.py": (["--repeats", "3"], ["--repeats", "1"], {"KILN_BENCH_STEPS": "20"}),
    "data_passing.py": (["--repeats", "3"], ["--repeats", "1"], {"KILN_BENCH_GB": "0.1"}),
    "kfp_compile.py": (["--repeats", "5"], ["--repeats", "3", "--no-install"], {}),
    "resume.py": (["--repeats", "3"], ["--repeats", "1"], {}),
    "snapshots.py": (["--set", "large"], ["--set", "small", "--gb", "0.1"], {}),
    "snapshots.py small": (["--set", "small", "--repeats", "3"], ["--set", "tiny"], {}),
    "tuning.py": (["--trials", "30", "--repeats", "3"], ["--trials", "6", "--repeats", "1"], {}),
    "automl.py": (["--budget", "30", "--seeds", "3"],
                  ["--budget", "5", "--seeds", "2", "--datasets", "breast_cancer,diabetes"], {}),
    "serving.py": (["--duration", "10"], ["--duration", "2", "--concurrency", "1,8",
                                          "--workers", "1"], {}),
    "catalog_scale.py": (["--runs", "10000", "--repeats", "30"],
                         ["--runs", "1000", "--repeats", "5"], {}),
    "sync.py": (["--gb", "1", "--repeats", "2"], ["--gb", "0.1"], {}),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated labels (script names)")
    args = ap.parse_args()
    rows: list[dict[str, object]] = []
    failed: list[str] = []
    chosen = [n for n in RUNS if not args.only or n in args.only.split(",")]
    for name in chosen:
        full, quick, env = RUNS[name]
        argv = quick if args.quick else full
        started = time.perf_counter()
        print(f"running {name} {' '.join(argv)}", file=sys.stderr, flush=True)
        script = name.split()[0]
        r = subprocess.run([sys.executable, str(HERE / script), *argv], capture_output=True,
                           text=True, env={**os.environ, **(env if args.quick else {})},
                           cwd=HERE)
        took = time.perf_counter() - started
        got = [json.loads(line[len("RESULT "):]) for line in r.stdout.splitlines()
               if line.startswith("RESULT ")]
        if r.returncode != 0 or not got:
            failed.append(f"{name} (exit {r.returncode}): {(r.stderr or r.stdout)[-400:]}")
        rows += got
        print(f"  {len(got)} figures in {took:.0f} s", file=sys.stderr, flush=True)
    print("| benchmark | case | kilnflow | peer | ratio (ours/peer) | better | how |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        ratio = row["ratio"]
        peer = row["peer"]
        print(f"| {row['benchmark']} | {row['case']} | {row['ours']:.3g} {row['unit']} | "
              f"{'' if peer is None else f'{peer:.3g} ' + str(row['unit'])} | "
              f"{'' if ratio is None else f'{ratio:.2f}×'} | "
              f"{'lower' if row['lower_is_better'] else 'higher'} | {row['notes']} |")
    for f in failed:
        print(f"FAILED: {f}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
