"""Managed model servers: started detached, recorded in the catalog, found again by name.

The catalog row holds the server's whole configuration; the server process reads it at start
and again on SIGHUP, so `update`, `promote` and `rollback` are: change the row, signal, wait
until the new version answers ready (and undo the change if it never does).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiln import names
from kiln.errors import ModelError, NotFoundError, UserError
from kiln.services import manager
from kiln.services.manager import Kind, Record, http_get
from kiln.serving.config import ModelConfig, ServeConfig, base_url

START_TIMEOUT = 120.0
KIND = Kind("model-server", "service", b"kiln.serving.server",
            "list services with `kiln serve ls`")


def check_name(name: str, what: str = "service name") -> str:
    return names.check_name("service", name, what=what)


@dataclass
class ServiceInfo:
    name: str
    status: str
    host: str
    port: int | None
    pid: int | None
    log_path: str
    created_at: datetime
    config: ServeConfig

    @property
    def url(self) -> str:
        return base_url(self.host, self.port) if self.port else ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "url": self.url, "pid": self.pid,
                "created_at": self.created_at.isoformat() + "Z", "log": self.log_path,
                "workers": self.config.workers,
                "models": [{"name": m.name, "model": _describe(m.source),
                            "version": m.version, "canary": _describe(m.canary),
                            "canary_version": m.canary_version,
                            "canary_percent": m.canary_percent}
                           for m in self.config.models]}


def _describe(source: Any) -> str | None:
    return None if source is None else str(source)


# The namespace's runtime to act in: the default home's unless a caller (the REST API, which
# serves several namespaces) says otherwise for the duration of a request.
_using: ContextVar[Any] = ContextVar("kiln_services_runtime", default=None)


@contextlib.contextmanager
def using(rt: Any) -> Iterator[None]:
    token = _using.set(rt)
    try:
        yield
    finally:
        _using.reset(token)


def _runtime() -> Any:
    from kiln.runtime import Runtime

    return _using.get() or Runtime.open()


def _info(rec: Record) -> ServiceInfo:
    return ServiceInfo(rec.name, rec.status, rec.host, rec.port, rec.pid, rec.log_path,
                       rec.created_at, ServeConfig.from_json(rec.config_json))


def list_services() -> list[ServiceInfo]:
    return [_info(r) for r in manager.list_records(_runtime(), KIND)]


def get(name: str) -> ServiceInfo:
    return _info(manager.find(_runtime(), KIND, name))


def load_config(name: str) -> ServeConfig:
    return get(name).config


def _set(name: str, **values: Any) -> None:
    manager.update(_runtime(), name, **values)


def mark_running(name: str, *, pid: int, port: int) -> None:
    _set(name, status="running", pid=pid, port=port)


def mark_stopped(name: str) -> None:
    _set(name, status="stopped")


# --- lifecycle ------------------------------------------------------------------------------

def start(config: ServeConfig, name: str, *, timeout: float = START_TIMEOUT) -> ServiceInfo:
    """Start a detached server for `config`, record it, and wait until it answers."""
    check_name(name)
    for m in config.models:
        if not isinstance(m.source, str):
            raise UserError("a detached service serves models by reference",
                            hint="save the model (a run artifact or file) and serve that")
    rt = _runtime()
    log = rt.home.services_dir / f"{name}.log"
    config.service = name
    manager.reserve(rt, KIND, name, config_json=config.to_json(), host=config.host, port=None,
                    log_path=log, stop_hint=f"stop it with `kiln serve stop {name}` or pick --name")
    env = dict(os.environ, **rt.home.env(), PYTHONUNBUFFERED="1")
    proc = manager.launch([sys.executable, "-m", "kiln.serving.server", "--service", name],
                          env=env, log_path=log)

    def ready() -> bool:
        info = get(name)
        return bool(info.port) and http_get(info.url + "/v2/health/live")[0] == 200

    manager.wait_ready(rt, KIND, name, proc, ready, timeout=timeout, log_path=log)
    return get(name)


def stop(name: str, *, timeout: float = 15.0) -> ServiceInfo:
    return _info(manager.stop(_runtime(), KIND, name, timeout=timeout))


def _model(config: ServeConfig, model: str | None) -> ModelConfig:
    if model is None:
        if len(config.models) != 1:
            raise UserError("this service serves several models; say which with --model",
                            hint=", ".join(m.name for m in config.models))
        return config.models[0]
    mc = config.model(model)
    if mc is None:
        raise NotFoundError(f"the service has no model '{model}'",
                            hint=", ".join(m.name for m in config.models))
    return mc


def update(name: str, source: str | None, *, canary: int | None = None,
           model: str | None = None, timeout: float = START_TIMEOUT) -> ServiceInfo:
    """Serve `source` as the model's next version: all traffic, or `canary` percent of it.
    Without `source`, the model's own source again: a registered model's alias
    (models:/NAME@production) is looked up anew, so the service follows where it moved."""
    from kiln.serving.loading import resolve

    if canary is not None and not 0 < canary < 100:
        raise UserError(f"--canary {canary} is not between 1 and 99",
                        hint="omit --canary to replace the model outright")
    info = _running(name)
    old = info.config
    new = ServeConfig.from_json(old.to_json())
    mc = _model(new, model)
    if source is None:
        if not (isinstance(mc.source, str) and mc.source.startswith("models:/")):
            raise UserError(f"model '{mc.name}' was not served from the model registry, so "
                            "there is no alias to follow", where="MODEL",
                            hint="name the new model: kiln serve update NAME MODEL")
        source = mc.source
    resolve(source)  # fail here, not in the server, on a bad reference
    nxt = max(mc.last_version, mc.version, mc.canary_version or 0) + 1
    mc.last_version = nxt
    if canary is None:
        mc.source, mc.version, mc.canary, mc.canary_version, mc.canary_percent = \
            source, nxt, None, None, 0
    else:
        mc.canary, mc.canary_version, mc.canary_percent = source, nxt, canary
    return _apply(info, old, new, mc, str(nxt), timeout)


def promote(name: str, *, model: str | None = None) -> ServiceInfo:
    """The canary takes all traffic and becomes the model."""
    info = _running(name)
    new = ServeConfig.from_json(info.config.to_json())
    mc = _model(new, model)
    if mc.canary is None or mc.canary_version is None:
        raise UserError(f"model '{mc.name}' has no canary to promote")
    mc.source, mc.version = mc.canary, mc.canary_version
    mc.canary, mc.canary_version, mc.canary_percent = None, None, 0
    return _apply(info, info.config, new, mc, str(mc.version), START_TIMEOUT)


def rollback(name: str, *, model: str | None = None) -> ServiceInfo:
    """Drop the canary; the stable version takes all traffic again."""
    info = _running(name)
    new = ServeConfig.from_json(info.config.to_json())
    mc = _model(new, model)
    if mc.canary is None:
        raise UserError(f"model '{mc.name}' has no canary to roll back")
    mc.canary, mc.canary_version, mc.canary_percent = None, None, 0
    return _apply(info, info.config, new, mc, str(mc.version), START_TIMEOUT)


def _running(name: str) -> ServiceInfo:
    info = get(name)
    if info.status != "running":
        raise UserError(f"service '{name}' is {info.status}",
                        hint=f"start it again with `kiln serve ... --detach --name {name}`")
    return info


def _apply(info: ServiceInfo, old: ServeConfig, new: ServeConfig, mc: ModelConfig,
           version: str, timeout: float) -> ServiceInfo:
    model = mc.name
    _set(info.name, config_json=new.to_json())
    assert info.pid is not None
    os.killpg(info.pid, signal.SIGHUP)
    url = f"{info.url}/v2/models/{model}/versions/{version}/ready"
    deadline = time.monotonic() + timeout
    status, doc = 0, dict[str, Any]()
    while time.monotonic() < deadline:
        status, doc = http_get(url)
        if status == 200 and _serves(info, new.workers, mc):
            return get(info.name)
        if status == 503 and doc.get("error") not in (None, "loading"):
            break  # the new version failed to load
        time.sleep(0.1)
    _set(info.name, config_json=old.to_json())  # undo: keep serving what worked
    os.killpg(info.pid, signal.SIGHUP)
    raise ModelError(f"version {version} of '{model}' did not become ready: "
                     f"{doc.get('error', 'timed out')}", hint="the service keeps its old model")


def _serves(info: ServiceInfo, workers: int, mc: ModelConfig) -> bool:
    """Every worker has taken the new traffic split (the model lists exactly its versions)."""
    want = sorted(mc.sources())
    for _ in range(max(1, workers) * 4):  # connections land on different workers
        status, doc = http_get(f"{info.url}/v2/models/{mc.name}")
        if status != 200 or doc.get("versions") != want:
            return False
    return True


def server_metrics(info: ServiceInfo) -> dict[str, dict[str, float]] | None:
    """Per model, from the server's own Prometheus /metrics: requests, errors (status 4xx and
    5xx), and the latency histogram's count and sum (mean latency) with its p50 and p99
    bucket bounds. None when the server does not answer."""
    if info.status != "running":
        return None
    try:
        with urllib.request.urlopen(info.url + "/metrics", timeout=1.0) as r:  # noqa: S310
            text = r.read().decode()
    except OSError:
        return None
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, dict[str, float]] = {}
    buckets: dict[str, list[tuple[float, float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            model = sample.labels.get("model")
            if model is None:
                continue
            m = out.setdefault(model, {"requests": 0.0, "errors": 0.0, "latency_count": 0.0,
                                       "latency_sum": 0.0})
            if sample.name == "kiln_inference_requests_total":
                m["requests"] += sample.value
                if sample.labels.get("code", "200")[:1] in ("4", "5"):
                    m["errors"] += sample.value
            elif sample.name == "kiln_inference_request_duration_seconds_count":
                m["latency_count"] += sample.value
            elif sample.name == "kiln_inference_request_duration_seconds_sum":
                m["latency_sum"] += sample.value
            elif sample.name == "kiln_inference_request_duration_seconds_bucket":
                buckets.setdefault(model, []).append((float(sample.labels["le"]), sample.value))
    for model, bs in buckets.items():
        bs.sort()
        total = bs[-1][1] if bs else 0.0
        for q in (0.5, 0.99):
            bound = next((le for le, n in bs if total and n >= q * total), None)
            if bound is not None:  # -1: above the largest bucket
                out[model][f"p{round(q * 100)}_le"] = bound if bound != float("inf") else -1.0
    return out


def request_count(info: ServiceInfo) -> int | None:
    """Requests served so far, from the server's Prometheus metrics."""
    per_model = server_metrics(info)
    return None if per_model is None else int(sum(m["requests"] for m in per_model.values()))
