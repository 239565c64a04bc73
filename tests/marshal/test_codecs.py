from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kiln.errors import CodecError
from kiln.marshal import Codec, CodecRegistry, default_registry
from kiln.store import FolderStore


@pytest.fixture
def store(tmp_path):
    return FolderStore(tmp_path / "store")


def roundtrip(value, store, registry=default_registry):
    ref = default_registry.save(value, store) if registry is default_registry else \
        registry.save(value, store)
    return ref, registry.load(ref, store)


@pytest.mark.parametrize("value", [1, 2.5, "text", True, None, [1, "a", [2.0]],
                                   {"a": {"b": [1, None]}}])
def test_plain_values_travel_as_json(store, value):
    ref, back = roundtrip(value, store)
    assert ref.codec == "json" and back == value and type(back) is type(value)


@pytest.mark.parametrize("value", [(1, 2), {1: "int key"}, math.nan, {"s": {1, 2}}])
def test_values_json_would_change_use_pickle(store, value):
    ref, back = roundtrip(value, store)
    assert ref.codec == "cloudpickle"
    assert back == value or (value != value and back != back)


def test_numpy_arrays_are_npy_and_load_memory_mapped(store):
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    ref, back = roundtrip(arr, store)
    assert ref.codec == "numpy" and isinstance(back, np.memmap)
    np.testing.assert_array_equal(back, arr)
    ref, scalar = roundtrip(np.float64(1.5), store)
    assert ref.codec == "numpy" and scalar == 1.5 and isinstance(scalar, np.float64)


def test_dataframes_and_series_are_parquet(store):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=pd.Index([10, 20], name="id"))
    ref, back = roundtrip(df, store)
    assert ref.codec == "pandas-parquet"
    pd.testing.assert_frame_equal(back, df)
    s = pd.Series([1.0, 2.0], name="score")
    ref, back = roundtrip(s, store)
    assert ref.codec == "pandas-parquet"
    pd.testing.assert_series_equal(back, s)


def test_frames_parquet_cannot_hold_fall_back_to_pickle(store):
    df = pd.DataFrame({"mixed": [1, "two", 3.0]})
    ref, back = roundtrip(df, store)
    assert ref.codec == "pandas-pickle"
    pd.testing.assert_frame_equal(back, df)
    df2 = pd.DataFrame({0: [1], "a": [2]})  # non-string column names
    ref, back = roundtrip(df2, store)
    pd.testing.assert_frame_equal(back, df2)


def test_sklearn_models_use_joblib(store):
    from sklearn.linear_model import LogisticRegression

    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    model = LogisticRegression().fit(x, [0, 0, 1, 1])
    ref, back = roundtrip(model, store)
    assert ref.codec == "sklearn-joblib"
    np.testing.assert_array_equal(back.predict(x), model.predict(x))


def test_xgboost_booster_and_dmatrix_use_native_formats(store):
    xgb = pytest.importorskip("xgboost")
    x = np.random.default_rng(0).normal(size=(50, 3))
    y = (x[:, 0] > 0).astype(float)
    dm = xgb.DMatrix(x, label=y)
    ref, back = roundtrip(dm, store)
    assert ref.codec == "xgboost" and back.num_row() == 50
    np.testing.assert_array_equal(back.get_label(), y)
    bst = xgb.train({"objective": "binary:logistic"}, dm, 3)
    ref, back = roundtrip(bst, store)
    np.testing.assert_allclose(back.predict(dm), bst.predict(dm))


def test_lightgbm_booster_uses_its_text_format(store):
    lgb = pytest.importorskip("lightgbm")
    x = np.random.default_rng(0).normal(size=(100, 3))
    bst = lgb.train({"objective": "regression", "verbose": -1}, lgb.Dataset(x, x[:, 0]), 3)
    ref, back = roundtrip(bst, store)
    assert ref.codec == "lightgbm"
    np.testing.assert_allclose(back.predict(x), bst.predict(x))


def test_modules_travel_by_name(store):
    ref, back = roundtrip(math, store)
    assert ref.codec == "module" and back is math


def test_identical_values_are_stored_once(store):
    a = default_registry.save(np.ones(1000), store)
    b = default_registry.save(np.ones(1000), store)
    assert a.digest == b.digest
    assert len(list((store.root / "objects").rglob("*"))) == 2  # one folder, one file


def test_a_value_nothing_can_write_is_a_clear_error(store):
    with pytest.raises(CodecError, match="cannot save out of type generator") as e:
        default_registry.save((i for i in range(2)), store, what="out")
    assert "register_codec" in e.value.hint
    assert list((store.root / "tmp").iterdir()) == []  # nothing half-written is left


def test_newer_codec_versions_are_refused_and_unknown_codecs_named(store):
    ref = default_registry.save([1], store)
    newer = type(ref)(ref.digest, ref.size, "json", 99, "list")
    with pytest.raises(CodecError, match="version 99"):
        default_registry.load(newer, store)
    with pytest.raises(CodecError, match="no codec named 'nope'"):
        default_registry.load(type(ref)(ref.digest, ref.size, "nope", 1, "x"), store)


def test_a_registered_codec_takes_precedence(store):
    class Point:
        def __init__(self, x):
            self.x = x

    class PointCodec(Codec):
        name, version, suffix = "point", 1, ".txt"

        def accepts(self, value):
            return isinstance(value, Point)

        def write(self, value, path):
            path.write_text(str(value.x))

        def read(self, path, version):
            return Point(int(path.read_text()))

    reg = CodecRegistry()
    reg.register(PointCodec())
    ref, back = roundtrip(Point(7), store, reg)
    assert ref.codec == "point" and back.x == 7
