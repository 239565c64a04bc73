"""What a run costs before its first step, checked by what gets imported, never by the clock
(benchmarks/shell_start.py measures the time): a `kiln run` on SQLite never imports
SQLAlchemy, a step process never re-imports the command line, the fork server preloads what
the pipeline's steps import and nothing else, and records written by catalog.sql read back
through SQLAlchemy exactly as SQLAlchemy's own writes do."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import pytest

import kiln
from tests.conftest import ON_POSTGRES, run_cli

PROBE = """
import sys
import kiln

WATCH = ("typer", "rich", "sqlalchemy", "numpy", "pandas", "pipes_main_marker")


@kiln.step(cache=False)
def probe() -> str:
    loaded = [m for m in WATCH if m in sys.modules]
    import numpy  # imported here, after looking: a library the step uses is preloaded
    return ",".join(loaded)


@kiln.pipeline(name="probe")
def p() -> None:
    probe()


if __name__ == "__main__":
    import pipes_main_marker  # noqa: F401  (never importable: this block must not run)
"""

PARENT = """
import sys
from kiln.cli.main import main
try:
    main()
except SystemExit as e:
    if e.code:
        raise
print("PARENT " + ",".join(m for m in ("sqlalchemy", "sqlalchemy.orm", "alembic", "pandas",
                                       "numpy") if m in sys.modules))
"""


@pytest.mark.skipif(ON_POSTGRES, reason="PostgreSQL's catalog goes through SQLAlchemy")
def test_a_run_from_the_shell_imports_no_sqlalchemy_and_steps_do_not_reimport_the_cli(module, tmp_path):
    module(PROBE, name="probing")
    (tmp_path / "parent.py").write_text(PARENT)
    for _ in range(2):  # the first run creates the catalog (Alembic); the second is the norm
        r = run_cli("run", "probing.py:p", "-q", cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
    import subprocess

    r = subprocess.run([sys.executable, "parent.py", "run", "probing.py:p", "-q"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    parent = r.stdout.split("PARENT ")[-1].strip()
    assert parent == "", f"the run's own process imported {parent}"
    step = kiln.get_run("latest")
    assert step.status == "succeeded"
    loaded = step.output("probe").split(",")
    # numpy: the step imports it, so the fork server preloaded it; the rest never reach a step
    assert loaded == ["numpy"], loaded


def test_the_fork_server_is_restarted_for_a_later_pipeline_that_needs_more(module, tmp_path):
    """One process running two pipelines (a notebook, the server): the second one's libraries
    are preloaded too, since no step of the first is still running."""
    plain = module("""
        import sys
        import kiln

        @kiln.step(cache=False)
        def look() -> bool:
            return "numpy" in sys.modules

        @kiln.pipeline(name="plain")
        def p() -> None:
            look()
    """, name="plainpipe")
    numeric = module("""
        import sys
        import kiln

        @kiln.step(cache=False)
        def look() -> bool:
            seen = "sklearn.linear_model" in sys.modules
            from sklearn.linear_model import LinearRegression  # noqa: F401
            return seen

        @kiln.pipeline(name="numeric")
        def p() -> None:
            look()
    """, name="numericpipe")
    first = kiln.run(f"{plain}:p", progress=False)
    second = kiln.run(f"{numeric}:p", progress=False)
    assert first.status == second.status == "succeeded"
    assert second.output("look") is True
    from kiln.engine import pool

    assert "sklearn.linear_model" in pool.preloaded()


def test_records_written_as_plain_sql_read_back_as_sqlalchemy_writes_them(rt):
    """Parameters (JSON) and timestamps written by catalog.sql are what SQLAlchemy's types
    read, and the run-list search (text comparisons of the stored JSON) finds them."""
    from sqlalchemy import select

    from kiln.catalog import runs, tables

    params = {"lr": ("float", 0.1), "opt": ("str", "adam"), "n": ("int", 3),
              "flag": ("bool", True), "layers": ("list", [64, 32]), "big": ("int", 2**53 + 1),
              "none": ("str", None), "tiny": ("float", 1e-12)}
    run_id, tasks = runs.create_run(
        rt.catalog, pipeline="p", experiment="exp", spec_json="{}", spec_digest="d",
        source="s", params=params, steps=["a", "b"], labels={"team": "vision"})
    assert set(tasks) == {"a", "b"}
    runs.set_task(rt.catalog, tasks["a"], status="running", started_at=datetime(2026, 1, 2, 3, 4, 5))
    runs.finish_run(rt.catalog, run_id, "succeeded")
    with rt.catalog.connect() as c:
        stored = dict(c.execute(select(tables.run_params.c.name, tables.run_params.c.value)
                                .where(tables.run_params.c.run_id == run_id)).all())
        started = c.scalar(select(tables.tasks.c.started_at)
                           .where(tables.tasks.c.id == tasks["a"]))
        created = c.scalar(select(tables.runs.c.created_at).where(tables.runs.c.id == run_id))
    assert stored == {k: v for k, (_, v) in params.items()}
    assert started == datetime(2026, 1, 2, 3, 4, 5)
    assert isinstance(created, datetime)
    info = runs.get_run(rt.catalog, run_id)
    assert info.params == {k: v for k, (_, v) in params.items()}
    assert info.labels == {"team": "vision"} and info.experiment == "exp"
    assert info.task("a").started_at == datetime(2026, 1, 2, 3, 4, 5)
    assert info.task("b").status == "skipped"
    for text, found in (("params.opt = adam", True), ("params.lr <= 0.1", True),
                        ("params.layers = [64, 32]", True), ("params.flag = true", True),
                        ("params.opt = sgd", False), ("labels.team = vision", True),
                        ("labels.team != vision", False), ("experiment = exp", True)):
        got = [r.id for r in runs.list_runs(rt.catalog, filter_text=text)]
        assert got == ([run_id] if found else []), text
    assert json.loads(json.dumps(info.to_dict()))["params"]["big"] == 2**53 + 1


def test_an_in_list_expands_and_an_empty_one_matches_nothing():
    from kiln.catalog.sql import expand

    sql, p = expand("SELECT 1 WHERE a IN :ids AND b = :b", {"ids": ["x", "y"], "b": 1})
    assert sql == "SELECT 1 WHERE a IN (:ids_0, :ids_1) AND b = :b"
    assert p == {"ids_0": "x", "ids_1": "y", "b": 1}
    sql, p = expand("a IN :ids", {"ids": []})
    assert sql == "a IN (:ids_0)" and p == {"ids_0": None}


def test_a_file_that_is_not_a_catalog_is_a_clear_error(tmp_path):
    from kiln.catalog.db import Catalog
    from kiln.errors import CatalogError

    bad = tmp_path / "catalog.db"
    bad.write_bytes(b"this is not a database, just some bytes " * 100)
    with pytest.raises(CatalogError, match="cannot open the catalog"):
        Catalog(f"sqlite:///{bad}")
