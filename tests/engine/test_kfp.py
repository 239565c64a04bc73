"""The Kubeflow engine: compiled packages load with the kfp SDK and run under kfp.local
(SubprocessRunner, this machine, no cluster) with the same metrics and artifact contents
as the local engine."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest
import yaml

import kiln
from kiln.engine.kfp.compiler import compile_kfp, dump
from kiln.engine.kfp.executor import load_artifact
from tests.conftest import run_cli

kfp = pytest.importorskip("kfp")

# Runs a package under kfp.local in a fresh process (kfp.local keeps global state) and prints
# each task's metrics and output files as JSON. A fourth argument "venv" gives every task a
# fresh virtual environment holding only kfp (test_kfp_venv.py).
RUNNER = textwrap.dedent('''
    import glob, json, os, sys
    from kfp import local, components
    if __name__ == "__main__":
        package, root, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
        venv = sys.argv[4:] == ["venv"]
        local.init(runner=local.SubprocessRunner(use_venv=venv), pipeline_root=root)
        components.load_component_from_file(package)(**params)
        out = {}
        for f in glob.glob(os.path.join(root, "*", "*", "kiln_metrics")):
            task = os.path.basename(os.path.dirname(f))
            out[task] = {"metrics": json.load(open(f)), "dir": os.path.dirname(f)}
        print("RESULT " + json.dumps(out))
''')


def run_package(package: Path, tmp_path: Path, params: dict | None = None, *,
                venv: bool = False, env: dict | None = None) -> tuple[dict, str]:
    """Each task's metrics and folder, and everything the run printed."""
    runner = tmp_path / "run_kfp_local.py"
    runner.write_text(RUNNER)
    r = subprocess.run([sys.executable, str(runner), str(package), str(tmp_path / "root"),
                        json.dumps(params or {}), *(["venv"] if venv else [])],
                       capture_output=True, text=True, timeout=1800 if venv else 600,
                       cwd=tmp_path, env={**os.environ, **(env or {})})
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-6000:]
    line = next(x for x in r.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):]), log


def run_kfp_local(package: Path, tmp_path: Path, params: dict | None = None) -> dict:
    return run_package(package, tmp_path, params)[0]


MODULE = '''
import kiln
import pandas as pd

@kiln.step
def make(n: int) -> pd.DataFrame:
    return pd.DataFrame({"a": range(n), "b": [i * 0.5 for i in range(n)]})

@kiln.step(outputs=("total", "rows"), retries=2)
def summarize(df: pd.DataFrame, scale: float):
    kiln.log_metric("total", float(df["b"].sum() * scale))
    kiln.log_metric("rows", len(df))
    return float(df["b"].sum() * scale), len(df)

@kiln.pipeline(name="numbers")
def numbers(n: int = 6, scale: float = 2.0):
    summarize(make(n), scale)
'''


def test_a_module_runs_under_kfp_local_with_the_same_metrics_and_artifacts(tmp_path: Path) -> None:
    path = tmp_path / "numpipe.py"
    path.write_text(MODULE)
    package = tmp_path / "numbers.yaml"
    r = run_cli("compile", f"{path}:numbers", "--target", "kfp", "-o", str(package))
    assert r.returncode == 0, r.stderr
    assert "KFP v2 pipeline (2 steps, 2 parameters)" in r.stdout
    local = kiln.run(f"{path}:numbers", params={"n": 8}, progress=False)
    out = run_kfp_local(package, tmp_path, {"n": 8})
    assert out["summarize"]["metrics"] == local.metrics == {"total": 28.0, "rows": 8.0}
    # artifacts hold the same values, written with our codecs
    frame = load_artifact(str(Path(out["make"]["dir"]) / "output"))
    assert frame.equals(local.output("make"))
    assert load_artifact(str(Path(out["summarize"]["dir"]) / "total")) == local.output("summarize", "total")


def test_the_demo_pipeline_gives_the_same_metrics_under_kfp_local(tmp_path: Path) -> None:
    from kiln.demo import pipeline as demo

    package = tmp_path / "demo.yaml"
    assert run_cli("compile", f"{demo.__file__}:churn", "-t", "kfp", "-o", str(package)).returncode == 0
    params = {"rows": 800}
    local = kiln.run(f"{demo.__file__}:churn", params=params, progress=False)
    out = run_kfp_local(package, tmp_path, params)
    assert out["evaluate"]["metrics"] == pytest.approx(local.metrics)
    assert set(local.metrics) == {"accuracy", "roc_auc"}


def test_kales_notebook_runs_under_kfp_local_unchanged(kale_notebooks: Path, tmp_path: Path) -> None:
    nb = kale_notebooks / "pipeline_parameters_and_metrics.ipynb"
    package = tmp_path / "kale.yaml"
    assert run_cli("compile", str(nb), "-t", "kfp", "-o", str(package)).returncode == 0
    local = kiln.run(nb, progress=False)
    out = run_kfp_local(package, tmp_path)
    metrics = out["pipeline-metrics"]["metrics"]
    assert set(metrics) == set(local.metrics)
    # d1 and d2 come from the parameters; sum_result sums a random matrix in the notebook
    assert (metrics["d1"], metrics["d2"]) == (local.metrics["d1"], local.metrics["d2"])


def test_the_package_has_kfp_s_shape(notebook, tmp_path: Path) -> None:
    nb = notebook([
        (["imports"], "import math"),
        (["pipeline-parameters"], "RATE = 0.5\nNAME = 'x'\nN = 3\nFLAG = True"),
        (["step:first", "limit:nvidia.com/gpu:1", "limit:memory:2Gi", "label:team:ml",
          "annotation:owner:ada"], "a = N * RATE"),
        (["step:second", "prev:first"], "b = a + 1"),
        (["pipeline-metrics"], "print(b)"),
    ], metadata={"pipeline_name": "Shape Test", "docker_image": "registry.local/ds:1"})
    package = compile_kfp(kiln.compile(nb))
    text = dump(package)
    loaded, platform = yaml.safe_load_all(text)
    assert loaded["schemaVersion"] == "2.1.0" and loaded["pipelineInfo"]["name"] == "shape-test"
    params = loaded["root"]["inputDefinitions"]["parameters"]
    assert {k: v["parameterType"] for k, v in params.items()} == {
        "RATE": "NUMBER_DOUBLE", "NAME": "STRING", "N": "NUMBER_INTEGER", "FLAG": "BOOLEAN"}
    assert params["N"]["defaultValue"] == 3.0
    tasks = loaded["root"]["dag"]["tasks"]
    assert tasks["second"]["dependentTasks"] == ["first"]
    assert tasks["second"]["inputs"]["artifacts"]["a"]["taskOutputArtifact"] == {
        "outputArtifactKey": "a", "producerTask": "first"}
    first = loaded["deploymentSpec"]["executors"]["exec-first"]["container"]
    assert first["image"] == "registry.local/ds:1"
    assert first["resources"]["accelerator"] == {"resourceType": "nvidia.com/gpu", "resourceCount": "1"}
    assert first["resources"]["resourceMemoryLimit"] == "2Gi"
    assert "kfp.dsl.executor_main" in first["command"][-2]
    # the container is prepared from the step's plan: the runtime as a wheel of this kilnflow
    assert "<<'KILN_BOOTSTRAP'" in first["command"][2]
    assert f"kilnflow-{kiln.__version__}-py3-none-any.whl" in first["command"][2]
    pod = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-first"]
    assert pod["podMetadata"] == {"labels": {"team": "ml"}, "annotations": {"owner": "ada"}}
    # the kfp SDK reads it as a pipeline with these inputs
    path = tmp_path / "p.yaml"
    path.write_text(text)
    from kfp import components

    comp = components.load_component_from_file(str(path))
    assert set(comp.component_spec.inputs) == {"RATE", "NAME", "N", "FLAG"}
    assert compile_kfp(kiln.compile(nb), image="other:2")["deploymentSpec"]["executors"][
        "exec-second"]["container"]["image"] == "other:2"  # --image wins over docker_image


def test_compile_bad_target(tmp_path: Path) -> None:
    path = tmp_path / "numpipe.py"
    path.write_text(MODULE)
    r = run_cli("compile", f"{path}:numbers", "--target", "argo")
    assert r.returncode == 2 and "unknown compile target 'argo'" in r.stderr


def _http_server(status: int):
    """A real HTTP server on loopback that answers every request with `status`."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        seen: list[str] = []

        def do_GET(self):  # noqa: N802
            Handler.seen.append(f"{self.path} {self.headers.get('Authorization')}")
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": "no"}')

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, Handler.seen


def test_submit_bad_hosts_are_clear_errors_and_upload_nothing(tmp_path: Path) -> None:
    from tests.conftest import free_port

    path = tmp_path / "numpipe.py"
    path.write_text(MODULE)
    target = f"{path}:numbers"
    r = run_cli("submit", target, "--host", f"http://127.0.0.1:{free_port()}")
    assert r.returncode == 2 and "cannot reach Kubeflow Pipelines at http://127.0.0.1:" in r.stderr
    assert "port-forward" in r.stderr
    server, seen = _http_server(401)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        r = run_cli("submit", target, "--host", url, "--token", "t0k")
        assert r.returncode == 2 and "refused the request (401" in r.stderr
        assert "not authorised" in r.stderr and "--token" in r.stderr
        assert seen == ["/apis/v2beta1/healthz Bearer t0k"]  # asked once; uploaded nothing
    finally:
        server.shutdown()
        server.server_close()
    server, seen = _http_server(404)
    try:
        r = run_cli("submit", target, "--host", f"http://127.0.0.1:{server.server_address[1]}")
        assert r.returncode == 2 and "is it a Kubeflow Pipelines v2 API server?" in r.stderr
    finally:
        server.shutdown()
        server.server_close()
    r = run_cli("submit", target, "--host", "localhost:8888")
    assert r.returncode == 2 and "not an http(s) URL" in r.stderr
    r = run_cli("submit", target, "--host", "http://x", "--recurring", "every hour")
    assert r.returncode == 2 and "not a cron expression" in r.stderr
    r = run_cli("submit", target, "--host", "http://x", "-p", "nope=1")
    assert r.returncode == 2 and "unknown parameter 'nope'" in r.stderr


def test_cron_gets_kfps_seconds_field() -> None:
    from kiln.engine.kfp.submit import kfp_cron

    assert kfp_cron("0 * * * *") == "0 0 * * * *"
    assert kfp_cron("30 0 * * * *") == "30 0 * * * *"


VOLUME_MODULE = '''
import os, kiln

@kiln.step(volumes={"data": "work"})
def count(data: str) -> int:
    n = len(open(os.path.join(data, "rows.txt")).read().split())
    kiln.log_metric("rows", n)
    return n

@kiln.pipeline(name="vol-count")
def vol_count():
    count()
'''


def test_volumes_compile_to_pvc_mounts_and_run_under_kfp_local(tmp_path: Path) -> None:
    from kiln.volumes import volumes

    folder = Path(volumes.create("work").path)
    (folder / "rows.txt").write_text("a\nb\nc\n")
    path = tmp_path / "volpipe.py"
    path.write_text(VOLUME_MODULE)
    package = tmp_path / "vol.yaml"
    assert run_cli("compile", f"{path}:vol_count", "-t", "kfp", "-o", str(package)).returncode == 0
    docs = list(yaml.safe_load_all(package.read_text()))
    mounts = docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-count"]
    # the shape kfp-kubernetes' mount_pvc(task, pvc_name="work", mount_path=...) writes
    assert mounts["pvcMount"] == [{"constant": "work", "mountPath": "/mnt/kiln/work",
                                   "pvcNameParameter": {"runtimeValue": {"constant": "work"}}}]
    # kfp.local mounts nothing: on the compiling machine the local volume stands in
    out = run_kfp_local(package, tmp_path)
    assert out["count"]["metrics"] == {"rows": 3.0}
    assert kiln.run(f"{path}:vol_count", progress=False).metrics == {"rows": 3.0}


def test_steps_that_cannot_travel_to_a_container_are_refused_at_compile(tmp_path: Path) -> None:
    path = tmp_path / "lam.py"
    path.write_text(textwrap.dedent('''
        import kiln

        double = kiln.step(lambda x: x * 2)

        @kiln.pipeline(name="lam")
        def lam(x: int = 1):
            double(x)
    '''))
    r = run_cli("compile", f"{path}:lam", "-t", "kfp")
    assert r.returncode == 2
    assert "step '<lambda>' is defined inside another function or is a lambda" in r.stderr
    assert "lam.py, line 4" in r.stderr and "top level of a module" in r.stderr


def test_a_step_returning_an_open_file_is_refused_where_it_is_defined() -> None:
    from kiln.errors import PipelineDefinitionError

    with pytest.raises(PipelineDefinitionError, match="open file"):
        @kiln.step
        def opened(path: str) -> io.TextIOWrapper:
            return open(path)

    with pytest.raises(PipelineDefinitionError, match="open file"):
        @kiln.step
        def handles(path: str) -> tuple[int, typing.BinaryIO]:
            return 1, open(path, "rb")


# A Kale-style notebook: a DataFrame received, changed in place and passed on through several
# steps, fanned out and joined; functions that read the calling step's globals.
PASS_ON = [
    (["imports"], "import pandas as pd"),
    (["step:load"], "df = pd.DataFrame({'a': [1, 2, 3]})\nfactor = 2\ndef scaled(col):\n    return df[col] * factor"),
    (["step:clean", "prev:load"], "df['b'] = df['a'] * 10"),
    (["step:enrich", "prev:clean"], "df['c'] = scaled('b')"),
    (["step:left", "prev:enrich"], "left = float(df['c'].sum())"),
    (["step:right", "prev:enrich"], "factor = 3\nright = float(scaled('a').sum())"),
    (["step:join", "prev:left", "prev:right"], "total = left + right + len(df.columns)"),
    (["pipeline-metrics"], "print(total)"),
]


def test_values_passed_on_by_a_step_that_received_them_compile_and_run(notebook, tmp_path):
    nb = notebook(PASS_ON, name="pass_on.ipynb")
    local = kiln.run(nb, progress=False)
    assert local.status == "succeeded", local.error
    package = tmp_path / "p.yaml"
    r = run_cli("compile", str(nb), "-t", "kfp", "-o", str(package))
    assert r.returncode == 0, r.stderr
    doc = yaml.safe_load(package.read_text())
    clean = doc["components"]["comp-clean"]
    # the received df and the changed df are two artifacts with two names
    assert set(clean["inputDefinitions"]["artifacts"]) == {"df"}
    assert "df_out" in clean["outputDefinitions"]["artifacts"]
    out = run_kfp_local(package, tmp_path)
    assert out["pipeline-metrics"]["metrics"] == local.metrics
    assert local.metrics["total"] == (10 + 20 + 30) * 2 + 6 * 3 + 3
