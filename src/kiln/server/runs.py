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
              filter: str | None = Query(None, description="metrics.accuracy > 0.9 and ..."),  # noqa: A002
              sort: str | None = Query(None, description="-metrics.accuracy, params.lr, ..."),
              offset: int = Query(0, ge=0, description="With sort: rows to skip."),
              rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Newest first. Pass `next` back as `before` for the next page (with `sort`, as
    `offset`)."""
    runs = records.list_runs(rt.catalog, limit=limit + 1, experiment=experiment, status=status,
                             pipeline=pipeline, before=None if sort else before,
                             filter_text=filter, sort=sort, offset=offset if sort else 0)
    page = runs[:limit]
    more = len(runs) > limit
    return {"runs": [_summary(r) for r in page],
            "next": (str(offset + limit) if sort else page[-1].id) if more else None}


def _summary(r: records.RunInfo) -> dict[str, Any]:
    d = r.to_dict()
    d.pop("tasks", None)
    return d


@router.get("/runs/compare")
def compare(ids: str = Query(..., description="Comma-separated run ids (two or more)."),
            rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    from kiln.catalog.compare import compare as compare_runs

    return compare_runs(rt.catalog, [i for i in ids.split(",") if i]).to_dict()


@router.get("/lineage/{ref:path}")
def lineage(ref: str, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Upstream and downstream of a run, an artifact digest, or RUN/STEP/NAME."""
    from kiln.catalog.lineage import lineage as walk

    return walk(rt.catalog, ref).to_dict()


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
