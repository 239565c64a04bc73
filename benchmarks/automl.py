"""AutoML quality: `kiln.automl` vs FLAML alone at the same time budget, on held-out rows.

Six data sets, none downloaded: four bundled with scikit-learn (breast cancer, wine and
digits: classification, accuracy; diabetes: regression, r2) and two generated (a
classification with informative and noise features, Friedman #1 regression). Each is split
75/25; each tool searches the same training rows for BUDGET seconds with each of SEEDS seeds
(the split stays fixed); the score is on the held-out 25%. The table gives each side's mean
and standard deviation over the seeds, so a difference can be read against FLAML's own seed
spread, and kilnflow's wall time against the budget (it also records every candidate in its
catalog and rebuilds the best model with a generated notebook run, inside the budget).
    python benchmarks/automl.py [--budget 30] [--seeds 3]
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings

import pandas as pd
from _report import emit
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_wine,
    make_classification,
    make_friedman1,
)
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split

import kiln


def _frame(x, y) -> pd.DataFrame:
    df = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    df["target"] = y
    return df


def _bundled(loader):
    return lambda: loader(as_frame=True).frame


DATASETS = {
    "breast_cancer": (_bundled(load_breast_cancer), "classification", "accuracy",
                      accuracy_score),
    "wine": (_bundled(load_wine), "classification", "accuracy", accuracy_score),
    "digits": (_bundled(load_digits), "classification", "accuracy", accuracy_score),
    "synthetic_clf": (lambda: _frame(*make_classification(
        n_samples=2000, n_features=30, n_informative=8, n_redundant=6, flip_y=0.05,
        random_state=0)), "classification", "accuracy", accuracy_score),
    "diabetes": (_bundled(load_diabetes), "regression", "r2", r2_score),
    "friedman1": (lambda: _frame(*make_friedman1(n_samples=2000, noise=1.0, random_state=0)),
                  "regression", "r2", r2_score),
}


def flaml_alone(x, y, task, metric, budget, seed):
    from flaml.automl import AutoML

    search = AutoML()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(x, y, task=task, metric=metric, time_budget=budget, seed=seed, verbose=0,
                   estimator_list=["lgbm", "xgboost", "rf", "extra_tree"]
                   + (["lrl1"] if task == "classification" else []))
    return search


def _ms(xs: list[float]) -> str:
    return f"{statistics.mean(xs):.4f} ± {statistics.pstdev(xs):.4f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=30)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--datasets", default=",".join(DATASETS))
    args = ap.parse_args()
    os.environ.setdefault("KILN_HOME", tempfile.mkdtemp(prefix="kiln-bench-automl-"))
    seeds = list(range(args.seeds))
    print(f"# {platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"budget {args.budget:g} s each, seeds {seeds}; mean ± std over seeds, held-out 25%")
    print("| data set | metric | kilnflow | FLAML alone | kilnflow − FLAML | "
          "kilnflow wall time / budget |")
    print("|---|---|---|---|---|---|")
    for name in args.datasets.split(","):
        loader, task, metric, score = DATASETS[name]
        frame = loader()
        train, test = train_test_split(frame, test_size=0.25, random_state=0,
                                       stratify=frame["target"] if task == "classification"
                                       else None)
        x_test, y_test = test.drop(columns=["target"]), test["target"]
        ours, theirs, walls = [], [], []
        for seed in seeds:
            t = time.perf_counter()
            result = kiln.automl(train, target="target", task=task, metric=metric,
                                 time_budget=args.budget, seed=seed, progress=False)
            walls.append(time.perf_counter() - t)
            ours.append(score(y_test, result.model.predict(x_test)))
            search = flaml_alone(train.drop(columns=["target"]), train["target"], task,
                                 metric, args.budget, seed)
            theirs.append(score(y_test, search.predict(x_test)))
        diff = statistics.mean(ours) - statistics.mean(theirs)
        print(f"| {name} | {metric} | {_ms(ours)} | {_ms(theirs)} | {diff:+.4f} | "
              f"{statistics.mean(walls):.0f} s / {args.budget:g} s |", flush=True)
        emit("automl", f"{name} ({metric})", statistics.mean(ours), statistics.mean(theirs),
             metric, f"vs FLAML alone, {args.budget:g} s, seeds {seeds}; FLAML std "
             f"{statistics.pstdev(theirs):.4f}", lower_is_better=False)


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
