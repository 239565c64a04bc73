"""The catalog's schema moves forward by Alembic migrations, applied when a catalog opens."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from kiln.catalog import db
from kiln.catalog.db import Catalog


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(db._MIGRATIONS))
    return cfg


def test_head_revision_is_alembics_head():
    assert db.HEAD_REVISION == ScriptDirectory.from_config(_config()).get_current_head()


def test_an_older_catalog_is_upgraded_on_open(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")  # a catalog written before pipelines existed
    engine.dispose()
    cat = Catalog(url, lock_dir=tmp_path)
    with cat.read() as s:
        assert s.execute(text("SELECT version_num FROM alembic_version")).scalar() == \
            db.HEAD_REVISION
    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"pipelines", "pipeline_versions", "run_labels"} <= tables
    cat.close()


def alembic_schema(tmp_path: Path) -> str:
    """The SQL SQLite stores for the schema Alembic's migrations make, in creation order."""
    url = f"sqlite:///{tmp_path / 'alembic.db'}"
    engine = create_engine(url)
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    with engine.connect() as c:
        statements = [sql for (sql,) in c.execute(text(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"))]
        version = c.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    statements.append(f"INSERT INTO alembic_version (version_num) VALUES ('{version}')")
    return ";\n\n".join(statements) + ";\n"


def test_the_sqlite_schema_file_is_what_the_migrations_make(tmp_path: Path):
    """A new SQLite catalog is made from catalog/migrations/sqlite_schema.sql (no Alembic or
    SQLAlchemy import on a first run). KILN_WRITE_SCHEMA=1 rewrites the file after a new
    migration; without it, a stale file fails here."""
    import os

    want = alembic_schema(tmp_path)
    if os.environ.get("KILN_WRITE_SCHEMA") == "1":
        db.SQLITE_SCHEMA.write_text(want)
    assert db.SQLITE_SCHEMA.read_text() == want, (
        "catalog/migrations/sqlite_schema.sql is stale: rewrite it with "
        "KILN_WRITE_SCHEMA=1 python -m pytest tests/catalog/test_migrations.py -k sqlite_schema")


def test_a_new_catalog_from_the_schema_file_equals_one_alembic_made(tmp_path: Path):
    cat = Catalog(f"sqlite:///{tmp_path / 'new.db'}", lock_dir=tmp_path)
    cat.close()
    fresh = create_engine(f"sqlite:///{tmp_path / 'new.db'}")
    with fresh.connect() as c:
        made = [sql for (sql,) in c.execute(text(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"))]
        version = c.execute(text("SELECT version_num FROM alembic_version")).scalar()
    fresh.dispose()
    (tmp_path / "a").mkdir()
    want = alembic_schema(tmp_path / "a")
    assert version == db.HEAD_REVISION
    assert ";\n\n".join(made) + ";\n\n" + \
        f"INSERT INTO alembic_version (version_num) VALUES ('{version}');\n" == want


def test_a_database_with_other_tables_is_left_to_alembic(tmp_path: Path):
    """Only an empty database is made from the file; one holding anything else (a catalog
    from before versioning, someone's own tables) goes through Alembic as before."""
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (x TEXT)")
    cat = Catalog(f"sqlite:///{path}", lock_dir=tmp_path)
    cat.close()
    with sqlite3.connect(path) as conn:
        names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert {"notes", "runs", "tasks"} <= names and version == db.HEAD_REVISION
