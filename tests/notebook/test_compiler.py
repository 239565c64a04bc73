from __future__ import annotations

import json
import warnings

import pytest

from kiln.errors import NotebookError
from kiln.notebook import NotebookWarning, compile_notebook


def steps_of(spec):
    return {s.name: s for s in spec.steps}


def code_of(step):
    return "\n".join(c.source for c in step.cells)


def test_untagged_cells_continue_the_nearest_tagged_cell_and_skip_changes_nothing(notebook):
    nb = notebook([
        (None, "ignored_before_any_tag = 1"),
        (["imports"], "import math"),
        (None, "import os"),
        (["step:load"], "x = 1"),
        (["skip"], "debug = x * 100"),
        (None, "y = x + 1"),
        (["step:train", "prev:load"], "z = y * 2"),
    ])
    spec = compile_notebook(nb)
    s = steps_of(spec)
    assert list(s) == ["load", "train"]
    assert code_of(s["load"]) == "x = 1\ny = x + 1"
    assert [c.source for c in spec.prelude] == ["import math", "import os"]
    assert "ignored_before_any_tag" not in json.dumps(spec.to_dict())
    assert "debug" not in json.dumps(spec.to_dict())
    assert [(i.name, i.step) for i in s["train"].inputs] == [("y", "load")]
    assert s["load"].outputs == ["y"]


def test_a_step_seen_again_adds_its_cell_and_block_is_an_alias_for_step(notebook):
    nb = notebook([
        (["block:a"], "x = 1"),
        (["step:b", "prev:a"], "y = x"),
        (["step:a"], "w = 5"),
        (["step:c", "prev:a", "prev:b"], "print(w, y)"),
    ])
    s = steps_of(compile_notebook(nb))
    assert code_of(s["a"]) == "x = 1\nw = 5"
    assert s["c"].after == ["a", "b"]
    assert {(i.name, i.step) for i in s["c"].inputs} == {("w", "a"), ("y", "b")}


def test_parameters_are_typed_and_a_step_depends_only_on_what_it_reads(notebook):
    nb = notebook([
        (["pipeline-parameters"], "N = 3\nRATE = 0.5\nNAME = 'x'\nON = True\nL = [1, 2]\nD = {'a': 1}"),
        (["step:a"], "out = N * 2"),
        (["step:b", "prev:a"], "res = out * RATE"),
    ])
    spec = compile_notebook(nb)
    assert [(p.name, p.type, p.default) for p in spec.parameters] == [
        ("N", "int", 3), ("RATE", "float", 0.5), ("NAME", "str", "x"), ("ON", "bool", True),
        ("L", "list", [1, 2]), ("D", "dict", {"a": 1})]
    s = steps_of(spec)
    assert s["a"].params_used() == ["N"]
    assert s["b"].params_used() == ["RATE"]


def test_nearest_ancestor_wins_when_a_variable_is_redefined(notebook):
    nb = notebook([
        (["step:a"], "df = 1"),
        (["step:b", "prev:a"], "df = df + 1"),
        (["step:c", "prev:b"], "print(df)"),
    ])
    s = steps_of(compile_notebook(nb))
    assert [(i.name, i.step) for i in s["c"].inputs] == [("df", "b")]
    assert [(i.name, i.step) for i in s["b"].inputs] == [("df", "a")]


def test_two_parallel_steps_assigning_a_name_the_later_one_wins_with_a_warning(notebook):
    # Kale never refuses this; a kernel running the cells top to bottom holds the value the
    # later cell assigned. We take that one and say that the other branch's is not seen.
    nb = notebook([
        (["step:root"], "base = 1"),
        (["step:left", "prev:root"], "v = base + 1"),
        (["step:right", "prev:root"], "v = base + 2"),
        (["step:join", "prev:left", "prev:right"], "print(v)"),
    ])
    with pytest.warns(NotebookWarning, match="reads 'v' as step 'right' left it; 'left' also") as w:
        s = steps_of(compile_notebook(nb))
    assert [(i.name, i.step) for i in s["join"].inputs] == [("v", "right")]
    assert "cell 4, line 1" in str(w[0].message)


def test_a_join_after_a_fan_out_reads_a_value_the_branches_only_passed_on(notebook):
    # The false conflict Kale never had: both branches read y_test, neither assigns it.
    nb = notebook([
        (["step:split"], "x_test = [1, 2]\ny_test = [0, 1]"),
        (["step:cat", "prev:split"], "p_cat = [v * 2 for v in x_test]\nacc_cat = len(y_test)"),
        (["step:lgb", "prev:split"], "p_lgb = [v * 3 for v in x_test]\nacc_lgb = len(y_test)"),
        (["step:ensembling", "prev:cat", "prev:lgb"], "print(p_cat, p_lgb, y_test)"),
    ])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = steps_of(compile_notebook(nb))
    assert {(i.name, i.step) for i in s["ensembling"].inputs} == {
        ("p_cat", "cat"), ("p_lgb", "lgb"), ("y_test", "split")}
    assert s["cat"].outputs == ["p_cat"]


def test_a_value_changed_in_place_is_read_from_the_step_that_changed_it(notebook):
    nb = notebook([
        (["step:load"], "df = {'a': 1}"),
        (["step:clean", "prev:load"], "df['b'] = 2"),
        (["step:report", "prev:clean"], "print(df)"),
    ])
    s = steps_of(compile_notebook(nb))
    assert [(i.name, i.step) for i in s["report"].inputs] == [("df", "clean")]
    assert s["clean"].outputs == ["df"]


def test_pipeline_metrics_cell_adds_a_metrics_step(notebook):
    nb = notebook([
        (["pipeline-parameters"], "K = 2"),
        (["step:train"], "acc = 0.9"),
        (["pipeline-metrics"], "print(acc)\nprint(K)"),
    ])
    s = steps_of(compile_notebook(nb))
    m = s["pipeline_metrics"]
    assert m.kind == "metrics"
    assert [(i.name, i.step, i.param) for i in m.inputs] == [("acc", "train", None),
                                                             ("K", None, "K")]
    assert s["train"].outputs == ["acc"]


def test_limits_labels_annotations_and_kale_metadata_are_kept(notebook):
    meta = {"pipeline_name": "my pipe", "experiment_name": "exp1", "docker_image": "img:1",
            "pipeline_description": "d", "volumes": [], "some_future_key": {"x": 1},
            "steps_defaults": ["label:team:ml"]}
    nb = notebook([
        (["step:a", "limit:nvidia.com/gpu:2", "label:app:kiln", "annotation:note:hello",
          "cache:disabled"], "x = 1"),
    ], metadata=meta)
    spec = compile_notebook(nb)
    a = spec.steps[0]
    assert a.limits == {"nvidia.com/gpu": "2"}
    assert a.labels == {"team": "ml", "app": "kiln"}
    assert a.annotations == {"note": "hello"}
    assert a.cache is False
    assert a.image is None  # docker_image is the KFP compile's fallback after --image
    assert spec.name == "my-pipe" and spec.experiment == "exp1" and spec.description == "d"
    assert spec.metadata["kubeflow_notebook"]["some_future_key"] == {"x": 1}


# --- bad input: each names the notebook, cell and line -----------------------------------


def test_not_a_notebook(tmp_path):
    p = tmp_path / "x.ipynb"
    p.write_text('{"hello": 1}')
    with pytest.raises(NotebookError, match="not a notebook"):
        compile_notebook(p)


def test_invalid_json_names_the_line(tmp_path):
    p = tmp_path / "x.ipynb"
    p.write_text('{"cells": [\n  {"cell_type": ')
    with pytest.raises(NotebookError) as e:
        compile_notebook(p)
    assert "invalid JSON" in e.value.message and "line 2" in e.value.where


def test_old_nbformat_is_refused_with_how_to_upgrade(notebook):
    nb = notebook([(["step:a"], "x = 1")], nbformat=3)
    with pytest.raises(NotebookError, match="too old") as e:
        compile_notebook(nb)
    assert "nbconvert" in e.value.hint


def test_unknown_tag(notebook):
    nb = notebook([(["step:a"], "x = 1"), (["stepp:b"], "y = 2")])
    with pytest.raises(NotebookError, match="unknown tag 'stepp:b'") as e:
        compile_notebook(nb)
    assert e.value.where.endswith("cell 2")


def test_invalid_step_name(notebook):
    nb = notebook([(["step:Load-Data"], "x = 1")])
    with pytest.raises(NotebookError, match="unknown tag 'step:Load-Data'") as e:
        compile_notebook(nb)
    assert "lowercase" in e.value.hint


def test_prev_naming_no_step_above(notebook):
    nb = notebook([(["step:a"], "x = 1"), (["step:b", "prev:zzz"], "y = 2")])
    with pytest.raises(NotebookError, match="prev:zzz names no step") as e:
        compile_notebook(nb)
    assert "cell 2" in e.value.where and "a" in e.value.hint


def test_a_cycle_is_reported(notebook):
    nb = notebook([
        (["step:a"], "x = 1"),
        (["step:b", "prev:a"], "y = 2"),
        (["step:a", "prev:b"], "z = 3"),
    ])
    with pytest.raises(NotebookError, match="cycle"):
        compile_notebook(nb)


def test_parameter_cell_with_a_non_literal(notebook):
    nb = notebook([(["pipeline-parameters"], "A = 1\nB = A * 2"), (["step:a"], "x = A")])
    with pytest.raises(NotebookError, match="parameter 'B' must be a literal") as e:
        compile_notebook(nb)
    assert e.value.where.endswith("cell 1, line 2")


def test_duplicate_parameter(notebook):
    nb = notebook([(["pipeline-parameters"], "A = 1"), (["pipeline-parameters"], "A = 2"),
                   (["step:a"], "x = A")])
    with pytest.raises(NotebookError, match="duplicate parameter 'A'"):
        compile_notebook(nb)


def test_no_steps(notebook):
    nb = notebook([(["imports"], "import os"), (None, "x = 1")])
    with pytest.raises(NotebookError, match="no steps"):
        compile_notebook(nb)


def test_undefined_name_names_variable_cell_and_line(notebook):
    nb = notebook([
        (["step:a"], "x = 1"),
        (["step:b", "prev:a"], "y = x\nz = undefined_thing + 1"),
    ])
    with pytest.raises(NotebookError, match="'undefined_thing'") as e:
        compile_notebook(nb)
    assert e.value.where == "pipeline.ipynb, cell 2, line 2"


def test_name_from_a_step_that_is_not_an_ancestor_is_undefined(notebook):
    nb = notebook([(["step:a"], "x = 1"), (["step:b"], "y = x")])
    with pytest.raises(NotebookError, match="'a' does not run before 'b'") as e:
        compile_notebook(nb)
    assert "prev:a" in e.value.hint


def test_syntax_error_points_at_cell_and_line(notebook):
    nb = notebook([(["step:a"], "x = 1\ny = (")])
    with pytest.raises(NotebookError, match="syntax error") as e:
        compile_notebook(nb)
    assert "cell 1, line 2" in e.value.where


def test_step_after_pipeline_metrics(notebook):
    nb = notebook([(["step:a"], "x = 1"), (["pipeline-metrics"], "print(x)"),
                   (["step:b"], "y = 2")])
    with pytest.raises(NotebookError, match="after the pipeline-metrics"):
        compile_notebook(nb)


def test_metrics_cell_must_only_print_names(notebook):
    nb = notebook([(["step:a"], "x = 1"), (["pipeline-metrics"], "print(x + 1)")])
    with pytest.raises(NotebookError, match="print\\(accuracy\\)"):
        compile_notebook(nb)


def test_notebook_composition_is_refused_clearly(notebook):
    nb = notebook([(["notebook:other"], "x = 1")])
    with pytest.raises(NotebookError, match="composition"):
        compile_notebook(nb)


def test_kale_parameters_and_metrics_notebook_compiles_unchanged(kale_notebooks):
    spec = compile_notebook(kale_notebooks / "pipeline_parameters_and_metrics.ipynb")
    assert [s.name for s in spec.steps] == ["create_matrix", "sum_matrix", "pipeline_metrics"]
    assert spec.steps[0].limits == {"nvidia.com/gpu": "2"}
    assert spec.steps[0].cache is True  # its cache:enabled tag beats enable_caching: false
    assert spec.steps[1].cache is False


@pytest.mark.parametrize("name", ["mount_pvc.ipynb", "mount_pvc_env_var.ipynb"])
def test_kale_notebooks_missing_a_prev_tag_get_a_clear_error(kale_notebooks, name):
    # Kale's own test notebooks read `data_path` in `train` without `prev:load`; Kale emits
    # a step that would fail with NameError at run time. We say so at compile time.
    with pytest.raises(NotebookError, match="'load' does not run before 'train'") as e:
        compile_notebook(kale_notebooks / name)
    assert e.value.where == f"{name}, cell 3, line 1"
