"""Tuning overhead: a 30-trial study where every trial is a pipeline run, vs a plain Optuna loop.

The pipeline has two steps: `load` (reads no tuned parameter) and `train` (reads them). The
plain loop calls the same two functions in-process with the same sampler (TPE) and seed.
    python benchmarks/tuning.py [--trials 30] [--repeats 3]
Prints wall times and the ratio kilnflow / plain loop (target: at most 1.3).
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import optuna

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


def plain_loop(trials: int, seed: int) -> tuple[float, float]:
    def objective(trial: optuna.Trial) -> float:
        data = load.fn(3000)
        return train.fn(data, trial.suggest_int("n_estimators", 10, 60),
                        trial.suggest_int("max_depth", 2, 12),
                        trial.suggest_float("max_features", 0.1, 1.0))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    t = time.perf_counter()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    return time.perf_counter() - t, study.best_value


def ours(trials: int, seed: int, parallel: int) -> tuple[float, float]:
    t = time.perf_counter()
    study = kiln.tune(forest, space=SPACE, objective="accuracy", trials=trials,
                      parallel=parallel, algorithm="tpe", seed=seed, progress=False)
    elapsed = time.perf_counter() - t
    assert study.status == "succeeded", study.error
    return elapsed, study.best_value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("KILN_HOME", tempfile.mkdtemp(prefix="kiln-bench-tune-"))
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}, optuna {optuna.__version__}, "
          f"{args.trials} trials, median of {args.repeats}")
    rows = {"plain Optuna loop": [], "kilnflow, 1 trial at a time": [],
            "kilnflow, 2 trials at a time": []}
    best = {k: [] for k in rows}
    for r in range(args.repeats):
        for name, fn in (("plain Optuna loop", lambda r=r: plain_loop(args.trials, r)),
                         ("kilnflow, 1 trial at a time", lambda r=r: ours(args.trials, r, 1)),
                         ("kilnflow, 2 trials at a time", lambda r=r: ours(args.trials, r, 2))):
            elapsed, value = fn()
            rows[name].append(elapsed)
            best[name].append(value)
    base = statistics.median(rows["plain Optuna loop"])
    print("| how | wall time | per trial | ratio | best accuracy (median) |")
    print("|---|---|---|---|---|")
    for name, times in rows.items():
        m = statistics.median(times)
        print(f"| {name} | {m:.2f} s | {m / args.trials * 1000:.0f} ms | {m / base:.2f}× | "
              f"{statistics.median(best[name]):.4f} |")


if __name__ == "__main__":
    main()
