"""The notebook panel's TypeScript: its unit tests (Kale's tag grammar, the metadata it
writes) under Node's test runner, and the prebuilt extension shipped in the package being
what its sources build to. Needs Node.js and npm (the npm registry for `npm ci`); skipped,
saying so, where they are missing — the shipped bundle needs neither."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "jupyterlab"
SHIPPED = ROOT / "src" / "kiln" / "jupyter" / "share" / "labextensions" / "kilnflow-jupyterlab"


@pytest.fixture(scope="module")
def node_modules() -> Path:
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("Node.js and npm are not installed: the panel's TypeScript is not checked")
    modules = SOURCES / "node_modules"
    if not (modules / ".package-lock.json").exists():
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=SOURCES,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return modules


def test_the_typescript_unit_tests_pass(node_modules: Path):
    r = subprocess.run(["npm", "test"], cwd=SOURCES, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "# fail 0" in r.stdout


def test_the_sources_build(node_modules: Path, tmp_path: Path):
    import jupyterlab

    work = tmp_path / "panel"
    shutil.copytree(SOURCES, work, ignore=shutil.ignore_patterns("node_modules", "lib",
                                                                 "lib-test"))
    os.symlink(node_modules, work / "node_modules")
    package = json.loads((work / "package.json").read_text())
    package["jupyterlab"]["outputDir"] = "../out"
    (work / "package.json").write_text(json.dumps(package))
    core = Path(jupyterlab.__file__).parent / "staging"
    for cmd in (["npx", "tsc"], ["npx", "build-labextension", "--core-path", str(core), "."]):
        r = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    built = json.loads((tmp_path / "out" / "package.json").read_text())
    shipped = json.loads((SHIPPED / "package.json").read_text())
    assert built["jupyterlab"]["_build"].keys() == shipped["jupyterlab"]["_build"].keys()


def sources_digest() -> str:
    """What scripts/stamp.js records after a build."""
    h = hashlib.sha256()
    files = [f"{d}/{p.name}" for d in ("src", "style")
             for p in sorted((SOURCES / d).iterdir(), key=lambda p: p.name)]
    for f in [*files, "package.json", "package-lock.json"]:
        h.update(f.encode() + b"\n")
        h.update((SOURCES / f).read_bytes())
        h.update(b"\n")
    return h.hexdigest()


def test_the_shipped_bundle_was_built_from_these_sources():
    """Needs no Node: the bundle records the digest of the sources it was built from."""
    stamp = json.loads((SHIPPED / "kilnflow-sources.json").read_text())
    assert stamp["sha256"] == sources_digest(), \
        "the shipped panel is stale: rebuild it with `npm --prefix jupyterlab run build`"
