"""Tuning overhead: a 30-trial study where every trial is a pipeline run, vs a plain Optuna loop.

The pipeline has two steps: `load` (reads no tuned parameter) and `train` (reads them). The
plain loop calls the same two functions in-process with the same sampler (TPE) and seed.
Every kilnflow study runs in a fresh process with its own new KILN_HOME, so no study reuses
another's cached steps; parallel studies are also measured with the cache off, since under
TPE some parameter sets repeat within one study. What the step cache saves is its own row: the
same study run again in the home of the first.
    python benchmarks/tuning.py [--trials 30] [--repeats 3]
Prints wall times and the ratio kilnflow / plain loop (target: at most 1.3); 2 trials at a
time is compared with Optuna's own 2 at a time (`optimize(n_jobs=2)`, threads).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import optuna
from _report import emit

import kiln


@kiln.step
def load(rows: int) -> tuple:
    from sklearn.datasets import make_classification

    return make_classification(n_samples=rows, n_features=20, n_informative=8, random_state=0)


@kiln.step
def train(data: tuple, n_estimators: int, max_depth: int, max_features: float) -> float:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import cross_val_score

    x, y = data
    model = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                   max_features=max_features, random_state=0, n_jobs=1)
    acc = float(cross_val_score(model, x, y, cv=3).mean())
    kiln.log_metric("accuracy", acc)
    return acc


@kiln.pipeline(name="forest")
def forest(rows: int = 3000, n_estimators: int = 50, max_depth: int = 5,
           max_features: float = 0.5):
    train(load(rows), n_estimators, max_depth, max_features)


SPACE = {"n_estimators": (10, 60), "max_depth": (2, 12), "max_features": (0.1, 1.0)}


def plain_loop(trials: int, seed: int, n_jobs: int = 1) -> tuple[float, float]:
    def objective(trial: optuna.Trial) -> float:
        data = load.fn(3000)
        return train.fn(data, trial.suggest_int("n_estimators", 10, 60),
                        trial.suggest_int("max_depth", 2, 12),
                        trial.suggest_float("max_features", 0.1, 1.0))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    t = time.perf_counter()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials, n_jobs=n_jobs)
    return time.perf_counter() - t, study.best_value


def ours(trials: int, seed: int, parallel: int, cache: bool = True) -> tuple[float, float]:
    t = time.perf_counter()
    study = kiln.tune(forest, space=SPACE, objective="accuracy", trials=trials,
                      parallel=parallel, algorithm="tpe", seed=seed, progress=False,
                      cache=cache)
    elapsed = time.perf_counter() - t
    assert study.status == "succeeded", study.error
    return elapsed, study.best_value


def cached_steps() -> int:
    # (search results carry no steps: each run is read whole)
    return sum(1 for r in kiln.search_runs(limit=10_000)
               for state in kiln.get_run(r.id).steps.values() if state == "cached")


def in_own_home(trials: int, seed: int, parallel: int, cache: bool,
                home: str | None = None) -> tuple[float, float, int]:
    """One study in a fresh process; in a new KILN_HOME unless `home` is given."""
    home = home or tempfile.mkdtemp(prefix="kiln-bench-tune-")
    out = subprocess.run([sys.executable, __file__, "--child", str(trials), str(seed),
                          str(parallel), str(int(cache))], capture_output=True, text=True,
                         env={**os.environ, "KILN_HOME": home}, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return got["elapsed"], got["best"], got["cached"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        trials, seed, parallel, cache = (int(x) for x in args.child)
        before = cached_steps()
        elapsed, best = ours(trials, seed, parallel, bool(cache))
        print(json.dumps({"elapsed": elapsed, "best": best,
                          "cached": cached_steps() - before}))
        return
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}, optuna {optuna.__version__}, "
          f"{args.trials} trials, median of {args.repeats}; every kilnflow study in a fresh "
          "process and its own new KILN_HOME (process start and imports included)")
    # Optuna's own parallelism is threads (n_jobs): the peer at its best for 2 at a time.
    names = ["plain Optuna loop", "plain Optuna loop, 2 at a time (n_jobs=2, threads)",
             "kilnflow, 1 trial at a time",
             "kilnflow, 2 trials at a time", "kilnflow, 2 at a time, cache off",
             "kilnflow, 1 at a time, same study again (cache reuse)"]
    peer = {names[2]: names[0], names[3]: names[1], names[4]: names[1], names[5]: names[0]}
    rows: dict[str, list[float]] = {k: [] for k in names}
    best: dict[str, list[float]] = {k: [] for k in names}
    cached: dict[str, list[int]] = {k: [] for k in names}
    for r in range(args.repeats):
        for name, jobs in ((names[0], 1), (names[1], 2)):
            elapsed, value = plain_loop(args.trials, r, jobs)
            rows[name].append(elapsed)
            best[name].append(value)
            cached[name].append(0)
        first_home = tempfile.mkdtemp(prefix="kiln-bench-tune-")
        for name, parallel, cache, home in ((names[2], 1, True, first_home),
                                            (names[3], 2, True, None),
                                            (names[4], 2, False, None),
                                            (names[5], 1, True, first_home)):
            elapsed, value, hits = in_own_home(args.trials, r, parallel, cache, home)
            rows[name].append(elapsed)
            best[name].append(value)
            cached[name].append(hits)
    print("| how | wall time | per trial | vs | ratio | best accuracy (median) | cached steps |")
    print("|---|---|---|---|---|---|---|")
    for name, times in rows.items():
        m = statistics.median(times)
        vs = peer.get(name, names[0])
        base = statistics.median(rows[vs])
        print(f"| {name} | {m:.2f} s | {m / args.trials * 1000:.0f} ms | "
              f"{'' if name == vs else vs} | {m / base:.2f}× | "
              f"{statistics.median(best[name]):.4f} | {statistics.median(cached[name]):.0f} |")
        if name in peer:
            emit("tuning", f"{args.trials} trials: {name}", m, base, "s",
                 f"vs {vs}; {statistics.median(cached[name]):.0f} cached steps")


if __name__ == "__main__":
    main()
