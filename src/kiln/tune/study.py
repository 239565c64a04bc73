"""Running a study: Optuna proposes parameters, each trial is a pipeline run on the local
engine, and the catalog records every trial as it starts and ends.

Optuna's study lives in memory and is rebuilt from the catalog on resume (finished trials
are added back with their values and reports), so the catalog is the only record and a
`kill -9` loses at most the trials that were running, which resume queues again.
"""

from __future__ import annotations

import os
import queue
import re
import socket
import threading
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kiln.catalog import runs as records
from kiln.catalog import studies
from kiln.engine.progress import Observer
from kiln.errors import KilnError, UserError
from kiln.processes import pid_alive
from kiln.sdk.context import REPORT_METRIC
from kiln.spec.model import PipelineSpec
from kiln.spec.validate import downstream
from kiln.tune import algorithms
from kiln.tune.config import StudyConfig
from kiln.tune.space import Parameter

if TYPE_CHECKING:
    import optuna

    from kiln.runtime import Runtime
    from kiln.tune.progress import StudyObserver

INTERRUPTED = "interrupted"


@dataclass
class _Outcome:
    number: int
    state: str  # complete, pruned, failed
    value: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    intermediate: list[list[float]] = field(default_factory=list)
    error: str | None = None
    run_id: str | None = None


class _TrialObserver(Observer):
    """Watches one trial's run: records its run id, feeds reports to the pruner, stops it."""

    def __init__(self, tuner: Tuner, trial: optuna.Trial, number: int) -> None:
        self.tuner = tuner
        self.trial = trial
        self.number = number
        self.reports: dict[int, float] = {}
        self.pruned_at: int | None = None
        self.run_id: str | None = None

    def started(self, run_id: str, pipeline: str, steps: list[str]) -> None:
        self.run_id = run_id
        studies.set_trial_run(self.tuner.rt.catalog, self.tuner.study_id, self.number, run_id)
        self.tuner.observer.trial_running(self.number, run_id)

    def metric(self, step: str, name: str, value: float, index: int | None) -> None:
        # Intermediate values are kiln.report()s, or the objective metric logged as a series.
        if index is None or self.pruned_at is not None:
            return
        if name != REPORT_METRIC and name != self.tuner.config.objective.metric:
            return
        if index in self.reports:
            return  # one value per step, as Optuna keeps it
        self.reports[index] = value
        self.trial.report(value, index)
        if self.trial.should_prune():
            self.pruned_at = index

    def stop_reason(self) -> str | None:
        if self.tuner.stopping:
            return f"stopped: {self.tuner.stopping}"
        if self.pruned_at is not None:
            rule = (self.tuner.config.early_stopping or self.tuner.config.algorithm).name
            return (f"pruned by {rule} at step {self.pruned_at} "
                    f"(reported {self.reports[self.pruned_at]:g})")
        return None


class Tuner:
    def __init__(self, rt: Runtime, spec: PipelineSpec, config: StudyConfig, study_id: str,
                 observer: StudyObserver, *, source: str = "", cache: bool = True) -> None:
        self.rt = rt
        self.spec = spec
        self.config = config
        self.study_id = study_id
        self.observer = observer
        self.source = source
        self.cache = cache
        self.stopping: str | None = None
        self.results: queue.Queue[_Outcome] = queue.Queue()
        self.active: dict[int, tuple[threading.Thread, Any, _TrialObserver]] = {}

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> str:
        """Run trials until the budget, the goal or the failure limit; return the status."""
        cfg = self.config
        info = studies.get_study(self.rt.catalog, self.study_id)
        self.experiment = info.name  # trial runs are filed under the study's name
        ostudy = self._optuna_study(info)
        interrupted = [t for t in info.trials if t.state == "failed"
                       and (t.error or "").startswith(INTERRUPTED)]
        counted = [t for t in info.trials if t not in interrupted]
        for t in interrupted[: max(0, cfg.max_trials - len(counted))]:
            ostudy.enqueue_trial(t.params, skip_if_exists=False)
        used = len(counted)
        failed = sum(1 for t in counted if t.state == "failed")
        number = max((t.number for t in info.trials), default=-1) + 1
        completed = sum(1 for t in counted if t.state == "complete")
        warmup = self._shared_steps() and completed == 0
        self.observer.study_started(info.name, self.study_id, cfg, info.trials)
        per_trial = max(1, (os.cpu_count() or 1) // cfg.parallel)
        status = "succeeded"
        try:
            while True:
                limit = 1 if warmup else cfg.parallel
                while not self.stopping and len(self.active) < limit and used < cfg.max_trials:
                    self._launch(ostudy, number, per_trial)
                    number += 1
                    used += 1
                if not self.active:
                    break
                out = self._next_outcome()
                warmup = False
                self._record(ostudy, out)
                if out.state == "failed" and not (out.error or "").startswith("stopped:"):
                    failed += 1
                    if failed > cfg.max_failed:  # Katib's rule: more than the count fails it
                        self.stopping = (f"{failed} trials failed, more than maxFailedTrialCount "
                                         f"{cfg.max_failed}")
                        status = "failed"
                if out.state == "complete" and out.value is not None \
                        and cfg.objective.reached(out.value) and not self.stopping:
                    self.stopping = f"trial {out.number} reached the goal {cfg.objective.goal:g}"
        except BaseException as e:
            cancelled = isinstance(e, KeyboardInterrupt)
            why = "cancelled by the user" if cancelled else f"{type(e).__name__}: {e}"
            self.stopping = why
            self._drain(ostudy)
            end = "cancelled" if cancelled else "failed"
            studies.finish_study(self.rt.catalog, self.study_id, end, why)
            self.observer.study_finished(end, None if cancelled else why)
            raise
        info = studies.get_study(self.rt.catalog, self.study_id)
        error = None
        if status == "failed":
            error = f"{self.stopping}. {_failure_summary(info)}"
        elif info.best() is None:
            status, error = "failed", f"no trial completed. {_failure_summary(info)}"
        studies.finish_study(self.rt.catalog, self.study_id, status, error)
        self.observer.study_finished(status, error)
        return status

    def _next_outcome(self) -> _Outcome:
        while True:  # short waits so Ctrl-C reaches the main thread promptly
            try:
                return self.results.get(timeout=0.2)
            except queue.Empty:
                continue

    def _drain(self, ostudy: optuna.Study) -> None:
        """Wait for running trials to stop (their observers see `stopping`) and record them."""
        while self.active:
            try:
                out = self.results.get(timeout=10)
            except queue.Empty:
                break
            self._record(ostudy, out)

    # --- one trial ------------------------------------------------------------------------

    def _launch(self, ostudy: optuna.Study, number: int, per_trial: int) -> None:
        trial = ostudy.ask()
        params = {p.name: p.suggest(trial) for p in self.config.parameters}
        studies.start_trial(self.rt.catalog, self.study_id, number, params)
        obs = _TrialObserver(self, trial, number)
        t = threading.Thread(target=self._run_trial, args=(number, params, obs, per_trial),
                             name=f"kiln-trial-{number}", daemon=True)
        self.active[number] = (t, trial, obs)
        self.observer.trial_started(number, params)
        t.start()

    def _run_trial(self, number: int, params: dict[str, Any], obs: _TrialObserver,
                   per_trial: int) -> None:
        from kiln.engine.local import LocalEngine, RunOptions

        out = _Outcome(number, "failed")
        try:
            options = RunOptions(parallelism=per_trial, cache=self.cache,
                                 experiment=self.experiment, source=self.source,
                                 name=_trial_run_name(self.experiment, number))
            run_id = LocalEngine(self.rt, observer=obs).run(
                self.spec, {**self.config.fixed, **params}, options)
            out = self._outcome(number, run_id, obs)
        except KilnError as e:
            out.error = e.message
        except BaseException as e:  # a trial's crash must not take the study down
            out.error = f"{type(e).__name__}: {e}"
        out.run_id = out.run_id or obs.run_id
        out.intermediate = [[k, v] for k, v in sorted(obs.reports.items())]
        self.results.put(out)

    def _outcome(self, number: int, run_id: str, obs: _TrialObserver) -> _Outcome:
        info = records.get_run(self.rt.catalog, run_id, with_events=False)
        obj = self.config.objective
        names = [obj.metric, *obj.additional]
        metrics = {k: info.metrics[k] for k in names if k in info.metrics}
        out = _Outcome(number, "failed", metrics=metrics, run_id=run_id)
        if info.status == "cancelled" and obs.pruned_at is not None:
            out.state, out.value = "pruned", obs.reports[obs.pruned_at]
            out.error = info.error
        elif info.status != "succeeded":
            out.error = info.error or f"the run {info.status}"
        elif obj.metric not in info.metrics:
            logged = ", ".join(sorted(info.metrics)) or "none"
            out.error = (f"the run never logged the objective metric '{obj.metric}' "
                         f"(it logged: {logged})")
        else:
            out.state, out.value = "complete", info.metrics[obj.metric]
        return out

    def _record(self, ostudy: optuna.Study, out: _Outcome) -> None:
        import optuna

        thread, trial, _obs = self.active.pop(out.number)
        thread.join()
        state = {"complete": optuna.trial.TrialState.COMPLETE,
                 "pruned": optuna.trial.TrialState.PRUNED,
                 "failed": optuna.trial.TrialState.FAIL}[out.state]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ostudy.tell(trial, out.value if out.state == "complete" else None, state=state)
        studies.finish_trial(self.rt.catalog, self.study_id, out.number, state=out.state,
                             value=out.value, metrics=out.metrics,
                             intermediate=out.intermediate, error=out.error)
        self.observer.trial_finished(out.number, out.state, out.value, out.error, out.run_id)

    # --- setup ----------------------------------------------------------------------------

    def _optuna_study(self, info: studies.StudyInfo) -> optuna.Study:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        cfg = self.config
        ostudy = optuna.create_study(
            direction="maximize" if cfg.objective.direction == "maximize" else "minimize",
            sampler=algorithms.sampler(cfg.algorithm, cfg.parameters, cfg.seed),
            pruner=algorithms.pruner(cfg.algorithm, cfg.early_stopping))
        dists = {p.name: distribution(p) for p in cfg.parameters}
        states = {"complete": optuna.trial.TrialState.COMPLETE,
                  "pruned": optuna.trial.TrialState.PRUNED,
                  "failed": optuna.trial.TrialState.FAIL}
        for t in info.trials:
            if t.state not in states or (t.error or "").startswith(INTERRUPTED):
                continue
            if set(t.params) != set(dists):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ostudy.add_trial(optuna.trial.create_trial(
                    state=states[t.state], params=t.params, distributions=dists,
                    value=t.value if t.state == "complete" else None,
                    intermediate_values={int(s): float(v) for s, v in t.intermediate}))
        return ostudy

    def _shared_steps(self) -> bool:
        """Whether some step reads no tuned parameter (so the first trial should run alone
        and fill the cache that every later trial reuses)."""
        tuned = {p.name for p in self.config.parameters}
        touched: set[str] = set()
        for s in self.spec.steps:
            if tuned & set(s.params_used()):
                touched |= {s.name} | downstream(self.spec, s.name)
        return self.cache and len(touched) < len(self.spec.steps)


def distribution(p: Parameter) -> Any:
    import optuna.distributions as d

    if p.type == "int":
        return d.IntDistribution(int(p.min), int(p.max), step=int(p.step or 1),  # type: ignore[arg-type]
                                 log=p.log)
    if p.type == "double":
        return d.FloatDistribution(float(p.min), float(p.max), step=p.step,  # type: ignore[arg-type]
                                   log=p.log)
    return d.CategoricalDistribution(p.values)


def _failure_summary(info: studies.StudyInfo) -> str:
    """Why trials failed, most common reason first."""
    # Errors that differ only in numbers (a parameter value, a line) count as one reason.
    reasons: dict[str, tuple[str, list[int]]] = {}
    for t in info.trials:
        if t.state == "failed":
            line = _first_line(t.error or "unknown")
            key = re.sub(r"\d+(\.\d+)?", "#", line)
            reasons.setdefault(key, (line, []))[1].append(t.number)
    if not reasons:
        return ""
    parts = [f"{len(ns)}× {r} (trial{'s' if len(ns) > 1 else ''} "
             f"{', '.join(str(n) for n in ns[:5])}{'…' if len(ns) > 5 else ''})"
             for r, ns in sorted(reasons.values(), key=lambda kv: -len(kv[1]))]
    return "Failed trials: " + "; ".join(parts)


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line[:300]


def check_not_running(info: studies.StudyInfo) -> None:
    """Refuse to resume a study another live process is still running."""
    if info.status != "running" or info.pid is None:
        return
    if info.host == socket.gethostname() and pid_alive(info.pid) and info.pid != os.getpid():
        raise UserError(f"study '{info.name}' is still running in process {info.pid}",
                        hint="wait for it, or stop that process first")


def _trial_run_name(study: str, number: int) -> str | None:
    """`STUDY-trial-N`, when that is a valid run name (a study's name may not be one)."""
    from kiln.names import valid

    name = f"{study}-trial-{number}"
    return name if valid("run", name) else None
