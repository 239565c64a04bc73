"""The catalog on PostgreSQL: the suites that lean on the catalog run again with every test's
catalog in a PostgreSQL database (Debian's server, started by the `postgres` fixture), in a
pytest of their own so each test gets the same fixtures it has on SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ON_POSTGRES, PostgresServer

ROOT = Path(__file__).resolve().parents[2]
# What writes and queries the catalog most: records, search, lineage, migrations, identity
# (users, roles, tokens, the permission matrix), the REST API with eight runs writing at
# once, schedules and visuals. Any other suite runs there the same
# way: KILN_TEST_DATABASE=postgresql python -m pytest tests/...
SUITES = ["tests/catalog", "tests/identity", "tests/server/test_api.py",
          "tests/server/test_pipelines_api.py",
          "tests/server/test_namespaces.py", "tests/engine/test_recurring.py",
          "tests/sdk/test_visuals.py"]


def test_catalog_suites_pass_on_postgresql(postgres: PostgresServer):
    if ON_POSTGRES:
        pytest.skip("already inside the PostgreSQL run")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-m", "not slow", *SUITES], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "KILN_TEST_DATABASE": "postgresql"}, timeout=1800)
    assert r.returncode == 0, r.stdout[-8000:] + r.stderr[-2000:]


def test_catalogs_are_in_postgresql_in_that_run():
    if not ON_POSTGRES:
        pytest.skip("runs inside the PostgreSQL run")
    from kiln.runtime import Runtime

    cat = Runtime.open().catalog
    assert cat.url.startswith("postgresql") and not cat.is_sqlite
    with cat.read() as s:
        from sqlalchemy import text

        assert "PostgreSQL" in s.execute(text("SELECT version()")).scalar()
