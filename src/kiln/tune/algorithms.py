"""Katib's algorithm names, each mapped to an Optuna sampler (and pruner) with its settings.

Settings follow Katib's names (`random_state`, `n_startup_trials`, ...). A name no algorithm
knows is an error with a did-you-mean (a typo should not silently change a study). A setting
of another algorithm (Kale's panel writes the Bayesian-optimisation settings under every
algorithm) and a setting Katib knows but Optuna has no counterpart for are ignored with a
warning that says so.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kiln.errors import SpecError

if TYPE_CHECKING:
    import optuna

    from kiln.tune.space import Parameter

ALGORITHMS = ("random", "grid", "tpe", "multivariate-tpe", "bayesianoptimization", "cmaes",
              "sobol", "hyperband")
EARLY_STOPPING = ("medianstop", "successivehalving", "hyperband")

# name -> (setting -> converter); None marks a Katib setting Optuna cannot honour.
_Conv = Callable[[str], Any] | None
_SETTINGS: dict[str, dict[str, _Conv]] = {
    "random": {"random_state": int},
    "grid": {"random_state": int},
    "tpe": {"random_state": int, "n_startup_trials": int, "n_ei_candidates": int,
            "prior_weight": float, "consider_endpoints": lambda v: _bool(v)},
    "bayesianoptimization": {"random_state": int, "n_initial_points": int,
                             "base_estimator": None, "acq_func": None, "acq_optimizer": None},
    "cmaes": {"random_state": int, "sigma": float, "n_startup_trials": int,
              "restart_strategy": None, "popsize": int},
    "sobol": {"random_state": int, "scramble": lambda v: _bool(v)},
    "hyperband": {"random_state": int, "eta": int, "r_l": int, "min_resource": int,
                  "resource_name": None},
}
_SETTINGS["multivariate-tpe"] = _SETTINGS["tpe"]
_EARLY: dict[str, dict[str, _Conv]] = {
    "medianstop": {"min_trials_required": int, "start_step": int},
    "successivehalving": {"min_resource": int, "reduction_factor": int},
    "hyperband": {"min_resource": int, "max_resource": int, "reduction_factor": int},
}
_IGNORED_WHY = {
    "base_estimator": "kilnflow's bayesianoptimization is Optuna's Gaussian-process sampler",
    "acq_func": "Optuna's GP sampler chooses its own acquisition function",
    "acq_optimizer": "Optuna's GP sampler chooses its own acquisition optimizer",
    "restart_strategy": "Optuna 5 moved CMA-ES restarts to OptunaHub",
    "resource_name": "kilnflow's hyperband stops trials by the values a step reports with "
                     "kiln.report(value, step=i) rather than by a resource parameter",
}


def _bool(v: str) -> bool:
    low = str(v).strip().lower()
    if low in ("true", "1", "yes"):
        return True
    if low in ("false", "0", "no"):
        return False
    raise ValueError(f"{v!r} is not true or false")


@dataclass
class Algorithm:
    name: str
    settings: dict[str, Any] = field(default_factory=dict)  # converted values

    def to_katib(self) -> dict[str, Any]:
        out: dict[str, Any] = {"algorithmName": self.name}
        if self.settings:
            out["algorithmSettings"] = [{"name": k, "value": str(v)}
                                        for k, v in self.settings.items()]
        return out


def parse(name: Any, settings: Any, where: str, *, early: bool = False) -> Algorithm:
    """An algorithm (or early-stopping rule) by Katib name with Katib-style settings."""
    table = _EARLY if early else _SETTINGS
    kind = "early-stopping algorithm" if early else "algorithm"
    if not isinstance(name, str) or name not in table:
        raise SpecError(f"unknown {kind} {name!r}", where=f"{where}.algorithmName",
                        hint=f"known: {', '.join(table)}")
    items = _settings_items(settings, f"{where}.algorithmSettings")
    known = table[name]
    out: dict[str, Any] = {}
    others: dict[str, list[str]] = {}  # setting -> the algorithms it belongs to
    for key, value in items:
        sw = f"{where}.algorithmSettings.{key}"
        if key not in known:
            owners = sorted(a for a, t in table.items() if key in t)
            if owners:
                others[key] = owners
                continue
            close = difflib.get_close_matches(key, sorted({k for t in table.values() for k in t}),
                                              n=1)
            raise SpecError(f"{kind} '{name}' has no setting '{key}'"
                            + (f" (did you mean '{close[0]}'?)" if close else ""), where=sw,
                            hint=f"its settings: {', '.join(known) or 'none'}")
        conv = known[key]
        if conv is None:
            warnings.warn(f"setting '{key}' of {name} is ignored: {_IGNORED_WHY[key]}",
                          UserWarning, stacklevel=2)
            continue
        try:
            out[key] = conv(str(value))
        except ValueError:
            raise SpecError(f"setting '{key}' of {name} is {value!r}, not a valid "
                            f"{getattr(conv, '__name__', 'value')}", where=sw) from None
    if others:
        # Kale's panel writes the Bayesian-optimisation settings under every algorithm, grid
        # included: a setting of another algorithm is no typo, so one warning, no error.
        owners = sorted({a for o in others.values() for a in o})
        warnings.warn(f"{where}.algorithmSettings: {', '.join(repr(k) for k in others)} "
                      f"ignored: {'it belongs' if len(others) == 1 else 'they belong'} to "
                      f"{', '.join(owners)}, not {name}", UserWarning, stacklevel=2)
    return Algorithm(name, out)


def _settings_items(settings: Any, where: str) -> list[tuple[str, Any]]:
    """Katib's `[{name, value}]` list, or a plain mapping."""
    if settings in (None, ""):
        return []
    if isinstance(settings, dict):
        return list(settings.items())
    if isinstance(settings, list):
        out = []
        for i, s in enumerate(settings):
            if not isinstance(s, dict) or "name" not in s:
                raise SpecError("a setting must be {name: ..., value: ...}", where=f"{where}[{i}]")
            out.append((str(s["name"]), s.get("value")))
        return out
    raise SpecError("algorithmSettings must be a list of {name, value}", where=where)


def sampler(algo: Algorithm, params: list[Parameter],
            seed: int | None) -> optuna.samplers.BaseSampler:
    import optuna

    s = algo.settings
    seed = s.get("random_state", seed)
    name = algo.name
    if name in ("random", "hyperband"):
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return _grid_sampler()({p.name: p.grid() for p in params}, seed=seed)
    if name in ("tpe", "multivariate-tpe"):
        kw: dict[str, Any] = {k: s[k] for k in ("n_startup_trials", "n_ei_candidates",
                                                "prior_weight", "consider_endpoints") if k in s}
        if name == "multivariate-tpe":
            kw.update(multivariate=True, group=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, **kw)
    if name == "cmaes":
        cma: dict[str, Any] = {"sigma0": s["sigma"]} if "sigma" in s else {}
        cma.update({k: s[k] for k in ("n_startup_trials", "popsize") if k in s})
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False, **cma)
    if name == "sobol":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=s.get("scramble", True),
                                              seed=seed, warn_asynchronous_seeding=False)
    if name == "bayesianoptimization":
        try:
            import scipy  # noqa: F401
            import torch  # noqa: F401
        except ImportError:
            raise SpecError("bayesianoptimization needs PyTorch and SciPy (Optuna's GP sampler)",
                            hint="pip install 'kilnflow[torch]', or choose tpe") from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.GPSampler(seed=seed,
                                             n_startup_trials=s.get("n_initial_points", 10))
    raise AssertionError(name)


def _grid_sampler() -> type[optuna.samplers.GridSampler]:
    import optuna

    class GridSampler(optuna.samplers.GridSampler):
        def after_trial(self, *args: Any, **kwargs: Any) -> None:
            # Optuna's calls study.stop() once the grid is covered, which only works inside
            # study.optimize(); we ask and tell ourselves and cap the trials at the grid's size.
            pass

    return GridSampler


def pruner(algo: Algorithm | None, early: Algorithm | None) -> optuna.pruners.BasePruner:
    import optuna

    if early is None and algo is not None and algo.name == "hyperband":
        s = algo.settings
        return optuna.pruners.HyperbandPruner(min_resource=s.get("min_resource", 1),
                                              max_resource=s.get("r_l", "auto"),
                                              reduction_factor=s.get("eta", 3))
    if early is None:
        return optuna.pruners.NopPruner()
    s = early.settings
    if early.name == "medianstop":
        # Katib: stop a trial whose best value so far is worse than the median of the
        # completed trials' running averages at the same step, once enough trials completed.
        return optuna.pruners.MedianPruner(n_startup_trials=s.get("min_trials_required", 3),
                                           n_warmup_steps=max(0, s.get("start_step", 4) - 1))
    if early.name == "successivehalving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=s.get("min_resource", "auto"),
                                                      reduction_factor=s.get("reduction_factor", 4))
    return optuna.pruners.HyperbandPruner(min_resource=s.get("min_resource", 1),
                                          max_resource=s.get("max_resource", "auto"),
                                          reduction_factor=s.get("reduction_factor", 3))
