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
