"""Finding a record by what a user types: its name, its id, a unique id prefix, or 'latest'."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.sql.elements import ColumnElement

from kiln.catalog.db import Catalog
from kiln.errors import NotFoundError


def resolve_ref(cat: Catalog, ref: str, *, id_col: Any, created_col: Any, noun: str,
                start_hint: str, list_hint: str, name_col: Any = None,
                ambiguous_hint: str | None = None) -> str:
    """The full id `ref` stands for. `noun` is the record's name ("run", "study")."""
    with cat.connect() as s:  # Core: no ORM import for a lookup by id
        if ref == "latest":
            found = s.scalar(select(id_col).order_by(created_col.desc(), id_col.desc()).limit(1))
            if found is None:
                raise NotFoundError(f"there are no {_plural(noun)} yet", hint=start_hint)
            return str(found)
        if name_col is not None:
            by_name = s.scalar(select(id_col).where(name_col == ref))
            if by_name is not None:
                return str(by_name)
        matches = s.scalars(select(id_col).where(id_prefix(id_col, ref)).limit(6)).all()
    if len(matches) == 1:
        return str(matches[0])
    if not matches:
        raise NotFoundError(f"no {noun} '{ref}'", hint=list_hint)
    raise NotFoundError(f"'{ref}' matches several {_plural(noun)}: {', '.join(matches[:5])}",
                        hint=ambiguous_hint or f"give more characters of the {noun} id")


def id_prefix(col: Any, prefix: str) -> ColumnElement[bool]:
    """`col` starts with `prefix`, written so the column's index is used: SQLite never uses an
    index for LIKE (its LIKE ignores case), which made every prefix lookup a full scan. The
    range finds the candidates; LIKE keeps the answer exact under any collation."""
    if not prefix:
        everything: ColumnElement[bool] = col.startswith("")
        return everything
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(col >= prefix, col < upper, col.startswith(prefix, autoescape=True))


def _plural(noun: str) -> str:
    return noun[:-1] + "ies" if noun.endswith("y") else noun + "s"


def missing(s: Any, name_col: Any, name: str, what: str, fallback: str, *,
            where: str | None = None, among: Any = None) -> NotFoundError:
    """The error for `name` when no record has it: "no {what} 'name'", with the close names
    in `name_col` (those matching `among`, if given) as the hint, else `fallback`."""
    q = select(name_col) if among is None else select(name_col).where(among)
    return NotFoundError(f"no {what} '{name}'", where=where,
                         hint=did_you_mean(name, list(s.scalars(q)), fallback))


def did_you_mean(name: str, names: list[str], fallback: str = "") -> str:
    """'did you mean a, b?' for the names close to `name`, else `fallback`."""
    import difflib

    close = difflib.get_close_matches(name, names, n=3)
    return f"did you mean {', '.join(close)}?" if close else fallback
