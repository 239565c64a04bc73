"""AutoML: FLAML searches model families and their hyperparameters within a time budget;
every candidate is recorded as a trial of a study, and the winner is rebuilt by a generated
Kale-tagged notebook that runs as an ordinary pipeline, so the served model is a run's artifact
with lineage, and the notebook reproduces it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.errors import SpecError, UserError
from kiln.tune.config import Objective

if TYPE_CHECKING:
    import pandas as pd

    from kiln.engine.result import Run
    from kiln.tune.results import Study

TASKS = ("classification", "regression")
# metric -> direction. FLAML minimises a loss: 1 - metric for the maximised ones.
METRICS: dict[str, str] = {
    "accuracy": "maximize", "roc_auc": "maximize", "f1": "maximize", "micro_f1": "maximize",
    "macro_f1": "maximize", "log_loss": "minimize", "r2": "maximize", "rmse": "minimize",
    "mae": "minimize", "mse": "minimize", "mape": "minimize",
}


def metric_value(metric: str, loss: float) -> float:
    """The metric behind FLAML's validation loss."""
    return 1 - loss if METRICS[metric] == "maximize" else loss
TASK_METRICS = {"classification": ("accuracy", "roc_auc", "f1", "micro_f1", "macro_f1",
                                   "log_loss"),
                "regression": ("r2", "rmse", "mae", "mse", "mape")}
DEFAULT_METRIC = {"classification": "accuracy", "regression": "r2"}
# FLAML's learner names for the families we search; LightGBM and XGBoost when installed.
SKLEARN_LEARNERS = ("rf", "extra_tree", "lrl1")
TEST_SIZE = 0.2


@dataclass
class AutoMLResult:
    """What `kiln.automl` returns: the study (every candidate a trial), the run that rebuilt
    the best model, and the notebook that reproduces it."""

    study: Study
    run: Run
    notebook: Path
    learner: str
    score: float
    metric: str

    @property
    def model(self) -> Any:
        return self.run.output("train", "model")

    @property
    def model_ref(self) -> str:
        """`kiln serve` takes this: RUN/STEP/NAME."""
        return f"{self.run.id}/train/model"


def load_data(data: Any) -> tuple[pd.DataFrame, Path | None]:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data, None
    path = Path(os.fspath(data))
    if not path.is_file():
        raise UserError(f"no such data file: {path}", hint="give a CSV or Parquet file")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv", ".txt", ".parquet", ".pq"):
        raise UserError(f"{path.name}: unknown data format '{suffix}'",
                        hint="use .csv, .tsv or .parquet")
    try:
        if suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    except Exception as e:
        raise UserError(f"cannot read {path.name}: {type(e).__name__}: {e}",
                        where=str(path)) from None
    return df, path.resolve()


def check_inputs(df: pd.DataFrame, target: str, task: str | None, metric: str | None,
                 time_budget: float) -> tuple[str, str]:
    """The task and metric, or a clear error for a wrong target, task, metric or budget."""
    if target not in df.columns:
        cols = ", ".join(map(str, df.columns[:30])) + (" …" if len(df.columns) > 30 else "")
        raise UserError(f"target column '{target}' is not in the data",
                        hint=f"the columns are: {cols}")
    if df.shape[1] < 2:
        raise UserError("the data has no feature columns besides the target")
    y = df[target].dropna()
    if len(y) < 10:
        raise UserError(f"only {len(y)} rows have a value for '{target}'; AutoML needs at "
                        "least 10")
    if task is None:
        numeric = y.dtype.kind in "fiu"
        few = y.nunique() <= max(2, min(20, len(y) // 10))
        task = "classification" if not numeric or (y.dtype.kind in "iu" and few) or \
            y.dtype.kind == "b" else "regression"
    if task not in TASKS:
        raise UserError(f"unknown task '{task}'", hint="use classification or regression")
    if task == "regression" and y.dtype.kind not in "fiu":
        raise UserError(f"'{target}' holds {y.dtype} values; regression needs numbers",
                        hint="use --task classification")
    if task == "classification" and y.nunique() < 2:
        raise UserError(f"'{target}' has a single class; there is nothing to classify")
    metric = metric or DEFAULT_METRIC[task]
    if metric not in TASK_METRICS[task]:
        raise UserError(f"unknown metric '{metric}' for {task}",
                        hint=f"use one of: {', '.join(TASK_METRICS[task])}")
    if not time_budget or time_budget <= 0:
        raise UserError(f"time budget {time_budget}s must be positive",
                        hint="e.g. --time-budget 60")
    return task, metric


def learners(task: str) -> list[str]:
    """FLAML learner names for the families installed (lrl1 classifies only)."""
    found = []
    for module, name in (("lightgbm", "lgbm"), ("xgboost", "xgboost")):
        try:
            __import__(module)
            found.append(name)
        except ImportError:
            pass
    return found + [n for n in SKLEARN_LEARNERS if task == "classification" or n != "lrl1"]


def automl(data: Any, *, target: str, task: str | None = None, metric: str | None = None,
           time_budget: float = 60, seed: int = 0, name: str | None = None,
           estimators: list[str] | None = None, progress: bool | None = None) -> AutoMLResult:
    """Search models for `target` in a DataFrame, CSV or Parquet file within `time_budget`
    seconds; record every candidate; rebuild the best with a generated notebook run."""
    import sys

    from kiln.catalog import studies
    from kiln.runtime import Runtime
    from kiln.tune.results import Study

    df, path = load_data(data)
    task, metric = check_inputs(df, target, task, metric, time_budget)
    available = learners(task)
    y = df[target].dropna()
    if task == "classification" and "xgboost" in available and not (
            y.dtype.kind in "iub" and set(y.unique()) == set(range(y.nunique()))):
        # XGBoost's classifier takes only labels 0..n-1; the rebuilt model must take the
        # labels as they are in the data, so it is left out rather than wrapped.
        available.remove("xgboost")
    estimators = estimators or available
    bad = [e for e in estimators if e not in available]
    if bad:
        raise UserError(f"unknown or missing model famil{'ies' if len(bad) > 1 else 'y'} "
                        f"{', '.join(bad)}", hint=f"available: {', '.join(available)}")
    rt = Runtime.open()
    config = {"objective": {"type": METRICS[metric], "objectiveMetricName": metric},
              "algorithm": {"algorithmName": "flaml"}, "task": task, "target": target,
              "time_budget": time_budget, "estimators": estimators, "seed": seed,
              "data": str(path) if path else "(DataFrame)", "rows": int(len(df))}
    info = studies.create_study(rt.catalog, name=name, kind="automl", pipeline="automl",
                                source=str(path or ""), spec_json="", config=config)
    folder = rt.home.root / "automl" / info.name
    folder.mkdir(parents=True, exist_ok=True)
    if path is None:  # the notebook reads the data from a file next to it
        path = folder / "data.parquet"
        df.to_parquet(path)
    if progress is None:
        progress = sys.stdout.isatty()
    try:
        best = _search(rt, info.id, info.name, df, target, task, metric, time_budget,
                              seed, estimators, folder, progress)
        notebook = write_notebook(folder / f"{info.name}.ipynb", data=path, target=target,
                                  task=task, metric=metric, model=best, seed=seed)
        from kiln.engine.api import run as run_pipeline

        run = run_pipeline(notebook, experiment=info.name, progress=False)
        if run.status != "succeeded":
            raise UserError(f"the generated notebook failed to rebuild the model: {run.error}",
                            where=str(notebook))
    except BaseException as e:
        status = "cancelled" if isinstance(e, KeyboardInterrupt) else "failed"
        studies.finish_study(rt.catalog, info.id, status, getattr(e, "message", str(e)))
        raise
    studies.finish_study(rt.catalog, info.id, "succeeded")
    return AutoMLResult(Study(studies.get_study(rt.catalog, info.id)), run, notebook,
                        type(best).__name__, run.metrics[metric], metric)


def _search(rt: Any, study_id: str, study_name: str, df: pd.DataFrame, target: str, task: str,
            metric: str, budget: float, seed: int, estimators: list[str], folder: Path,
            progress: bool) -> Any:
    """Run FLAML and return the best estimator, unfitted. A thread turns FLAML's log into
    trials as they finish and shows progress."""
    import warnings

    from flaml.automl import AutoML

    df = df.dropna(subset=[target])
    x, y = df.drop(columns=[target]), df[target]
    encoder = make_encoder(x)
    x_enc = encoder.fit_transform(x)
    log = folder / "flaml.log"
    log.unlink(missing_ok=True)
    watcher = _LogWatcher(rt, study_id, study_name, log, metric, budget, progress)
    watcher.start()
    search = AutoML()  # type: ignore[no-untyped-call]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search.fit(x_enc, y, task=task, metric=metric, time_budget=budget, seed=seed,
                       estimator_list=estimators, log_file_name=str(log), log_type="all",
                       verbose=0, n_jobs=os.cpu_count() or 1)
    finally:
        watcher.stop()
    if search.best_estimator is None:
        raise UserError(f"the time budget of {budget:g}s ended before any model finished "
                        "training", hint="give a larger --time-budget (a few seconds at least; "
                                         "more for big data)")
    estimator = search.model.estimator
    from sklearn.base import clone

    return clone(estimator)


def make_encoder(x: pd.DataFrame) -> Any:
    """Numbers pass through; text and category columns become ordinal codes (unknown → -1)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    cats = [c for c in x.columns if x[c].dtype.kind not in "fiub"]
    return ColumnTransformer(
        [("categories", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                       encoded_missing_value=-1), cats)],
        remainder="passthrough", verbose_feature_names_out=False).set_output(transform="pandas")


class _LogWatcher:
    """Tails FLAML's log (one JSON line per trial): records trials, shows live progress."""

    def __init__(self, rt: Any, study_id: str, name: str, log: Path, metric: str,
                 budget: float, progress: bool) -> None:
        self.rt, self.study_id, self.log, self.metric = rt, study_id, log, metric
        self.budget, self.offset, self.count = budget, 0, 0
        self.best: tuple[float, str] | None = None
        self.objective = Objective(metric, METRICS[metric])
        self.started = time.monotonic()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True, name="kiln-automl-log")
        self.bar: Any = None
        if progress:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                TextColumn("{task.fields[status]}"), TimeRemainingColumn())
            self.task = self.bar.add_task(f"automl {name}", total=budget, status="starting")

    def start(self) -> None:
        if self.bar is not None:
            self.bar.start()
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
        self._read()
        if self.bar is not None:
            self.bar.update(self.task, completed=self.budget, status=self._status())
            self.bar.stop()

    def _loop(self) -> None:
        while not self.stopped.wait(0.25):
            self._read()
            if self.bar is not None:
                self.bar.update(self.task, completed=min(self.budget,
                                                          time.monotonic() - self.started),
                                status=self._status())

    def _status(self) -> str:
        best = f"best {self.metric} {self.best[0]:.4f} ({self.best[1]})" if self.best else \
            "no model yet"
        return f"{self.count} trials, {best}"

    def _read(self) -> None:
        from kiln.catalog import studies
        from kiln.catalog.db import now

        try:
            with open(self.log, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if "validation_loss" not in rec or "learner" not in rec:
                continue  # FLAML's checkpoint lines
            loss = float(rec["validation_loss"])
            value = metric_value(self.metric, loss)
            params = {"learner": rec["learner"], **{k: _plain(v) for k, v in
                                                    (rec.get("config") or {}).items()}}
            studies.add_finished_trial(
                self.rt.catalog, self.study_id, self.count, state="complete", params=params,
                value=value, metrics={self.metric: value,
                                      "train_time": float(rec.get("trial_time", 0.0)),
                                      "sample_size": float(rec.get("sample_size", 0) or 0)},
                started_at=now() - timedelta(seconds=float(rec.get("trial_time", 0.0))))
            self.count += 1
            if self.best is None or self.objective.better(value, self.best[0]):
                self.best = (value, rec["learner"])


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def write_notebook(path: Path, *, data: Path, target: str, task: str, metric: str, model: Any,
                   seed: int) -> Path:
    """A Kale-tagged notebook that rebuilds `model` (its class and exact parameters)."""
    import nbformat

    cls = type(model)
    params = _non_default_params(model)
    reader = "read_parquet" if data.suffix.lower() in (".parquet", ".pq") else "read_csv"
    score = {"accuracy": "accuracy_score(y_test, held_out.predict(x_test))",
             "f1": "f1_score(y_test, held_out.predict(x_test))",
             "micro_f1": "f1_score(y_test, held_out.predict(x_test), average='micro')",
             "macro_f1": "f1_score(y_test, held_out.predict(x_test), average='macro')",
             "roc_auc": "roc_auc_score(y_test, held_out.predict_proba(x_test)[:, 1]) "
                        "if len(set(y)) == 2 else roc_auc_score(y_test, "
                        "held_out.predict_proba(x_test), multi_class='ovr')",
             "log_loss": "log_loss(y_test, held_out.predict_proba(x_test))",
             "r2": "r2_score(y_test, held_out.predict(x_test))",
             "rmse": "mean_squared_error(y_test, held_out.predict(x_test)) ** 0.5",
             "mae": "mean_absolute_error(y_test, held_out.predict(x_test))",
             "mse": "mean_squared_error(y_test, held_out.predict(x_test))",
             "mape": "mean_absolute_percentage_error(y_test, held_out.predict(x_test))"}[metric]
    stratify = "y" if task == "classification" else "None"
    cells = [
        ("markdown", None, f"# AutoML: {cls.__name__} for `{target}`\n\nGenerated by "
                           f"`kiln automl`; run it with `kiln run {path.name}`."),
        ("code", ["imports"], "import pandas as pd\n"
                              "from sklearn.base import clone\n"
                              "from sklearn.compose import ColumnTransformer\n"
                              f"from sklearn.metrics import {_metric_import(metric)}\n"
                              "from sklearn.model_selection import train_test_split\n"
                              "from sklearn.pipeline import make_pipeline\n"
                              "from sklearn.preprocessing import OrdinalEncoder\n"
                              f"from {_public_module(cls)} import {cls.__name__}"),
        ("code", ["pipeline-parameters"], f"DATA = {str(data)!r}\nTARGET = {target!r}\n"
                                          f"TEST_SIZE = {TEST_SIZE}\nSEED = {seed}"),
        ("code", ["block:load"], f"df = pd.{reader}(DATA).dropna(subset=[TARGET])\n"
                                 "x = df.drop(columns=[TARGET])\ny = df[TARGET]\n"
                                 "x_train, x_test, y_train, y_test = train_test_split(\n"
                                 f"    x, y, test_size=TEST_SIZE, random_state=SEED, "
                                 f"stratify={stratify})"),
        ("code", ["block:train", "prev:load"],
         "categories = [c for c in x_train.columns if x_train[c].dtype.kind not in 'fiub']\n"
         "encode = ColumnTransformer(\n"
         "    [('categories', OrdinalEncoder(handle_unknown='use_encoded_value', "
         "unknown_value=-1,\n"
         "                                   encoded_missing_value=-1), categories)],\n"
         "    remainder='passthrough', verbose_feature_names_out=False)\n"
         f"recipe = make_pipeline(encode, {cls.__name__}(**{_literal(params)}))\n"
         "# scored on rows it never saw; the model kept learns from every row, as FLAML's does\n"
         "held_out = clone(recipe).fit(x_train, y_train)\n"
         "model = clone(recipe).fit(x, y)"),
        ("code", ["block:evaluate", "prev:train"],
         f"{metric} = float({score})\n"
         "assert len(model.predict(x_test.head(1))) == 1  # the model kept answers"),
        ("code", ["pipeline-metrics"], f"print({metric})"),
    ]
    nb = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    for kind, tags, source in cells:
        cell = (nbformat.v4.new_markdown_cell(source)  # type: ignore[no-untyped-call]
                if kind == "markdown" else nbformat.v4.new_code_cell(source))  # type: ignore[no-untyped-call]
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nb.metadata["kubeflow_notebook"] = {
        "pipeline_name": f"automl-{_slug(target)}", "experiment_name": "automl",
        "pipeline_description": f"{cls.__name__} for {target} ({task}), found by kiln automl",
        "docker_image": "", "volumes": [], "autosnapshot": False, "katib_run": False}
    path.write_text(nbformat.writes(nb))  # type: ignore[no-untyped-call]
    return path


def _metric_import(metric: str) -> str:
    return {"accuracy": "accuracy_score", "f1": "f1_score", "micro_f1": "f1_score",
            "macro_f1": "f1_score", "roc_auc": "roc_auc_score", "log_loss": "log_loss",
            "r2": "r2_score", "rmse": "mean_squared_error", "mse": "mean_squared_error",
            "mae": "mean_absolute_error", "mape": "mean_absolute_percentage_error"}[metric]


def _public_module(cls: type) -> str:
    """`sklearn.ensemble` rather than `sklearn.ensemble._forest`."""
    parts = cls.__module__.split(".")
    for i in range(1, len(parts) + 1):
        mod = ".".join(parts[:i])
        try:
            if getattr(__import__(mod, fromlist=["_"]), cls.__name__, None) is cls:
                return mod
        except ImportError:
            continue
    return cls.__module__


def _non_default_params(model: Any) -> dict[str, Any]:
    """The constructor arguments that differ from the class's defaults (what FLAML chose)."""
    try:
        defaults = type(model)().get_params(deep=False)
    except Exception:  # a class that needs arguments: write them all
        defaults = {}
    out = {}
    for k, v in model.get_params(deep=False).items():
        d = defaults.get(k, object())
        same = v is d or (_is_nan(v) and _is_nan(d))
        try:
            same = same or bool(v == d)
        except Exception:  # arrays and other values without a plain ==
            pass
        if not same:
            out[k] = v
    return out


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and v != v


def _literal(params: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k!r}: {_value(v, k)}" for k, v in sorted(params.items())) + "}"


def _value(v: Any, name: str) -> str:
    v = _plain(v)
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return f"float({str(v)!r})"
    if isinstance(v, (int, float, str, bool, type(None))):
        return repr(v)
    if isinstance(v, (list, tuple)):
        inner = ", ".join(_value(x, name) for x in v)
        return f"[{inner}]" if isinstance(v, list) else f"({inner}{',' if len(v) == 1 else ''})"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k!r}: {_value(x, name)}" for k, x in v.items()) + "}"
    raise SpecError(f"cannot write parameter {name}={v!r} of the best model into a notebook",
                    hint="it is not a plain value; rebuild the model by hand")


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "model"
