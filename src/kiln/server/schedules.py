"""Recurring runs over REST: the same functions as `kiln schedule` (kiln.engine.recurring)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from kiln.catalog import schedules as records
from kiln.runtime import Runtime
from kiln.server.deps import runtime

router = APIRouter(tags=["schedules"])


class NewSchedule(BaseModel):
    name: str = Field(..., description="e.g. nightly-train")
    pipeline: str
    version: int | None = Field(None, ge=1, description="Pin a version; default: the latest.")
    every: str | None = Field(None, description="An interval: 90s, 30m, 1h, 1d.")
    cron: str | None = Field(None, description='Cron in UTC, e.g. "0 3 * * *".')
    params: dict[str, Any] = {}
    experiment: str | None = None
    max_concurrency: int = Field(1, ge=1, le=100)


class ScheduleUpdate(BaseModel):
    paused: bool


@router.get("/schedules")
def list_schedules(rt: Runtime = Depends(runtime)) -> list[dict[str, Any]]:
    from kiln.engine.recurring import next_start

    out = []
    for s in records.list_schedules(rt.catalog):
        nxt = next_start(s)
        out.append({**s.to_dict(), "next_at": nxt.isoformat() + "Z" if nxt else None})
    return out


@router.post("/schedules", status_code=201)
def create(body: NewSchedule, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Checked whole first: the pipeline and version exist, the parameters fit its types."""
    from kiln.engine import recurring

    return recurring.create(body.name, body.pipeline, every=body.every, cron=body.cron,
                            version=body.version, params=body.params,
                            experiment=body.experiment, max_concurrency=body.max_concurrency,
                            rt=rt).to_dict()


@router.get("/schedules/{name}")
def get_schedule(name: str, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return records.get_schedule(rt.catalog, name).to_dict()


@router.patch("/schedules/{name}")
def update(name: str, body: ScheduleUpdate, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Pause or resume; resuming starts from the next slot (missed ones are not made up)."""
    return records.set_paused(rt.catalog, name, body.paused).to_dict()


@router.delete("/schedules/{name}")
def delete(name: str, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Future runs stop; runs it started stay."""
    records.delete_schedule(rt.catalog, name)
    return {"deleted": name}
