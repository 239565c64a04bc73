"""Plain SQL on the catalog, for the records every run writes and reads.

Why not SQLAlchemy here: importing it costs 0.15 s, which was 40% of a one-step `kiln run`
from the shell (the rest of that run is 0.2 s). The statements a run makes (create the run,
look up the cache, mark steps running and finished, read the run back) are few and plain, so
they are written once as portable SQL text and executed by the standard library's sqlite3 on
the default SQLite catalog, and through SQLAlchemy (`text()`) on PostgreSQL. The schema
(catalog.tables), migrations (Alembic), searches and everything else stay SQLAlchemy's.

What the SQL text must keep to, to mean the same on both:
- named parameters (`:name`); a list value expands to `(:name_0, :name_1, ...)` after IN;
- a JSON column's value is passed as `Json(value)`: JSON text on SQLite (which keeps a
  number as a number, as SQLAlchemy's writes do), a JSON-typed parameter on PostgreSQL;
- a new row's id comes from `RETURNING id` (SQLite >= 3.35);
- timestamps are read with `timestamp()` below: SQLite hands back the text SQLAlchemy
  wrote, PostgreSQL a datetime.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Json:
    """A parameter bound for a JSON column, written as SQLAlchemy's JSON type writes it."""

    value: Any


def json_loads(text: str | bytes | float) -> Any:
    """A JSON column's value, through orjson (the stdlib decoder was a third of a run list's
    time); what orjson refuses (NaN, which the stdlib writes) goes the slow way."""
    import orjson

    if isinstance(text, int | float):
        return text  # SQLite keeps a JSON number as a number (the column's numeric affinity)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        import json

        return json.loads(text)


def timestamp(value: Any) -> datetime | None:
    """A timestamp column's value as a naive UTC datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def sqlite_text(value: datetime) -> str:
    """A datetime as SQLAlchemy's SQLite dialect stores it (always with microseconds), so rows
    written here sort and compare like the rows SQLAlchemy writes."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


_PARAM = re.compile(r":(\w+)")


def expand(sql: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """List values become one parameter per element (`IN :ids` -> `IN (:ids_0, :ids_1)`)."""
    lists = {k: v for k, v in params.items() if isinstance(v, (list, tuple))}
    if not lists:
        return sql, params
    out = {k: v for k, v in params.items() if k not in lists}

    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in lists:
            return m.group(0)
        values = list(lists[name]) or [None]  # IN (NULL) matches nothing, as an empty IN should
        names = [f"{name}_{i}" for i in range(len(values))]
        out.update(zip(names, values, strict=True))
        return "(" + ", ".join(":" + n for n in names) + ")"

    return _PARAM.sub(one, sql), out


class Statements:
    """One transaction's statements."""

    def all(self, sql: str, params: dict[str, Any] | None = None) -> list[Row]:
        raise NotImplementedError

    def many(self, sql: str, rows: Sequence[dict[str, Any]]) -> None:
        """The same statement once per row (nothing when there are no rows)."""
        raise NotImplementedError

    def first(self, sql: str, params: dict[str, Any] | None = None) -> Row | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        row = self.first(sql, params)
        return row[0] if row else None

    def rowcount(self, sql: str, params: dict[str, Any] | None = None) -> int:
        raise NotImplementedError

    def load_json(self, value: Any) -> Any:
        """A JSON column's value as read by all(): SQLite gives the stored text (or number)."""
        return json_loads(value)


class _SQLite(Statements):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @staticmethod
    def _params(params: dict[str, Any] | None) -> dict[str, Any]:
        out = {}
        for k, v in (params or {}).items():
            if isinstance(v, datetime):
                v = sqlite_text(v)
            elif isinstance(v, Json):
                v = json.dumps(v.value)  # what SQLAlchemy's JSON type writes
            out[k] = v
        return out

    def all(self, sql: str, params: dict[str, Any] | None = None) -> list[Row]:
        sql, p = expand(sql, self._params(params))
        return self.conn.execute(sql, p).fetchall()

    def many(self, sql: str, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.conn.executemany(sql, [self._params(r) for r in rows])

    def rowcount(self, sql: str, params: dict[str, Any] | None = None) -> int:
        sql, p = expand(sql, self._params(params))
        return self.conn.execute(sql, p).rowcount


class _Alchemy(Statements):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.decoded = conn.dialect.name != "sqlite"  # psycopg decodes json columns itself

    def load_json(self, value: Any) -> Any:
        return value if self.decoded else json_loads(value)

    @staticmethod
    def _statement(sql: str, sample: dict[str, Any]) -> tuple[Any, set[str]]:
        from sqlalchemy import JSON, bindparam, text

        json_names = {k for k, v in sample.items() if isinstance(v, Json)}
        stmt = text(sql)
        if json_names:
            stmt = stmt.bindparams(*(bindparam(n, type_=JSON) for n in json_names))
        return stmt, json_names

    @staticmethod
    def _values(params: dict[str, Any], json_names: set[str]) -> dict[str, Any]:
        return {k: v.value if k in json_names else v for k, v in params.items()}

    def all(self, sql: str, params: dict[str, Any] | None = None) -> list[Row]:
        sql, p = expand(sql, params or {})
        stmt, names = self._statement(sql, p)
        result = self.conn.execute(stmt, self._values(p, names))
        return [tuple(r) for r in result] if result.returns_rows else []

    def many(self, sql: str, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            stmt, names = self._statement(sql, rows[0])
            self.conn.execute(stmt, [self._values(r, names) for r in rows])

    def rowcount(self, sql: str, params: dict[str, Any] | None = None) -> int:
        sql, p = expand(sql, params or {})
        stmt, names = self._statement(sql, p)
        result: Any = self.conn.execute(stmt, self._values(p, names))
        return int(result.rowcount)


class SQLiteConnections:
    """One sqlite3 connection per thread (a connection is not to be shared by threads), set
    up as the SQLAlchemy engines set theirs up (catalog.db), and new ones after a fork."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                                   check_same_thread=False)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                           "busy_timeout=60000"):
                conn.execute(f"PRAGMA {pragma}")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Statements]:
        conn = self._conn()
        # Writers take the write lock up front, as the SQLAlchemy writer does (catalog.db).
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield _SQLite(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def create(self, script: str) -> bool:
        """Create the schema from `script` (statements separated by blank lines) in one
        transaction, if the database is empty; False (nothing done) if it is not."""
        with self.transaction(write=True) as q:
            if q.scalar("SELECT count(*) FROM sqlite_master"):
                return False
            for statement in script.split(";\n\n"):
                if statement.strip():
                    q.all(statement)
        return True

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            conn.close()
        self._local = threading.local()

    def forget(self) -> None:
        """After fork: the parent's connection is left alone, the child opens its own."""
        self._local = threading.local()


@contextmanager
def through_sqlalchemy(conn: Connection) -> Iterator[Statements]:
    yield _Alchemy(conn)
