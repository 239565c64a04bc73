"""Run search: `metrics.accuracy > 0.9 and params.lr <= 0.1 and status = succeeded`, sorted by
`-metrics.accuracy`. The CLI (`kiln runs ls --filter/--sort`) and REST (`?filter=&sort=`) share
this parser; conditions become SQL, so filtering stays in the database at any size.

A metric compares its last recorded value; a parameter compares as a number when the value
given is a number, else as the exact JSON value.

The SQL is written as text for catalog.sql (the runs table as `r`, experiments as `e`), so a
run list never imports SQLAlchemy; it reads the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from kiln.catalog.sql import Statements
from kiln.errors import UserError

_OPS = ("<=", ">=", "!=", "=", "<", ">")
# Matched against a stripped condition: no pattern that both ends of may take whitespace, so
# reading stays linear in the text's length (a lazy value before trailing spaces was not).
_COND = re.compile(r"(?P<field>[A-Za-z_][\w.-]*)[ \t]*(?P<op><=|>=|!=|==|=|<|>)[ \t]*"
                   r"(?P<value>\S.*)", re.DOTALL)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
MAX_FILTER = 4096  # characters: far above any hand-written filter
MAX_NESTING = 32  # brackets in one value: JSON deeper than this is no parameter anyone logs
FIELDS = "metrics.NAME, params.NAME, labels.KEY, status, experiment, pipeline"


@dataclass(frozen=True)
class Condition:
    field: str  # metrics.x, params.x, labels.x, status, experiment, pipeline
    op: str
    value: Any


def parse_filter(text: str, where: str = "--filter") -> list[Condition]:
    if len(text) > MAX_FILTER:
        raise UserError(f"the filter is {len(text)} characters; at most {MAX_FILTER}",
                        where=where, hint="filter on fewer conditions")
    conds = []
    for part in _AND.split(text.strip()) if text.strip() else []:
        part = part.strip()
        m = _COND.fullmatch(part)
        if not m:
            raise UserError(f"cannot read the condition '{part.strip()}'", where=where,
                            hint="write FIELD OP VALUE joined by 'and', e.g. "
                                 "\"metrics.accuracy > 0.9 and params.lr = 0.1\"")
        field, op, raw = m.group("field"), m.group("op"), m.group("value").strip()
        if raw.count("[") + raw.count("{") > MAX_NESTING:
            raise UserError(f"the value of {field} nests more than {MAX_NESTING} brackets",
                            where=where, hint="compare with a plain value")
        op = "=" if op == "==" else op
        if not (field.startswith(("metrics.", "params.", "labels."))
                and len(field.split(".", 1)[1]) > 0) \
                and field not in ("status", "experiment", "pipeline"):
            raise UserError(f"unknown field '{field}'", where=where, hint=f"fields: {FIELDS}")
        value = _value(raw)
        if field.startswith("metrics.") and not isinstance(value, (int, float)):
            raise UserError(f"metrics compare with numbers, not {raw!r}", where=where)
        if (field in ("status", "experiment", "pipeline") or field.startswith("labels.")) \
                and op not in ("=", "!="):
            raise UserError(f"{field} takes = or !=", where=where)
        conds.append(Condition(field, op, value))
    return conds


def _value(raw: str) -> Any:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    try:
        return json.loads(raw)
    except ValueError:
        return raw


class Clauses:
    """SQL conditions with their parameters, named p0, p1, ... in the order made."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return ":" + name


def _last_metric(c: Clauses, name: str) -> str:
    """The run's last recorded value of metric `name` (a correlated scalar subquery)."""
    return ("(SELECT m2.value FROM metrics m2 WHERE m2.id = (SELECT MAX(m1.id) FROM metrics m1"
            f" WHERE m1.run_id = r.id AND m1.name = {c.bind(name)}))")


# A parameter's stored JSON as text, and as a number.
_PARAM_TEXT = "CAST(p.value AS VARCHAR)"
_PARAM_NUMBER = f"CAST({_PARAM_TEXT} AS FLOAT)"


def where(conds: list[Condition], c: Clauses) -> list[str]:
    """One SQL condition per filter condition, to be joined with AND."""
    out = []
    for cond in conds:
        kind, _, name = cond.field.partition(".")
        if kind == "metrics":
            out.append(f"{_last_metric(c, name)} {cond.op} {c.bind(float(cond.value))}")
        elif kind == "params":
            if isinstance(cond.value, (int, float)) and not isinstance(cond.value, bool):
                test = f"{_PARAM_NUMBER} {cond.op} {c.bind(float(cond.value))}"
            else:
                test = f"{_PARAM_TEXT} {cond.op} {c.bind(json.dumps(cond.value))}"
            out.append("EXISTS (SELECT 1 FROM run_params p WHERE p.run_id = r.id"
                       f" AND p.name = {c.bind(name)} AND {test})")
        elif kind == "labels":
            has = ("EXISTS (SELECT 1 FROM run_labels l WHERE l.run_id = r.id"
                   f" AND l.key = {c.bind(name)} AND l.value = {c.bind(str(cond.value))})")
            out.append(has if cond.op == "=" else f"NOT {has}")
        else:
            column = {"status": "r.status", "pipeline": "r.pipeline_name",
                      "experiment": "e.name"}[kind]
            out.append(f"{column} {cond.op} {c.bind(str(cond.value))}")
    return out


def check_sort(q: Statements, sort: str | None, where: str = "--sort") -> None:
    """A sort key that no run has (a typo) is an error, not a silently unsorted list."""
    field = (sort or "").lstrip("+-")
    for prefix, table, what in (("metrics.", "metrics", "metric"),
                                ("params.", "run_params", "parameter")):
        name = field[len(prefix):] if field.startswith(prefix) else ""
        if name and q.scalar(f"SELECT name FROM {table} WHERE name = :name LIMIT 1",  # noqa: S608
                             {"name": name}) is None:
            from kiln.catalog.refs import did_you_mean

            known = sorted(n for (n,) in q.all(f"SELECT DISTINCT name FROM {table} LIMIT 500"))  # noqa: S608
            raise UserError(f"no run has the {what} '{name}' to sort by", where=where,
                            hint=did_you_mean(name, known, "known: " + (", ".join(known[:20])
                                                                       or "none")))


def order(sort: str | None, c: Clauses, where: str = "--sort") -> str:
    """`-metrics.accuracy` (descending), `created`, `params.lr`; runs lacking it go last."""
    if not sort:
        return "r.id DESC"
    desc = sort.startswith("-")
    field = sort.lstrip("+-")
    if field in ("created", "id"):
        col = "r.id"
    elif field.startswith("metrics.") and field[8:]:
        col = _last_metric(c, field[8:])
    elif field.startswith("params.") and field[7:]:
        col = (f"(SELECT {_PARAM_NUMBER} FROM run_params p WHERE p.run_id = r.id"
               f" AND p.name = {c.bind(field[7:])})")
    else:
        raise UserError(f"cannot sort by '{sort}'", where=where,
                        hint="sort by created, metrics.NAME or params.NAME; '-' for descending")
    return f"{col} IS NULL, {col} {'DESC' if desc else 'ASC'}, r.id DESC"
