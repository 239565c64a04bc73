"""A notebook's steps give the answers the notebook gives when its cells run top to bottom
in one kernel: functions look their globals up when called, in the calling step."""

from __future__ import annotations

import warnings

import kiln


def run_quietly(nb, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = kiln.run(nb, **kw)
    assert run.status == "succeeded", run.error
    return run


def test_a_function_reads_the_value_current_in_the_calling_step(notebook):
    nb = notebook([
        (["step:a"], "x = 5\ndef foo():\n    return x"),
        (["step:b", "prev:a"], "x = 7\nresult = foo()"),
        (["pipeline-metrics"], "print(result)"),
    ])
    assert run_quietly(nb).metrics["result"] == 7  # the kernel's answer (and Kale's)


def test_inner_recursive_and_cross_step_functions_see_the_calling_steps_globals(notebook):
    nb = notebook([
        (["pipeline-parameters"], "SCALE = 10"),
        (["step:s0"], "x = 1\ndef init():\n    return x * SCALE"),
        (["step:s1", "prev:s0"], "def fact(n):\n    return 1 if n <= 1 else n * fact(n - 1)\n"
                                 "def outer():\n    def inner():\n        return init() + fact(3)\n"
                                 "    return inner()"),
        (["step:s2", "prev:s1"], "x = 2\nr2 = outer()"),
        (["step:s3", "prev:s1"], "r3 = outer()"),
        (["pipeline-metrics"], "print(r2)\nprint(r3)"),
    ])
    run = run_quietly(nb, params={"SCALE": 100})
    assert run.metrics["r2"] == 2 * 100 + 6  # x rebound in s2
    assert run.metrics["r3"] == 1 * 100 + 6  # x from s0


def test_a_function_from_the_functions_cell_reads_step_values(notebook):
    nb = notebook([
        (["functions"], "def total():\n    return sum(values)"),
        (["step:a"], "values = [1, 2, 3]"),
        (["step:b", "prev:a"], "t = total()"),
        (["pipeline-metrics"], "print(t)"),
    ])
    assert run_quietly(nb).metrics["t"] == 6


def test_methods_of_a_class_defined_in_a_step_see_the_calling_steps_globals(notebook):
    nb = notebook([
        (["step:a"], "factor = 2\nclass Model:\n    def predict(self, v):\n        return v * factor\n"
                     "m = Model()"),
        (["step:b", "prev:a"], "factor = 3\np = m.predict(5)\nq = Model().predict(1)"),
        (["pipeline-metrics"], "print(p)\nprint(q)"),
    ])
    run = run_quietly(nb)
    assert (run.metrics["p"], run.metrics["q"]) == (15, 3)


def test_a_dataframe_changed_in_place_reaches_the_join_after_a_fan_out(notebook):
    nb = notebook([
        (["imports"], "import pandas as pd"),
        (["step:load"], "df = pd.DataFrame({'a': [1, 2, 3]})"),
        (["step:clean", "prev:load"], "df['b'] = df['a'] * 10"),
        (["step:left", "prev:clean"], "left = int(df['b'].sum())"),
        (["step:right", "prev:clean"], "right = int(df['a'].sum())"),
        (["step:join", "prev:left", "prev:right"], "total = left + right + len(df.columns)"),
        (["pipeline-metrics"], "print(total)"),
    ])
    run = run_quietly(nb)
    assert run.metrics["total"] == 60 + 6 + 2


def test_writefile_writes_the_module_a_later_step_imports(notebook):
    nb = notebook([
        (["step:write"], "%%writefile helper_mod.py\ndef triple(v):\n    return 3 * v"),
        (["step:use", "prev:write"], "import helper_mod\nr = helper_mod.triple(4)"),
        (["pipeline-metrics"], "print(r)"),
    ])
    run = run_quietly(nb)
    assert run.metrics["r"] == 12
    assert (nb.parent / "helper_mod.py").read_text() == "def triple(v):\n    return 3 * v\n"
