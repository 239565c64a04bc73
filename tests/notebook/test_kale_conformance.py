"""Kale's own expectations, case by case, against ours.

Each case restates one of Kale's unit tests (backend/kale/tests/unit_tests in
kubeflow-kale/kale: test_dependencies.py, test_parser.py, test_utils.py) as a notebook:
the same code in the same steps, linked the same way. `kale` is what Kale's test asserts;
`ours` is what kilnflow does. Where they differ, docs/kale-compatibility.md says why ours
gives the same results; the run tests in tests/engine/test_kernel_semantics.py show it.
"""

from __future__ import annotations

import warnings

import pytest

from kiln.notebook import NotebookWarning, compile_notebook


def chain(imports: str | None, *sources: str, edges: list[tuple[str, str]] | None = None,
          names: list[str] | None = None):
    """Steps step1..stepN (or `names`), each after the one before unless `edges` says."""
    names = names or [f"step{i + 1}" for i in range(len(sources))]
    parents: dict[str, list[str]] = {n: [] for n in names}
    if edges is None:
        edges = list(zip(names, names[1:], strict=False))
    for a, b in edges:
        parents[b].append(a)
    cells = [(["imports"], imports)] if imports else []
    for n, src in zip(names, sources, strict=True):
        cells.append(([f"step:{n}"] + [f"prev:{p}" for p in parents[n]], src))
    return cells


def ins_outs(spec):
    return {s.name: (sorted(i.name for i in s.inputs if i.step), sorted(s.outputs))
            for s in spec.steps}


def params_of(spec):
    return {s.name: sorted(s.params_used()) for s in spec.steps}


# (case, cells, Kale's ins/outs per step, ours)
CASES = [
    ("free_variable",
     chain(None, "x = 5", "def foo():\n   print(x)", "foo()"),
     {"step1": ([], ["x"]), "step2": (["x"], ["foo", "x"]), "step3": (["foo", "x"], [])},
     {"step1": ([], ["x"]), "step2": (["x"], ["foo"]), "step3": (["foo", "x"], [])}),
    ("inner_function",
     chain(None, "x = 5", "def foo():\n    def bar(x):\n        print(x)\n    bar(5)",
           "foo()\nprint(x)"),
     {"step1": ([], ["x"]), "step2": ([], ["foo"]), "step3": (["foo", "x"], [])},
     {"step1": ([], ["x"]), "step2": ([], ["foo"]), "step3": (["foo", "x"], [])}),
    ("inner_function_free_variable",
     chain(None, "x = 5", "def foo():\n    def bar():\n        print(x)", "foo()"),
     {"step1": ([], ["x"]), "step2": (["x"], ["foo", "x"]), "step3": (["foo", "x"], [])},
     {"step1": ([], ["x"]), "step2": (["x"], ["foo"]), "step3": (["foo", "x"], [])}),
    ("with_parameter",
     chain(None, "x = 5", "def foo(x):\n    def bar():\n        print(x)", "foo(5)"),
     {"step1": ([], []), "step2": ([], ["foo"]), "step3": (["foo"], [])},
     {"step1": ([], []), "step2": ([], ["foo"]), "step3": (["foo"], [])}),
    ("with_globals",
     chain("import math", "x = 5", "def foo(x):\n    def bar():\n        math.sqrt(x)\n    bar()",
           "foo(5)"),
     {"step1": ([], []), "step2": ([], ["foo"]), "step3": (["foo"], [])},
     {"step1": ([], []), "step2": ([], ["foo"]), "step3": (["foo"], [])}),
    ("with_try_except",
     chain(None, "x = 5\ny = 6",
           "try:\n    def foo():\n        print(x)\n    def bar():\n        print(y)\nexcept:\n    pass",
           "foo()\nbar()"),
     {"step1": ([], ["x", "y"]), "step2": (["x", "y"], ["bar", "foo", "x", "y"]),
      "step3": (["bar", "foo", "x", "y"], [])},
     {"step1": ([], ["x", "y"]), "step2": (["x", "y"], ["bar", "foo"]),
      "step3": (["bar", "foo", "x", "y"], [])}),
    ("recursive",
     chain(None, "x = 5", "def foo():\n    print(x)\ndef bar():\n    foo()", "bar()"),
     {"step1": ([], ["x"]), "step2": (["x"], ["bar", "foo", "x"]),
      "step3": (["bar", "foo", "x"], [])},
     {"step1": ([], ["x"]), "step2": (["x"], ["bar", "foo"]),
      "step3": (["bar", "foo", "x"], [])}),
    ("recursive_different_steps",
     chain(None, "x = 5\ndef foo():\n    print(x)", "def bar():\n    foo()", "bar()"),
     {"step1": ([], ["foo", "x"]), "step2": (["foo", "x"], ["bar", "foo", "x"]),
      "step3": (["bar", "foo", "x"], [])},
     {"step1": ([], ["foo", "x"]), "step2": (["foo", "x"], ["bar"]),
      "step3": (["bar", "foo", "x"], [])}),
    ("recursive_different_steps_long",
     chain(None, "x = 5\ndef init():\n    print(x)", "def foo():\n    init()",
           "def bar():\n    foo()", "bar()", names=["step0", "step1", "step2", "step3"]),
     {"step0": ([], ["init", "x"]), "step1": (["init", "x"], ["foo", "init", "x"]),
      "step2": (["foo", "init", "x"], ["bar", "foo", "init", "x"]),
      "step3": (["bar", "foo", "init", "x"], [])},
     {"step0": ([], ["init", "x"]), "step1": (["init", "x"], ["foo"]),
      "step2": (["foo", "init", "x"], ["bar"]),
      "step3": (["bar", "foo", "init", "x"], [])}),
    ("recursive_different_steps_branch",
     chain(None, "x = 5\ny = 6", "def foo():\n    print(x)", "def bar():\n    print(y)",
           "def result():\n    foo()\n    bar()", "result()",
           names=["step0", "step_l", "step_r", "step_m", "step_f"],
           edges=[("step0", "step_l"), ("step0", "step_r"), ("step_l", "step_m"),
                  ("step_r", "step_m"), ("step_m", "step_f")]),
     {"step0": ([], ["x", "y"]), "step_l": (["x"], ["foo", "x"]), "step_r": (["y"], ["bar", "y"]),
      "step_m": (["bar", "foo", "x", "y"], ["bar", "foo", "result", "x", "y"]),
      "step_f": (["bar", "foo", "result", "x", "y"], [])},
     {"step0": ([], ["x", "y"]), "step_l": (["x"], ["foo"]), "step_r": (["y"], ["bar"]),
      "step_m": (["bar", "foo", "x", "y"], ["result"]),
      "step_f": (["bar", "foo", "result", "x", "y"], [])}),
]


@pytest.mark.parametrize("case,cells,kale,ours", CASES, ids=[c[0] for c in CASES])
def test_dependency_detection_matches_kale_or_the_documented_difference(
        notebook, case, cells, kale, ours):
    spec = compile_notebook(notebook(cells))
    got = ins_outs(spec)
    assert got == ours
    # Every step reads what it reads in Kale. The one difference (documented) is in the
    # outputs: a step no longer re-sends values it merely received; the reader takes them
    # from the step that made them, so they are stored once.
    for step, (kale_ins, kale_outs) in kale.items():
        assert got[step][0] == kale_ins, step
        assert set(got[step][1]) <= set(kale_outs), step
    # And nothing a step reads comes from nowhere: each input is an output of its source.
    for s in spec.steps:
        for i in s.inputs:
            if i.step:
                assert i.name in next(t for t in spec.steps if t.name == i.step).outputs


def test_pipeline_parameters_read_by_a_function_reach_every_step_that_calls_it(notebook):
    # Kale's test_dependencies_detection_with_pipeline_parameters: step2 and step3 both get
    # the parameter y (step3 through foo).
    cells = [(["pipeline-parameters"], "y = 5")] + chain(
        "import math", "x = 5", "def foo(x):\n    def bar():\n        math.sqrt(x + y)\n    bar()",
        "foo(5)")
    spec = compile_notebook(notebook(cells))
    assert params_of(spec) == {"step1": [], "step2": ["y"], "step3": ["y"]}
    assert ins_outs(spec)["step3"] == (["foo"], [])


# --- test_parser.py / tag language ---------------------------------------------------------

def test_special_tag_wins_over_step_and_prev_tags_with_one_warning(notebook):
    nb = notebook([
        (["step:a"], "x = 1"),
        (["prev:a", "imports", "step:b"], "import math"),
        (["step:c", "prev:a"], "y = math.sqrt(x)"),
    ])
    with pytest.warns(NotebookWarning, match=r"cell 2: tag\(s\) 'prev:a', 'step:b' ignored: "
                      r"'imports' decides this cell"):
        spec = compile_notebook(nb)
    assert [s.name for s in spec.steps] == ["a", "c"]
    assert [c.source for c in spec.prelude] == ["import math"]


def test_skip_wins_over_a_step_tag(notebook):
    nb = notebook([(["step:a"], "x = 1"), (["step:b", "skip"], "raise SystemExit")])
    with pytest.warns(NotebookWarning, match="'step:b' ignored: 'skip' decides"):
        spec = compile_notebook(nb)
    assert [s.name for s in spec.steps] == ["a"]


@pytest.mark.parametrize("tag", ["block:", "step:"])
def test_a_nameless_step_tag_continues_the_cell_above_and_its_prev_is_ignored(notebook, tag):
    nb = notebook([
        (["step:a"], "x = 1"),
        (["step:b", "prev:a"], "y = x"),
        ([tag, "prev:a"], "z = y + 1"),
    ])
    with pytest.warns(NotebookWarning, match=f"'{tag}' names no step"):
        spec = compile_notebook(nb)
    b = next(s for s in spec.steps if s.name == "b")
    assert [c.source for c in b.cells] == ["y = x", "z = y + 1"]
    assert b.after == ["a"]


@pytest.mark.parametrize("tag", ["prev:a", "limit:nvidia.com/gpu:1", "annotation:team:ml"])
def test_step_options_on_an_untagged_cell_are_refused_as_kale_does(notebook, tag):
    nb = notebook([(["step:a"], "x = 1"), (["step:b"], "y = 2"), ([tag], "z = 3")])
    from kiln.errors import NotebookError

    with pytest.raises(NotebookError, match="on a cell with no step tag") as e:
        compile_notebook(nb)
    assert e.value.where.endswith("cell 3") and tag in e.value.message


def test_a_label_on_an_untagged_cell_is_ignored_with_a_warning(notebook):
    nb = notebook([(["step:a"], "x = 1"), (["label:team:ml"], "y = 2")])
    with pytest.warns(NotebookWarning, match="'label:team:ml' ignored"):
        spec = compile_notebook(nb)
    assert spec.steps[0].labels == {}


def test_a_step_with_no_code_is_accepted_with_a_warning(notebook):
    nb = notebook([(["step:a"], "x = 1"), (["step:b", "prev:a"], "# TODO\n")])
    with pytest.warns(NotebookWarning, match="step 'b' has no code"):
        spec = compile_notebook(nb)
    assert [s.name for s in spec.steps] == ["a", "b"]


def test_a_cell_with_two_step_names_is_refused(notebook):
    from kiln.errors import NotebookError

    with pytest.raises(NotebookError, match="second step name"):
        compile_notebook(notebook([(["step:a", "step:b"], "x = 1")]))


# --- test_utils.py: magics -----------------------------------------------------------------

def test_python_cell_magics_keep_their_body(notebook):
    nb = notebook([(["step:a"], "%%time\nx = 1\ny = x + 1"),
                   (["step:b", "prev:a"], "%%capture out\nprint(y)")])
    with pytest.warns(NotebookWarning, match="the body runs as Python"):
        spec = compile_notebook(nb)
    a, b = spec.steps
    assert "x = 1\ny = x + 1" in a.cells[0].source and a.outputs == ["y"]
    assert [i.name for i in b.inputs] == ["y"]


def test_shell_cell_magics_are_dropped_with_a_warning_naming_the_cell(notebook):
    nb = notebook([(["step:a"], "x = 1"), (None, "%%bash\necho hi\nls")])
    with pytest.warns(NotebookWarning, match=r"cell 2, line 1: dropped the cell: its magic "
                      r"'%%bash' runs no Python"):
        spec = compile_notebook(nb)
    assert "echo" not in "".join(c.source for c in spec.steps[0].cells)


def test_line_magics_and_shell_lines_are_dropped(notebook):
    nb = notebook([(["imports"], "!pip install foo\n%matplotlib inline\nimport math"),
                   (["step:a"], "x = math.pi\nfiles = !ls")])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        spec = compile_notebook(nb)
    text = "\n".join(str(x.message) for x in w)
    assert "dropped non-Python line: !pip install foo" in text
    assert "dropped non-Python line: files = !ls" in text
    assert "math.pi" in spec.steps[0].cells[0].source


# --- test_ast.py: pipeline-parameters and pipeline-metrics cells ---------------------------

@pytest.mark.parametrize("code,expected", [
    ('a = "a"', ("a", "str", "a")),
    ("a = 3", ("a", "int", 3)),
    ("a = 2.", ("a", "float", 2.0)),
    ("a = True", ("a", "bool", True)),
    # Kale refuses lists; kilnflow takes them (KFP has LIST parameters): a superset
    ("a = [2]", ("a", "list", [2])),
])
def test_parameter_cells_read_as_kale_reads_them(notebook, code, expected):
    spec = compile_notebook(notebook([(["pipeline-parameters"], code), (["step:s"], "x = a")]))
    p = spec.parameters[0]
    assert (p.name, p.type, p.default) == expected


@pytest.mark.parametrize("code", ["a = None", "a + 1", "a, b = 3", "a = b = 3", "a = b"])
def test_parameter_cells_kale_refuses_are_refused_with_the_line(notebook, code):
    from kiln.errors import NotebookError

    nb = notebook([(["pipeline-parameters"], code), (["step:s"], "x = 1")])
    with pytest.raises(NotebookError) as e:
        compile_notebook(nb)
    assert e.value.where.endswith("cell 1, line 1")


def test_metrics_cells_read_as_kale_reads_them(notebook):
    nb = notebook([(["step:s"], "a = 1.0\nvar = 2.0\ntest_var = 3.0"),
                   (["pipeline-metrics"], "print(a)\nprint(var)\nprint(test_var)")])
    m = next(s for s in compile_notebook(nb).steps if s.kind == "metrics")
    # Kale names the KFP metric test-var; kilnflow keeps the variable's name
    assert [i.name for i in m.inputs] == ["a", "var", "test_var"]


@pytest.mark.parametrize("code", ["print(foo())", "variable", "print(var)\nname"])
def test_metrics_cells_kale_refuses_are_refused(notebook, code):
    from kiln.errors import NotebookError

    nb = notebook([(["step:s"], "var = 1\nvariable = 2\nname = 3\ndef foo():\n    return 1"),
                   (["pipeline-metrics"], code)])
    with pytest.raises(NotebookError, match="print\\(accuracy\\)"):
        compile_notebook(nb)
