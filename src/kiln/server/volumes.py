"""Volumes, their files (the dashboard's file manager) and snapshots."""

from __future__ import annotations

import shutil
from typing import Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from kiln.errors import UserError
from kiln.files import atomic_path
from kiln.runtime import Runtime
from kiln.server.deps import runtime
from kiln.volumes import snapshots, volumes
from kiln.volumes.paths import inside

router = APIRouter(tags=["volumes"])


class NewVolume(BaseModel):
    name: str = Field(description="1-63 lowercase letters, digits, '.', '_' or '-'")


class Move(BaseModel):
    src: str
    dst: str


class NewSnapshot(BaseModel):
    message: str = ""
    tags: list[str] = []


class Restore(BaseModel):
    """Restore into a new volume, or over an existing one (`force` needed if it has files).
    Arbitrary server paths are not accepted over HTTP."""

    new_volume: str | None = None
    volume: str | None = None
    force: bool = False


@router.get("/volumes")
def list_volumes(rt: Runtime = Depends(runtime)) -> list[dict[str, Any]]:
    """Each volume with its latest snapshot (null when it has none)."""
    return volumes.listing(rt=rt)


@router.post("/volumes", status_code=201)
def create_volume(body: NewVolume, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return volumes.create(body.name, rt=rt).to_dict()  # managed folders only over HTTP


@router.get("/volumes/{name}")
def get_volume(name: str, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return volumes.get(name, rt=rt).to_dict()


@router.delete("/volumes/{name}")
def delete_volume(name: str, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return volumes.remove(name, rt=rt).to_dict()


@router.get("/volumes/{name}/files")
def list_files(name: str, path: str = "", rt: Runtime = Depends(runtime)) -> list[dict[str, Any]]:
    return [e.to_dict() for e in volumes.files(name, path, rt=rt)]


@router.get("/volumes/{name}/files/content")
def download(name: str, path: str, rt: Runtime = Depends(runtime)) -> FileResponse:
    return FileResponse(volumes.read_path(name, path, rt=rt), filename=path.rsplit("/", 1)[-1])


@router.put("/volumes/{name}/files/content", status_code=201)
def upload(name: str, path: str = Query(..., description="File path inside the volume."),
           file: UploadFile = File(...), rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    target = inside(volumes.root(name, rt=rt), path)
    if not path or target.is_dir():
        raise UserError(f"'{path}' is a folder; name the file to write", where="path")
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp, open(tmp, "wb") as out:
        shutil.copyfileobj(file.file, out, 1 << 20)
    return {"path": path, "size": target.stat().st_size}


@router.delete("/volumes/{name}/files")
def delete_file(name: str, path: str, recursive: bool = False,
                rt: Runtime = Depends(runtime)) -> dict[str, str]:
    volumes.rm(name, path, recursive=recursive, rt=rt)
    return {"removed": path}


@router.post("/volumes/{name}/files/move")
def move_file(name: str, body: Move, rt: Runtime = Depends(runtime)) -> dict[str, str]:
    return {"path": volumes.mv(name, body.src, body.dst, rt=rt)}


@router.get("/volumes/{name}/snapshots")
def list_snapshots(name: str, rt: Runtime = Depends(runtime)) -> list[dict[str, Any]]:
    return [s.to_dict() for s in snapshots.list_snapshots(name, rt=rt)]


@router.post("/volumes/{name}/snapshots", status_code=201)
def create_snapshot(name: str, body: NewSnapshot, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return snapshots.create(name, body.message, body.tags, rt=rt).to_dict()


@router.get("/snapshots/{ref}")
def get_snapshot(ref: str, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    snap = snapshots.get(ref, rt=rt)
    return {**snap.to_dict(), "entries": snapshots.files(snap.id, rt=rt)}


@router.get("/snapshots/{a}/diff/{b}")
def diff(a: str, b: str, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return snapshots.diff(a, b, rt=rt).to_dict()


@router.get("/snapshots/{ref}/content")
def read_file(ref: str, path: str, offset: int = Query(0, ge=0),
              length: int | None = Query(None, ge=0), rt: Runtime = Depends(runtime)) -> Response:
    """One file (or byte range) of a snapshot, without restoring anything."""
    return Response(snapshots.read(ref, path, offset, length, rt=rt),
                    media_type="application/octet-stream")


@router.post("/snapshots/{ref}/restore")
def restore(ref: str, body: Restore, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    if (body.new_volume is None) == (body.volume is None):
        raise UserError("give either new_volume or volume", where="body",
                        hint='{"new_volume": "restored"} or {"volume": "data", "force": true}')
    if body.new_volume is not None:
        snapshots.restore(ref, new_volume=body.new_volume, rt=rt)
        return {"volume": body.new_volume}
    snapshots.restore(ref, to=volumes.root(body.volume or "", rt=rt), force=body.force, rt=rt)
    return {"volume": body.volume}
