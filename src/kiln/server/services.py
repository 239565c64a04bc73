"""Model servers over REST: the same functions as `kiln serve ls|start --detach|stop|promote|
rollback|logs` (kiln.serving.services), each in the request's namespace, with each server's
own numbers (requests, errors, latency from its /metrics) and the tail of its log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from kiln.runtime import Runtime
from kiln.server.deps import FastJSON, runtime
from kiln.serving import services

router = APIRouter(tags=["services"])


class NewService(BaseModel):
    model: str = Field(..., description="A run's output: RUN/STEP/OUTPUT, e.g. "
                                        "0193a2b4c5d6e7f8/train/model, or a registered "
                                        "model: models:/NAME@ALIAS, models:/NAME/3")
    name: str | None = Field(None, description="Service (and model) name; default: the output's")
    workers: int = Field(1, ge=1, le=64)


def _describe(info: services.ServiceInfo) -> dict[str, Any]:
    out = info.to_dict()
    out.pop("log")
    out["metrics"] = services.server_metrics(info)
    for m in out["models"]:
        # a model served from a run's output links back to the run
        for key in ("model", "canary"):
            ref = m.get(key)
            parts = ref.split("/") if isinstance(ref, str) else []
            m[f"{key}_run"] = parts[0] if len(parts) == 3 and not Path(ref).exists() else None
    return out


@router.get("/services", response_class=FastJSON)
def list_services(rt: Runtime = Depends(runtime)) -> Any:
    """Every model server of the namespace, with status, URL, models, versions, canary split
    and its request counters (poll twice for a rate)."""
    with services.using(rt):
        return FastJSON({"services": [_describe(i) for i in services.list_services()]})


@router.get("/services/{name}", response_class=FastJSON)
def get_service(name: str, lines: int = Query(100, ge=0, le=5000),
                rt: Runtime = Depends(runtime)) -> Any:
    """One server and the last `lines` of its log."""
    from kiln.services.manager import log_tail

    with services.using(rt):
        info = services.get(name)
        return FastJSON({**_describe(info), "log": log_tail(Path(info.log_path), lines)})


@router.post("/services", status_code=201, response_class=FastJSON)
def start_service(body: NewService, rt: Runtime = Depends(runtime)) -> Any:
    """Serve a run's output in a new managed server (on loopback, a free port)."""
    from kiln.serving.config import ModelConfig, ServeConfig
    from kiln.serving.loading import default_name, resolve_artifact

    resolve_artifact(body.model, rt)  # a clear 4xx for a bad or unknown reference
    name = body.name or default_name(body.model)
    services.check_name(name)
    config = ServeConfig([ModelConfig(name, body.model)], host="127.0.0.1", port=0,
                         workers=body.workers)
    with services.using(rt):
        return FastJSON(_describe(services.start(config, name)), status_code=201)


@router.post("/services/{name}/stop", response_class=FastJSON)
def stop_service(name: str, rt: Runtime = Depends(runtime)) -> Any:
    with services.using(rt):
        return FastJSON(_describe(services.stop(name)))


@router.post("/services/{name}/promote", response_class=FastJSON)
def promote(name: str, model: str | None = None, rt: Runtime = Depends(runtime)) -> Any:
    """The canary takes all traffic."""
    with services.using(rt):
        return FastJSON(_describe(services.promote(name, model=model)))


@router.post("/services/{name}/rollback", response_class=FastJSON)
def rollback(name: str, model: str | None = None, rt: Runtime = Depends(runtime)) -> Any:
    """Drop the canary: the stable version takes all traffic."""
    with services.using(rt):
        return FastJSON(_describe(services.rollback(name, model=model)))
