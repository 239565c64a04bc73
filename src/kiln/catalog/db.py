"""Opening the catalog database: SQLite (WAL) by default, PostgreSQL by URL; migrated on open."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.catalog.sql import SQLiteConnections, Statements, json_loads, through_sqlalchemy
from kiln.errors import CatalogError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.orm import Session, sessionmaker

# SQLAlchemy is imported on first use, not here: a run's own records go through catalog.sql,
# and on SQLite a `kiln run` then never imports it (0.15 s).

_MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration, from the file names (NNNN_what.py, revision "NNNN"): a constant kept by
# hand went stale once, and then every open ran Alembic and older catalogs missed a migration.
HEAD_REVISION = max(p.name[:4] for p in
                    (_MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
# A new SQLite catalog is this: the schema Alembic's migrations make, as SQLite stores it,
# written once per migration (tests/catalog/test_migrations.py checks it and rewrites it).
# Creating it costs no Alembic or SQLAlchemy import, which was half of a first `kiln run`.
SQLITE_SCHEMA = _MIGRATIONS / "sqlite_schema.sql"


def now() -> datetime:
    """The catalog's timestamps: naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    from sqlalchemy import create_engine, event

    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False},
                           json_deserializer=json_loads)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours to issue.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cur.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe under WAL
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front: a deferred transaction that later upgrades
        # to writing can fail at once with "database is locked" under concurrent writers.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


_WRITE_LOCK = 0x6B696C6E  # "kiln": the advisory lock PostgreSQL writers take (see write())


class Catalog:
    """The record store. `with catalog.write() as s:` / `with catalog.read() as s:` give ORM
    sessions; `with catalog.begin() as c:` / `with catalog.connect() as c:` give Core
    connections, for modules that use only `catalog.tables` and so never import the ORM;
    `with catalog.sql(write=...) as q:` runs plain SQL text (catalog.sql), for the statements
    of every run, without importing SQLAlchemy on SQLite."""

    def __init__(self, url: str, *, lock_dir: Path | None = None,
                 schema: str | None = None) -> None:
        """`schema`: on PostgreSQL, keep the tables in this schema (a namespace's catalog)."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.schema = None if self.is_sqlite else schema
        self._lite: SQLiteConnections | None = None
        if self.is_sqlite:
            db_path = url.split("sqlite:///", 1)[-1]
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
            self._lite = SQLiteConnections(db_path)
            lock_dir = lock_dir or Path(db_path).parent
        elif self.schema:
            self._use_schema(self.schema)
        self._lock_path = (lock_dir / "catalog.lock") if lock_dir else None
        self._migrate()

    @cached_property
    def _engines(self) -> tuple[Engine, Engine]:
        """(writer, reader), made on first use."""
        if self.is_sqlite:
            return (_sqlite_engine(self.url, immediate=True),
                    _sqlite_engine(self.url, immediate=False))
        from sqlalchemy import create_engine

        engine = create_engine(self.url, pool_pre_ping=True, json_deserializer=json_loads)
        return engine, engine

    @property
    def _write_engine(self) -> Engine:
        return self._engines[0]

    @property
    def _read_engine(self) -> Engine:
        return self._engines[1]

    @contextmanager
    def sql(self, *, write: bool = False) -> Iterator[Statements]:
        """One transaction of plain SQL statements (see catalog.sql), committed on leaving."""
        if self._lite is not None:
            with self._lite.transaction(write=write) as q:
                yield q
            return
        with (self.begin() if write else self.connect()) as c, through_sqlalchemy(c) as q:
            yield q

    @cached_property
    def _sessions(self) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
        from sqlalchemy.orm import sessionmaker  # the ORM only when a session is asked for

        return (sessionmaker(self._write_engine, expire_on_commit=False),
                sessionmaker(self._read_engine, expire_on_commit=False))

    def _one_writer(self, s: Session | Connection) -> None:
        from sqlalchemy import text

        if not self.is_sqlite:
            # One writer at a time, as SQLite's BEGIN IMMEDIATE gives: the catalog's
            # read-then-insert steps (an experiment by name, an artifact by digest, the
            # next version number) are then safe on PostgreSQL too. Writes are short.
            s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK})

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._sessions[0].begin() as s:
            self._one_writer(s)
            yield s

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions[1]() as s:
            yield s

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction on a Core connection, committed on leaving."""
        with self._write_engine.begin() as c:
            self._one_writer(c)
            yield c

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._read_engine.connect() as c:
            yield c

    def _current_revision(self) -> str | None:
        if self._lite is not None:
            try:
                with self._lite.transaction(write=False) as q:
                    found = q.scalar("SELECT version_num FROM alembic_version")
                return None if found is None else str(found)
            except sqlite3.OperationalError as e:
                if "no such table" in str(e):
                    return None
                raise
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        with self._read_engine.connect() as c:
            try:
                return c.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except DBAPIError:  # no alembic_version table yet (SQLite and PostgreSQL alike)
                return None

    def _migrate(self) -> None:
        hint = "check KILN_HOME / KILN_DATABASE_URL"
        try:
            if self._current_revision() == HEAD_REVISION:
                return  # the common case: one query, no Alembic (nor SQLAlchemy) import
            with self._migration_lock():
                current = self._current_revision()
                if current == HEAD_REVISION:
                    return
                if current is None and self._lite is not None and \
                        self._lite.create(SQLITE_SCHEMA.read_text()):
                    return
                self._upgrade()
        except sqlite3.DatabaseError as e:
            raise CatalogError(f"cannot open the catalog at {self.url}: {e}", hint=hint) from None
        except Exception as e:
            from sqlalchemy.exc import OperationalError  # loaded already if it raised this

            if isinstance(e, OperationalError):
                raise CatalogError(f"cannot open the catalog at {self.url}: {e.orig}",
                                   hint=hint) from None
            raise

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """Several processes may open a new catalog at once; one migrates, the rest wait.
        On PostgreSQL they may be on several machines: the lock is an advisory lock there."""
        if not self.is_sqlite:
            from sqlalchemy import text

            with self._write_engine.connect() as c:
                c.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _WRITE_LOCK + 1})
                try:
                    yield
                finally:
                    c.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _WRITE_LOCK + 1})
            return
        if self._lock_path is None:
            yield
            return
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _upgrade(self) -> None:
        from alembic import command
        from alembic.config import Config
        from sqlalchemy import create_engine, text

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        # The plain engine: Alembic manages its own transactions around DDL.
        plain = create_engine(self.url)
        try:
            with plain.begin() as conn:
                if self.schema:
                    conn.execute(text(f'SET search_path TO "{self.schema}"'))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        finally:
            plain.dispose()

    def _use_schema(self, schema: str) -> None:
        """Every connection looks in `schema` first, so the same tables (and Alembic's version
        table) live once per namespace; the schema is made on first use."""
        from sqlalchemy import event, text

        with self._write_engine.begin() as c:
            c.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))

        @event.listens_for(self._write_engine, "connect")
        def _search_path(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f'SET search_path TO "{schema}"')
            cur.close()
            dbapi_conn.commit()

        self._write_engine.dispose()  # the connection made above predates the listener

    def close(self) -> None:
        if self._lite is not None:
            self._lite.close()
        if "_engines" in self.__dict__:
            for engine in self._engines:
                engine.dispose()

    def forget_connections(self) -> None:
        """After fork: new connections from here on, the parent's left alone."""
        if self._lite is not None:
            self._lite.forget()
        if "_engines" in self.__dict__:
            for engine in self._engines:
                engine.dispose(close=False)
