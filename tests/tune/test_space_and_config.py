"""Study configuration: Kale's katib_metadata as written, and every bad input the issue names."""

from __future__ import annotations

import pytest

from kiln.errors import SpecError
from kiln.spec.model import ParamSpec, PipelineSpec
from kiln.tune import config as cfgmod
from kiln.tune.space import check_against, from_python, parse_katib

# As Kale's Katib panel writes it: every number a string (REFERENCE.md).
KALE_META = {
    "algorithm": {"algorithmName": "grid", "algorithmSettings": [{"name": "random_state", "value": "10"}]},
    "maxFailedTrialCount": 3, "maxTrialCount": 15, "parallelTrialCount": 3,
    "objective": {"type": "maximize", "objectiveMetricName": "accuracy",
                  "additionalMetricNames": ["precision"], "goal": 1},
    "parameters": [
        {"name": "ETA", "parameterType": "double", "feasibleSpace": {"min": "0.1", "max": "0.3", "step": "0.1"}},
        {"name": "OBJECTIVE", "parameterType": "categorical",
         "feasibleSpace": {"list": ["multi:softprob", "multi:softmax"]}},
    ],
}


def spec(**params: tuple[str, object]) -> PipelineSpec:
    return PipelineSpec(name="p", steps=[],
                        parameters=[ParamSpec(n, t, d) for n, (t, d) in params.items()])


def test_kale_metadata_parses_with_string_numbers() -> None:
    cfg = cfgmod.parse(KALE_META, "katib_metadata")
    eta, obj = cfg.parameters
    assert (eta.type, eta.min, eta.max, eta.step) == ("double", 0.1, 0.3, 0.1)
    assert eta.grid() == [0.1, 0.2, 0.3]
    assert obj.values == ["multi:softprob", "multi:softmax"]
    assert cfg.algorithm.name == "grid" and cfg.algorithm.settings == {"random_state": 10}
    assert (cfg.objective.metric, cfg.objective.direction, cfg.objective.goal) == ("accuracy", "maximize", 1.0)
    assert cfg.objective.additional == ["precision"]
    # a grid has 3 × 2 points: maxTrialCount 15 is capped at 6
    assert (cfg.max_trials, cfg.parallel, cfg.max_failed) == (6, 3, 3)
    # and it goes back out in Katib's shape
    katib = cfg.to_katib()
    assert katib["parameters"][0] == {"name": "ETA", "parameterType": "double",
                                      "feasibleSpace": {"min": "0.1", "max": "0.3", "step": "0.1"}}
    assert katib["objective"]["objectiveMetricName"] == "accuracy"


def test_a_whole_katib_experiment_is_accepted() -> None:
    exp = {"apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment", "metadata": {"name": "x"},
           "spec": {**KALE_META, "algorithm": {"algorithmName": "random"}}}
    cfg = cfgmod.parse(exp, "exp.yaml")
    assert cfg.algorithm.name == "random" and cfg.max_trials == 15


def test_unknown_pipeline_parameter_is_named_with_the_real_ones() -> None:
    cfg = cfgmod.parse(KALE_META, "katib_metadata")
    with pytest.raises(SpecError) as e:
        check_against(cfg.parameters, spec(ETA=("float", 0.2), MAX_DEPTH=("int", 3)), "katib_metadata.parameters")
    assert "'OBJECTIVE' is not a parameter" in e.value.message
    assert "ETA, MAX_DEPTH" in (e.value.hint or "")
    assert e.value.where == "katib_metadata.parameters[1].name"


def test_categorical_values_are_converted_to_the_pipeline_type() -> None:
    params = parse_katib([{"name": "c", "parameterType": "categorical", "feasibleSpace": {"list": ["1", "9", "15"]}}], "p")
    check_against(params, spec(c=("int", 1)), "p")
    assert params[0].values == [1, 9, 15]
    bad = parse_katib([{"name": "c", "parameterType": "categorical", "feasibleSpace": {"list": ["1", "x"]}}], "p")
    with pytest.raises(SpecError, match="value 'x' of 'c' does not fit the pipeline's int"):
        check_against(bad, spec(c=("int", 1)), "p")


def test_double_tuning_of_an_int_parameter_is_refused() -> None:
    params = parse_katib([{"name": "n", "parameterType": "double", "feasibleSpace": {"min": "1", "max": "2"}}], "p")
    with pytest.raises(SpecError, match="tuned as double but the pipeline's parameter is int"):
        check_against(params, spec(n=("int", 1)), "p")


@pytest.mark.parametrize("space, message, where", [
    ({"min": "5", "max": "1"}, "min 5 greater than max 1", "feasibleSpace"),
    ({"min": "1", "max": "5", "step": "9"}, "step 9, larger than its range 1..5", "feasibleSpace.step"),
    ({"min": "1", "max": "5", "step": "0"}, "step 0; it must be positive", "feasibleSpace.step"),
    ({"min": "a", "max": "5"}, "'a' is not a number", "feasibleSpace.min"),
    ({"max": "5"}, "needs a number here", "feasibleSpace.min"),
    ({"min": "1.5", "max": "5"}, "is not a whole number", "feasibleSpace.min"),
    ({"min": "0", "max": "5", "distribution": "logUniform"}, "logUniform but min is 0", "feasibleSpace.min"),
    ({"min": "1", "max": "5", "distribution": "cauchy"}, "distribution 'cauchy'", "feasibleSpace.distribution"),
])
def test_bad_ranges(space: dict, message: str, where: str) -> None:
    with pytest.raises(SpecError) as e:
        parse_katib([{"name": "b", "parameterType": "int", "feasibleSpace": space}], "meta.parameters")
    assert message in e.value.message
    assert e.value.where == f"meta.parameters[0].{where}"


def test_kales_own_test_metadata_fails_on_its_step() -> None:
    """Kale's katib test uses b: min 1, max 5, step 9 — a grid over it would only ever try 1."""
    meta = {"algorithm": {"algorithmName": "grid"},
            "objective": {"goal": 100, "objectiveMetricName": "result", "type": "maximize"},
            "parameters": [
                {"feasibleSpace": {"max": "50.0", "min": "1.0", "step": "10.0"}, "name": "a", "parameterType": "double"},
                {"feasibleSpace": {"max": "5", "min": "1", "step": "9"}, "name": "b", "parameterType": "int"},
                {"feasibleSpace": {"list": ["1", "9", "15"]}, "name": "c", "parameterType": "categorical"}],
            "parallelTrialCount": 1, "maxFailedTrialCount": 6, "maxTrialCount": 30}
    with pytest.raises(SpecError) as e:
        cfgmod.parse(meta, "katib_metadata")
    assert "parameter 'b' has step 9" in e.value.message
    assert "at most 4" in (e.value.hint or "")


def test_kale_panel_defaults_have_nothing_to_tune() -> None:
    """What Kale writes before anyone fills in its Katib panel (seen in real notebooks)."""
    meta = {"algorithm": {"algorithmName": "grid"}, "maxFailedTrialCount": 3, "maxTrialCount": 12,
            "objective": {"objectiveMetricName": "", "type": "minimize"}, "parallelTrialCount": 3,
            "parameters": []}
    with pytest.raises(SpecError, match="nothing to tune") as e:
        cfgmod.parse(meta, "nb.ipynb: katib_metadata")
    assert "--space" in (e.value.hint or "")
    meta["parameters"] = KALE_META["parameters"]
    with pytest.raises(SpecError, match="no objective metric") as e:
        cfgmod.parse(meta, "nb.ipynb: katib_metadata")
    assert e.value.where == "nb.ipynb: katib_metadata.objective.objectiveMetricName"


def test_unknown_algorithm_lists_the_known_ones() -> None:
    with pytest.raises(SpecError) as e:
        cfgmod.parse({**KALE_META, "algorithm": {"algorithmName": "annealing"}}, "m")
    assert "unknown algorithm 'annealing'" in e.value.message
    for name in ("random", "grid", "tpe", "multivariate-tpe", "bayesianoptimization", "cmaes", "sobol", "hyperband"):
        assert name in (e.value.hint or "")


def test_unknown_setting_is_an_error_and_unsupported_one_a_warning() -> None:
    with pytest.raises(SpecError) as e:
        cfgmod.parse(KALE_META, "m", algorithm="tpe", settings={"n_startup_trails": "3"})
    assert "has no setting 'n_startup_trails'" in e.value.message
    assert "n_startup_trials" in (e.value.hint or "")
    with pytest.raises(SpecError, match="not a valid int"):
        cfgmod.parse(KALE_META, "m", algorithm="tpe", settings={"n_startup_trials": "many"})
    with pytest.warns(UserWarning, match="setting 'acq_func' of bayesianoptimization is ignored"):
        cfg = cfgmod.parse(KALE_META, "m", algorithm="bayesianoptimization",
                           settings={"acq_func": "gp_hedge", "n_initial_points": "4"})
    assert cfg.algorithm.settings == {"n_initial_points": 4}


def test_grid_needs_a_step_for_doubles() -> None:
    meta = {**KALE_META, "parameters": [{"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}]}
    with pytest.raises(SpecError, match="grid search needs a step for double parameter 'x'"):
        cfgmod.parse(meta, "m")


def test_early_stopping_and_counts() -> None:
    with pytest.raises(SpecError, match="unknown early-stopping algorithm 'patience'"):
        cfgmod.parse(KALE_META, "m", early_stopping="patience")
    with pytest.raises(SpecError, match="hyperband already stops trials early"):
        cfgmod.parse(KALE_META, "m", algorithm="hyperband", early_stopping="medianstop")
    with pytest.raises(SpecError, match="parallelTrialCount is 0"):
        cfgmod.parse({**KALE_META, "parallelTrialCount": 0}, "m")
    with pytest.raises(SpecError, match="objective type 'largest'"):
        cfgmod.parse(KALE_META, "m", direction="largest")


def test_python_space_shorthand() -> None:
    params = from_python({"lr": (1e-4, 1e-1), "depth": (2, 8), "kernel": ["rbf", "linear"],
                          "n": range(10, 40, 10),
                          "c": {"parameterType": "double", "feasibleSpace": {"min": 0.1, "max": 10, "distribution": "logUniform"}}})
    kinds = {p.name: p.type for p in params}
    assert kinds == {"lr": "double", "depth": "int", "kernel": "categorical", "n": "discrete", "c": "double"}
    assert [p for p in params if p.name == "c"][0].log
    with pytest.raises(SpecError, match="space\\['x'\\] is 3"):
        from_python({"x": 3})


def test_a_list_of_two_numbers_is_refused_not_guessed_and_the_written_forms_work(tmp_path) -> None:
    """`lr: [0.001, 0.5]` in a --space file once became a choice of two values silently."""
    for bad in ({"lr": [0.001, 0.5]}, {"n": [1, 5]}):
        with pytest.raises(SpecError, match="a range or a choice of two values") as e:
            from_python(bad)
        assert e.value.where == f"space.{next(iter(bad))}"
        assert "{min: A, max: B}" in (e.value.hint or "")
    (lr,) = from_python({"lr": {"min": 0.001, "max": 0.5, "log": True}})
    assert (lr.type, lr.min, lr.max, lr.log) == ("double", 0.001, 0.5, True)
    (n,) = from_python({"n": {"min": 1, "max": 5, "step": 2}})
    assert n.type == "int" and n.grid() == [1, 3, 5]
    (two,) = from_python({"lr": {"choices": [0.001, 0.5]}})
    assert two.type == "discrete" and two.values == [0.001, 0.5]
    (opt,) = from_python({"opt": ["adam", "sgd"]})  # two words are no range: still a choice
    assert opt.type == "categorical" and opt.values == ["adam", "sgd"]
    with pytest.raises(SpecError, match="needs min and max"):
        from_python({"lr": {"min": 0.1}})
    with pytest.raises(SpecError, match="not typo"):
        from_python({"lr": {"min": 0.1, "max": 1.0, "typo": 3}})
    with pytest.raises(SpecError, match="choices must be a non-empty list"):
        from_python({"lr": {"choices": []}})
    f = tmp_path / "space.yaml"
    f.write_text("lr: [0.001, 0.5]\n")
    with pytest.raises(SpecError, match="a range or a choice"):
        from_python(cfgmod.load_space(f))
