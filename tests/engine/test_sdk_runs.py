from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import kiln
from kiln.errors import ParameterError, PipelineDefinitionError, TargetError
from tests.conftest import sigint_as_terminal

PIPES = '''
import os
import kiln

def bump(name):
    """Count executions in a file, so tests can see which steps really ran."""
    path = os.path.join(os.environ["COUNT_DIR"], name)
    n = 1
    if os.path.exists(path):
        with open(path) as f:
            n = int(f.read()) + 1
    with open(path, "w") as f:
        f.write(str(n))
    return n

@kiln.step
def make(n: int) -> list:
    bump("make")
    print(f"making {n}")
    return list(range(n))

@kiln.step
def split(xs: list) -> tuple[list, list]:
    bump("split")
    return xs[::2], xs[1::2]

@kiln.step(outputs=("total", "count"))
def summarize(a: list, b: list, scale: float):
    bump("summarize")
    kiln.log_metric("total", (sum(a) + sum(b)) * scale)
    for i, v in enumerate(a):
        kiln.log_metric("series", v, step=i)
    return (sum(a) + sum(b)) * scale, len(a) + len(b)

@kiln.pipeline(name="numbers", experiment="tests")
def numbers(n: int = 6, scale: float = 1.0):
    evens, odds = split(make(n))
    summarize(evens, odds, scale)

@kiln.step(retries=2)
def flaky() -> str:
    if bump("flaky") < 3:
        raise RuntimeError("not yet")
    return "ok"

@kiln.pipeline
def retrying():
    flaky()

@kiln.step
def boom(x: int) -> int:
    raise ValueError(f"bad value {x}")

@kiln.step
def after_boom(y: int) -> int:
    bump("after_boom")
    return y

@kiln.step
def independent() -> int:
    bump("independent")
    return 1

@kiln.pipeline
def failing(x: int = 3):
    after_boom(boom(x))
    independent()

@kiln.step(timeout=0.5)
def slow() -> None:
    import time
    time.sleep(30)

@kiln.pipeline
def too_slow():
    slow()

@kiln.step
def give_file() -> object:
    return (i for i in range(3))  # a generator: nothing can serialize it

@kiln.pipeline
def unsaveable():
    give_file()

@kiln.step
def sleeper() -> None:
    import time
    print("sleeping", flush=True)
    time.sleep(60)

@kiln.pipeline
def sleepy():
    sleeper()
'''


@pytest.fixture
def pipes(module, tmp_path, monkeypatch):
    counts = tmp_path / "counts"
    counts.mkdir()
    monkeypatch.setenv("COUNT_DIR", str(counts))
    path = module(PIPES)

    def count(step):
        p = counts / step
        return int(p.read_text()) if p.exists() else 0

    return path, count


def test_values_flow_between_steps_with_tuple_outputs_params_and_metrics(pipes):
    path, count = pipes
    run = kiln.run(f"{path}:numbers", params={"n": 10})
    assert run.status == "succeeded", run.error
    assert run.params == {"n": 10, "scale": 1.0}
    assert run.outputs["split"]["output_0"] == [0, 2, 4, 6, 8]
    assert run.output("summarize", "total") == 45.0
    assert kiln.load(run.id, "summarize", "count") == 10
    assert run.metrics["total"] == 45.0
    assert "making 10" in run.logs("make")
    assert run.info.experiment == "tests"


def test_rerun_is_cached_and_a_changed_parameter_reruns_only_dependent_steps(pipes):
    path, count = pipes
    kiln.run(f"{path}:numbers").raise_for_status()
    again = kiln.run(f"{path}:numbers")
    assert set(again.steps.values()) == {"cached"}
    assert again.metrics["total"] == 15.0  # metrics come along with cached steps
    assert (count("make"), count("split"), count("summarize")) == (1, 1, 1)
    changed = kiln.run(f"{path}:numbers", params={"scale": 2.0})
    assert changed.steps == {"make": "cached", "split": "cached", "summarize": "succeeded"}
    assert changed.output("summarize", "total") == 30.0
    assert (count("make"), count("split"), count("summarize")) == (1, 1, 2)
    kiln.run(f"{path}:numbers", cache=False).raise_for_status()
    assert count("make") == 2


def test_retries_run_a_failing_step_again(pipes):
    path, count = pipes
    run = kiln.run(f"{path}:retrying")
    assert run.status == "succeeded"
    assert count("flaky") == 3
    assert run.info.tasks[0].attempts == 3


def test_a_failing_step_fails_the_run_and_skips_only_its_downstream(pipes):
    path, count = pipes
    run = kiln.run(f"{path}:failing")
    assert run.status == "failed"
    assert run.steps["boom"] == "failed"
    assert run.steps["after_boom"] == "skipped"
    assert run.steps["independent"] == "succeeded"
    assert count("after_boom") == 0
    assert "ValueError: bad value 3" in run.error
    assert "pipes.py" in run.error  # where in the user's code
    log = run.logs("boom")
    assert "Traceback" in log and "raise ValueError" in log and "kiln/engine" not in log


def test_a_step_over_its_timeout_is_stopped(pipes):
    path, _ = pipes
    t = time.monotonic()
    run = kiln.run(f"{path}:too_slow")
    assert run.status == "failed"
    assert "timed out after 0.5s" in run.error
    assert time.monotonic() - t < 20


def test_a_value_no_codec_can_write_names_variable_step_type_and_fix(pipes):
    path, _ = pipes
    run = kiln.run(f"{path}:unsaveable")
    assert run.status == "failed"
    assert "'output' of step 'give_file'" in run.error
    assert "generator" in run.error
    assert "register_codec" in run.error


def test_unknown_parameter_and_bad_values_are_rejected_before_running(pipes):
    path, _ = pipes
    with pytest.raises(ParameterError, match="unknown parameter 'nn'") as e:
        kiln.run(f"{path}:numbers", params={"nn": 3})
    assert "n, scale" in e.value.hint
    with pytest.raises(ParameterError, match="'n' is a int; 'ten' is not"):
        kiln.run(f"{path}:numbers", params={"n": "ten"})
    assert kiln.run(f"{path}:numbers", params={"n": "4"}).params["n"] == 4


def test_target_errors(pipes, tmp_path):
    path, _ = pipes
    with pytest.raises(TargetError, match="no such file"):
        kiln.run(tmp_path / "nope.ipynb")
    with pytest.raises(TargetError, match="defines 6 pipelines; say which one"):
        kiln.run(path)
    with pytest.raises(TargetError, match="has no 'missing'"):
        kiln.run(f"{path}:missing")
    with pytest.raises(TargetError, match="is not a @kiln.pipeline"):
        kiln.run(f"{path}:bump")


def test_pipeline_definition_errors(module):
    path = module('''
import kiln

@kiln.step
def s(x):
    return x

@kiln.pipeline
def no_default(x: int):
    s(x)

@kiln.pipeline
def uses_param_as_value(x: int = 1):
    if x > 0:
        s(x)

@kiln.pipeline
def bad_argument():
    s(object())

@kiln.pipeline
def empty():
    pass
''', name="defs")
    with pytest.raises(PipelineDefinitionError, match="'x' has no default"):
        kiln.compile(f"{path}:no_default")
    with pytest.raises(PipelineDefinitionError, match="placeholder"):
        kiln.compile(f"{path}:uses_param_as_value")
    with pytest.raises(PipelineDefinitionError, match="must be a step output") as e:
        kiln.compile(f"{path}:bad_argument")
    assert "defs.py, line 19" in e.value.where
    with pytest.raises(kiln.SpecError, match="has no steps"):
        kiln.compile(f"{path}:empty")


def test_steps_called_outside_a_pipeline_are_plain_functions(pipes):
    path, _ = pipes
    import importlib.util

    spec = importlib.util.spec_from_file_location("pipes_plain", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.split([1, 2, 3]) == ([1, 3], [2])


def test_ctrl_c_cancels_the_run_and_ends_the_step_processes(pipes, kiln_home, tmp_path):
    path, _ = pipes
    env = {**os.environ, "KILN_HOME": str(kiln_home)}
    proc = subprocess.Popen([sys.executable, "-m", "kiln.cli", "run", f"{path}:sleepy"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True, preexec_fn=sigint_as_terminal)
    deadline = time.monotonic() + 60
    log = None
    while time.monotonic() < deadline:
        logs = list((kiln_home / "runs").glob("*/sleeper/log.txt"))
        if logs and "sleeping" in logs[0].read_text():
            log = logs[0]
            break
        time.sleep(0.1)
    assert log is not None, "the step never started"
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, out
    assert "cancelled" in out
    run = kiln.get_run("latest")
    assert run.status == "cancelled"
    assert run.steps["sleeper"] == "cancelled"
    ps = subprocess.run(["pgrep", "-f", "kiln-sleeper"], capture_output=True, text=True)
    assert ps.stdout.strip() == ""


def test_installed_libraries_a_pipeline_imports_are_preloaded_but_not_local_modules(notebook, tmp_path):
    from kiln.engine.warm import imported_libraries

    (tmp_path / "helpers.py").write_text("X = 1\n")
    nb = notebook([
        (["imports"], "import helpers\nfrom sklearn.linear_model import LogisticRegression\nimport kiln"),
        (["step:a"], "import json\na = helpers.X"),
        (["step:b", "prev:a"], "from numpy import linalg\nb = a"),
    ])
    names = imported_libraries(kiln.compile(nb))
    assert "sklearn.linear_model" in names and "numpy" in names
    assert "helpers" not in names and "kiln" not in names and "json" not in names


def test_a_module_named_like_a_standard_module_still_runs(tmp_path):
    """`numbers.py` imported as `numbers` would stand in for the standard module numpy and
    pandas import (and fail in their import); it is imported under a private name."""
    from tests.conftest import run_cli

    (tmp_path / "numbers.py").write_text(
        "import kiln\nimport pandas as pd\n\n"
        "@kiln.step\ndef make(n: int) -> pd.DataFrame:\n    return pd.DataFrame({'a': range(n)})\n\n"
        "@kiln.step\ndef total(df: pd.DataFrame) -> int:\n"
        "    kiln.log_metric('total', int(df['a'].sum()))\n    return int(df['a'].sum())\n\n"
        "@kiln.pipeline(name='numbers')\ndef numbers(n: int = 5):\n    total(make(n))\n")
    r = run_cli("run", f"{tmp_path / 'numbers.py'}:numbers", "-q")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "total=10" in r.stdout
