"""`kiln tune` on Kale notebooks as they are, `ls`/`show`, and crash safety with --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import kiln
from kiln.catalog import studies
from kiln.runtime import Runtime
from tests.conftest import run_cli, sigint_as_terminal
from tests.tune.test_space_and_config import KALE_META

# An XGBoost-shaped Kale notebook (ETA, OBJECTIVE) whose katib_metadata is the one Kale's
# Katib panel writes (REFERENCE.md), numbers as strings. The "accuracy" peaks at ETA 0.2.
KALE_NB = [
    (["imports"], "import math"),
    (["pipeline-parameters"], 'ETA = 0.1\nOBJECTIVE = "multi:softprob"\nROUNDS = 3'),
    (["block:load"], "data = list(range(20))"),
    (["block:train", "prev:load"], """\
        bonus = 0.05 if OBJECTIVE == "multi:softmax" else 0.0
        accuracy = 0.9 - abs(ETA - 0.2) + bonus + 0 * len(data)
        precision = accuracy - 0.01
    """),
    (["pipeline-metrics"], "print(accuracy)\nprint(precision)"),
]


def test_a_kale_notebook_tunes_unchanged_from_its_katib_metadata(notebook) -> None:
    nb = notebook(KALE_NB, metadata={"pipeline_name": "xgb-iris", "experiment_name": "iris",
                                     "katib_run": True, "katib_metadata": KALE_META})
    r = run_cli("tune", str(nb), "--json", "--name", "kale-grid")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    # grid over ETA {0.1, 0.2, 0.3} × OBJECTIVE {softprob, softmax}; goal 1 never reached
    assert len(out["trials"]) == 6
    assert all(t["state"] == "complete" and isinstance(t["value"], float) for t in out["trials"])
    assert out["best"]["params"] == {"ETA": 0.2, "OBJECTIVE": "multi:softmax"}
    assert abs(out["best"]["value"] - 0.95) < 1e-9
    assert out["best"]["metrics"]["precision"] < out["best"]["value"]  # additionalMetricNames
    run = kiln.get_run(out["best"]["run"])
    assert run.params["ETA"] == 0.2 and run.metrics["accuracy"] == out["best"]["value"]
    # the trials table and the listing
    show = run_cli("tune", "show", "kale-grid")
    assert show.returncode == 0, show.stderr
    assert "best: trial" in show.stdout and "ETA=0.2" in show.stdout
    ls = run_cli("tune", "ls", "--json")
    assert [s["name"] for s in json.loads(ls.stdout)] == ["kale-grid"]


def test_panel_metadata_with_foreign_settings_and_cluster_volumes_tunes(notebook) -> None:
    # As the panel writes it on MiniKF: Bayesian-optimisation settings under grid, and Rok
    # clones of the cluster's PVCs that this machine does not have.
    algo = {"algorithmName": "grid", "algorithmSettings": [
        {"name": "random_state", "value": "10"}, {"name": "acq_optimizer", "value": "auto"},
        {"name": "acq_func", "value": "gp_hedge"}, {"name": "base_estimator", "value": "GP"}]}
    volumes = [{"annotations": [], "mount_point": "/home/jovyan/data", "name": "data-8lbdjmzdh",
                "size": 10, "size_type": "Gi", "snapshot": False, "type": "clone"}]
    nb = notebook(KALE_NB, metadata={"pipeline_name": "xgb-iris", "volumes": volumes,
                                     "katib_metadata": {**KALE_META, "algorithm": algo}})
    r = run_cli("tune", str(nb), "--json")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["trials"]) == 6
    warnings = [x for x in r.stderr.splitlines() if x.startswith("warning:")]
    foreign = [w for w in warnings if "acq_optimizer" in w]
    assert len(foreign) == 1 and "'acq_func', 'base_estimator' ignored" in foreign[0]
    assert any("data-8lbdjmzdh" in w and "--volume" in w for w in warnings)
    assert "Traceback" not in r.stderr


def test_metadata_naming_a_missing_parameter_is_a_clear_error(notebook) -> None:
    meta = {**KALE_META, "parameters": [*KALE_META["parameters"],
                                        {"name": "MAX_DEPTH", "parameterType": "int",
                                         "feasibleSpace": {"min": "2", "max": "6"}}]}
    nb = notebook(KALE_NB, metadata={"pipeline_name": "xgb-iris", "katib_metadata": meta})
    r = run_cli("tune", str(nb))
    assert r.returncode == 2
    assert "tuned parameter 'MAX_DEPTH' is not a parameter of pipeline 'xgb-iris'" in r.stderr
    assert "katib_metadata.parameters[2].name" in r.stderr
    assert "ETA, OBJECTIVE, ROUNDS" in r.stderr
    assert studies.list_studies(Runtime.open().catalog) == []  # nothing half-created


def test_cli_bad_input(notebook, bowl, tmp_path) -> None:
    nb = notebook(KALE_NB, metadata={"pipeline_name": "p"})
    r = run_cli("tune", str(nb))
    assert r.returncode == 2 and "nothing to tune" in r.stderr
    r = run_cli("tune", bowl, "--space", str(tmp_path / "none.yaml"), "-m", "loss")
    assert r.returncode == 2 and "no such file" in r.stderr
    (tmp_path / "bad.yaml").write_text("parameters: [\n")
    r = run_cli("tune", bowl, "--space", str(tmp_path / "bad.yaml"), "-m", "loss")
    assert r.returncode == 2 and "bad.yaml:" in r.stderr and "not valid YAML" in r.stderr
    r = run_cli("tune", bowl, "-c", str(tmp_path / "bad.yaml"))
    assert r.returncode == 2
    r = run_cli("tune", "show", "nope")
    assert r.returncode == 3 and "no study 'nope'" in r.stderr
    r = run_cli("tune", "--resume", "nope")
    assert r.returncode == 3
    r = run_cli("tune", bowl, "--resume", "x")
    assert r.returncode == 2 and "give no PATH" in r.stderr
    space = tmp_path / "s.yaml"
    space.write_text("- {name: x, parameterType: double, feasibleSpace: {min: '0', max: '1'}}\n")
    r = run_cli("tune", bowl, "--space", str(space), "-m", "loss", "-a", "annealing")
    assert r.returncode == 2 and "unknown algorithm 'annealing'" in r.stderr
    assert "hint: known: random, grid, tpe" in r.stderr


def _wait_for(cond, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_resume_after_kill_9_keeps_finished_trials_and_requeues_the_running_one(bowl, tmp_path) -> None:
    space = tmp_path / "s.yaml"
    space.write_text("- {name: x, parameterType: double, feasibleSpace: {min: '0', max: '1'}}\n")
    args = ["tune", bowl, "--space", str(space), "-m", "loss", "--direction", "minimize",
            "-n", "5", "-j", "1", "-a", "random", "--seed", "3", "-p", "pause=0.15",
            "--name", "crashy"]
    proc = subprocess.Popen([sys.executable, "-m", "kiln.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, env=os.environ.copy())
    cat = Runtime.open().catalog

    def two_done_one_running() -> bool:
        try:
            info = studies.get_study(cat, "crashy")
        except kiln.NotFoundError:
            return False
        c = info.counts()
        return c["complete"] >= 2 and c["running"] == 1 and all(
            t.run_id for t in info.trials if t.state == "running")

    _wait_for(two_done_one_running)
    before = studies.get_study(cat, "crashy")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = {t.number: t.run_id for t in before.trials if t.state == "complete"}
    lost = next(t for t in before.trials if t.state == "running")

    r = run_cli("tune", "--resume", "crashy", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    trials = {t["number"]: t for t in out["trials"]}
    for n, run_id in kept.items():  # finished trials are kept as they were
        assert trials[n]["state"] == "complete" and trials[n]["run"] == run_id
    assert trials[lost.number]["state"] == "failed"
    assert trials[lost.number]["error"].startswith("interrupted")
    again = [t for t in out["trials"] if t["number"] > lost.number and t["params"] == lost.params]
    assert again and again[0]["state"] == "complete"  # re-queued with the same parameters
    assert sum(t["state"] == "complete" for t in out["trials"]) == 5
    assert out["status"] == "succeeded"
    assert kiln.get_run(lost.run_id).status == "failed"  # its run is not left "running"


def test_resuming_a_study_that_is_still_running_is_refused(bowl, tmp_path) -> None:
    space = tmp_path / "s.yaml"
    space.write_text("- {name: x, parameterType: double, feasibleSpace: {min: '0', max: '1'}}\n")
    proc = subprocess.Popen([sys.executable, "-m", "kiln.cli", "tune", bowl, "--space", str(space),
                             "-m", "loss", "-n", "20", "-j", "1", "-p", "pause=0.2", "--name", "busy"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=sigint_as_terminal)
    cat = Runtime.open().catalog
    try:
        _wait_for(lambda: any(s.name == "busy" and s.trials for s in studies.list_studies(cat)))
        r = run_cli("tune", "--resume", "busy")
        assert r.returncode == 2 and "still running in process" in r.stderr
        proc.send_signal(signal.SIGINT)  # Ctrl-C: running trials stop, the study is cancelled
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 130, out
        assert "continue with `kiln tune --resume STUDY`" in out
        info = studies.get_study(cat, "busy")
        assert info.status == "cancelled" and info.counts()["running"] == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_the_best_runs_model_serves(write) -> None:
    path = write("iris.py", '''
        import kiln

        @kiln.step
        def train(c: float):
            from sklearn.datasets import load_iris
            from sklearn.linear_model import LogisticRegression
            from sklearn.model_selection import cross_val_score
            x, y = load_iris(return_X_y=True)
            model = LogisticRegression(C=c, max_iter=500)
            kiln.log_metric("accuracy", float(cross_val_score(model, x, y, cv=3).mean()))
            return model.fit(x, y)

        @kiln.pipeline(name="iris")
        def iris(c: float = 1.0):
            train(c)
    ''')
    study = kiln.tune(f"{path}:iris", space={"c": {"parameterType": "double", "feasibleSpace":
                                                   {"min": 0.001, "max": 10, "distribution": "logUniform"}}},
                      objective="accuracy", trials=4, parallel=2, seed=0, progress=False)
    ref = f"{study.best.run_id}/train/output"
    with kiln.serve(ref, name="iris") as service:
        pred = service.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
    assert list(pred.ravel()) == list(study.best_run.output("train").predict(
        [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]))
    assert Path(study.best_run.info.source).name == "iris.py:iris"


def test_the_summary_names_the_progress_lines_best_trial_and_a_serve_command_that_works(
        write, tmp_path) -> None:
    """Accuracy rounded to two digits: trials tie, and both the live line and the summary
    must pick the same one (the earliest); the printed `kiln serve` carries the real step
    and output names. The space is a file in the shorthand a YAML user writes."""
    write("iris.py", '''
        import kiln

        @kiln.step
        def train(c: float):
            from sklearn.datasets import load_iris
            from sklearn.linear_model import LogisticRegression
            x, y = load_iris(return_X_y=True)
            model = LogisticRegression(C=c, max_iter=500).fit(x, y)
            kiln.log_metric("accuracy", round(float(model.score(x, y)), 2))
            return model

        @kiln.pipeline(name="iris")
        def iris(c: float = 1.0):
            train(c)
    ''')
    (tmp_path / "space.yaml").write_text("c: {min: 0.5, max: 2.0, log: true}\n")
    r = run_cli("tune", "iris.py:iris", "--space", "space.yaml", "-m", "accuracy", "--trials",
                "6", "--parallel", "2", "--seed", "0", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    out = " ".join(r.stdout.split())  # the live line may wrap
    live = out.rsplit("(trial ", 1)[1].split(")")[0]
    summary = out.split("best: trial ", 1)[1].split(",")[0]
    assert live == summary
    serve = [line for line in r.stdout.splitlines() if line.startswith("serve its model: ")]
    assert len(serve) == 1 and serve[0].endswith("/train/output"), r.stdout
    ref = serve[0].split("kiln serve ", 1)[1]
    with kiln.serve(ref, name="iris-best") as service:
        assert len(service.predict([[5.1, 3.5, 1.4, 0.2]]).ravel()) == 1
    (tmp_path / "two.yaml").write_text("c: [0.5, 2.0]\n")
    r = run_cli("tune", "iris.py:iris", "--space", "two.yaml", "-m", "accuracy", cwd=tmp_path)
    assert r.returncode != 0 and "a range or a choice of two values" in r.stdout + r.stderr
