"""Runs: list with filters and pagination, one run, a step's log, its outputs; cancel, retry,
clone, resume, label, archive and delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, PlainTextResponse
from pydantic import BaseModel, Field

from kiln.catalog import runs as records
from kiln.errors import NotFoundError
from kiln.runtime import Runtime
from kiln.server.deps import FastJSON, runtime

router = APIRouter(tags=["runs"])

Status = Literal["running", "succeeded", "failed", "cancelled"]


@router.get("/runs", response_class=FastJSON)
def list_runs(experiment: str | None = None, status: Status | None = None,
              pipeline: str | None = None, limit: int = Query(50, ge=1, le=500),
              before: str | None = Query(None, description="Page token: the last id seen."),
              filter: str | None = Query(None, description="metrics.accuracy > 0.9 and ..."),  # noqa: A002
              sort: str | None = Query(None, description="-metrics.accuracy, params.lr, ..."),
              offset: int = Query(0, ge=0, le=1_000_000_000,
                                  description="With sort: rows to skip."),
              archived: bool = Query(False, description="List archived runs instead."),
              rt: Runtime = Depends(runtime)) -> FastJSON:
    """Newest first. Pass `next` back as `before` for the next page (with `sort`, as
    `offset`)."""
    runs = records.list_runs(rt.catalog, limit=limit + 1, experiment=experiment, status=status,
                             pipeline=pipeline, before=None if sort else before,
                             filter_text=filter, sort=sort, offset=offset if sort else 0,
                             archived=archived)
    page = runs[:limit]
    more = len(runs) > limit
    return FastJSON({"runs": [r.to_dict(with_tasks=False) for r in page],
                     "next": (str(offset + limit) if sort else page[-1].id) if more else None})


@router.get("/runs/compare")
def compare(ids: str = Query(..., description="Comma-separated run ids (two or more)."),
            rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    from kiln.catalog.compare import compare as compare_runs

    return compare_runs(rt.catalog, [i for i in ids.split(",") if i]).to_dict()


@router.get("/lineage/{ref:path}", response_class=FastJSON)
def lineage(ref: str, rt: Runtime = Depends(runtime)) -> FastJSON:
    """Upstream and downstream of a run, an artifact digest, or RUN/STEP/NAME."""
    from kiln.catalog.lineage import lineage as walk

    return FastJSON(walk(rt.catalog, ref).to_dict())


@router.get("/runs/{run_id}", response_class=FastJSON)
def get_run(run_id: str, rt: Runtime = Depends(runtime)) -> FastJSON:
    """The run with its tasks, its graph (nodes and edges) for drawing, and the study it is a
    trial of (or null)."""
    import json

    from kiln.catalog.pipelines import graph
    from kiln.catalog.studies import study_of_run

    info = records.get_run(rt.catalog, run_id)
    return FastJSON({**info.to_dict(), "graph": graph(json.loads(info.spec_json or "{}")),
                     "study": study_of_run(rt.catalog, info.id)})


@router.get("/runs/{run_id}/metrics")
def metrics(run_id: str, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Every recorded value: {name: [{step, value, index}]} (series have an index)."""
    from kiln.sdk.context import read_metrics_file

    out: dict[str, list[dict[str, Any]]] = {}
    run = records.get_run(rt.catalog, run_id, with_events=False)
    for name, step, value, index in records.metric_series(rt.catalog, run.id):
        out.setdefault(name, []).append({"step": step, "value": value, "index": index})
    # A running step's values reach the catalog when it ends; until then they are in the
    # file the step appends to (one line per value), so charts move while it runs.
    for task in run.tasks:
        if task.status == "running" and task.log_path:
            path = Path(task.log_path).with_name("metrics.jsonl")
            for name, value, index in read_metrics_file(path):
                out.setdefault(name, []).append({"step": task.step, "value": value,
                                                 "index": index, "live": True})
    return {"metrics": out}


@router.get("/runs/{run_id}/visuals", response_class=FastJSON)
def visuals(run_id: str, rt: Runtime = Depends(runtime)) -> FastJSON:
    """Confusion matrices, ROC curves, tables and reports the run's steps logged:
    [{name, kind, step, data}] (data's shape per kind is in kiln.sdk.visuals)."""
    rid = records.resolve_run_id(rt.catalog, run_id)
    return FastJSON({"visuals": records.run_visuals(rt.catalog, rid)})


@router.get("/runs/{run_id}/steps/{step}/outputs/{name}")
def download_output(run_id: str, step: str, name: str,
                    rt: Runtime = Depends(runtime)) -> FileResponse:
    """The output's stored bytes, as its codec wrote them."""
    ref = records.find_output(rt.catalog, run_id, step, name)
    return FileResponse(rt.store.local_path(ref.digest), filename=f"{step}-{name}.bin",
                        media_type="application/octet-stream")


@router.get("/runs/{run_id}/steps/{step}/outputs/{name}/preview")
def preview_output(run_id: str, step: str, name: str,
                   rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """A DataFrame's head, an array's shape and first rows, or a value's text."""
    from kiln.marshal.preview import preview
    from kiln.marshal.registry import default_registry

    ref = records.find_output(rt.catalog, run_id, step, name)
    if ref.size > PREVIEW_LIMIT:
        return {"kind": "too-large", "type": ref.type_name, "size": ref.size}
    return {**preview(default_registry.load(ref, rt.store)), "size": ref.size}


PREVIEW_LIMIT = 256 << 20  # the value is loaded into the server to preview it


class Changes(BaseModel):
    params: dict[str, Any] = Field({}, description="Parameters to change; the rest are kept.")
    labels: dict[str, str] = {}
    name: str | None = Field(None, description="The new run's name (default: made up).")


class ResumeFrom(BaseModel):
    from_step: str
    params: dict[str, Any] = {}
    name: str | None = Field(None, description="The new run's name (default: made up).")


class Update(BaseModel):
    labels: dict[str, str | None] | None = Field(None, description="null removes a label")
    archived: bool | None = None


@router.post("/runs/{run_id}/cancel")
def cancel(run_id: str, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Stops running steps (as Ctrl-C does); the run ends as cancelled."""
    from kiln.engine import launch

    return {"id": records.resolve_run_id(rt.catalog, run_id),
            "status": launch.cancel(run_id, rt=rt, wait=5.0)}


@router.post("/runs/{run_id}/retry", status_code=201)
def retry(run_id: str, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """The same pipeline and parameters again; what succeeded before comes from the cache."""
    from kiln.engine import launch

    return records.get_run(rt.catalog, launch.clone(run_id, rt=rt)).to_dict()


@router.post("/runs/{run_id}/clone", status_code=201)
def clone(run_id: str, body: Changes, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    from kiln.engine import launch

    new = launch.clone(run_id, body.params, labels=body.labels, rt=rt, name=body.name)
    return records.get_run(rt.catalog, new).to_dict()


@router.post("/runs/{run_id}/resume", status_code=201)
def resume(run_id: str, body: ResumeFrom, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Re-run `from_step` and what follows it, reusing everything upstream."""
    from kiln.engine import launch

    new = launch.resume(run_id, body.from_step, body.params, rt=rt, name=body.name)
    return records.get_run(rt.catalog, new).to_dict()


@router.patch("/runs/{run_id}")
def update(run_id: str, body: Update, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    if body.labels is not None:
        records.set_labels(rt.catalog, run_id, body.labels)
    if body.archived is not None:
        records.set_archived(rt.catalog, run_id, body.archived)
    return records.get_run(rt.catalog, run_id, with_events=False).to_dict(with_tasks=False)


@router.delete("/runs/{run_id}")
def delete(run_id: str, rt: Runtime = Depends(runtime)) -> dict[str, str]:
    """The run's records go; stored outputs stay until `kiln store gc` finds them unused."""
    return {"deleted": records.delete_run(rt.catalog, run_id)}


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
