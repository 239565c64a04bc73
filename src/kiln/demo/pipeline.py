"""A small churn-prediction pipeline: data as a DataFrame, a trained model, metrics.

Run it with `kiln demo`, or `kiln run path/to/pipeline.py:churn -p n_estimators=50`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import kiln


@kiln.step
def load_data(rows: int, seed: int) -> pd.DataFrame:
    """Generate a customer table (kept inside the package so the demo needs no download)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "tenure_months": rng.integers(1, 72, rows),
        "monthly_charges": rng.normal(70, 20, rows).round(2),
        "support_calls": rng.poisson(1.5, rows),
        "contract": rng.choice(["monthly", "yearly", "two-year"], rows),
    })
    risk = (0.04 * df.support_calls - 0.03 * df.tenure_months / 12
            + 0.01 * (df.monthly_charges - 70) + (df.contract == "monthly") * 0.6)
    df["churned"] = (risk + rng.normal(0, 0.4, rows) > 0.35).astype(int)
    print(f"loaded {len(df)} customers, churn rate {df.churned.mean():.1%}")
    return df


@kiln.step
def featurize(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    features = pd.get_dummies(df.drop(columns="churned"), columns=["contract"], dtype=float)
    return features, df["churned"]


@kiln.step(retries=1)
def train(features: pd.DataFrame, labels: pd.Series, n_estimators: int, max_depth: int) -> object:
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                   random_state=0, n_jobs=1)
    model.fit(features.iloc[: int(len(features) * 0.8)], labels.iloc[: int(len(labels) * 0.8)])
    return model


@kiln.step
def evaluate(model: object, features: pd.DataFrame, labels: pd.Series) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, roc_auc_score

    split = int(len(features) * 0.8)
    x, y = features.iloc[split:], labels.iloc[split:]
    proba = model.predict_proba(x)[:, 1]  # type: ignore[attr-defined]
    scores = {"accuracy": float(accuracy_score(y, proba > 0.5)),
              "roc_auc": float(roc_auc_score(y, proba))}
    for name, value in scores.items():
        kiln.log_metric(name, value)
    print(f"accuracy {scores['accuracy']:.3f}, ROC AUC {scores['roc_auc']:.3f}")
    return scores


@kiln.pipeline(name="churn-demo", experiment="demo")
def churn(rows: int = 5000, seed: int = 7, n_estimators: int = 100, max_depth: int = 8) -> None:
    """Predict which customers leave: load, featurize, train, evaluate."""
    df = load_data(rows, seed)
    features, labels = featurize(df)
    model = train(features, labels, n_estimators, max_depth)
    evaluate(model, features, labels)
