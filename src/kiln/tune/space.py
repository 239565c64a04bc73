"""The search space: Katib's parameter shapes, checked against a pipeline's parameters.

A parameter is `int` or `double` (min/max, optional step, optional logUniform distribution),
`categorical` (a list of values) or `discrete` (a list of numbers), as in Katib v1beta1.
Kale writes every number as a string; values are coerced to the pipeline parameter's type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kiln.errors import ParameterError, SpecError

if TYPE_CHECKING:
    import optuna

    from kiln.spec.model import PipelineSpec

PARAMETER_TYPES = ("int", "double", "categorical", "discrete")
DISTRIBUTIONS = ("uniform", "logUniform")


@dataclass
class Parameter:
    name: str
    type: str  # one of PARAMETER_TYPES
    min: float | None = None
    max: float | None = None
    step: float | None = None
    values: list[Any] = field(default_factory=list)  # categorical, discrete
    log: bool = False

    def to_katib(self) -> dict[str, Any]:
        """The Katib v1beta1 ParameterSpec (every value a string, as Katib's CRD wants)."""
        space: dict[str, Any]
        if self.type in ("int", "double"):
            space = {"min": _katib_str(self.min), "max": _katib_str(self.max)}
            if self.step is not None:
                space["step"] = _katib_str(self.step)
            if self.log:
                space["distribution"] = "logUniform"
        else:
            space = {"list": [_katib_str(v) for v in self.values]}
        return {"name": self.name, "parameterType": self.type, "feasibleSpace": space}

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.type == "int":
            return trial.suggest_int(self.name, int(self.min), int(self.max),  # type: ignore[arg-type]
                                     step=int(self.step or 1), log=self.log)
        if self.type == "double":
            return trial.suggest_float(self.name, float(self.min), float(self.max),  # type: ignore[arg-type]
                                       step=self.step, log=self.log)
        return trial.suggest_categorical(self.name, self.values)

    def grid(self) -> list[Any]:
        """Every value a grid search tries (Katib's rule: min, min+step, ... up to max)."""
        if self.type in ("categorical", "discrete"):
            return list(self.values)
        if self.type == "int":
            return list(range(int(self.min), int(self.max) + 1, int(self.step or 1)))  # type: ignore[arg-type]
        if self.step is None:
            raise SpecError(f"grid search needs a step for double parameter '{self.name}'",
                            hint="add feasibleSpace.step, or choose another algorithm")
        lo, hi, st = float(self.min), float(self.max), float(self.step)  # type: ignore[arg-type]
        n = int(math.floor((hi - lo) / st + 1e-9)) + 1
        return [round(lo + i * st, 12) for i in range(n)]


def _katib_str(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return repr(v)  # "50.0": keeps a double a double
    return str(v)


# --- reading ---------------------------------------------------------------------------


def parse_katib(items: Any, where: str) -> list[Parameter]:
    """Katib/Kale `parameters` (a list of ParameterSpec dicts)."""
    if not isinstance(items, list):
        raise SpecError("parameters must be a list", where=where)
    out = [_parse_one(p, f"{where}[{i}]") for i, p in enumerate(items)]
    names = [p.name for p in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SpecError(f"parameter {', '.join(dupes)} is listed twice", where=where)
    return out


def _parse_one(p: Any, where: str) -> Parameter:
    if not isinstance(p, dict):
        raise SpecError("a parameter must be a mapping with name, parameterType and "
                        "feasibleSpace", where=where)
    name = p.get("name")
    if not isinstance(name, str) or not name:
        raise SpecError("parameter has no name", where=f"{where}.name")
    ptype = p.get("parameterType", p.get("type"))
    if ptype not in PARAMETER_TYPES:
        raise SpecError(f"parameter '{name}' has parameterType {ptype!r}",
                        where=f"{where}.parameterType",
                        hint=f"use one of: {', '.join(PARAMETER_TYPES)}")
    space = p.get("feasibleSpace", {k: v for k, v in p.items()
                                     if k in ("min", "max", "step", "list", "distribution")})
    if not isinstance(space, dict):
        raise SpecError(f"feasibleSpace of '{name}' must be a mapping",
                        where=f"{where}.feasibleSpace")
    fw = f"{where}.feasibleSpace"
    if ptype in ("categorical", "discrete"):
        values = space.get("list")
        if not isinstance(values, list) or not values:
            raise SpecError(f"{ptype} parameter '{name}' needs a non-empty list of values",
                            where=f"{fw}.list")
        if ptype == "discrete":
            values = [_discrete(v, name, f"{fw}.list[{i}]") for i, v in enumerate(values)]
        if len({repr(v) for v in values}) != len(values):
            raise SpecError(f"the values of '{name}' repeat", where=f"{fw}.list")
        return Parameter(name, ptype, values=list(values))
    lo = _number(space.get("min"), name, f"{fw}.min", ptype)
    hi = _number(space.get("max"), name, f"{fw}.max", ptype)
    if lo > hi:
        raise SpecError(f"parameter '{name}' has min {lo:g} greater than max {hi:g}",
                        where=fw, hint="swap them")
    step = space.get("step")
    st = None if step in (None, "") else _number(step, name, f"{fw}.step", ptype)
    if st is not None:
        if st <= 0:
            raise SpecError(f"parameter '{name}' has step {st:g}; it must be positive",
                            where=f"{fw}.step")
        if st > hi - lo and hi > lo:
            raise SpecError(f"parameter '{name}' has step {st:g}, larger than its range "
                            f"{lo:g}..{hi:g}: only {lo:g} could ever be tried",
                            where=f"{fw}.step", hint=f"use a step of at most {hi - lo:g}")
    dist = space.get("distribution", "uniform") or "uniform"
    if dist not in DISTRIBUTIONS:
        raise SpecError(f"parameter '{name}' has distribution {dist!r}",
                        where=f"{fw}.distribution", hint=f"use one of: {', '.join(DISTRIBUTIONS)}")
    log = dist == "logUniform"
    if log and lo <= 0:
        raise SpecError(f"parameter '{name}' is logUniform but min is {lo:g}; it must be > 0",
                        where=f"{fw}.min")
    if log and st is not None:
        raise SpecError(f"parameter '{name}' cannot have both a step and logUniform",
                        where=fw, hint="drop one of them")
    if ptype == "int":
        return Parameter(name, ptype, int(lo), int(hi), None if st is None else int(st), log=log)
    return Parameter(name, ptype, lo, hi, st, log=log)


def _number(v: Any, name: str, where: str, ptype: str) -> float:
    if isinstance(v, bool) or v is None or v == "":
        raise SpecError(f"parameter '{name}' needs a number here", where=where)
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise SpecError(f"parameter '{name}': {v!r} is not a number", where=where) from None
    if not math.isfinite(f):
        raise SpecError(f"parameter '{name}': {v!r} is not a finite number", where=where)
    if ptype == "int" and not f.is_integer():
        raise SpecError(f"int parameter '{name}': {v!r} is not a whole number", where=where)
    return f


def _discrete(v: Any, name: str, where: str) -> int | float:
    """A discrete value keeps its kind: "3" is 3, "0.5" is 0.5."""
    f = _number(v, name, where, "double")
    if isinstance(v, int) or (isinstance(v, str) and v.strip().lstrip("+-").isdigit()):
        return int(f)
    return f


_RANGE_HINT = ("a range: (min, max) in Python, or {min: A, max: B} (with log: true or step: S "
               "if wanted); a choice among values: {choices: [A, B]}")


def _shorthand(name: str, v: Any) -> dict[str, Any] | None:
    """{min, max[, step][, log]} or {choices: [...]}: the forms a YAML file can write."""
    if "choices" in v:
        extra = set(v) - {"choices"}
        if extra or not isinstance(v["choices"], list) or not v["choices"]:
            raise SpecError(f"space['{name}']: choices must be a non-empty list, alone",
                            where=f"space.{name}", hint=_RANGE_HINT)
        numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool)
                      for x in v["choices"])
        return {"name": name, "parameterType": "discrete" if numeric else "categorical",
                "feasibleSpace": {"list": v["choices"]}}
    if "min" in v or "max" in v:
        extra = set(v) - {"min", "max", "step", "log"}
        if extra or "min" not in v or "max" not in v:
            raise SpecError(f"space['{name}']: a range needs min and max (and at most step "
                            f"and log){'; not ' + ', '.join(sorted(extra)) if extra else ''}",
                            where=f"space.{name}", hint=_RANGE_HINT)
        bounds = (v["min"], v["max"])
        kind = "int" if all(isinstance(x, int) and not isinstance(x, bool)
                            for x in bounds) else "double"
        feasible: dict[str, Any] = {"min": v["min"], "max": v["max"]}
        if "step" in v:
            feasible["step"] = v["step"]
        out: dict[str, Any] = {"name": name, "parameterType": kind, "feasibleSpace": feasible}
        if v.get("log"):
            out["feasibleSpace"]["distribution"] = "logUniform"
        return out
    return None


def from_python(space: Any) -> list[Parameter]:
    """`kiln.tune(space=...)` and `kiln tune --space FILE`: Katib's list, or {name: (lo, hi) |
    {min, max[, step][, log]} | {choices: [...]} | range | [3+ choices] | Katib's dict}.
    A list of exactly two numbers is refused: it reads as a range as easily as a choice."""
    if isinstance(space, list):
        return parse_katib(space, "space")
    if not isinstance(space, dict) or not space:
        raise SpecError("space must be a non-empty dict {name: range} or Katib's parameters list")
    items = []
    for name, v in space.items():
        if isinstance(v, tuple) and len(v) == 2:
            kind = "int" if all(isinstance(x, int) for x in v) else "double"
            items.append({"name": name, "parameterType": kind,
                          "feasibleSpace": {"min": v[0], "max": v[1]}})
        elif isinstance(v, range):
            items.append({"name": name, "parameterType": "discrete",
                          "feasibleSpace": {"list": list(v)}})
        elif isinstance(v, list):
            if len(v) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                   for x in v):
                raise SpecError(f"space['{name}'] is {v!r}: a range or a choice of two values?",
                                where=f"space.{name}", hint="write it as " + _RANGE_HINT)
            items.append({"name": name, "parameterType": "categorical",
                          "feasibleSpace": {"list": v}})
        elif isinstance(v, dict):
            items.append(_shorthand(name, v) or {"name": name, **v})
        else:
            raise SpecError(f"space['{name}'] is {v!r}", where=f"space.{name}",
                            hint="use " + _RANGE_HINT + "; or range(...), or a dict with "
                                 "parameterType and feasibleSpace as Katib writes it")
    return parse_katib(items, "space")


# --- against the pipeline --------------------------------------------------------------


def check_against(params: list[Parameter], spec: PipelineSpec, where: str) -> None:
    """Every tuned parameter exists in the pipeline and its values fit the parameter's type.

    Categorical and discrete values are converted in place to the pipeline's type.
    """
    from kiln.spec.params import coerce

    known = {p.name: p for p in spec.parameters}
    for i, p in enumerate(params):
        pw = f"{where}[{i}]"
        if p.name not in known:
            real = ", ".join(sorted(known)) or "none"
            raise SpecError(f"tuned parameter '{p.name}' is not a parameter of pipeline "
                            f"'{spec.name}'", where=f"{pw}.name",
                            hint=f"the pipeline's parameters are: {real}")
        ptype = known[p.name].type
        if p.type == "int" and ptype not in ("int", "float"):
            raise SpecError(f"'{p.name}' is tuned as int but the pipeline's parameter is {ptype}",
                            where=f"{pw}.parameterType")
        if p.type == "double" and ptype != "float":
            raise SpecError(f"'{p.name}' is tuned as double but the pipeline's parameter is "
                            f"{ptype}", where=f"{pw}.parameterType",
                            hint="tune it as int, or make the parameter a float"
                            if ptype == "int" else None)
        if p.type in ("categorical", "discrete"):
            converted = []
            for j, v in enumerate(p.values):
                try:
                    converted.append(coerce(p.name, ptype, v))
                except ParameterError as e:
                    raise SpecError(f"value {v!r} of '{p.name}' does not fit the pipeline's "
                                    f"{ptype} parameter: {e.message}",
                                    where=f"{pw}.feasibleSpace.list[{j}]") from None
            p.values = converted
