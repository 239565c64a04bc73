"""Adaptive micro-batching: concurrent requests share model calls and get their own rows back."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from kiln.errors import RequestError
from kiln.serving.batching import Batcher
from kiln.serving.predictors import SklearnPredictor


class SlowModel:
    """sklearn-shaped: predict returns each row's sum; records the batch sizes it saw."""

    n_features_in_ = 2

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, x):
        self.calls.append(len(x))
        time.sleep(0.01)
        if (np.asarray(x) < 0).any():
            raise ValueError("negative")
        return np.asarray(x).sum(axis=1)


def run_concurrently(batcher: Batcher, xs: list[np.ndarray]) -> list[object]:
    async def main() -> list[object]:
        return await asyncio.gather(*(batcher.predict(x, ("predict",)) for x in xs),
                                    return_exceptions=True)

    return asyncio.run(main())


def test_concurrent_requests_are_batched_and_split_back() -> None:
    model = SlowModel()
    batcher = Batcher(SklearnPredictor(model), max_batch_size=16)
    xs = [np.full((1 + i % 3, 2), float(i)) for i in range(40)]
    results = run_concurrently(batcher, xs)
    for x, r in zip(xs, results, strict=True):
        assert isinstance(r, dict)
        np.testing.assert_array_equal(r["predict"], x.sum(axis=1))
    assert len(model.calls) < len(xs)  # requests shared calls
    assert max(model.calls) <= 16 and sum(model.calls) == sum(len(x) for x in xs)


def test_one_bad_request_does_not_fail_its_batch() -> None:
    model = SlowModel()
    batcher = Batcher(SklearnPredictor(model), max_batch_size=64)
    xs = [np.ones((1, 2)) * (-1 if i == 5 else 1) for i in range(12)]
    results = run_concurrently(batcher, xs)
    assert isinstance(results[5], ValueError)
    assert all(isinstance(r, dict) for i, r in enumerate(results) if i != 5)


def test_max_wait_fills_a_batch() -> None:
    model = SlowModel()
    batcher = Batcher(SklearnPredictor(model), max_batch_size=8, max_wait=0.05)

    async def main() -> None:
        first = asyncio.ensure_future(batcher.predict(np.ones((1, 2)), ("predict",)))
        await asyncio.sleep(0.01)  # arrives while the first waits for company
        second = asyncio.ensure_future(batcher.predict(np.ones((1, 2)), ("predict",)))
        await asyncio.gather(first, second)

    asyncio.run(main())
    assert model.calls == [2]


def test_a_model_returning_the_wrong_rows_is_an_error() -> None:
    class Wrong(SlowModel):
        def predict(self, x):
            return np.zeros(len(x) + 1)

    batcher = Batcher(SklearnPredictor(Wrong()), max_batch_size=4)
    (result,) = run_concurrently(batcher, [np.ones((2, 2))])
    assert isinstance(result, RequestError) and result.status == 500
