"""Steps mount volumes; autosnapshot records what each step saw; --resume --from restores it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiln.errors import PipelineDefinitionError
from tests.conftest import run_cli

PIPE = '''
import os, kiln

@kiln.step(volumes={"data": "work"})
def prepare(data: str, n: int) -> int:
    with open(os.path.join(data, "numbers.txt"), "w") as f:
        f.write("\\n".join(str(i) for i in range(n)))
    return n

@kiln.step(volumes={"data": "work"})
def total(data: str, count: int) -> int:
    nums = [int(x) for x in open(os.path.join(data, "numbers.txt")).read().split()]
    kiln.log_metric("total", sum(nums))
    return sum(nums)

@kiln.pipeline(name="vols")
def vols(n: int = 10):
    total(prepare(n=n))
'''


def test_steps_get_the_volume_folder_and_resume_restores_what_the_step_saw(module, rt):
    from kiln.catalog import volumes as records
    from kiln.volumes import volumes

    path = module(PIPE)
    r = run_cli("run", f"{path}:vols", "--snapshot")
    assert r.returncode == 3 and "no volume 'work'" in r.stderr  # before any run is recorded
    folder = Path(volumes.create("work", rt=rt).path)
    r = run_cli("run", f"{path}:vols", "--snapshot", "-q")
    assert r.returncode == 0, r.stdout + r.stderr
    first = json.loads(run_cli("runs", "show", "latest", "--json").stdout)
    assert first["metrics"]["total"] == 45
    snaps = records.list_snapshots(rt.catalog, "work")
    assert sorted(s.step for s in snaps) == ["", "prepare", "total"]  # before, after each step
    assert all(s.run_id == first["id"] for s in snaps)
    (folder / "numbers.txt").write_text("1000\n")  # someone changes the data afterwards
    r = run_cli("run", "--resume", first["id"], "--from", "total", "-q")
    assert r.returncode == 0, r.stdout + r.stderr
    resumed = json.loads(run_cli("runs", "show", "latest", "--json").stdout)
    assert resumed["metrics"]["total"] == 45  # total saw the restored numbers
    steps = {t["step"]: t for t in resumed["tasks"]}
    assert steps["prepare"]["status"] == "cached"  # reused from the parent, not re-run
    assert steps["prepare"]["outputs"] == {k: v for k, v in
                                           {t["step"]: t for t in first["tasks"]}["prepare"]
                                           ["outputs"].items()}
    safety = [s for s in records.list_snapshots(rt.catalog, "work") if "before-resume" in s.tags]
    assert len(safety) == 1  # the changed data was snapshotted before being put back
    r = run_cli("run", "--resume", first["id"], "--from", "total", "-p", "n=5", "-q")
    assert r.returncode == 0
    assert json.loads(run_cli("runs", "show", "latest", "--json").stdout)["metrics"] == \
        {"total": 10}  # a changed parameter re-runs the step that reads it


def test_resume_errors(module, rt):
    from kiln.volumes import volumes

    path = module(PIPE)
    volumes.create("work", rt=rt)
    assert run_cli("run", f"{path}:vols", "--no-snapshot", "-q").returncode == 0
    r = run_cli("run", "--resume", "latest", "--from", "total")
    assert r.returncode == 2 and "took no snapshot of volume 'work'" in r.stderr
    r = run_cli("run", "--resume", "latest", "--from", "nope")
    assert r.returncode == 3 and "no step 'nope'" in r.stderr
    r = run_cli("run", "--resume", "latest")
    assert r.returncode == 2 and "go together" in r.stderr


def test_volume_steps_are_cached_only_on_known_content(module, rt):
    from kiln.volumes import volumes

    path = module(PIPE)
    volumes.create("work", rt=rt)
    run_cli("run", f"{path}:vols", "--snapshot", "-q")
    run_cli("run", f"{path}:vols", "--snapshot", "-q")
    second = json.loads(run_cli("runs", "show", "latest", "--json").stdout)
    # prepare rewrote numbers.txt (new mtime) so the volume differs: nothing stale is reused
    assert {t["status"] for t in second["tasks"]} == {"succeeded"}
    run_cli("run", f"{path}:vols", "--no-snapshot", "-q")
    third = json.loads(run_cli("runs", "show", "latest", "--json").stdout)
    assert {t["status"] for t in third["tasks"]} == {"succeeded"}


def test_kale_volumes_metadata_mounts_and_autosnapshots(notebook, rt):
    from kiln.catalog import volumes as records
    from kiln.volumes import volumes

    folder = Path(volumes.create("kale-data", rt=rt).path)
    (folder / "input.txt").write_text("3\n4\n")
    nb = notebook([
        (["imports"], "import os, json"),
        (["step:read"], """
            root = json.loads(os.environ["KILN_VOLUMES"])["/home/jovyan/data"]
            values = [int(x) for x in open(os.path.join(root, "input.txt")).read().split()]
            open(os.path.join(root, "seen.txt"), "w").write(str(sum(values)))
        """),
        (["step:report", "prev:read"], "result = sum(values)"),
        (["pipeline-metrics"], "print(result)"),
    ], metadata={"pipeline_name": "kale-vols", "autosnapshot": True,
                 "volumes": [{"name": "kale-data", "mount_point": "/home/jovyan/data",
                              "type": "pvc", "size": 1, "size_type": "Gi"}]})
    r = run_cli("run", str(nb), "-q")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (folder / "seen.txt").read_text() == "7"
    steps = {s.step for s in records.list_snapshots(rt.catalog, "kale-data")}
    assert {"", "read", "report"} <= steps
    bad = notebook([(["step:a"], "x = 1")], metadata={"volumes": [{"mount_point": "/x"}]},
                   name="bad.ipynb")
    r = run_cli("run", str(bad))
    assert r.returncode == 2 and "volumes[0]" in r.stderr


def test_sdk_volume_mistakes_are_caught_at_definition():
    import kiln

    with pytest.raises(PipelineDefinitionError, match="not an argument"):
        @kiln.step(volumes={"folder": "v"})
        def f(data: str) -> None: ...

    @kiln.step(volumes={"data": "v"})
    def g(data: str) -> None: ...

    with pytest.raises(PipelineDefinitionError, match="the engine passes it"):
        @kiln.pipeline(name="p")
        def p():
            g(data="/tmp")

        kiln.compile(p)


def test_gc_keeps_run_artifacts_and_they_load_after_the_cache_is_gone(module, rt, kiln_home):
    import shutil

    from kiln.catalog.roots import live_roots
    from kiln.store import maintenance
    from kiln.volumes import volumes

    path = module(PIPE)
    volumes.create("work", rt=rt)
    assert run_cli("run", f"{path}:vols", "--snapshot", "-q").returncode == 0
    rep = maintenance.gc(rt.store, lambda: live_roots(rt.catalog))
    assert rep.blobs_kept > 0
    for p in (kiln_home / "cache").rglob("*"):
        if p.is_file():
            p.chmod(0o644)
    shutil.rmtree(kiln_home / "cache")
    r = run_cli("artifacts", "get", "latest", "total", "output", "-o", str(kiln_home / "t.json"))
    assert r.returncode == 0, r.stderr
    assert json.loads((kiln_home / "t.json").read_text()) == 45
    assert maintenance.check(rt.store, live_roots(rt.catalog), read_data=True).ok


COUNTED = '''
import os, kiln

def _mark(step):
    with open(os.environ["COUNT_FILE"], "a") as f:
        f.write(step + "\\n")

@kiln.step
def load(n: int) -> list:
    _mark("load")
    return list(range(n))

@kiln.step
def features(xs: list) -> list:
    _mark("features")
    return [x * x for x in xs]

@kiln.step
def score(fs: list, weight: float) -> float:
    _mark("score")
    kiln.log_metric("score", sum(fs) * weight)
    return sum(fs) * weight

@kiln.pipeline(name="counted")
def counted(n: int = 5, weight: float = 1.0):
    score(features(load(n)), weight)
'''


def test_resuming_with_a_new_last_step_parameter_executes_only_that_step(module, tmp_path):
    counts = tmp_path / "count.txt"
    env = {"COUNT_FILE": str(counts)}
    path = module(COUNTED, name="counted")
    assert run_cli("run", f"{path}:counted", "--no-cache", "-q", env=env).returncode == 0
    assert counts.read_text().split() == ["load", "features", "score"]
    counts.write_text("")
    r = run_cli("run", "--resume", "latest", "--from", "score", "-p", "weight=2", "-q", env=env)
    assert r.returncode == 0, r.stderr
    assert counts.read_text().split() == ["score"]  # nothing upstream ran again
    run = json.loads(run_cli("runs", "show", "latest", "--json").stdout)
    assert run["metrics"] == {"score": 60.0} and run["params"]["weight"] == 2.0
