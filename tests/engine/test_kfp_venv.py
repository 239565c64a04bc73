"""Compiled packages run where nothing is installed: kfp.local's SubprocessRunner with
use_venv=True gives every task a fresh virtual environment holding only kfp. Each component
must install its own libraries (pinned where the pipeline was compiled), kilnflow's runtime
(a wheel built here, fetched from S3 on loopback) and the notebook's local modules (the
notebook's folder is moved away before the run), and produce what `kiln run` produces.

Slow (every task creates a venv and pip-installs into it), so marked; it runs in the default
suite and in CI.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import kiln
from kiln.engine.kfp.executor import load_artifact
from tests.conftest import make_notebook, run_cli
from tests.engine.test_kfp import run_package

pytest.importorskip("kfp")
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kilnflow's wheel, built from this checkout the way a release is."""
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                        str(ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = out.glob("kilnflow-*.whl")
    return whl


@pytest.fixture
def bucket(s3_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """KILN_STORE in a fresh bucket of the S3 server on loopback: where the compile ships the
    runtime and code, and where each task fetches them."""
    import secrets

    import boto3

    name = f"kfp-venv-{secrets.token_hex(4)}"
    boto3.client("s3", endpoint_url=s3_env).create_bucket(Bucket=name)
    monkeypatch.setenv("KILN_STORE", f"s3://{name}/kiln")
    monkeypatch.setenv("KILN_S3_ENDPOINT_URL", s3_env)
    return name


def compile_and_run(target: str, folder: Path | None, wheel: Path, tmp_path: Path,
                    params: dict | None = None) -> tuple[dict, str]:
    """Compile `target` with the built wheel as the runtime, move the pipeline's folder away,
    run the package in fresh venvs, and return each task's metrics and folder, and the log."""
    package = tmp_path / "package.yaml"
    r = run_cli("compile", target, "-t", "kfp", "--kiln-package", str(wheel), "-o", str(package))
    assert r.returncode == 0, r.stderr
    assert "kilnflow runtime: kilnflow-" in r.stdout and "s3://" in r.stdout
    if folder is not None:  # nothing of the pipeline's folder may be needed any more
        folder.rename(folder.with_name(folder.name + "-gone"))
    return run_package(package, tmp_path, params, venv=True,
                       env={"KILN_HOME": str(tmp_path / "no-home")})


def installed_in_fresh_venvs(log: str) -> None:
    """Each component installed its libraries and the runtime itself."""
    assert "kiln: installing" in log and "packages the step needs" in log
    assert "installing the kilnflow" in log and "runtime from s3://" in log


def test_the_demo_runs_in_fresh_venvs_with_the_same_metrics(bucket, wheel, tmp_path):
    from kiln.demo import pipeline as demo

    params = {"rows": 600}
    local = kiln.run(f"{demo.__file__}:churn", params=params, progress=False)
    out, log = compile_and_run(f"{demo.__file__}:churn", None, wheel, tmp_path, params)
    installed_in_fresh_venvs(log)
    assert out["evaluate"]["metrics"] == pytest.approx(local.metrics)
    frame = load_artifact(str(Path(out["load-data"]["dir"]) / "output"))
    assert frame.equals(local.output("load_data"))


HELPERS = '''
import numpy as np

def scale(xs, k):
    return (np.asarray(xs, dtype=float) * k).tolist()
'''

PKG_INIT = "from .stats import spread\n"
PKG_STATS = '''
import statistics

def spread(xs):
    return statistics.pstdev(xs)
'''


def test_a_notebook_importing_local_modules_gets_them_shipped(bucket, wheel, tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "helpers.py").write_text(HELPERS)
    (folder / "mylib").mkdir()
    (folder / "mylib" / "__init__.py").write_text(PKG_INIT)
    (folder / "mylib" / "stats.py").write_text(PKG_STATS)
    nb = make_notebook(folder / "local.ipynb", [
        (["imports"], "import helpers\nimport mylib"),
        (["pipeline-parameters"], "K = 3"),
        (["block:scale"], "xs = helpers.scale([1, 2, 3, 4], K)"),
        (["block:spread", "prev:scale"], "s = mylib.spread(xs)\ntotal = sum(xs)"),
        (["pipeline-metrics"], "print(s)\nprint(total)"),
    ], metadata={"pipeline_name": "local-code"})
    local = kiln.run(nb, progress=False)
    out, log = compile_and_run(str(nb), folder, wheel, tmp_path)
    installed_in_fresh_venvs(log)
    metrics = out["pipeline-metrics"]["metrics"]
    assert metrics == pytest.approx(local.metrics) and metrics["total"] == 30.0


def test_an_xgboost_notebook_runs_in_fresh_venvs(bucket, wheel, tmp_path):
    folder = tmp_path / "xgb"
    folder.mkdir()
    nb = make_notebook(folder / "xgb.ipynb", [
        (["imports"], "import numpy as np\nimport xgboost as xgb"),
        (["pipeline-parameters"], "DEPTH = 3"),
        (["block:data"], "rng = np.random.default_rng(0)\nX = rng.normal(size=(400, 5))\n"
                         "y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)"),
        (["block:train", "prev:data"],
         "model = xgb.XGBClassifier(n_estimators=20, max_depth=DEPTH, n_jobs=1)\n"
         "model.fit(X[:300], y[:300])"),
        (["block:score", "prev:train"],
         "accuracy = float((model.predict(X[300:]) == y[300:]).mean())"),
        (["pipeline-metrics"], "print(accuracy)"),
    ], metadata={"pipeline_name": "xgb"})
    local = kiln.run(nb, progress=False)
    out, log = compile_and_run(str(nb), folder, wheel, tmp_path)
    installed_in_fresh_venvs(log)
    assert "xgboost-cpu==" in log
    assert out["pipeline-metrics"]["metrics"] == pytest.approx(local.metrics)
    model = load_artifact(str(Path(out["train"]["dir"]) / "model"))
    assert type(model).__name__ == "XGBClassifier"


def test_a_kale_notebook_passing_a_dataframe_on_runs_in_fresh_venvs(bucket, wheel, tmp_path):
    """Kale's tags as its panel writes them; the DataFrame is changed in place by a step that
    received it and passed on (the shape that once compiled to a duplicate argument)."""
    folder = tmp_path / "kale"
    folder.mkdir()
    nb = make_notebook(folder / "frames.ipynb", [
        (["imports"], "import pandas as pd"),
        (["pipeline-parameters"], "ROWS = 50"),
        (["block:load"], "df = pd.DataFrame({'x': range(ROWS)})\ndf['y'] = df.x * 2"),
        (["block:clean", "prev:load"], "df['z'] = df.y - df.x\ndf = df[df.z % 2 == 0]"),
        (["block:summarise", "prev:clean"], "mean_z = float(df.z.mean())\nrows = len(df)"),
        (["pipeline-metrics"], "print(mean_z)\nprint(rows)"),
    ], metadata={"pipeline_name": "frames", "experiment_name": "kale", "docker_image": "",
                 "volumes": [], "katib_run": False, "steps_defaults": []})
    local = kiln.run(nb, progress=False)
    out, log = compile_and_run(str(nb), folder, wheel, tmp_path, {"ROWS": 40})
    installed_in_fresh_venvs(log)
    expected = kiln.run(folder.with_name("kale-gone") / "frames.ipynb", params={"ROWS": 40},
                        progress=False)
    assert local.metrics != expected.metrics  # the parameter reached the steps
    assert out["pipeline-metrics"]["metrics"] == pytest.approx(expected.metrics)
    frame = load_artifact(str(Path(out["clean"]["dir"]) / "df_out"))
    assert frame.equals(expected.output("clean", "df"))
