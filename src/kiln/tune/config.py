"""A study's configuration: Kale's `katib_metadata`, a Katib Experiment YAML, or options.

All three have Katib's shape (objective, algorithm, earlyStopping, parameters, trial counts);
options given on the command line or to `kiln.tune()` override what the file says.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.errors import SpecError
from kiln.tune import algorithms
from kiln.tune.algorithms import Algorithm
from kiln.tune.space import Parameter, parse_katib

if TYPE_CHECKING:
    from kiln.spec.model import PipelineSpec

DIRECTIONS = ("maximize", "minimize")
# Kale's defaults for a notebook's Katib panel.
DEFAULT_TRIALS, DEFAULT_PARALLEL, DEFAULT_FAILED = 12, 3, 3


@dataclass
class Objective:
    metric: str
    direction: str = "maximize"
    additional: list[str] = field(default_factory=list)
    goal: float | None = None

    def reached(self, value: float) -> bool:
        if self.goal is None:
            return False
        return value >= self.goal if self.direction == "maximize" else value <= self.goal

    def better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "maximize" else a < b


@dataclass
class StudyConfig:
    parameters: list[Parameter]
    objective: Objective
    algorithm: Algorithm = field(default_factory=lambda: Algorithm("tpe"))
    early_stopping: Algorithm | None = None
    max_trials: int = DEFAULT_TRIALS
    parallel: int = DEFAULT_PARALLEL
    max_failed: int = DEFAULT_FAILED
    seed: int | None = None
    fixed: dict[str, Any] = field(default_factory=dict)  # other pipeline parameters, set once

    def to_katib(self) -> dict[str, Any]:
        """The Katib v1beta1 ExperimentSpec fields this study stands for."""
        obj: dict[str, Any] = {"type": self.objective.direction,
                               "objectiveMetricName": self.objective.metric}
        if self.objective.goal is not None:
            obj["goal"] = self.objective.goal
        if self.objective.additional:
            obj["additionalMetricNames"] = list(self.objective.additional)
        algo = self.algorithm.to_katib()
        if self.seed is not None and "random_state" not in self.algorithm.settings:
            algo.setdefault("algorithmSettings", []).append(
                {"name": "random_state", "value": str(self.seed)})
        out: dict[str, Any] = {
            "objective": obj,
            "algorithm": algo,
            "parallelTrialCount": self.parallel,
            "maxTrialCount": self.max_trials,
            "maxFailedTrialCount": self.max_failed,
            "parameters": [p.to_katib() for p in self.parameters],
        }
        if self.early_stopping is not None:
            out["earlyStopping"] = self.early_stopping.to_katib()
        return out

    def to_dict(self) -> dict[str, Any]:
        """What the catalog keeps: Katib's shape plus our own fields."""
        return {**self.to_katib(), "seed": self.seed, "fixed": self.fixed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudyConfig:
        return parse(data, "study")


def parse(meta: Any, where: str, **overrides: Any) -> StudyConfig:
    """Katib-shaped metadata plus overrides (None means 'not given')."""
    if not isinstance(meta, dict):
        raise SpecError("tuning metadata must be a mapping", where=where)
    if meta.get("kind") == "Experiment" and isinstance(meta.get("spec"), dict):
        meta, where = meta["spec"], f"{where}.spec"  # a whole Katib Experiment manifest
    ov = {k: v for k, v in overrides.items() if v is not None}

    params = ov.get("parameters")
    if params is None:
        params = parse_katib(meta.get("parameters", []), f"{where}.parameters")
    if not params:
        raise SpecError("nothing to tune: the study has no parameters", where=f"{where}.parameters",
                        hint="add parameters to katib_metadata (Kale's Katib panel), or pass "
                             "--space FILE / space=...")

    obj = meta.get("objective") or {}
    if not isinstance(obj, dict):
        raise SpecError("objective must be a mapping", where=f"{where}.objective")
    metric = ov.get("metric", obj.get("objectiveMetricName"))
    if not isinstance(metric, str) or not metric:
        raise SpecError("the study has no objective metric", where=f"{where}.objective."
                        "objectiveMetricName", hint="name the metric a step logs, e.g. "
                        "--metric accuracy")
    direction = ov.get("direction", obj.get("type", "maximize"))
    if direction not in DIRECTIONS:
        raise SpecError(f"objective type {direction!r}", where=f"{where}.objective.type",
                        hint="use maximize or minimize")
    additional = obj.get("additionalMetricNames") or []
    if not isinstance(additional, list) or not all(isinstance(a, str) for a in additional):
        raise SpecError("additionalMetricNames must be a list of names",
                        where=f"{where}.objective.additionalMetricNames")
    goal = ov.get("goal", obj.get("goal"))
    if goal is not None:
        try:
            goal = float(goal)
        except (TypeError, ValueError):
            raise SpecError(f"goal {goal!r} is not a number", where=f"{where}.objective.goal") \
                from None
        if not math.isfinite(goal):
            raise SpecError(f"goal {goal!r} is not finite", where=f"{where}.objective.goal")

    algo_meta = meta.get("algorithm") or {}
    if not isinstance(algo_meta, dict):
        raise SpecError("algorithm must be a mapping", where=f"{where}.algorithm")
    algo_name = ov.get("algorithm", algo_meta.get("algorithmName", "tpe"))
    settings = ov.get("settings", algo_meta.get("algorithmSettings"))
    algo = algorithms.parse(algo_name, settings, f"{where}.algorithm")
    early_meta = meta.get("earlyStopping")
    early = None
    if "early_stopping" in ov:
        early = algorithms.parse(ov["early_stopping"], ov.get("early_settings"),
                                 f"{where}.earlyStopping", early=True)
    elif isinstance(early_meta, dict) and early_meta.get("algorithmName"):
        early = algorithms.parse(early_meta.get("algorithmName"),
                                 early_meta.get("algorithmSettings"),
                                 f"{where}.earlyStopping", early=True)
    if early is not None and algo.name == "hyperband":
        raise SpecError("hyperband already stops trials early; drop earlyStopping",
                        where=f"{where}.earlyStopping")

    counts = {}
    for key, opt, default in (("maxTrialCount", "trials", DEFAULT_TRIALS),
                              ("parallelTrialCount", "parallel", DEFAULT_PARALLEL),
                              ("maxFailedTrialCount", "max_failed", DEFAULT_FAILED)):
        v = ov.get(opt, meta.get(key, default))
        if isinstance(v, str) and v.strip().isdigit():
            v = int(v)
        minimum = 0 if key == "maxFailedTrialCount" else 1
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise SpecError(f"{key} is {v!r}; it must be a whole number ≥ {minimum}",
                            where=f"{where}.{key}")
        counts[opt] = v
    if algo.name == "grid":
        size = math.prod(len(p.grid()) for p in params)
        counts["trials"] = min(counts["trials"], size)  # a grid has no more points than this

    seed = ov.get("seed", meta.get("seed"))
    fixed = ov.get("fixed", meta.get("fixed") or {})
    return StudyConfig(params, Objective(metric, direction, list(additional), goal), algo, early,
                       counts["trials"], counts["parallel"], counts["max_failed"], seed,
                       dict(fixed))


def read_yaml(path: Path) -> Any:
    """A YAML (or JSON) file's data, with the line of a syntax error."""
    import yaml

    if not path.exists() or path.is_dir():
        raise SpecError(f"no such file: {path}", hint="give the path of a YAML or JSON file")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise SpecError(f"{path.name} is not valid YAML: {getattr(e, 'problem', e)}",
                        where=where) from None


def study_config(spec: PipelineSpec, *, config: str | os.PathLike[str] | dict[str, Any]
                 | None = None, space: Any = None, params: dict[str, Any] | None = None,
                 **options: Any) -> StudyConfig:
    """The study for `spec`: `options` over `config` (a file or dict) or, without one, the
    notebook's katib_metadata; checked against the pipeline's parameters. `kiln tune` and
    `kiln compile --katib` both build their study here."""
    from kiln.errors import ParameterError
    from kiln.spec.params import convert
    from kiln.tune.space import check_against, from_python

    if isinstance(config, (str, os.PathLike)):
        base, where = load_file(Path(config)), os.fspath(config)
    elif isinstance(config, dict):
        base, where = config, "config"
    else:
        base = from_notebook(spec.metadata) or {}
        path = spec.source.get("path")
        where = f"{path}: katib_metadata" if path else "katib_metadata"
    fixed = convert(spec, params or {})
    cfg = parse(base, where, parameters=from_python(space) if space is not None else None,
                fixed=fixed or None, **options)
    tuned = {p.name for p in cfg.parameters} & set(fixed)
    if tuned:
        raise ParameterError(f"{', '.join(sorted(tuned))} is both tuned and fixed with params",
                             hint="drop it from params or from the space")
    check_against(cfg.parameters, spec, "space" if space is not None else f"{where}.parameters")
    return cfg


def load_file(path: Path) -> dict[str, Any]:
    """A file holding katib_metadata's shape, `{katib_metadata: ...}` or a Katib Experiment."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise SpecError(f"{path.name} must hold a mapping (katib_metadata or a Katib "
                        "Experiment)", where=str(path))
    meta = data.get("katib_metadata")
    return meta if isinstance(meta, dict) else data


def load_space(path: Path) -> Any:
    """A file holding Katib's parameters list, or {name: spec}, or {parameters: [...]}."""
    data = read_yaml(path)
    if isinstance(data, dict) and "parameters" in data:
        data = data["parameters"]
    if not isinstance(data, (list, dict)) or not data:
        raise SpecError(f"{path} holds no parameters", where=str(path),
                        hint="a list of {name, parameterType, feasibleSpace}")
    return data


def from_notebook(spec_metadata: dict[str, Any]) -> dict[str, Any] | None:
    """The `katib_metadata` a Kale notebook carries, if any."""
    kn = spec_metadata.get("kubeflow_notebook", spec_metadata)
    meta = kn.get("katib_metadata") if isinstance(kn, dict) else None
    return meta if isinstance(meta, dict) else None
