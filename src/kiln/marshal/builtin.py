"""The codecs kilnflow ships, most specific first; cloudpickle is the last resort."""

from __future__ import annotations

import importlib
import json
import math
import pickle
import types
from pathlib import Path
from typing import Any

from kiln.marshal.codec import Codec, loaded

_JSON_SCALARS = (str, int, float, bool, type(None))


def _plain_json(value: Any, depth: int = 0) -> bool:
    """True if JSON round-trips `value` exactly (same types, not just equal values)."""
    if depth > 64:
        return False
    t = type(value)
    if t in _JSON_SCALARS:
        return not (t is float and not math.isfinite(value))
    if t is list:
        return all(_plain_json(v, depth + 1) for v in value)
    if t is dict:
        return all(type(k) is str and _plain_json(v, depth + 1) for k, v in value.items())
    return False


class JsonCodec(Codec):
    name, version, suffix = "json", 1, ".json"

    def accepts(self, value: Any) -> bool:
        return _plain_json(value)

    def write(self, value: Any, path: Path) -> None:
        path.write_text(json.dumps(value, ensure_ascii=False))

    def read(self, path: Path, version: int) -> Any:
        return json.loads(path.read_text())


class NumpyCodec(Codec):
    """`.npy`, read back memory-mapped so a large array costs no copy until it is touched."""

    name, version, suffix = "numpy", 1, ".npy"

    def accepts(self, value: Any) -> bool:
        np = loaded("numpy")
        if np is None:
            return False
        if isinstance(value, np.ndarray):
            return bool(value.dtype != object)
        return isinstance(value, np.generic) and not isinstance(value, np.object_)

    def write(self, value: Any, path: Path) -> None:
        import numpy as np

        with open(path, "wb") as f:
            np.save(f, np.asarray(value), allow_pickle=False)

    def read(self, path: Path, version: int) -> Any:
        import numpy as np

        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        return arr[()] if arr.ndim == 0 else arr


class PandasParquetCodec(Codec):
    """DataFrames and Series as Parquet (pyarrow); what Parquet cannot hold falls through."""

    name, version, suffix = "pandas-parquet", 1, ".parquet"
    _SERIES_MARK = "__kiln_series__"

    def accepts(self, value: Any) -> bool:
        pd = loaded("pandas")
        return pd is not None and isinstance(value, (pd.DataFrame, pd.Series))

    def write(self, value: Any, path: Path) -> None:
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        if isinstance(value, pd.Series):
            frame = value.to_frame(name=self._SERIES_MARK)
            meta = {"kiln.series_name": json.dumps(value.name)}
        else:
            frame, meta = value, {}
        table = pa.Table.from_pandas(frame, preserve_index=None)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               **{k.encode(): v.encode() for k, v in meta.items()}})
        # Snappy: a good speed/size balance for intermediate data that is read right back.
        pq.write_table(table, path, compression="snappy")
        # Parquet silently turns some values into others (e.g. mixed object columns into
        # strings); refuse those so the pickle fallback keeps them exact.
        if any(frame[c].dtype == object for c in frame.columns):
            back = self.read(path, self.version)
            if not back.equals(value):
                raise ValueError("Parquet does not round-trip this frame exactly")

    def read(self, path: Path, version: int) -> Any:
        import pyarrow.parquet as pq

        table = pq.read_table(path, memory_map=True)
        meta = table.schema.metadata or {}
        frame = table.to_pandas()
        if b"kiln.series_name" in meta:
            s = frame[self._SERIES_MARK]
            s.name = json.loads(meta[b"kiln.series_name"])
            return s
        return frame


class PandasPickleCodec(Codec):
    name, version, suffix = "pandas-pickle", 1, ".pkl"

    def accepts(self, value: Any) -> bool:
        pd = loaded("pandas")
        return pd is not None and isinstance(value, (pd.DataFrame, pd.Series, pd.Index))

    def write(self, value: Any, path: Path) -> None:
        value.to_pickle(path)

    def read(self, path: Path, version: int) -> Any:
        import pandas as pd

        return pd.read_pickle(path)


class XGBoostCodec(Codec):
    """XGBoost's own formats: Booster as UBJSON model, DMatrix as its binary buffer."""

    name, version, suffix = "xgboost", 1, ".xgb"

    def accepts(self, value: Any) -> bool:
        xgb = loaded("xgboost")
        return xgb is not None and isinstance(value, (xgb.Booster, xgb.DMatrix))

    def write(self, value: Any, path: Path) -> None:
        import xgboost as xgb

        if isinstance(value, xgb.Booster):
            raw = bytes(value.save_raw(raw_format="ubj"))
            path.write_bytes(b"KILNXGBB" + raw)
        else:
            tmp = path.with_suffix(".buffer")
            value.save_binary(str(tmp), silent=True)
            with open(path, "wb") as out, open(tmp, "rb") as src:
                out.write(b"KILNXGBD")
                out.write(src.read())
            tmp.unlink()

    def read(self, path: Path, version: int) -> Any:
        import xgboost as xgb

        data = path.read_bytes()
        kind, body = data[:8], data[8:]
        if kind == b"KILNXGBB":
            booster = xgb.Booster()
            booster.load_model(bytearray(body))
            return booster
        tmp = path.parent / f".{path.name}.dmatrix"
        try:
            tmp.write_bytes(body)
            return xgb.DMatrix(str(tmp), silent=True)
        finally:
            tmp.unlink(missing_ok=True)


class LightGBMCodec(Codec):
    name, version, suffix = "lightgbm", 1, ".txt"

    def accepts(self, value: Any) -> bool:
        lgb = loaded("lightgbm")
        return lgb is not None and isinstance(value, lgb.Booster)

    def write(self, value: Any, path: Path) -> None:
        value.save_model(str(path))

    def read(self, path: Path, version: int) -> Any:
        import lightgbm as lgb

        return lgb.Booster(model_file=str(path))


class SklearnCodec(Codec):
    """scikit-learn estimators and pipelines (and sklearn-API XGBoost/LightGBM) with joblib."""

    name, version, suffix = "sklearn-joblib", 1, ".joblib"

    def accepts(self, value: Any) -> bool:
        base = loaded("sklearn.base")
        return base is not None and isinstance(value, base.BaseEstimator)

    def write(self, value: Any, path: Path) -> None:
        import joblib

        joblib.dump(value, path)

    def read(self, path: Path, version: int) -> Any:
        import joblib

        return joblib.load(path)


class TorchCodec(Codec):
    """Tensors and modules via torch.save; a module's class must be importable to load it."""

    name, version, suffix = "torch", 1, ".pt"

    def accepts(self, value: Any) -> bool:
        torch = loaded("torch")
        return torch is not None and isinstance(value, (torch.Tensor, torch.nn.Module))

    def write(self, value: Any, path: Path) -> None:
        import torch

        torch.save(value, path)

    def read(self, path: Path, version: int) -> Any:
        import torch

        return torch.load(path, weights_only=False)


class ModuleCodec(Codec):
    """An imported module travels as its name and is imported again on the other side."""

    name, version, suffix = "module", 1, ".json"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, types.ModuleType)

    def write(self, value: Any, path: Path) -> None:
        path.write_text(json.dumps({"module": value.__name__}))

    def read(self, path: Path, version: int) -> Any:
        return importlib.import_module(json.loads(path.read_text())["module"])


class CloudpickleCodec(Codec):
    name, version, suffix = "cloudpickle", 1, ".pkl"

    def accepts(self, value: Any) -> bool:
        return True

    def write(self, value: Any, path: Path) -> None:
        import cloudpickle

        with open(path, "wb") as f:
            cloudpickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)

    def read(self, path: Path, version: int) -> Any:
        with open(path, "rb") as f:
            return pickle.load(f)


def builtin_codecs() -> list[Codec]:
    return [
        JsonCodec(),
        NumpyCodec(),
        PandasParquetCodec(),
        PandasPickleCodec(),
        XGBoostCodec(),
        LightGBMCodec(),
        SklearnCodec(),
        TorchCodec(),
        ModuleCodec(),
        CloudpickleCodec(),
    ]
