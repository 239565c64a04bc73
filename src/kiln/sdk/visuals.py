"""Rich results a step records beside its scalar metrics: confusion matrices, ROC curves,
tables, and HTML or Markdown reports (what KFP calls visualizations). Each is checked here, in
the step, so a bad one fails where it was logged, and kept as JSON in the catalog, where the
dashboard draws it.

    kiln.log_confusion_matrix("cm", [[50, 2], [4, 44]], labels=["cat", "dog"])
    kiln.log_roc("roc", y_true=y_test, y_score=model.predict_proba(X_test)[:, 1])
    kiln.log_table("errors", df.head(100))
    kiln.log_markdown("notes", "## Findings\\n- recall improved")
"""

from __future__ import annotations

import math
import numbers
from itertools import pairwise
from typing import Any

KINDS = ("confusion_matrix", "roc", "table", "html", "markdown")
MAX_TEXT = 2_000_000  # characters of HTML or Markdown
MAX_ROWS, MAX_COLUMNS = 1000, 100
MAX_POINTS = 10_000  # ROC points; sklearn's roc_curve drops the collinear ones already


def _record(name: str, kind: str, data: dict[str, Any]) -> None:
    from kiln.sdk import context

    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValueError(f"a {kind} needs a name of 1-200 characters, got {name!r}")
    ctx = context.current()
    if ctx is None:
        print(f"[kiln] {kind} {name} (recorded only inside a pipeline run)")
        return
    ctx.log_visual({"name": name, "kind": kind, "data": data})


def _numbers(values: Any, what: str) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a sequence of numbers") from None
    if any(math.isnan(v) or math.isinf(v) for v in out):
        raise ValueError(f"{what} contains NaN or infinity")
    return out


def log_confusion_matrix(name: str, matrix: Any = None, labels: Any = None, *,
                         y_true: Any = None, y_pred: Any = None) -> None:
    """A confusion matrix: `matrix[i][j]` counts items of true class `labels[i]` predicted as
    `labels[j]`. Or pass `y_true` and `y_pred` and it is counted for you."""
    if matrix is None:
        if y_true is None or y_pred is None:
            raise TypeError(f"confusion matrix '{name}': pass matrix=, or y_true= and y_pred=")
        true, pred = [str(v) for v in y_true], [str(v) for v in y_pred]
        if len(true) != len(pred):
            raise ValueError(f"confusion matrix '{name}': y_true has {len(true)} items, "
                             f"y_pred {len(pred)}")
        labels = [str(x) for x in labels] if labels is not None else sorted(set(true) | set(pred))
        index = {lab: i for i, lab in enumerate(labels)}
        matrix = [[0] * len(labels) for _ in labels]
        for t, p in zip(true, pred, strict=True):
            if t in index and p in index:
                matrix[index[t]][index[p]] += 1
    rows = [_numbers(r, f"row {i} of confusion matrix '{name}'") for i, r in enumerate(matrix)]
    n = len(rows)
    if n == 0 or any(len(r) != n for r in rows):
        raise ValueError(f"confusion matrix '{name}' must be square and non-empty, got rows of "
                         f"lengths {[len(r) for r in rows]}")
    if any(v < 0 for r in rows for v in r):
        raise ValueError(f"confusion matrix '{name}' has a negative count")
    labels = [str(x) for x in labels] if labels is not None else [str(i) for i in range(n)]
    if len(labels) != n:
        raise ValueError(f"confusion matrix '{name}' is {n}x{n} but has {len(labels)} labels")
    if n > MAX_COLUMNS:
        raise ValueError(f"confusion matrix '{name}' has {n} classes; at most {MAX_COLUMNS}")
    _record(name, "confusion_matrix", {"labels": labels, "matrix": rows})


def log_roc(name: str, fpr: Any = None, tpr: Any = None, thresholds: Any = None, *,
            y_true: Any = None, y_score: Any = None) -> None:
    """A ROC curve from its points (`fpr`, `tpr`, optional `thresholds`), or computed from
    binary labels `y_true` and scores `y_score` (needs scikit-learn). The area is stored too."""
    if fpr is None and tpr is None:
        if y_true is None or y_score is None:
            raise TypeError(f"ROC '{name}': pass fpr= and tpr=, or y_true= and y_score=")
        try:
            from sklearn.metrics import roc_curve
        except ImportError:
            raise ImportError(f"ROC '{name}' from y_true/y_score needs scikit-learn; "
                              "pip install scikit-learn, or pass fpr= and tpr=") from None
        fpr, tpr, thresholds = roc_curve(y_true, y_score)
    if fpr is None or tpr is None:
        raise TypeError(f"ROC '{name}': pass both fpr= and tpr=")
    xs, ys = _numbers(fpr, f"fpr of ROC '{name}'"), _numbers(tpr, f"tpr of ROC '{name}'")
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError(f"ROC '{name}' needs fpr and tpr of one length (at least 2), got "
                         f"{len(xs)} and {len(ys)}")
    if len(xs) > MAX_POINTS:
        raise ValueError(f"ROC '{name}' has {len(xs)} points; at most {MAX_POINTS}")
    if any(not 0 <= v <= 1 for v in xs + ys):
        raise ValueError(f"ROC '{name}': rates must lie in [0, 1]")
    th = None
    if thresholds is not None:
        th = [float(v) if math.isfinite(float(v)) else None for v in thresholds]
        if len(th) != len(xs):
            raise ValueError(f"ROC '{name}' has {len(xs)} points but {len(th)} thresholds")
    pts = sorted(zip(xs, ys, strict=True))
    auc = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in pairwise(pts))
    _record(name, "roc", {"fpr": xs, "tpr": ys, "thresholds": th, "auc": auc})


def log_table(name: str, data: Any) -> None:
    """A table: a pandas DataFrame, or a list of dicts (one per row). At most 1,000 rows and
    100 columns; log `df.head(1000)` for a larger frame."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a DataFrame, without pandas
        columns = [str(c) for c in data.columns]
        rows = [list(r) for r in data.itertuples(index=False, name=None)]
    elif isinstance(data, list) and all(isinstance(r, dict) for r in data):
        columns = list(dict.fromkeys(str(k) for r in data for k in r))
        rows = [[r.get(c) for c in columns] for r in data]
    else:
        raise TypeError(f"table '{name}' must be a DataFrame or a list of dicts, got "
                        f"{type(data).__name__}")
    if len(rows) > MAX_ROWS or len(columns) > MAX_COLUMNS:
        raise ValueError(f"table '{name}' is {len(rows)}x{len(columns)}; at most "
                         f"{MAX_ROWS} rows and {MAX_COLUMNS} columns (log df.head({MAX_ROWS}))")
    _record(name, "table", {"columns": columns, "rows": [[_cell(v) for v in r] for r in rows]})


def _cell(v: Any) -> Any:
    """A JSON-safe cell: numbers stay numbers (NaN becomes empty), the rest becomes text."""
    if v is None or isinstance(v, bool | str):
        return v
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        f = float(v)
        return f if math.isfinite(f) else None
    return str(v)


def log_html(name: str, html: str) -> None:
    """An HTML report. The dashboard shows it in a sandboxed frame (no scripts run)."""
    _text(name, "html", html)


def log_markdown(name: str, text: str) -> None:
    """A Markdown report, rendered by the dashboard."""
    _text(name, "markdown", text)


def _text(name: str, kind: str, text: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"{kind} '{name}' must be a str, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise ValueError(f"{kind} '{name}' has {len(text):,} characters; at most {MAX_TEXT:,}")
    _record(name, kind, {"text": text})
