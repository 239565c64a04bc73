"""The models one server holds: versions, their load state, and the traffic split between them."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from kiln.errors import KilnError, ModelError, RequestError
from kiln.serving.batching import Batcher
from kiln.serving.config import ModelConfig, ServeConfig
from kiln.serving.metrics import metrics
from kiln.serving.predictors import Predictor


@dataclass
class ModelVersion:
    name: str
    version: str
    source: Any
    state: str = "loading"  # loading, ready, failed
    reason: str = ""
    predictor: Predictor | None = None
    batcher: Batcher | None = None
    error: KilnError | None = None  # why loading failed

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def describe_source(self) -> str:
        return self.source if isinstance(self.source, str) else type(self.source).__name__


@dataclass
class ServedModel:
    name: str
    versions: dict[str, ModelVersion] = field(default_factory=dict)
    traffic: list[tuple[str, int]] = field(default_factory=list)

    def pick(self, version: str | None = None) -> ModelVersion:
        if version is not None:
            mv = self.versions.get(version)
            if mv is None:
                raise RequestError(f"model '{self.name}' has no version '{version}'",
                                   status=404, hint=f"versions: {', '.join(self.versions)}")
            return mv
        if len(self.traffic) == 1:
            return self.versions[self.traffic[0][0]]
        r = random.uniform(0, 100)
        for v, share in self.traffic:
            if r < share:
                return self.versions[v]
            r -= share
        return self.versions[self.traffic[-1][0]]

    @property
    def ready(self) -> bool:
        return all(self.versions[v].ready for v, share in self.traffic if share > 0)


class Repository:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.models: dict[str, ServedModel] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> ServedModel:
        m = self.models.get(name)
        if m is None:
            raise RequestError(f"no model named '{name}'", status=404,
                               hint=f"models: {', '.join(self.models) or 'none'}")
        return m

    @property
    def ready(self) -> bool:
        return all(m.ready for m in self.models.values())

    def apply(self, config: ServeConfig) -> None:
        """Make the served models match `config`, loading only what is new.

        New versions load before traffic moves to them, so a reload never drops requests.
        """
        with self._lock:
            self.config = config
            wanted = {m.name: m for m in config.models}
            for mc in config.models:
                self._apply_model(mc)
            for name in list(self.models):
                if name not in wanted:
                    del self.models[name]

    def _apply_model(self, mc: ModelConfig) -> None:
        current = self.models.get(mc.name) or ServedModel(mc.name)
        versions: dict[str, ModelVersion] = {}
        for v, source in mc.sources().items():
            old = current.versions.get(v)
            if old is not None and old.source == source and old.ready:
                versions[v] = old
            else:
                versions[v] = self._load(mc.name, v, source)
        self.models[mc.name] = ServedModel(mc.name, versions, mc.traffic())

    def _load(self, name: str, version: str, source: Any) -> ModelVersion:
        from kiln.serving import loading
        from kiln.serving.predictors import predictor_for

        mv = ModelVersion(name, version, source)
        try:
            predictor = loading.load(source) if isinstance(source, str) else \
                predictor_for(source)
        except KilnError as e:
            mv.state, mv.reason, mv.error = "failed", str(e), e
            return mv
        except Exception as e:  # a user's load() raising: report it, keep serving the rest
            err = ModelError(f"{type(e).__name__}: {e}")
            mv.state, mv.reason, mv.error = "failed", str(err), err
            return mv
        batch_hist = metrics().batch_size.labels(name)
        mv.predictor = predictor
        mv.batcher = Batcher(predictor, max_batch_size=self.config.max_batch_size,
                             max_wait=self.config.max_wait_ms / 1000,
                             on_batch=batch_hist.observe)
        mv.state = "ready"
        return mv
