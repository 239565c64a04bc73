"""Modules written for Kale's SDK (`from kale.sdk import pipeline, step`) run and compile
with kilnflow unchanged when Kale is not installed, and a real Kale always wins."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest

import kiln
from kiln.errors import PipelineDefinitionError
from kiln.sdk.kale import KaleSDKWarning
from tests.conftest import run_cli


def steps(spec):
    return {s.name: s for s in spec.steps}


def test_kales_own_sdk_module_maps_every_option(kale_notebooks):
    path = kale_notebooks / "sdk" / "simple_data_passing.py"
    with pytest.warns(KaleSDKWarning) as w:
        spec = kiln.compile(path)
    ignored = sorted(str(x.message).split("'")[1] for x in w)
    assert ignored == ["retry_factor", "retry_interval"]
    s = steps(spec)
    assert s["step1"].limits == {"amd/gpu": "1"} and s["step1"].outputs == ["output_0", "output_1"]
    assert (s["step2"].retries, s["step2"].timeout) == (5, 5.0)
    assert s["step3"].annotations == {"step3-annotation": "test"}
    assert all(x.labels == {"common-label": "true"} for x in spec.steps)  # steps_defaults
    assert spec.metadata["kubeflow_notebook"]["autosnapshot"] is False
    assert spec.name == "test" and spec.experiment == "test"


def test_kales_own_sdk_modules_run_with_kiln_run(kale_notebooks):
    r = run_cli("run", str(kale_notebooks / "sdk" / "simple_data_passing.py"))
    assert r.returncode == 0, r.stderr
    run = kiln.get_run("latest")
    assert run.status == "succeeded"
    assert run.logs("step3").strip().endswith("5")  # step3(_a=2, _c=3)


def test_python_module_py_runs_the_pipeline_with_kilnflow(kale_notebooks):
    sdk = kale_notebooks / "sdk"
    r = subprocess.run([sys.executable, "pipeline_parameters.py"], cwd=sdk, capture_output=True,
                       text=True, timeout=300, env=os.environ)
    assert r.returncode == 0, r.stderr
    run = kiln.get_run("latest")
    assert run.status == "succeeded" and run.info.params["b"] == "Test"
    assert "Test" in run.logs("step3")


def test_kale_sdk_modules_compile_to_kubeflow(kale_notebooks, tmp_path):
    pytest.importorskip("kfp")
    out = tmp_path / "p.yaml"
    r = run_cli("compile", str(kale_notebooks / "sdk" / "simple_data_passing.py"),
                "--target", "kfp", "-o", str(out))
    assert r.returncode == 0, r.stderr
    from kfp import components

    comp = components.load_component_from_file(str(out))
    assert comp.name == "test"


KALE_MODULE = '''
from kale.sdk import pipeline, step, artifact


@step(name="split")
def split(n):
    data = list(range(n))
    return data[: n // 2], data[n // 2:]


@artifact(name="report", path="report.html")
@step(name="total", retry_count=2)
def total(left, right):
    with open("report.html", "w") as f:
        f.write("<b>total</b>")
    return sum(left) + sum(right)


@pipeline(name="kale-style", experiment="kale", steps_defaults={"annotations": {"a": "1"}})
def kale_style(n=10):
    left, right = split(n)
    total(left, right)


if __name__ == "__main__":
    kale_style(n=6)
'''


def test_tuples_unpack_by_the_functions_returns_and_artifact_becomes_a_report(module):
    path = module(KALE_MODULE, "kale_style")
    run = kiln.run(path, params={"n": 8})
    assert run.status == "succeeded", run.error
    assert run.outputs["total"]["output"] == sum(range(8))
    spec = kiln.compile(path)
    assert steps(spec)["total"].retries == 2
    assert steps(spec)["split"].annotations == {"a": "1"}
    from kiln.catalog.runs import task_visuals
    from kiln.runtime import Runtime

    task = next(t for t in run.info.tasks if t.step == "total")
    visuals = task_visuals(Runtime.open().catalog, task.id)
    assert [(v["name"], v["kind"]) for v in visuals] == [("report", "html")]


def test_positional_pipeline_arguments_and_unknown_options_are_clear_errors(module):
    bad = module(KALE_MODULE.replace("kale_style(n=6)", "kale_style(6)"), "positional")
    r = subprocess.run([sys.executable, str(bad)], cwd=bad.parent, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode != 0 and "keyword arguments only" in r.stderr
    typo = module(KALE_MODULE.replace("retry_count=2", "retry_cuont=2"), "typo")
    with pytest.raises(PipelineDefinitionError, match="no option 'retry_cuont'") as e:
        kiln.compile(typo)
    assert "retry_count" in e.value.hint and "typo.py" in e.value.where


def test_a_real_kale_sdk_wins_over_the_stand_in(tmp_path):
    real = tmp_path / "real" / "kale" / "sdk"
    real.mkdir(parents=True)
    (real.parent / "__init__.py").write_text("")
    (real / "__init__.py").write_text("WHO = 'real kale'\n")
    code = "import kale.sdk; print(getattr(kale.sdk, 'WHO', 'kilnflow'))"
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "real")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "real kale", out.stderr
    env.pop("PYTHONPATH")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert out.stdout.strip() == "kilnflow", out.stderr
    # nothing named kale was installed: the stand-in answers only through the finder
    import importlib.util

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = importlib.util.find_spec("kale")
    assert spec is None or spec.origin is None
