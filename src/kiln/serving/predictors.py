"""Predictors: one adapter per model family behind one call, `predict(x, outputs)`.

`x` is what the request carried: one 2-D array for a single-input model, or a DataFrame whose
columns are the input tensors for a model trained on named features. Batchable predictors
can be handed many requests' rows at once (see batching.py).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

import numpy as np

from kiln.errors import RequestError
from kiln.serving.datatypes import from_numpy
from kiln.serving.protocol import Tensor

Batch = Any  # np.ndarray or pandas.DataFrame


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: list[int]  # -1 where any size is accepted

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": self.shape}


class Predictor(abc.ABC):
    platform: str = "custom"
    batchable: bool = True

    @property
    @abc.abstractmethod
    def inputs(self) -> list[TensorSpec]: ...

    @property
    @abc.abstractmethod
    def outputs(self) -> list[TensorSpec]: ...

    @property
    def default_outputs(self) -> tuple[str, ...]:
        return (self.outputs[0].name,)

    def prepare(self, tensors: list[Tensor]) -> Batch:
        """Check the request's tensors against the model and build its input."""
        if len(tensors) == 1:
            # One input is accepted whatever its name, as KServe and MLServer do.
            return self.check_array(tensors[0].array, tensors[0].name)
        raise RequestError(f"the model takes one input tensor, got {len(tensors)}: "
                           f"{', '.join(t.name for t in tensors)}", where="inputs")

    def check_array(self, arr: np.ndarray, name: str) -> Batch:
        spec = self.inputs[0]
        if arr.ndim != len(spec.shape):
            raise RequestError(f"input '{name}' has shape {list(arr.shape)}; the model expects "
                               f"{spec.shape} (-1 is any size)", where="inputs")
        for got, want in zip(arr.shape[1:], spec.shape[1:], strict=True):
            if want != -1 and got != want:
                raise RequestError(f"input '{name}' has shape {list(arr.shape)}; the model "
                                   f"expects {spec.shape} (-1 is any size)", where="inputs")
        if arr.dtype.kind not in "biuf":
            raise RequestError(f"input '{name}' is {from_numpy(arr.dtype)}; the model takes "
                               "numbers", where="inputs")
        return arr

    def check_outputs(self, names: list[str]) -> tuple[str, ...]:
        if not names:
            return self.default_outputs
        known = {o.name for o in self.outputs}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise RequestError(f"unknown output {', '.join(map(repr, unknown))}",
                               where="outputs", hint=f"outputs: {', '.join(sorted(known))}")
        return tuple(names)

    @abc.abstractmethod
    def predict(self, x: Batch, outputs: tuple[str, ...]) -> dict[str, np.ndarray]: ...


def _n_features(model: Any) -> int:
    n = getattr(model, "n_features_in_", None)
    return int(n) if isinstance(n, int | np.integer) else -1


class SklearnPredictor(Predictor):
    """Anything with scikit-learn's `predict` (and `predict_proba`/`transform` when present):
    scikit-learn estimators and pipelines, and XGBoost/LightGBM's sklearn wrappers."""

    platform = "sklearn"

    def __init__(self, model: Any) -> None:
        self.model = model
        names = getattr(model, "feature_names_in_", None)
        self.feature_names: list[str] | None = [str(n) for n in names] if names is not None \
            else None
        self._methods = [m for m in ("predict", "predict_proba", "transform")
                         if callable(getattr(model, m, None))]
        classes = getattr(model, "classes_", None)
        label = from_numpy(np.asarray(classes).dtype) if classes is not None else "FP64"
        n_classes = len(classes) if classes is not None else -1
        shapes = {"predict": ([-1], label), "predict_proba": ([-1, n_classes], "FP64"),
                  "transform": ([-1, -1], "FP64")}
        self._outputs = [TensorSpec(m, shapes[m][1], shapes[m][0]) for m in self._methods]

    @property
    def inputs(self) -> list[TensorSpec]:
        return [TensorSpec("input-0", "FP64", [-1, _n_features(self.model)])]

    @property
    def outputs(self) -> list[TensorSpec]:
        return self._outputs

    def prepare(self, tensors: list[Tensor]) -> Batch:
        if len(tensors) == 1:
            arr = self.check_array(tensors[0].array, tensors[0].name)
            if self.feature_names is None:
                return arr
            import pandas as pd

            # Named columns keep the model's own feature checks quiet and correct.
            return pd.DataFrame(arr, columns=self.feature_names)
        return self._frame(tensors)

    def _frame(self, tensors: list[Tensor]) -> Batch:
        """Several inputs: one column each, named like the features the model was fit on."""
        import pandas as pd

        if self.feature_names is None:
            raise RequestError(f"the model takes one input tensor, got {len(tensors)}",
                               where="inputs", hint="send one [N, features] tensor")
        names = [t.name for t in tensors]
        missing = [n for n in self.feature_names if n not in names]
        extra = [n for n in names if n not in self.feature_names]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing inputs: {', '.join(missing)}")
            if extra:
                parts.append(f"unexpected inputs: {', '.join(extra)}")
            raise RequestError("; ".join(parts), where="inputs",
                               hint=f"the model's features: {', '.join(self.feature_names)}")
        cols = {}
        rows = None
        for t in tensors:
            a = t.array.reshape(-1) if t.array.ndim == 2 and t.array.shape[1] == 1 else t.array
            if a.ndim != 1:
                raise RequestError(f"input '{t.name}' must have shape [N] or [N, 1], got "
                                   f"{list(t.array.shape)}", where="inputs")
            if rows is not None and len(a) != rows:
                raise RequestError("inputs have different numbers of rows", where="inputs")
            rows = len(a)
            cols[t.name] = a
        return pd.DataFrame({n: cols[n] for n in self.feature_names})

    def predict(self, x: Batch, outputs: tuple[str, ...]) -> dict[str, np.ndarray]:
        return {name: np.asarray(getattr(self.model, name)(x)) for name in outputs}


class BoosterPredictor(Predictor):
    """A gradient-boosting library's own Booster: one [N, features] input, `predict` out."""

    datatype = "FP64"

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    @abc.abstractmethod
    def n_features(self) -> int: ...

    @abc.abstractmethod
    def _predict(self, x: Batch) -> Any: ...

    @property
    def inputs(self) -> list[TensorSpec]:
        return [TensorSpec("input-0", self.datatype, [-1, self.n_features()])]

    @property
    def outputs(self) -> list[TensorSpec]:
        return [TensorSpec("predict", self.datatype, [-1])]

    def predict(self, x: Batch, outputs: tuple[str, ...]) -> dict[str, np.ndarray]:
        return {"predict": np.asarray(self._predict(x))}


class XGBoostPredictor(BoosterPredictor):
    platform, datatype = "xgboost", "FP32"

    def n_features(self) -> int:
        return int(self.booster.num_features())

    def _predict(self, x: Batch) -> Any:
        return self.booster.inplace_predict(x)  # no DMatrix built for every batch


class LightGBMPredictor(BoosterPredictor):
    platform = "lightgbm"

    def n_features(self) -> int:
        return int(self.booster.num_feature())

    def _predict(self, x: Batch) -> Any:
        return self.booster.predict(x)


class TorchPredictor(Predictor):
    """A torch.nn.Module or TorchScript module, run in eval mode without gradients."""

    platform = "pytorch"

    def __init__(self, module: Any) -> None:
        import torch

        try:
            module.eval()
        except (AttributeError, NotImplementedError):  # torch.export modules have no eval()
            pass
        self.module = module
        params = list(module.parameters()) if hasattr(module, "parameters") else []
        self.dtype = params[0].dtype if params else torch.float32
        self._torch = torch

    @property
    def inputs(self) -> list[TensorSpec]:
        return [TensorSpec("input-0", from_numpy(np.dtype(str(self.dtype).split(".")[-1])),
                           [-1, -1])]

    @property
    def outputs(self) -> list[TensorSpec]:
        return [TensorSpec("output-0", "FP32", [-1, -1])]

    def check_array(self, arr: np.ndarray, name: str) -> Batch:
        if arr.ndim < 1 or arr.dtype.kind not in "biuf":
            raise RequestError(f"input '{name}' must be a numeric tensor with a batch "
                               "dimension", where="inputs")
        return arr

    def predict(self, x: Batch, outputs: tuple[str, ...]) -> dict[str, np.ndarray]:
        torch = self._torch
        with torch.no_grad():
            y = self.module(torch.as_tensor(np.asarray(x)).to(self.dtype))
        return {"output-0": y.detach().cpu().numpy()}


class CustomPredictor(Predictor):
    """A user's class in KServe's custom-model style: `load()`, `predict()`, and optional
    `preprocess()`/`postprocess()`. Inputs arrive per request (one array, or a dict of arrays
    by name when there are several); optional `inputs`/`outputs` attributes describe them."""

    platform = "custom"
    batchable = False

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self._in = [TensorSpec(**d) for d in getattr(obj, "inputs", None) or []] or \
            [TensorSpec("input-0", "FP64", [-1, -1])]
        self._out = [TensorSpec(**d) for d in getattr(obj, "outputs", None) or []] or \
            [TensorSpec("output-0", "FP64", [-1])]

    @property
    def inputs(self) -> list[TensorSpec]:
        return self._in

    @property
    def outputs(self) -> list[TensorSpec]:
        return self._out

    def prepare(self, tensors: list[Tensor]) -> Batch:
        if len(tensors) == 1:
            return tensors[0].array
        return {t.name: t.array for t in tensors}

    def check_outputs(self, names: list[str]) -> tuple[str, ...]:
        return tuple(names) or tuple(o.name for o in self._out)

    def predict(self, x: Batch, outputs: tuple[str, ...]) -> dict[str, np.ndarray]:
        obj = self.obj
        if callable(getattr(obj, "preprocess", None)):
            x = obj.preprocess(x)
        y = obj.predict(x)
        if callable(getattr(obj, "postprocess", None)):
            y = obj.postprocess(y)
        if isinstance(y, dict):
            result = {str(k): np.asarray(v) for k, v in y.items()}
        else:
            result = {self._out[0].name: np.asarray(y)}
        if outputs:
            missing = [n for n in outputs if n not in result]
            if missing:
                raise RequestError(f"the model did not produce output {', '.join(missing)}",
                                   where="outputs", hint=f"outputs: {', '.join(result)}")
            result = {n: result[n] for n in outputs}
        return result


def predictor_for(obj: Any) -> Predictor:
    """The adapter for a loaded model object, by what it is."""
    import sys

    xgb, lgb, torch = (sys.modules.get(m) for m in ("xgboost", "lightgbm", "torch"))
    if xgb is not None and isinstance(obj, xgb.Booster):
        return XGBoostPredictor(obj)
    if lgb is not None and isinstance(obj, lgb.Booster):
        return LightGBMPredictor(obj)
    if torch is not None and isinstance(obj, torch.nn.Module | torch.jit.ScriptModule):
        return TorchPredictor(obj)
    base = sys.modules.get("sklearn.base")
    if base is not None and isinstance(obj, base.BaseEstimator):
        return SklearnPredictor(obj)
    if isinstance(obj, type):
        obj = obj()
    if callable(getattr(obj, "predict", None)):
        if callable(getattr(obj, "load", None)):
            obj.load()
        return CustomPredictor(obj)
    raise TypeError(f"{type(obj).__module__}.{type(obj).__qualname__} has no predict()")
