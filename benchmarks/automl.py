"""AutoML quality: `kiln.automl` vs FLAML alone at the same time budget, on held-out rows.

Two scikit-learn bundled data sets — breast cancer (classification, accuracy) and diabetes
(regression, r2) — split 75/25. Each tool searches the same training rows for BUDGET seconds;
the score is measured on the held-out 25%. FLAML is run with two seeds so the table shows how
much the score moves from seed alone (the noise the comparison is judged against).
    python benchmarks/automl.py [--budget 60]
"""

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings

import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split

import kiln

DATASETS = {
    "breast_cancer": (load_breast_cancer, "classification", "accuracy", accuracy_score),
    "diabetes": (load_diabetes, "regression", "r2", r2_score),
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=60)
    args = ap.parse_args()
    os.environ.setdefault("KILN_HOME", tempfile.mkdtemp(prefix="kiln-bench-automl-"))
    print(f"# {platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"budget {args.budget:g} s each")
    print("| data set | metric | kilnflow (model) | FLAML seed 0 | FLAML seed 1 | "
          "kilnflow − FLAML seed 0 | FLAML seed spread | kilnflow wall time |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (loader, task, metric, score) in DATASETS.items():
        frame = loader(as_frame=True).frame
        train, test = train_test_split(frame, test_size=0.25, random_state=0,
                                       stratify=frame["target"] if task == "classification"
                                       else None)
        x_test, y_test = test.drop(columns=["target"]), test["target"]
        t = time.perf_counter()
        result = kiln.automl(train, target="target", task=task, metric=metric,
                             time_budget=args.budget, seed=0, progress=False)
        ours_time = time.perf_counter() - t
        ours = score(y_test, result.model.predict(x_test))
        theirs = []
        for seed in (0, 1):
            search = flaml_alone(train.drop(columns=["target"]), train["target"], task, metric,
                                 args.budget, seed)
            theirs.append(score(y_test, search.predict(x_test)))
        print(f"| {name} | {metric} | {ours:.4f} ({result.learner}, "
              f"{len(result.study.trials)} trials) | {theirs[0]:.4f} | {theirs[1]:.4f} | "
              f"{ours - theirs[0]:+.4f} | {abs(theirs[0] - theirs[1]):.4f} | "
              f"{ours_time:.0f} s |", flush=True)


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
