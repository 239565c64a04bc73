"""Runs: list with filters and pagination, one run, a step's log."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse

from kiln.catalog import runs as records
from kiln.errors import NotFoundError
from kiln.runtime import Runtime
from kiln.server.app import runtime

router = APIRouter(tags=["runs"])

Status = Literal["running", "succeeded", "failed", "cancelled"]


@router.get("/runs")
def list_runs(experiment: str | None = None, status: Status | None = None,
              pipeline: str | None = None, limit: int = Query(50, ge=1, le=500),
              before: str | None = Query(None, description="Page token: the last id seen."),
              rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Newest first. Pass `next` back as `before` for the next page."""
    runs = records.list_runs(rt.catalog, limit=limit + 1, experiment=experiment, status=status,
                             pipeline=pipeline, before=before)
    page = runs[:limit]
    return {"runs": [_summary(r) for r in page],
            "next": page[-1].id if len(runs) > limit else None}


def _summary(r: records.RunInfo) -> dict[str, Any]:
    d = r.to_dict()
    d.pop("tasks", None)
    return d


@router.get("/runs/{run_id}")
def get_run(run_id: str, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return records.get_run(rt.catalog, run_id).to_dict()


@router.get("/runs/{run_id}/steps/{step}/logs", response_class=PlainTextResponse)
def step_logs(run_id: str, step: str, offset: int = Query(0, ge=0),
              rt: Runtime = Depends(runtime)) -> str:
    """The step's log from byte `offset` (poll with the length read so far to follow it)."""
    task = records.get_run(rt.catalog, run_id, with_events=False).task(step)
    if not task.log_path:
        raise NotFoundError(f"step '{step}' of run {run_id} has no log yet")
    try:
        with open(task.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        raise NotFoundError(f"the log of step '{step}' is gone from this machine") from None
