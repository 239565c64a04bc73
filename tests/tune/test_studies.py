"""Studies end to end: every trial a real pipeline run on the local engine, recorded whole."""

from __future__ import annotations

import pytest

import kiln
from kiln.catalog import runs as records
from kiln.errors import ParameterError, SpecError, UserError
from kiln.runtime import Runtime

SPACE = {"x": (0.0, 1.0), "k": (1, 6)}


def test_every_trial_is_a_run_and_shared_steps_come_from_the_cache(bowl: str) -> None:
    study = kiln.tune(bowl, space=SPACE, objective="loss", direction="minimize", trials=6,
                      parallel=2, algorithm="tpe", seed=7, progress=False)
    assert study.status == "succeeded"
    assert [t.state for t in study.trials] == ["complete"] * 6
    rt = Runtime.open()
    load_states = []
    for t in study.trials:
        run = records.get_run(rt.catalog, t.run_id)
        assert run.status == "succeeded"
        assert run.experiment == study.name
        assert run.params["x"] == t.params["x"] and run.params["k"] == t.params["k"]
        assert run.metrics["loss"] == pytest.approx(t.value)
        assert t.value == pytest.approx((t.params["x"] - 0.3) ** 2 + 0.01 * (t.params["k"] - 3) ** 2)
        load_states.append(run.task("load").status)
    # the first trial runs alone and fills the cache; every later trial reuses `load`
    assert load_states[0] == "succeeded" and load_states[1:] == ["cached"] * 5
    best = study.best
    assert best is not None and best.value == min(t.value for t in study.trials)
    assert study.best_params == best.params
    assert study.best_run is not None and study.best_run.output("train") == pytest.approx(best.value)
    # the intermediate reports are kept on the trial
    assert [s for s, _ in best.intermediate] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("algorithm", ["random", "tpe", "multivariate-tpe", "cmaes", "sobol",
                                       "hyperband", "bayesianoptimization"])
def test_each_katib_algorithm_runs(bowl: str, algorithm: str) -> None:
    study = kiln.tune(bowl, space=SPACE, objective="loss", direction="minimize", trials=4,
                      parallel=2, algorithm=algorithm, seed=1, progress=False)
    assert study.status == "succeeded"
    assert len(study.trials) == 4
    assert all(t.state in ("complete", "pruned") for t in study.trials)
    assert len({(t.params["x"], t.params["k"]) for t in study.trials}) >= 3  # it searched


def test_grid_covers_the_grid_once(bowl: str) -> None:
    space = {"x": {"parameterType": "double", "feasibleSpace": {"min": "0.1", "max": "0.5", "step": "0.2"}},
             "k": {"parameterType": "discrete", "feasibleSpace": {"list": ["2", "3"]}}}
    study = kiln.tune(bowl, space=space, objective="loss", direction="minimize", trials=100,
                      parallel=2, algorithm="grid", progress=False)
    points = sorted((t.params["x"], t.params["k"]) for t in study.trials)
    assert points == [(0.1, 2), (0.1, 3), (0.3, 2), (0.3, 3), (0.5, 2), (0.5, 3)]
    assert study.best_params == {"x": 0.3, "k": 3}
    assert isinstance(study.best_params["k"], int)  # discrete values take the parameter's type


def test_failed_trials_stop_the_study_with_a_summary(bowl: str) -> None:
    space = {"x": {"parameterType": "discrete", "feasibleSpace": {"list": [0.6, 0.7, 0.8]}}}
    study = kiln.tune(bowl, space=space, objective="loss", direction="minimize", trials=3,
                      parallel=1, algorithm="grid", max_failed=1, params={"mode": "fail"},
                      progress=False)
    assert study.status == "failed"
    failed = [t for t in study.trials if t.state == "failed"]
    assert len(failed) == 2 and len(study.trials) == 2  # the 2nd failure is more than 1
    assert "more than maxFailedTrialCount 1" in study.error
    assert "2× step 'train' failed: ValueError: x=0." in study.error
    assert all("too large for this model" in t.error for t in failed)


def test_a_trial_that_never_logs_the_objective_fails_with_that_reason(bowl: str) -> None:
    study = kiln.tune(bowl, space=SPACE, objective="loss", trials=2, parallel=1,
                      algorithm="random", params={"mode": "silent"}, progress=False)
    assert study.status == "failed"
    for t in study.trials:
        assert t.state == "failed"
        assert t.error == "the run never logged the objective metric 'loss' (it logged: other, report)"
    assert "no trial completed" in study.error


def test_median_stopping_prunes_trials_that_fall_behind(bowl: str) -> None:
    # Good trials first, then clearly worse ones: those are stopped after start_step reports.
    space = {"x": {"parameterType": "discrete", "feasibleSpace": {"list": [0.3, 0.35, 0.25, 0.9, 1.0, 0.95]}}}
    study = kiln.tune(bowl, space=space, objective="loss", direction="minimize", trials=6,
                      parallel=1, algorithm="grid", early_stopping="medianstop",
                      params={"pause": 0.2}, progress=False)
    states = {t.params["x"]: t.state for t in study.trials}
    assert all(states[x] == "complete" for x in (0.3, 0.35, 0.25))
    pruned = [t for t in study.trials if t.state == "pruned"]
    assert pruned, states
    rt = Runtime.open()
    for t in pruned:
        run = records.get_run(rt.catalog, t.run_id)
        assert run.status == "cancelled" and run.error.startswith("pruned by medianstop at step")
        assert len(t.intermediate) < 5  # it did not run to the end


def test_reaching_the_goal_stops_the_study(bowl: str) -> None:
    space = {"x": {"parameterType": "discrete", "feasibleSpace": {"list": [0.9, 0.3, 0.5, 0.7]}}}
    study = kiln.tune(bowl, space=space, objective="loss", direction="minimize", trials=4,
                      parallel=1, algorithm="grid", goal=0.05, seed=0, params={"k": 3},
                      progress=False)
    assert study.status == "succeeded"
    assert study.best_value <= 0.05
    assert len(study.trials) < 4 or study.trials[-1].value <= 0.05


def test_bad_calls(bowl: str) -> None:
    with pytest.raises(SpecError) as e:
        kiln.tune(bowl, space={"lr": (0.1, 1.0)}, objective="loss", progress=False)
    assert "'lr' is not a parameter of pipeline 'bowl'" in e.value.message
    assert "k, mode, n, pause, x" in e.value.hint
    with pytest.raises(ParameterError, match="x is both tuned and fixed"):
        kiln.tune(bowl, space=SPACE, objective="loss", params={"x": 0.1}, progress=False)
    with pytest.raises(ParameterError, match="unknown parameter 'y'"):
        kiln.tune(bowl, space=SPACE, objective="loss", params={"y": 0.1}, progress=False)
    with pytest.raises(SpecError, match="no objective metric"):
        kiln.tune(bowl, space=SPACE, progress=False)
    kiln.tune(bowl, space=SPACE, objective="loss", trials=1, name="once", progress=False)
    with pytest.raises(UserError, match="a study named 'once' already exists"):
        kiln.tune(bowl, space=SPACE, objective="loss", trials=1, name="once", progress=False)
