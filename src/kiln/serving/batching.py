"""Adaptive micro-batching: requests that arrive while the model is busy are predicted together.

Idle server: a request is predicted at once (no added wait). Busy server: everything queued
meanwhile forms the next batch, up to `max_batch_size` rows, optionally waiting `max_wait`
seconds to fill it. One predict runs at a time per model version, so the queue is the batch.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kiln.errors import RequestError
from kiln.serving.predictors import Batch, Predictor

# A predict under this many seconds runs on the event loop: handing it to a thread costs
# more than it saves. Slower models run in a thread so health checks stay answered.
INLINE_BELOW = 0.001
# Requests closer together than this are treated as concurrent and batched.
BURST_GAP = 0.0002


@dataclass
class _Pending:
    x: Batch
    outputs: tuple[str, ...]
    rows: int
    future: asyncio.Future[dict[str, np.ndarray]]


def _rows(x: Batch) -> int:
    return len(x)


def _key(x: Batch, outputs: tuple[str, ...]) -> tuple[Any, ...]:
    """Requests with the same key can be stacked into one batch."""
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.str, x.shape[1:], outputs)
    if hasattr(x, "columns"):
        return ("frame", tuple(x.columns), outputs)
    return ("single", id(x))  # never merged


def _concat(xs: list[Batch]) -> Batch:
    if isinstance(xs[0], np.ndarray):
        return np.concatenate(xs, axis=0)
    import pandas as pd

    return pd.concat(xs, ignore_index=True)


class Batcher:
    def __init__(self, predictor: Predictor, *, max_batch_size: int = 64,
                 max_wait: float = 0.0,
                 on_batch: Callable[[int], None] | None = None) -> None:
        self.predictor = predictor
        self.max_batch_size = max(1, max_batch_size)
        self.max_wait = max(0.0, max_wait)
        self._queue: deque[_Pending] = deque()
        self._draining = False
        self._cost = 0.0  # moving average of one predict's wall time
        self._on_batch = on_batch
        self._last_arrival = 0.0

    async def predict(self, x: Batch, outputs: tuple[str, ...]) -> dict[str, np.ndarray]:
        if not self.predictor.batchable or self.max_batch_size == 1:
            return await self._call(x, outputs, 1)
        now = time.perf_counter()
        burst = now - self._last_arrival < BURST_GAP
        self._last_arrival = now
        if not self._draining and not burst and not self.max_wait:
            # Idle and alone: predict now. Each extra trip through the event loop costs more
            # than the model call for small models (measured in benchmarks/serving.py).
            self._draining = True
            try:
                return await self._call(x, outputs, _rows(x))
            finally:
                if self._queue:
                    asyncio.get_running_loop().create_task(self._drain())
                else:
                    self._draining = False
        # Under load (requests arriving back to back): queue, and let one drain batch them.
        fut: asyncio.Future[dict[str, np.ndarray]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(x, outputs, _rows(x), fut))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._take()
                if self.max_wait and sum(p.rows for p in batch) < self.max_batch_size:
                    await asyncio.sleep(self.max_wait)
                    batch += self._take(sum(p.rows for p in batch), _key(batch[0].x,
                                                                         batch[0].outputs))
                await self._run(batch)
                await asyncio.sleep(0)  # let the loop read the requests that arrived meanwhile
        finally:
            self._draining = False

    def _take(self, rows: int = 0, key: tuple[Any, ...] | None = None) -> list[_Pending]:
        """Queued requests compatible with the first one, up to the row limit, in order."""
        batch: list[_Pending] = []
        keep: deque[_Pending] = deque()
        while self._queue:
            p = self._queue.popleft()
            k = _key(p.x, p.outputs)
            if key is None:
                key = k
            if k == key and (not batch and not rows or rows + p.rows <= self.max_batch_size):
                batch.append(p)
                rows += p.rows
            else:
                keep.append(p)
        self._queue.extendleft(reversed(keep))
        return batch

    async def _run(self, batch: list[_Pending]) -> None:
        if len(batch) == 1:
            p = batch[0]
            await self._settle(p, self._call(p.x, p.outputs, p.rows))
            return
        x = _concat([p.x for p in batch])
        try:
            y = await self._call(x, batch[0].outputs, len(x))
        except Exception:
            # One bad request must not fail its neighbours: retry each on its own.
            for p in batch:
                await self._settle(p, self._call(p.x, p.outputs, p.rows))
            return
        start = 0
        for p in batch:
            part = {k: v[start:start + p.rows] for k, v in y.items()}
            start += p.rows
            if not p.future.done():
                p.future.set_result(part)

    async def _settle(self, p: _Pending, call: Any) -> None:
        try:
            result = await call
        except Exception as e:
            if not p.future.done():
                p.future.set_exception(e)
            return
        if not p.future.done():
            p.future.set_result(result)

    async def _call(self, x: Batch, outputs: tuple[str, ...], rows: int) -> dict[str, np.ndarray]:
        if self._on_batch is not None:
            self._on_batch(rows)
        t0 = time.perf_counter()
        if self._cost < INLINE_BELOW:
            y = self.predictor.predict(x, outputs)
        else:
            y = await asyncio.to_thread(self.predictor.predict, x, outputs)
        self._cost = 0.8 * self._cost + 0.2 * (time.perf_counter() - t0)
        if self.predictor.batchable:
            for name, v in y.items():
                if v.ndim == 0 or len(v) != rows:
                    raise RequestError(f"the model returned {name} with shape "
                                       f"{list(v.shape)} for {rows} rows", status=500)
        return y
