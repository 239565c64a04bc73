"""Notebook servers over REST: the same functions as `kiln notebook` (kiln.services.notebooks)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from kiln.runtime import Runtime
from kiln.server.deps import runtime

router = APIRouter(tags=["notebooks"])


class NewNotebook(BaseModel):
    name: str | None = Field(None, description="Default: the volume's name.")
    volume: str | None = Field(None, description="Work in this volume's folder.")


@router.get("/notebooks")
def list_notebooks(rt: Runtime = Depends(runtime)) -> list[dict[str, Any]]:
    from kiln.services import notebooks as servers

    return [n.to_dict() for n in servers.list_servers(rt=rt)]


@router.post("/notebooks", status_code=201)
def start(body: NewNotebook, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Starts JupyterLab on loopback and answers once it is up, with the address to open."""
    from kiln.services import notebooks as servers

    return servers.start(name=body.name, volume=body.volume, rt=rt).to_dict()


@router.post("/notebooks/{name}/stop")
def stop(name: str, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    from kiln.services import notebooks as servers

    return servers.stop(name, rt=rt).to_dict()
