from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kiln.processes import free_port

OUTPUT_DIR = Path(__file__).parent.parent / "test-output"


# KILN_TEST_DATABASE=postgresql runs the tests with their catalogs in PostgreSQL (Debian's
# package, started by the `postgres` fixture) instead of SQLite files;
# tests/catalog/test_postgresql_suite.py does that for the catalog-heavy suites.
ON_POSTGRES = os.environ.get("KILN_TEST_DATABASE") == "postgresql"


@pytest.fixture(autouse=True)
def compile_parity(request: pytest.FixtureRequest) -> Iterator[None]:
    """Compile parity: every pipeline a test runs to success on the local engine also
    compiles to a Kubeflow package that the kfp SDK loads, with its environment captured.
    Checked after the test, so it covers every notebook and module the suite runs."""
    try:
        import kfp  # noqa: F401
    except ImportError:
        yield
        return
    from kiln.engine.local import LocalEngine

    failures: list[str] = []
    seen: set[str] = set()
    original = LocalEngine.run

    def run(self: Any, spec: Any, params: Any, options: Any) -> str:
        run_id = original(self, spec, params, options)
        from kiln.catalog import runs as records

        # checked at once (the test may move the pipeline's files later), reported after
        if records.get_run(self.rt.catalog, run_id).status == "succeeded" and \
                spec.digest() not in seen:
            seen.add(spec.digest())
            try:
                check_compiles(spec)
            except Exception as e:  # noqa: BLE001 - reported as the test's failure below
                failures.append(f"{spec.name} ({spec.source.get('path')}): {e!r}")
        return run_id

    LocalEngine.run = run  # type: ignore[method-assign]
    try:
        yield
    finally:
        LocalEngine.run = original  # type: ignore[method-assign]
    if failures:
        pytest.fail("compile parity: a pipeline that ran does not compile to KFP: "
                    + "; ".join(failures))


def check_compiles(spec: Any) -> None:
    """`spec` compiles to a package the kfp SDK loads (the runtime as an index requirement,
    so nothing is written to a store)."""
    from kfp import components

    from kiln.engine.kfp.compiler import compile_kfp, dump
    from kiln.engine.kfp.shipping import ship_spec

    shipment = ship_spec(spec, kiln_package=f"kilnflow=={__import__('kiln').__version__}")
    text = dump(compile_kfp(spec, shipment=shipment))
    component = components.load_component_from_text(text)
    assert set(component.component_spec.inputs or {}) == {p.name for p in spec.parameters}, \
        f"compile parity: {spec.name}"


@pytest.fixture(autouse=True)
def kiln_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              request: pytest.FixtureRequest) -> Iterator[Path]:
    """Every test gets its own KILN_HOME: its own catalog and store."""
    home = tmp_path / "kiln-home"
    monkeypatch.setenv("KILN_HOME", str(home))
    monkeypatch.delenv("KILN_DATABASE_URL", raising=False)
    if not ON_POSTGRES:
        yield home
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = server.create_database()
    monkeypatch.setenv("KILN_DATABASE_URL", server.url(name))
    yield home
    from kiln.runtime import close_all

    close_all()  # this test's pooled connections go before its database does
    server.drop_database(name)


def make_notebook(path: Path, cells: list[tuple[list[str] | None, str]],
                  metadata: dict[str, Any] | None = None, nbformat: int = 4) -> Path:
    """Write a .ipynb with code cells given as (tags, source)."""
    nb_cells = []
    for tags, source in cells:
        if tags == ["markdown"]:
            nb_cells.append({"cell_type": "markdown", "metadata": {}, "source": source})
            continue
        meta: dict[str, Any] = {"tags": tags} if tags else {}
        nb_cells.append({"cell_type": "code", "execution_count": None, "metadata": meta,
                         "outputs": [], "source": textwrap.dedent(source).strip("\n")})
    nb = {"cells": nb_cells, "metadata": {"kubeflow_notebook": metadata or {}},
          "nbformat": nbformat, "nbformat_minor": 5 if nbformat == 4 else 0}
    path.write_text(json.dumps(nb, indent=1))
    return path


@pytest.fixture
def notebook(tmp_path: Path) -> Callable[..., Path]:
    def build(cells: list[tuple[list[str] | None, str]], metadata: dict[str, Any] | None = None,
              name: str = "pipeline.ipynb", nbformat: int = 4) -> Path:
        return make_notebook(tmp_path / name, cells, metadata, nbformat)

    return build


@pytest.fixture
def module(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a pipeline module into the test's folder and return its path."""

    def write(source: str, name: str = "pipes") -> Path:
        p = tmp_path / f"{name}.py"
        p.write_text(textwrap.dedent(source))
        return p

    return write


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 300, input_text: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {}), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "kiln.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=full_env, timeout=timeout, input=input_text)


def sigint_as_terminal() -> None:
    """preexec_fn for a CLI started to receive Ctrl-C: a shell starts background jobs with
    SIGINT ignored, children inherit that, and Python then never raises KeyboardInterrupt."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


KALE_VERSION = "2.3.0"


@pytest.fixture(scope="session")
def kale_notebooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example notebooks shipped inside Kale's own wheel, unchanged (from PyPI), and its
    SDK test modules under sdk/."""
    cache = Path(os.environ.get("KILN_TEST_CACHE", Path.home() / ".cache" / "kiln-tests"))
    wheel_dir = cache / f"kale-{KALE_VERSION}"
    wheels = list(wheel_dir.glob("*.whl")) if wheel_dir.exists() else []
    if not wheels:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d",
                            str(wheel_dir), f"kubeflow-kale=={KALE_VERSION}"],
                           capture_output=True, text=True)
        wheels = list(wheel_dir.glob("*.whl"))
        if r.returncode != 0 or not wheels:
            pytest.skip(f"cannot download kubeflow-kale from PyPI: {r.stderr[-300:]}")
    out = tmp_path_factory.mktemp("kale")
    (out / "sdk").mkdir()
    with zipfile.ZipFile(wheels[0]) as z:
        for name in z.namelist():
            if name.endswith(".ipynb"):
                target = out / Path(name).name
                target.write_bytes(z.read(name))
            elif "/tests/assets/sdk/" in name and name.endswith(".py"):
                (out / "sdk" / Path(name).name).write_bytes(z.read(name))  # Kale SDK modules
    return out


# --- shared by several suites: Debian packages, PostgreSQL, venvs for clients whose pins
# clash with ours, S3 on loopback


def debian_package(package: str, find: Callable[[], str | None]) -> str:
    """What `find` finds, after installing Debian's `package` with apt when it is missing and
    we are root (as in CI); elsewhere the test is skipped with the command to run."""
    found = find()
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"needs Debian's {package}: sudo apt-get install -y {package}")
    with _machine_lock("apt"):  # test workers run in parallel; apt takes one at a time
        found = find()
        if found:
            return found
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=env,
                       capture_output=True)
    found = find()
    assert found, f"apt-get installed {package} but it cannot be found"
    return found


@contextlib.contextmanager
def _machine_lock(name: str) -> Iterator[None]:
    """One holder at a time on this machine (pytest-xdist workers set up shared things)."""
    import fcntl

    path = Path(tempfile.gettempdir()) / f"kiln-tests-{name}.lock"
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _postgres_bin() -> str | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return str(found[-1].parent) if found else None


class PostgresServer:
    """Debian's PostgreSQL on a loopback port with a throwaway cluster (trust auth, fsync off).
    Test databases are copies of a template the catalog's migrations already ran on."""

    def __init__(self) -> None:
        import tempfile

        self.bin = Path(debian_package("postgresql", _postgres_bin))
        pytest.importorskip("psycopg")
        # initdb refuses to run as root; as root the cluster belongs to the postgres user.
        self.dir = Path(tempfile.mkdtemp(prefix="kiln-pg-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
        self.port = free_port()
        self._pg("initdb", "-D", f"{self.dir}/data", "-U", "kiln", "--auth=trust", "-E", "UTF8")
        self._pg("pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/log", "-w", "-o",
                 f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                 "-c synchronous_commit=off -c full_page_writes=off -c max_connections=400",
                 "start")
        self.count = 0
        self._admin(["CREATE DATABASE kiln_template"])
        from kiln.catalog.db import Catalog

        Catalog(self.url("kiln_template")).close()  # migrated once; copies start migrated

    def _pg(self, tool: str, *args: str) -> None:
        r = subprocess.run([*self.as_user, str(self.bin / tool), *args], capture_output=True,
                           text=True, cwd=self.dir)
        assert r.returncode == 0, f"{tool} failed: {r.stdout}{r.stderr}"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://kiln@127.0.0.1:{self.port}/{database}"

    def _admin(self, statements: list[str]) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=kiln dbname=postgres",
                             autocommit=True) as conn:
            for sql in statements:
                conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self) -> str:
        self.count += 1
        name = f"kiln_test_{os.getpid()}_{self.count}"
        self._admin([f"CREATE DATABASE {name} TEMPLATE kiln_template"])
        return name

    def drop_database(self, name: str) -> None:
        self._admin([f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", f"{self.dir}/data", "-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    yield server
    server.stop()




@contextlib.contextmanager
def kiln_server(*args: str, env: dict[str, str] | None = None,
                log: list[str] | None = None) -> Iterator[str]:
    """A real `kiln server` process on a free loopback port (KILN_HOME from the environment,
    plus `env`); yields its base URL once /api/v1/health answers, and stops it after.
    `log`: gets what the server printed, once it has stopped."""
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kiln.cli", "server", "--port", str(port),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        if log is not None:
            log.append(out or "")


def tool_python(name: str, pins: list[str]) -> Path:
    """A venv of its own for a client whose pins clash with ours, cached between runs."""
    cache = Path(os.environ.get("KILN_TEST_CACHE", Path.home() / ".cache" / "kiln-tests"))
    venv = cache / name
    py = venv / "bin" / "python"
    marker = venv / ".complete"
    if marker.exists():
        return py
    with _machine_lock(f"venv-{name}"):
        if not marker.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run([str(py), "-m", "pip", "install", "-q", *pins], check=True,
                           capture_output=True)
            marker.write_text(" ".join(pins))
    return py


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """A real S3-compatible server (moto's standalone server) on loopback."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def s3_env(moto_s3: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_s3)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return moto_s3


# --- volumes: folders to snapshot (the volume, store and engine suites use them)


def fill(root: Path, seed: int = 0, small: int = 60, big_mb: float = 3.0) -> dict[str, bytes]:
    """A volume-like folder: small text files in subfolders plus one multi-chunk binary."""
    rng = np.random.default_rng(seed)
    files: dict[str, bytes] = {}
    for i in range(small):
        rel = f"part{i % 3}/f{i:03d}.txt"
        files[rel] = (f"row {i}\n" * int(rng.integers(1, 400))).encode()
    files["big.bin"] = rng.integers(0, 255, int(big_mb * (1 << 20)), dtype=np.uint8).tobytes()
    files["empty.txt"] = b""
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


def tree_of(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            p = Path(dirpath) / n
            if not p.is_symlink():
                out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


@pytest.fixture
def rt():
    from kiln.runtime import Runtime

    return Runtime.open()


@pytest.fixture
def volume(rt, tmp_path: Path):
    """A volume 'data' adopted from a filled folder; returns (name, folder, files)."""
    from kiln.volumes import volumes

    folder = tmp_path / "vol"
    folder.mkdir()
    files = fill(folder)
    volumes.create("data", folder, rt=rt)
    return "data", folder, files
