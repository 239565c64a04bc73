"""What a compiled step installs: imports resolved at compile time to pinned distributions,
local code or the runtime; what travels with the package; and the errors for what cannot be
reproduced in a container. (The end-to-end proof, in fresh venvs, is test_kfp_venv.py.)"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as metadata
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

import kiln
from kiln.engine.kfp import environment
from kiln.engine.kfp.environment import RUNTIME_IMPORTS, capture
from kiln.engine.kfp.shipping import EMBED_LIMIT, runtime_wheel, ship
from kiln.errors import UserError
from tests.conftest import make_notebook, run_cli


def pin(dist: str) -> str:
    return f"{metadata.distribution(dist).metadata['Name']}=={metadata.version(dist).split('+')[0]}"


def test_the_runtime_imports_nothing_beyond_what_steps_are_given() -> None:
    """A fresh interpreter that loads the step runtime (and the codec it pickles with) holds
    no third-party module that RUNTIME_IMPORTS leaves out: the venv test would fail on it,
    this says which."""
    code = ("import sys, kiln.engine.kfp.executor, kiln.engine.kfp.replica, cloudpickle\n"
            "print(sorted({m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    tops = {t for t in json.loads(out.stdout.replace("'", '"'))
            if t not in sys.stdlib_module_names and not t.startswith("_")}
    assert tops - {"kiln"} <= set(RUNTIME_IMPORTS)


def test_imports_resolve_to_pins_local_code_and_the_runtime(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("import numpy as np\n\ndef f(x):\n    return np.sum(x)\n")
    (tmp_path / "mylib").mkdir()
    (tmp_path / "mylib" / "__init__.py").write_text("from mylib.core import g\n")
    (tmp_path / "mylib" / "core.py").write_text("import json\n\ndef g():\n    return 1\n")
    nb = make_notebook(tmp_path / "nb.ipynb", [
        (["imports"], "import os\nimport helpers\nimport pandas as pd\nfrom sklearn import metrics"),
        (["functions"], "def h():\n    import mylib\n    return mylib.g()"),
        (["step:a"], "df = pd.DataFrame({'x': [1, 2]})"),
        (["step:b", "prev:a"], "n = len(df)"),
    ])
    env = capture(kiln.compile(nb))
    a = env.steps["a"]
    assert a.provided["helpers"] == a.provided["mylib"] == "local"
    assert a.provided["pandas"] == "pandas" and a.provided["sklearn"] == "scikit-learn"
    assert "os" not in a.provided and "json" not in a.provided  # the standard library
    # pinned to what is installed here, with what they need (numpy via helpers and pandas)
    assert a.requirements["pandas"] == pin("pandas")
    assert a.requirements["numpy"] == pin("numpy")
    assert a.requirements["scikit-learn"] == pin("scikit-learn")
    assert a.requirements["pyarrow"] == pin("pyarrow")  # the DataFrame codec writes Parquet
    for r in RUNTIME_IMPORTS:
        assert pin(r) in a.requirements.values()
    assert set(env.local) == {"helpers", "mylib"}
    assert env.local["mylib"] == tmp_path / "mylib"


def test_a_namespace_package_resolves_to_the_distribution_holding_the_module(tmp_path):
    pytest.importorskip("google.protobuf")
    nb = make_notebook(tmp_path / "nb.ipynb", [
        (["step:a"], "from google.protobuf import struct_pb2\nx = 1"),
    ])
    env = capture(kiln.compile(nb))
    assert env.steps["a"].provided["google"] == "protobuf"
    assert not any(n.startswith("google-cloud") for n in env.steps["a"].requirements)


def test_a_value_s_libraries_travel_to_the_steps_that_receive_it(tmp_path):
    path = tmp_path / "pipes.py"
    path.write_text(
        "import kiln\n\n"
        "@kiln.step\ndef make():\n    import pandas as pd\n    return pd.DataFrame({'a': [1]})\n\n"
        "@kiln.step\ndef count(df) -> int:\n    return len(df)\n\n"
        "@kiln.pipeline\ndef p():\n    count(make())\n")
    env = capture(kiln.compile(f"{path}:p"))
    assert env.steps["count"].requirements["pandas"] == pin("pandas")


def test_guarded_imports_and_modules_a_cell_writes_are_not_errors(notebook):
    nb = notebook([
        (["imports"], "try:\n    import nosuch_optional_lib\nexcept ImportError:\n    nosuch_optional_lib = None"),
        (["step:write"], "%%writefile made_here.py\nimport numpy\nVALUE = 3"),
        (["step:use", "prev:write"], "import made_here\nv = made_here.VALUE"),
    ])
    with pytest.warns(UserWarning, match="writefile"):
        spec = kiln.compile(nb)
    env = capture(spec)
    use = env.steps["use"]
    assert use.provided["made_here"] == "%%writefile"
    assert use.requirements["numpy"] == pin("numpy")  # what the written module imports


def test_a_module_that_exists_nowhere_is_an_error_at_the_step_and_line(notebook, tmp_path):
    nb = notebook([
        (["imports"], "import math"),
        (["step:train"], "x = 1\nimport sklearn_typo_module\ny = 2"),
    ])
    with pytest.raises(UserError) as e:
        capture(kiln.compile(nb))
    assert "step 'train': no module named 'sklearn_typo_module'" in e.value.message
    assert e.value.where == f"{nb.name} [cell 2], line 2"
    path = tmp_path / "mod.py"
    # (a module-level import would fail when the module is loaded: imported inside the step)
    path.write_text("import kiln\n\n@kiln.step\ndef s() -> int:\n    import not_installed_anywhere\n"
                    "    return 1\n\n@kiln.pipeline\ndef p():\n    s()\n")
    r = run_cli("compile", f"{path}:p", "-t", "kfp", "-o", str(tmp_path / "p.yaml"))
    assert r.returncode == 2 and "no module named 'not_installed_anywhere'" in r.stderr
    assert f"{path}, line 5" in r.stderr.replace("\n", "")
    assert not (tmp_path / "p.yaml").exists()


def test_a_distribution_installed_from_a_local_folder_is_refused(tmp_path, monkeypatch):
    """pip installed it from a folder (no wheel, no index): a container cannot get it."""
    project = tmp_path / "proj"
    (project / "homemade").mkdir(parents=True)
    (project / "homemade" / "__init__.py").write_text("X = 1\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "homemade"\nversion = "0.1"\n')
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(site), str(project)], check=True, capture_output=True)
    monkeypatch.syspath_prepend(str(site))
    environment._module_distributions.cache_clear()
    work = tmp_path / "elsewhere"
    work.mkdir()
    nb = make_notebook(work / "nb.ipynb", [(["step:a"], "import homemade\nx = homemade.X")])
    try:
        with pytest.raises(UserError) as e:
            capture(kiln.compile(nb))
    finally:
        environment._module_distributions.cache_clear()
    assert "installed from the local path" in e.value.message and "homemade" in e.value.message
    assert "pip wheel" in (e.value.hint or "")
    assert e.value.where == "nb.ipynb [cell 1], line 1"


def test_requirements_override_the_captured_pins(notebook, tmp_path):
    nb = notebook([(["step:a"], "import pandas\nx = 1")])
    req = tmp_path / "req.txt"
    req.write_text("# pinned for the cluster\npandas==2.2.3\nrequests>=2  # extra\n")
    out = tmp_path / "p.yaml"
    r = run_cli("compile", str(nb), "-t", "kfp", "-r", str(req), "--explain", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "install pandas==2.2.3" in r.stdout and "install requests>=2" in r.stdout
    assert f"install {pin('pandas')}" not in r.stdout
    command = yaml.safe_load_all(out.read_text()).__next__()["deploymentSpec"]["executors"][
        "exec-a"]["container"]["command"][2]
    assert '"pandas==2.2.3"' in command and '"requests>=2"' in command
    req.write_text("--extra-index-url http://x\n")
    r = run_cli("compile", str(nb), "-t", "kfp", "-r", str(req))
    assert r.returncode == 2 and "pip option '--extra-index-url http://x'" in r.stderr
    assert "req.txt, line 1" in r.stderr
    req.write_text("pandas===\n")
    r = run_cli("compile", str(nb), "-t", "kfp", "-r", str(req))
    assert r.returncode == 2 and "is not a pip requirement" in r.stderr


def test_notebook_metadata_can_override_too(tmp_path):
    nb = make_notebook(tmp_path / "nb.ipynb", [(["step:a"], "import pandas\nx = 1")])
    doc = json.loads(nb.read_text())
    doc["metadata"]["kiln"] = {"requirements": ["pandas==2.2.2"]}
    nb.write_text(json.dumps(doc))
    env = capture(kiln.compile(nb))
    assert env.steps["a"].requirements["pandas"] == "pandas==2.2.2"
    doc["metadata"]["kiln"] = {"requirements": "pandas"}
    nb.write_text(json.dumps(doc))
    with pytest.raises(UserError, match="must be a list of pip requirements"):
        kiln.compile(nb)
    doc["metadata"]["kiln"] = {"requirements": ["pandas=!2"]}
    nb.write_text(json.dumps(doc))
    with pytest.raises(UserError) as e:
        capture(kiln.compile(nb))
    assert e.value.where == "metadata kiln.requirements[0]"


def test_the_runtime_wheel_is_the_same_bytes_each_time_and_installs(tmp_path):
    name, data = runtime_wheel()
    assert name == f"kilnflow-{kiln.__version__}-py3-none-any.whl"
    assert runtime_wheel()[1] == data  # content-addressed: the same key every compile
    wheel = tmp_path / name
    wheel.write_bytes(data)
    with zipfile.ZipFile(wheel) as z:
        record = z.read(f"kilnflow-{kiln.__version__}.dist-info/RECORD").decode()
        for line in record.splitlines():
            path, digest, _size = line.rsplit(",", 2)
            if digest:  # every file's hash as pip checks it
                raw = hashlib.sha256(z.read(path)).digest()
                assert digest == "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    code = "import kiln.engine.kfp.executor as e, kiln; print(kiln.__file__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, check=True)
    assert out.stdout.startswith(str(target))


def test_small_local_code_is_embedded_and_large_code_stored(tmp_path, monkeypatch):
    monkeypatch.setenv("KILN_STORE", str(tmp_path / "store"))
    (tmp_path / "small.py").write_text("A = 1\n")
    nb = make_notebook(tmp_path / "nb.ipynb", [(["step:a"], "import small\nx = small.A")])
    shipment = ship(capture(kiln.compile(nb)))
    plan = shipment.plan("a")
    assert plan["code"]["data"] and "url" not in plan["code"]
    with zipfile.ZipFile(__import__("io").BytesIO(base64.b64decode(plan["code"]["data"]))) as z:
        assert z.read("small.py") == b"A = 1\n"
    assert plan["runtime"]["wheel"]["url"].startswith((tmp_path / "store").as_uri() + "/code/")
    # random text does not compress: over the embed limit, it goes to the store
    import secrets

    (tmp_path / "small.py").write_text(f"A = {secrets.token_hex(EMBED_LIMIT)!r}\n")
    shipment = ship(capture(kiln.compile(nb)))
    code = shipment.plan("a")["code"]
    assert "data" not in code and code["url"].endswith("/code.zip")
    stored = Path(code["url"][len("file://"):]).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == code["sha256"]
    assert f"/code/{code['sha256']}/" in code["url"]


def test_bad_kiln_packages_and_stores_are_clear_errors_and_write_nothing(notebook, tmp_path):
    nb = notebook([(["step:a"], "x = 1")])
    out = tmp_path / "p.yaml"
    cases = {
        str(tmp_path / "missing" / "kilnflow-9.9-py3-none-any.whl"): "No such file",
        "numpy==1.0": "names numpy, not kilnflow",
        "not a requirement!": "neither a wheel file, a URL nor a requirement",
    }
    notwheel = tmp_path / "kilnflow-1.0-py3-none-any.whl"
    notwheel.write_text("not a zip")
    cases[str(notwheel)] = "not a zip archive"
    other = tmp_path / "other-1.0-py3-none-any.whl"
    other.write_bytes(runtime_wheel()[1])
    cases[str(other)] = "is not a kilnflow wheel"
    for spec, message in cases.items():
        r = run_cli("compile", str(nb), "-t", "kfp", "--kiln-package", spec, "-o", str(out))
        assert r.returncode == 2 and message in r.stderr.replace("\n", " "), (spec, r.stderr)
        assert not out.exists()
    # a store the compile cannot write: a folder under a file
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_cli("compile", str(nb), "-t", "kfp", "-o", str(out),
                env={"KILN_STORE": str(blocker / "store")})
    assert r.returncode != 0 and "cannot open the store" in r.stderr and not out.exists()
    # an index requirement needs no store at all
    r = run_cli("compile", str(nb), "-t", "kfp", "--kiln-package", "kilnflow==0.1.0", "-o",
                str(out), env={"KILN_STORE": str(blocker / "store")})
    assert r.returncode == 0, r.stderr
    assert "kilnflow runtime: kilnflow==0.1.0" in r.stdout


def test_a_store_bucket_that_is_missing_uploads_nothing(s3_env, notebook, tmp_path):
    nb = notebook([(["step:a"], "x = 1")])
    out = tmp_path / "p.yaml"
    r = run_cli("compile", str(nb), "-t", "kfp", "-o", str(out),
                env={"KILN_STORE": "s3://no-such-bucket/kiln", "KILN_S3_ENDPOINT_URL": s3_env})
    assert r.returncode != 0 and "cannot reach the bucket 'no-such-bucket'" in r.stderr
    assert not out.exists()


BOOT = Path(kiln.__file__).parent / "engine" / "kfp" / "bootstrap.py"


def test_the_bootstrap_refuses_code_whose_hash_differs(tmp_path):
    data = b"PK\x05\x06" + b"\0" * 18  # an empty zip
    plan = {"requirements": [], "wheels": [], "boto3": None,
            "runtime": {"version": kiln.__version__, "wheel": None, "requirement": None},
            "code": {"data": base64.b64encode(data).decode(), "sha256": "0" * 64,
                     "name": "code.zip"}}
    r = subprocess.run([sys.executable, str(BOOT), json.dumps(plan)], capture_output=True,
                       text=True)
    assert r.returncode == 3 and "refusing to install it" in r.stderr and r.stdout == ""
    plan["code"]["sha256"] = hashlib.sha256(data).hexdigest()
    r = subprocess.run([sys.executable, str(BOOT), json.dumps(plan)], capture_output=True,
                       text=True)
    assert r.returncode == 0 and Path(r.stdout).is_dir()  # nothing to install here


def test_the_bootstrap_refuses_an_archive_that_escapes_its_folder(tmp_path):
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../evil.py", "x = 1")
    data = buf.getvalue()
    plan = {"requirements": [], "wheels": [], "boto3": None,
            "runtime": {"version": kiln.__version__, "wheel": None, "requirement": None},
            "code": {"data": base64.b64encode(data).decode(),
                     "sha256": hashlib.sha256(data).hexdigest(), "name": "code.zip"}}
    r = subprocess.run([sys.executable, str(BOOT), json.dumps(plan)], capture_output=True,
                       text=True)
    assert r.returncode == 3 and "unsafe path" in r.stderr


def test_a_function_step_needs_only_what_its_code_runs(tmp_path):
    """Module-level imports and the step's own (and the helpers it calls) count; another
    function's lazy import and the script's __main__ block do not."""
    path = tmp_path / "pipes.py"
    path.write_text(
        "import kiln\nimport numpy as np\n\n"
        "def helper():\n    import pandas\n    return pandas.__version__\n\n"
        "def unused():\n    import sklearn\n\n"
        "@kiln.step\ndef a() -> str:\n    import pyarrow\n    return helper()\n\n"
        "@kiln.step\ndef b() -> int:\n    return int(np.int64(1))\n\n"
        "@kiln.pipeline\ndef p():\n    a()\n    b()\n\n"
        "if __name__ == '__main__':\n    import xgboost\n    unused()\n")
    env = capture(kiln.compile(f"{path}:p"))
    a, b = env.steps["a"], env.steps["b"]
    assert {"numpy", "pandas", "pyarrow"} <= set(a.provided)
    assert "scikit-learn" not in a.requirements and "xgboost-cpu" not in a.requirements
    assert "numpy" in b.provided and "pandas" not in b.provided


def test_a_step_named_like_its_pipeline_still_loads_as_a_pipeline(tmp_path):
    """kfp's SDK loads a package whose components include comp-<pipeline name> as that one
    component (its inputs, not the pipeline's): component names stay unique, as kfp's own
    compiler keeps them."""
    from kfp import components

    from kiln.engine.kfp.compiler import compile_kfp, dump

    path = tmp_path / "fit.py"
    path.write_text("import kiln\n\n@kiln.step\ndef fit(n: int) -> int:\n    return n\n\n"
                    "@kiln.step\ndef fit_(n: int) -> int:\n    return n\n\n"
                    "@kiln.pipeline(name='fit')\ndef p(n: int = 5):\n    fit(n)\n    fit_(n)\n")
    package = compile_kfp(kiln.compile(f"{path}:p"))
    assert set(package["components"]) == {"comp-fit-2", "comp-fit-3"}
    comp = components.load_component_from_text(dump(package))
    assert comp.component_spec.inputs["n"].default == 5
