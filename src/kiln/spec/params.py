"""Parameter types: inferring them from Python values, and converting command-line strings."""

from __future__ import annotations

import json
from typing import Any

from kiln.errors import ParameterError
from kiln.spec.model import PipelineSpec

PY_TYPES: dict[type, str] = {bool: "bool", int: "int", float: "float", str: "str",
                              list: "list", dict: "dict", tuple: "list"}


def type_of(value: Any) -> str | None:
    """The parameter type name of a Python value, or None if it is not a parameter type."""
    return PY_TYPES.get(type(value))


def coerce(name: str, ptype: str, value: Any) -> Any:
    """Convert `value` (a string from the CLI, or a Python value) to the declared type."""
    if isinstance(value, str) and ptype != "str":
        return _parse_string(name, ptype, value)
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "list": isinstance(value, (list, tuple)),
        "dict": isinstance(value, dict),
    }[ptype]
    if not ok:
        raise ParameterError(f"parameter '{name}' is a {ptype}, got {value!r}",
                             hint=f"pass a {ptype} value")
    if ptype == "float":
        return float(value)
    if ptype == "list":
        return list(value)
    return value


def _parse_string(name: str, ptype: str, text: str) -> Any:
    bad = ParameterError(f"parameter '{name}' is a {ptype}; '{text}' is not a valid {ptype}",
                         hint=_EXAMPLES[ptype])
    if ptype == "int":
        try:
            return int(text)
        except ValueError:
            raise bad from None
    if ptype == "float":
        try:
            return float(text)
        except ValueError:
            raise bad from None
    if ptype == "bool":
        low = text.strip().lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise bad
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise bad from None
    want = list if ptype == "list" else dict
    if not isinstance(value, want):
        raise bad
    return value


_EXAMPLES = {
    "int": "e.g. -p n=10",
    "float": "e.g. -p lr=0.01",
    "bool": "use true or false",
    "list": 'use JSON, e.g. -p layers="[64, 32]"',
    "dict": 'use JSON, e.g. -p opts=\'{"depth": 3}\'',
    "str": "",
}


def resolve(spec: PipelineSpec, overrides: dict[str, Any]) -> dict[str, Any]:
    """The run's parameter values: defaults, then overrides converted to the declared types."""
    return {**{p.name: p.default for p in spec.parameters}, **convert(spec, overrides)}


def convert(spec: PipelineSpec, overrides: dict[str, Any]) -> dict[str, Any]:
    """Only the given values, checked against the pipeline and converted to their types."""
    known = {p.name: p for p in spec.parameters}
    unknown = [k for k in overrides if k not in known]
    if unknown:
        names = ", ".join(sorted(known)) or "none"
        raise ParameterError(
            f"unknown parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(u) for u in unknown)} for pipeline '{spec.name}'",
            hint=f"the pipeline's parameters are: {names}", where="params",
        )
    out = {}
    for k, v in overrides.items():
        try:
            out[k] = coerce(k, known[k].type, v)
        except ParameterError as e:
            e.where = e.where or f"params.{k}"  # the field at fault, for REST's error body
            raise
    return out


def parse_assignments(items: list[str], *, what: str = "parameter",
                      example: str = "-p n_estimators=200") -> dict[str, str]:
    """`["n=3", "name=a=b"]` -> `{"n": "3", "name": "a=b"}` (values stay strings)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"'{item}' is not NAME=VALUE", where=what,
                                 hint=f"e.g. {example}")
        out[name.strip()] = value
    return out
