"""Run search: `metrics.accuracy > 0.9 and params.lr <= 0.1 and status = succeeded`, sorted by
`-metrics.accuracy`. The CLI (`kiln runs ls --filter/--sort`) and REST (`?filter=&sort=`) share
this parser; conditions become SQL, so filtering stays in the database at any size.

A metric compares its last recorded value; a parameter compares as a number when the value
given is a number, else as the exact JSON value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, String, and_, cast, func, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement, Select

from kiln.catalog.schema import Experiment, Metric, Run, RunLabel, RunParam
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


def _compare(col: Any, op: str, value: Any) -> ColumnElement[bool]:
    ops: dict[str, ColumnElement[bool]] = {
        "=": col == value, "!=": col != value, "<": col < value, "<=": col <= value,
        ">": col > value, ">=": col >= value}
    return ops[op]


def _last_metric(name: str) -> Any:
    """The run's last recorded value of metric `name` (a correlated scalar subquery)."""
    inner, outer = aliased(Metric), aliased(Metric)  # two uses of one table: keep them apart
    last_id = (select(func.max(inner.id)).where(inner.run_id == Run.id, inner.name == name)
               .correlate(Run).scalar_subquery())
    return select(outer.value).where(outer.id == last_id).correlate(Run).scalar_subquery()


def apply(q: Select[Any], conds: list[Condition]) -> Select[Any]:
    for c in conds:
        kind, _, name = c.field.partition(".")
        if kind == "metrics":
            q = q.where(_compare(_last_metric(name), c.op, float(c.value)))
        elif kind == "params":
            text = cast(RunParam.value, String)
            if isinstance(c.value, (int, float)) and not isinstance(c.value, bool):
                test = _compare(cast(text, Float), c.op, float(c.value))
            else:
                test = _compare(text, c.op, json.dumps(c.value))
            q = q.where(select(RunParam.run_id).where(
                and_(RunParam.run_id == Run.id, RunParam.name == name, test)).exists())
        elif kind == "labels":
            has = select(RunLabel.run_id).where(RunLabel.run_id == Run.id, RunLabel.key == name,
                                                RunLabel.value == str(c.value)).exists()
            q = q.where(has if c.op == "=" else ~has)
        elif kind == "status":
            q = q.where(_compare(Run.status, c.op, str(c.value)))
        elif kind == "pipeline":
            q = q.where(_compare(Run.pipeline_name, c.op, str(c.value)))
        elif kind == "experiment":
            q = q.where(_compare(Experiment.name, c.op, str(c.value)))
    return q


def check_sort(s: Any, sort: str | None, where: str = "--sort") -> None:
    """A sort key that no run has (a typo) is an error, not a silently unsorted list."""
    field = (sort or "").lstrip("+-")
    for prefix, model, what in (("metrics.", Metric, "metric"),
                                ("params.", RunParam, "parameter")):
        name = field[len(prefix):] if field.startswith(prefix) else ""
        if name and s.scalar(select(model.name).where(model.name == name).limit(1)) is None:
            from kiln.catalog.refs import did_you_mean

            known = sorted(s.scalars(select(model.name).distinct().limit(500)))
            raise UserError(f"no run has the {what} '{name}' to sort by", where=where,
                            hint=did_you_mean(name, known, "known: " + (", ".join(known[:20])
                                                                       or "none")))


def order(q: Select[Any], sort: str | None, where: str = "--sort") -> Select[Any]:
    """`-metrics.accuracy` (descending), `created`, `params.lr`; runs lacking it go last."""
    if not sort:
        return q.order_by(Run.id.desc())
    desc = sort.startswith("-")
    field = sort.lstrip("+-")
    if field in ("created", "id"):
        col: Any = Run.id
    elif field.startswith("metrics.") and field[8:]:
        col = _last_metric(field[8:])
    elif field.startswith("params.") and field[7:]:
        col = select(cast(cast(RunParam.value, String), Float)).where(
            RunParam.run_id == Run.id, RunParam.name == field[7:]).scalar_subquery()
    else:
        raise UserError(f"cannot sort by '{sort}'", where=where,
                        hint="sort by created, metrics.NAME or params.NAME; '-' for descending")
    return q.order_by(col.is_(None), col.desc() if desc else col.asc(), Run.id.desc())
