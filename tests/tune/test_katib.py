"""`kiln compile --katib`: a Katib v1beta1 Experiment whose trials run the compiled pipeline,
checked against the official Katib SDK's model classes (own venv: its pins clash with kfp)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import boto3
import yaml

from kiln.engine.kfp.trial import collect_metrics, katib_lines, typed
from tests.conftest import run_cli, tool_python
from tests.tune.test_cli import KALE_NB
from tests.tune.test_space_and_config import KALE_META

KATIB_PINS = ["kubeflow-katib==0.19.0"]

# Loads the Experiment with the SDK's deserializer, as the Katib client does with what the API
# server returns, and reports what the CRD requires.
CHECK = textwrap.dedent('''
    import json, sys, yaml
    from kubeflow.katib import ApiClient, V1beta1Experiment

    class Response:
        def __init__(self, data): self.data = data

    docs = list(yaml.safe_load_all(open(sys.argv[1])))
    # The spec through the deserializer (it chokes on the `Dict[str, str]` type string of
    # kubernetes' ObjectMeta labels, an SDK bug), then the whole object through the model.
    s = ApiClient().deserialize(Response(json.dumps(docs[1]["spec"])), "V1beta1ExperimentSpec")
    exp = V1beta1Experiment(api_version=docs[1]["apiVersion"], kind=docs[1]["kind"],
                            metadata=docs[1]["metadata"], spec=s)
    print(json.dumps({
        "kind": exp.kind, "api": exp.api_version, "name": exp.metadata["name"],
        "objective": [s.objective.type, s.objective.objective_metric_name,
                      s.objective.additional_metric_names],
        "algorithm": s.algorithm.algorithm_name,
        "settings": {x.name: x.value for x in s.algorithm.algorithm_settings or []},
        "parameters": [[p.name, p.parameter_type, p.feasible_space.min, p.feasible_space.max,
                        p.feasible_space.step, p.feasible_space.list] for p in s.parameters],
        "counts": [s.max_trial_count, s.parallel_trial_count, s.max_failed_trial_count],
        "collector": s.metrics_collector_spec.collector.kind,
        "trial_parameters": [[t.name, t.reference] for t in s.trial_template.trial_parameters],
        "primary": s.trial_template.primary_container_name,
        "trial_kind": s.trial_template.trial_spec["kind"],
    }))
''')


def test_compile_katib_writes_an_experiment_the_katib_sdk_loads(notebook, tmp_path: Path) -> None:
    nb = notebook(KALE_NB, metadata={"pipeline_name": "xgb-iris", "experiment_name": "iris",
                                     "docker_image": "registry.local/ds:1",
                                     "katib_metadata": KALE_META})
    out = tmp_path / "experiment.yaml"
    r = run_cli("compile", str(nb), "--katib", "-o", str(out), "-p", "ROUNDS=5")
    assert r.returncode == 0, r.stderr
    config_map, exp = yaml.safe_load_all(out.read_text())
    # the ConfigMap carries the KFP package the trials run
    package = next(yaml.safe_load_all(config_map["data"]["pipeline.yaml"]))
    assert package["schemaVersion"] == "2.1.0" and package["pipelineInfo"]["name"] == "xgb-iris"
    job = exp["spec"]["trialTemplate"]["trialSpec"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.local/ds:1"
    assert "kiln.engine.kfp.trial" in container["command"][2]
    args = container["args"]
    assert "ETA=${trialParameters.ETA}" in args and "OBJECTIVE=${trialParameters.OBJECTIVE}" in args
    assert "ROUNDS=5" in args and args[args.index("--run-name") + 1] == "${trialSpec.Name}"
    assert job["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"] == config_map["metadata"]["name"]

    py = tool_python("katib-0.19.0", KATIB_PINS)
    checker = tmp_path / "check.py"
    checker.write_text(CHECK)
    import subprocess

    res = subprocess.run([str(py), str(checker), str(out)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["kind"] == "Experiment" and got["api"] == "kubeflow.org/v1beta1"
    assert got["name"] == "iris"
    assert got["objective"] == ["maximize", "accuracy", ["precision"]]
    assert got["algorithm"] == "grid" and got["settings"] == {"random_state": "10"}
    assert got["parameters"] == [["ETA", "double", "0.1", "0.3", "0.1", None],
                                 ["OBJECTIVE", "categorical", None, None, None,
                                  ["multi:softprob", "multi:softmax"]]]
    assert got["counts"] == [6, 3, 3]
    assert got["collector"] == "StdOut" and got["primary"] == "trial"
    assert got["trial_parameters"] == [["ETA", "ETA"], ["OBJECTIVE", "OBJECTIVE"]]
    assert got["trial_kind"] == "Job"


def test_compile_katib_refuses_what_kiln_tune_refuses(notebook) -> None:
    meta = {**KALE_META, "parameters": [{"name": "DEPTH", "parameterType": "int",
                                         "feasibleSpace": {"min": "2", "max": "6"}}]}
    nb = notebook(KALE_NB, metadata={"pipeline_name": "p", "katib_metadata": meta})
    r = run_cli("compile", str(nb), "--katib")
    assert r.returncode == 2 and "tuned parameter 'DEPTH' is not a parameter" in r.stderr
    nb2 = notebook(KALE_NB, metadata={"pipeline_name": "p"}, name="plain.ipynb")
    r = run_cli("compile", str(nb2), "--katib")
    assert r.returncode == 2 and "no katib_metadata" in r.stderr and "--config" in r.stderr


def test_trial_reads_the_runs_metrics_from_the_pipeline_root(s3_env: str) -> None:
    """The trial's half that can run here: metrics from KFP's artifact store (S3 on loopback),
    printed for Katib's StdOut collector; parameters typed as the package declares them."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="mlpipeline")
    root = "v2/artifacts/xgb-iris/run-1"
    s3.put_object(Bucket="mlpipeline", Key=f"{root}/load/11/kiln_metrics", Body=b"{}")
    s3.put_object(Bucket="mlpipeline", Key=f"{root}/pipeline-metrics/12/kiln_metrics",
                  Body=json.dumps({"accuracy": 0.93, "precision": 0.9}).encode())
    s3.put_object(Bucket="mlpipeline", Key="v2/artifacts/xgb-iris/run-2/x/kiln_metrics",
                  Body=b'{"accuracy": 0.1}')  # another run
    metrics = collect_metrics("minio://mlpipeline/v2/artifacts", "xgb-iris", "run-1")
    assert metrics == {"accuracy": 0.93, "precision": 0.9}
    assert katib_lines(metrics, ["accuracy", "precision", "recall"]) == [
        "accuracy=0.93", "precision=0.9"]
    assert typed("3", "NUMBER_INTEGER") == 3 and typed("1e-3", "NUMBER_DOUBLE") == 0.001
    assert typed("multi:softmax", "STRING") == "multi:softmax"
    assert typed("[1, 2]", "LIST") == [1, 2] and typed("True", "BOOLEAN") is True
