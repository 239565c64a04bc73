"""Kale notebooks name the PVCs of the cluster they were made on. Here the run goes ahead
without a volume that is not on this machine (one warning says how to bind it), a bound
volume appears at its Kale mount point inside notebook steps, and bad bindings and
malformed metadata are clear errors."""

from __future__ import annotations

import json
import warnings

import pytest

import kiln
from kiln.engine.mounts import VolumeWarning
from kiln.errors import NotebookError, NotFoundError, UserError
from tests.conftest import run_cli

# As Kale's JupyterLab panel writes it on MiniKF: the workspace and a data disk, cloned.
PANEL_METADATA = {
    "autosnapshot": False, "docker_image": "", "experiment": {"id": "new", "name": "iris"},
    "experiment_name": "iris", "katib_run": False, "pipeline_description": "",
    "pipeline_name": "iris", "snapshot_volumes": True, "steps_defaults": [],
    "volume_access_mode": "rwm",
    "volumes": [
        {"annotations": [], "mount_point": "/home/jovyan", "name": "workspace-iris-x7k2q",
         "size": 5, "size_type": "Gi", "snapshot": False, "type": "clone"},
        {"annotations": [], "mount_point": "/home/jovyan/data", "name": "data-8lbdjmzdh",
         "size": 10, "size_type": "Gi", "snapshot": False, "type": "clone"},
    ],
}

NEVER_OPENS = [
    (["step:make"], "rows = [[1, 2], [3, 4]]"),
    (["step:total", "prev:make"], "total = sum(sum(r) for r in rows)"),
    (["pipeline-metrics"], "print(total)"),
]

READS_DATA = [
    (["imports"], "import os, pathlib\nimport pandas as pd"),
    (["step:load"], "df = pd.read_csv('/home/jovyan/data/train.csv')\n"
                    "names = sorted(os.listdir('/home/jovyan/data'))\n"
                    "exists = pathlib.Path('/home/jovyan/data/train.csv').exists()"),
    (["step:save", "prev:load"], "os.makedirs('/home/jovyan/data/out', exist_ok=True)\n"
                                 "with open('/home/jovyan/data/out/sum.txt', 'w') as f:\n"
                                 "    f.write(str(int(df['a'].sum())))\n"
                                 "total = float(df['a'].sum())\n"
                                 "checks = int(names == ['train.csv']) + int(exists)"),
    (["pipeline-metrics"], "print(total)\nprint(checks)"),
]


def test_a_notebook_that_never_opens_its_missing_volumes_runs_with_one_warning(notebook):
    nb = notebook(NEVER_OPENS, metadata=PANEL_METADATA)
    with pytest.warns(VolumeWarning) as w:
        run = kiln.run(nb)
    assert run.status == "succeeded", run.error
    assert run.metrics["total"] == 10
    messages = [str(x.message) for x in w if issubclass(x.category, VolumeWarning)]
    assert len(messages) == 1
    assert "'data-8lbdjmzdh' (mounted on /home/jovyan/data)" in messages[0]
    assert "'workspace-iris-x7k2q'" in messages[0] and "--volume" in messages[0]


def test_opening_a_path_under_a_missing_mount_point_fails_naming_the_volume(notebook):
    nb = notebook(READS_DATA, metadata=PANEL_METADATA)
    with pytest.warns(VolumeWarning):
        run = kiln.run(nb)
    assert run.status == "failed"
    assert "data-8lbdjmzdh" in run.error and "--volume data-8lbdjmzdh=VOLUME" in run.error
    assert "/home/jovyan/data/train.csv" in run.error


def test_a_bound_volume_appears_at_the_kale_mount_point(notebook, tmp_path):
    from kiln.volumes import volumes

    folder = tmp_path / "mydata"
    folder.mkdir()
    (folder / "train.csv").write_text("a,b\n1,2\n3,4\n")
    volumes.create("mydata", path=str(folder))
    nb = notebook(READS_DATA, metadata=PANEL_METADATA)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        run = kiln.run(nb, volumes={"data-8lbdjmzdh": "mydata"})
    assert run.status == "succeeded", run.error
    assert run.metrics["total"] == 4
    assert run.metrics["checks"] == 2  # os.listdir and pathlib saw the volume's folder
    assert (folder / "out" / "sum.txt").read_text() == "4"
    # only the workspace clone is still missing
    vw = [str(x.message) for x in w if issubclass(x.category, VolumeWarning)]
    assert len(vw) == 1 and "workspace-iris-x7k2q" in vw[0] and "data-8lbdjmzdh" not in vw[0]


def test_bindings_naming_no_declared_volume_or_no_local_volume_are_clear_errors(notebook):
    from kiln.volumes import volumes

    nb = notebook(NEVER_OPENS, metadata=PANEL_METADATA)
    volumes.create("mydata")
    with pytest.raises(UserError, match="mounts no volume 'data-xyz'") as e:
        kiln.run(nb, volumes={"data-xyz": "mydata"})
    assert "data-8lbdjmzdh" in e.value.hint
    with pytest.raises(NotFoundError, match="no volume 'mydatta'") as e:
        kiln.run(nb, volumes={"data-8lbdjmzdh": "mydatta"})
    assert "mydata" in e.value.hint


def test_the_cli_binds_volumes_and_refuses_malformed_bindings(notebook, tmp_path):
    nb = notebook(NEVER_OPENS, metadata=PANEL_METADATA)
    r = run_cli("run", str(nb), "-q")
    assert r.returncode == 0, r.stderr
    assert "data-8lbdjmzdh" in r.stderr and "--volume" in r.stderr
    r = run_cli("run", str(nb), "--volume", "data-8lbdjmzdh")
    assert r.returncode != 0 and "NAME=VALUE" in r.stderr
    r = run_cli("run", str(nb), "--volume", "nothere=x")
    assert r.returncode != 0 and "mounts no volume 'nothere'" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("entry,field,what", [
    ({"mount_point": "/data"}, "volumes[0].name", "has no name"),
    ({"name": "", "mount_point": "/data"}, "volumes[0].name", "has no name"),
    ({"name": "d"}, "volumes[0].mount_point", "has no mount point"),
    ({"name": "d", "mount_point": "data"}, "volumes[0].mount_point", "absolute path"),
    ({"name": "d", "mount_point": "/home/../etc"}, "volumes[0].mount_point", "absolute path"),
    ("d", "volumes[0]", "must be an object"),
])
def test_malformed_volume_metadata_names_the_field(notebook, entry, field, what):
    nb = notebook(NEVER_OPENS, metadata={"volumes": [entry]})
    with pytest.raises(NotebookError, match=what) as e:
        kiln.compile(nb)
    assert e.value.where.endswith(f"kubeflow_notebook.{field}")


def test_two_volumes_on_one_mount_point_are_refused(notebook):
    meta = {"volumes": [{"name": "a", "mount_point": "/data"},
                        {"name": "b", "mount_point": "/data/"}]}
    with pytest.raises(NotebookError, match="share the mount point"):
        kiln.compile(notebook(NEVER_OPENS, metadata=meta))


def test_the_same_metadata_compiles_to_pvc_mounts_on_kubeflow(notebook, tmp_path):
    pytest.importorskip("kfp")
    import yaml

    nb = notebook(NEVER_OPENS, metadata=PANEL_METADATA)
    out = tmp_path / "p.yaml"
    r = run_cli("compile", str(nb), "--target", "kfp", "-o", str(out))
    assert r.returncode == 0, r.stderr
    docs = list(yaml.safe_load_all(out.read_text()))
    platform = json.dumps(docs[1])
    assert '"mountPath": "/home/jovyan/data"' in platform and "data-8lbdjmzdh" in platform


def test_a_kale_new_volume_is_a_fresh_folder_the_runs_steps_share(notebook):
    meta = {"volumes": [{"annotations": [], "mount_point": "/kale/scratch", "name": "vol-new-1",
                         "size": 1, "size_type": "Gi", "snapshot": False, "type": "new"}]}
    nb = notebook([
        (["step:write"], "import os\nwith open('/kale/scratch/part.txt', 'w') as f:\n    f.write('21')"),
        (["step:read", "prev:write"], "doubled = 2 * int(open('/kale/scratch/part.txt').read())"),
        (["pipeline-metrics"], "print(doubled)"),
    ], metadata=meta)
    with warnings.catch_warnings():
        warnings.simplefilter("error", VolumeWarning)  # nothing is missing
        run = kiln.run(nb)
    assert run.status == "succeeded", run.error
    assert run.metrics["doubled"] == 42
    from kiln.runtime import Runtime

    folder = Runtime.open().home.run_dir(run.id) / "volumes" / "vol-new-1"
    assert (folder / "part.txt").read_text() == "21"
