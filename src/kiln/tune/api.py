"""The Python API: `kiln.tune()` and `kiln.get_study()`; `kiln tune` calls the same functions."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from kiln.tune.results import Study

if TYPE_CHECKING:
    from kiln.tune.automl import AutoMLResult
    from kiln.tune.progress import StudyObserver


def tune(target: Any, *, space: Any = None, objective: str | None = None,
         direction: str | None = None, trials: int | None = None, parallel: int | None = None,
         algorithm: str | None = None, settings: dict[str, Any] | None = None,
         early_stopping: str | None = None, max_failed: int | None = None,
         goal: float | None = None, seed: int | None = None,
         params: dict[str, Any] | None = None, config: str | os.PathLike[str] | dict[str, Any]
         | None = None, name: str | None = None, cache: bool = True,
         progress: bool | None = None, observer: StudyObserver | None = None,
         volumes: dict[str, str] | None = None) -> Study:
    """Tune a pipeline: every trial is a pipeline run with the trial's parameters.

    `target` is anything `kiln.run` takes. The study's shape comes from, in order: the
    keyword arguments, `config` (a YAML/JSON file or dict in katib_metadata's shape, or a
    Katib Experiment), and the notebook's own `katib_metadata`.
    `space`: {name: (min, max) | range(...) | [choices] | Katib ParameterSpec dict}, or
    Katib's parameters list. `algorithm`: a Katib name (random, grid, tpe, multivariate-tpe,
    bayesianoptimization, cmaes, sobol, hyperband). `params` fixes other pipeline parameters.
    `volumes` binds the pipeline's volumes to this machine's, as in `kiln.run`.
    """
    from kiln.catalog import studies
    from kiln.engine.mounts import bind
    from kiln.engine.targets import load_spec
    from kiln.runtime import Runtime
    from kiln.tune.config import study_config
    from kiln.tune.study import Tuner

    spec = bind(load_spec(target), volumes or {}, Runtime.open())
    cfg = study_config(spec, config=config, space=space, params=params, metric=objective,
                       direction=direction, trials=trials, parallel=parallel,
                       algorithm=algorithm, settings=settings, early_stopping=early_stopping,
                       max_failed=max_failed, goal=goal, seed=seed)
    rt = Runtime.open()
    source = os.fspath(target) if isinstance(target, (str, os.PathLike)) else \
        spec.source.get("path", "")
    info = studies.create_study(rt.catalog, name=name, kind="tune", pipeline=spec.name,
                                source=source, spec_json=spec.to_json(indent=None),
                                config=cfg.to_dict())
    tuner = Tuner(rt, spec, cfg, info.id, observer or _observer(progress), source=source,
                  cache=cache)
    tuner.run()
    return Study(studies.get_study(rt.catalog, info.id))


def resume(ref: str, *, trials: int | None = None, progress: bool | None = None,
           observer: StudyObserver | None = None) -> Study:
    """Continue a study after a crash, a kill or Ctrl-C: trials left running are marked
    failed and queued again; finished trials are kept. `trials` raises the budget."""
    from kiln.catalog import studies
    from kiln.errors import UserError
    from kiln.runtime import Runtime
    from kiln.spec.model import PipelineSpec
    from kiln.tune.config import StudyConfig
    from kiln.tune.space import check_against
    from kiln.tune.study import Tuner, check_not_running

    rt = Runtime.open()
    info = studies.get_study(rt.catalog, ref)
    if info.kind != "tune":
        raise UserError(f"study '{info.name}' is an {info.kind} search; it cannot be resumed",
                        hint="start a new one")
    check_not_running(info)
    cfg = StudyConfig.from_dict(info.config)
    if trials is not None:
        cfg.max_trials = trials
    spec = PipelineSpec.from_json(info.spec_json, origin=f"study {info.name}")
    check_against(cfg.parameters, spec, "parameters")
    studies.interrupt_running(rt.catalog, info.id)
    studies.claim_study(rt.catalog, info.id)
    Tuner(rt, spec, cfg, info.id, observer or _observer(progress), source=info.source).run()
    return Study(studies.get_study(rt.catalog, info.id))


def automl(data: Any, *, target: str, task: str | None = None, metric: str | None = None,
           time_budget: float = 60, seed: int = 0, name: str | None = None,
           progress: bool | None = None) -> AutoMLResult:
    """Search model families (scikit-learn, LightGBM, XGBoost) and their hyperparameters
    for `target` in a DataFrame, CSV or Parquet file within `time_budget` seconds.

    Every candidate is a trial of a study; the best is rebuilt by a generated Kale-tagged
    notebook run, so `result.model_ref` (RUN/train/model) is ready for `kiln serve`.
    """
    from kiln.tune.automl import automl as run_automl

    return run_automl(data, target=target, task=task, metric=metric, time_budget=time_budget,
                      seed=seed, name=name, progress=progress)


def get_study(ref: str) -> Study:
    """A recorded study by name, id, id prefix or 'latest'."""
    from kiln.catalog import studies
    from kiln.runtime import Runtime

    return Study(studies.get_study(Runtime.open().catalog, ref))


def _observer(progress: bool | None) -> StudyObserver:
    from kiln.tune.progress import LiveStudyObserver, PlainStudyObserver, StudyObserver

    if progress is None:
        progress = sys.stdout.isatty()
    if not progress:
        return StudyObserver()
    return LiveStudyObserver() if sys.stdout.isatty() else PlainStudyObserver()
