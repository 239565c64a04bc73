"""Pipelines: upload a notebook, module or spec as a new version; list them; start a run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel, Field

from kiln.catalog import pipelines as records
from kiln.runtime import Runtime
from kiln.server.deps import runtime

router = APIRouter(tags=["pipelines"])


@router.get("/pipelines")
def list_pipelines(rt: Runtime = Depends(runtime)) -> list[dict[str, Any]]:
    return [p.to_dict() for p in records.list_pipelines(rt.catalog)]


@router.post("/pipelines", status_code=201)
def upload(file: UploadFile = File(..., description="A .ipynb, .py or .json spec."),
           name: str | None = Form(None, description="Default: the pipeline's own name."),
           entry: str = Form("", description="For a .py module: the @kiln.pipeline function."),
           message: str = Form(""), description: str = Form(""),
           reuse: bool = Form(False, description="Return the latest version instead when it "
                                                 "holds the same file."),
           rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Add a version (the first one creates the pipeline). The file is compiled now, so a
    broken one is refused with the compiler's error."""
    from kiln.engine import versions

    data = file.file.read(versions.MAX_UPLOAD + 1)
    v = versions.upload(data, file.filename or "", name=name or None, entry=entry,
                        message=message, description=description, reuse=reuse, rt=rt)
    return v.to_dict()


@router.get("/pipelines/{name}")
def get_pipeline(name: str, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    p = records.get_pipeline(rt.catalog, name)
    return {**p.to_dict(), "all_versions": [v.to_dict() for v in p.all_versions]}


@router.get("/pipelines/{name}/versions/{number}")
def get_version(name: str, number: int, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return records.get_version(rt.catalog, name, number).to_dict(with_spec=True)


@router.delete("/pipelines/{name}")
def delete_pipeline(name: str, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Its versions go; runs of it stay. `kiln store gc` frees uploads nothing references."""
    return {"deleted": name, "versions": records.delete_pipeline(rt.catalog, name)}


class NewRun(BaseModel):
    pipeline: str
    version: int | None = Field(None, description="Default: the latest version.")
    params: dict[str, Any] = {}
    experiment: str | None = None
    labels: dict[str, str] = {}
    name: str | None = Field(None, description="Readable, shown beside the id (default: made up).")


@router.post("/runs", status_code=201, tags=["runs"])
def create_run(body: NewRun, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Start a run of a pipeline version in the background; returns it as soon as it is
    recorded (poll `GET /runs/{id}` or watch the run page)."""
    from kiln.catalog import runs
    from kiln.engine import launch

    run_id = launch.run_version(body.pipeline, body.version, body.params,
                                experiment=body.experiment, labels=body.labels, rt=rt,
                                name=body.name)
    return runs.get_run(rt.catalog, run_id).to_dict()


@router.get("/experiments", tags=["runs"])
def experiments(rt: Runtime = Depends(runtime)) -> list[dict[str, Any]]:
    from kiln.catalog.runs import list_experiments

    return list_experiments(rt.catalog)
