"""The registry over REST: buckets (search, show, publish, change, delete), the sync protocol
peers speak (a version's manifest, its blob list, packs of pieces), subscriptions, and
registered models with aliases. Each route's access rule is in kiln.server.authz; who may
read, publish or manage a bucket is decided by kiln.registry.buckets."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from kiln.identity.model import REGISTRY_NS, identity_catalog
from kiln.registry import buckets, models, publish, serving, subscriptions, sync
from kiln.runtime import Runtime
from kiln.server.authz import principal
from kiln.server.deps import runtime

router = APIRouter(tags=["registry"])

B = "/registry/buckets/{owner}/{name}"


def _ref(owner: str, name: str) -> str:
    return f"{owner}/{name}"


@router.get("/registry/buckets")
def search(request: Request, q: str = Query("", max_length=200),
           owner: str | None = None, tag: str | None = None) -> dict[str, Any]:
    """Buckets you may read, matching the text, owner and tag."""
    return {"buckets": buckets.search(identity_catalog(request.app.state.rt),
                                      principal(request), q, owner=owner, tag=tag)}


@router.get(B)
def show(owner: str, name: str, request: Request) -> dict[str, Any]:
    reg = identity_catalog(request.app.state.rt)
    b = buckets.get(reg, _ref(owner, name), principal(request))
    return {**b.to_dict(), "versions": [v.to_dict() for v in buckets.versions(reg, b)]}


class Change(BaseModel):
    visibility: Literal["private", "group", "public"] | None = None
    description: str | None = Field(None, max_length=2000)


@router.patch(B)
def change(owner: str, name: str, body: Change, request: Request) -> dict[str, Any]:
    reg = identity_catalog(request.app.state.rt)
    b = buckets.get(reg, _ref(owner, name), principal(request), "manage")
    return buckets.change(reg, b, visibility=body.visibility,
                          description=body.description).to_dict()


@router.delete(B)
def delete(owner: str, name: str, request: Request,
           rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    publish.delete_bucket(rt, _ref(owner, name), who=principal(request))
    return {"deleted": _ref(owner, name)}


class Share(BaseModel):
    level: Literal["read", "edit", "manage"]


@router.put(B + "/grants/{subject_kind}/{subject}")
def share(owner: str, name: str, subject_kind: Literal["user", "group"], subject: str,
          body: Share, request: Request) -> dict[str, Any]:
    """Let a user or group read, publish to, or manage the bucket."""
    from kiln.identity import grants

    reg = identity_catalog(request.app.state.rt)
    who = principal(request)
    b = buckets.get(reg, _ref(owner, name), who, "manage")
    return grants.grant(reg, REGISTRY_NS, "bucket", b.ref, subject_kind, subject,
                        body.level, by=who.name)


@router.delete(B + "/grants/{subject_kind}/{subject}")
def unshare(owner: str, name: str, subject_kind: Literal["user", "group"], subject: str,
            request: Request) -> dict[str, Any]:
    from kiln.identity import grants

    reg = identity_catalog(request.app.state.rt)
    b = buckets.get(reg, _ref(owner, name), principal(request), "manage")
    grants.revoke(reg, REGISTRY_NS, "bucket", b.ref, subject_kind, subject)
    return {"revoked": f"{subject_kind}:{subject}"}


class Publish(BaseModel):
    source: str = Field(max_length=300, description="VOLUME[:SNAPSHOT], models:/NAME[@ALIAS] "
                                                    "or run:RUN, in the request's namespace")
    message: str = Field("", max_length=2000)
    tags: list[str] = Field([], max_length=50)
    visibility: Literal["private", "group", "public"] | None = None
    parent: int | None = Field(None, ge=0, description="The version this builds on (default: "
                                                       "the head); a moved head is a 409.")


@router.post(B + "/versions", status_code=201)
def publish_version(owner: str, name: str, body: Publish, request: Request,
                    rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    b, v = publish.publish(rt, body.source, _ref(owner, name), who=principal(request),
                           message=body.message, tags=body.tags, visibility=body.visibility,
                           parent=body.parent)
    return {**b.to_dict(), "version": v.to_dict()}


@router.get(B + "/versions/{number}")
def version(owner: str, name: str, number: str, request: Request) -> dict[str, Any]:
    """A version with its manifest (number or 'latest'): the first thing a peer asks."""
    return serving.version_info(request.app.state.rt, _ref(owner, name), principal(request),
                                number)


@router.get(B + "/versions/{number}/blobs")
def blobs(owner: str, name: str, number: int, request: Request,
          offset: int = Query(0, ge=0), limit: int = Query(20_000, ge=1, le=100_000)
          ) -> dict[str, Any]:
    """Every piece of the version as [kind, id, stored length], trees first: a receiver keeps
    those it lacks (have/want) and asks for them in packs."""
    listed = serving.closure(request.app.state.rt, _ref(owner, name), principal(request),
                             number)
    page = listed[offset:offset + limit]
    return {"blobs": [list(x) for x in page], "total": len(listed),
            "next": offset + limit if offset + limit < len(listed) else None}


class Want(BaseModel):
    ids: list[tuple[Literal["t", "f", "d"], str]] = Field(max_length=100_000)


@router.post(B + "/versions/{number}/pack")
def pack(owner: str, name: str, number: int, body: Want, request: Request) -> Response:
    """The asked-for pieces of the version in one pack (the store's pack format)."""
    data = serving.pack(request.app.state.rt, _ref(owner, name), principal(request), number,
                        list(body.ids))
    return Response(data, media_type="application/octet-stream")


# --- subscriptions ---------------------------------------------------------------------------


class Subscribe(BaseModel):
    bucket: str = Field(max_length=300)
    to: str = Field(max_length=200, description="The volume (or model) kept at the newest "
                                                "version.")
    kind: Literal["volume", "model"] = "volume"
    sources: list[str] = Field([], max_length=20, description="Peer servers, tried in order "
                                                              "(none: this server).")
    token: str | None = Field(None, max_length=500, description="For the peers; never shown.")


@router.get("/subscriptions")
def list_subscriptions(rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return {"subscriptions": [s.to_dict() for s in subscriptions.list_all(rt.catalog)]}


@router.post("/subscriptions", status_code=201)
def subscribe(body: Subscribe, request: Request,
              rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Follow a bucket; the first sync runs now, so a bucket you may not read, or one that
    was deleted, is refused here."""
    who = principal(request)
    sub = subscriptions.create(rt.catalog, body.bucket, target_kind=body.kind, target=body.to,
                               sources=body.sources, token=body.token, by=who.name)
    try:
        done = sync.sync(rt, sub.id, who=who)
    except Exception:
        subscriptions.remove(rt.catalog, sub.id)
        raise
    return {**subscriptions.get(rt.catalog, sub.id).to_dict(), "sync": done.to_dict()}


class Paused(BaseModel):
    paused: bool


@router.patch("/subscriptions/{sid}")
def pause(sid: int, body: Paused, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return subscriptions.set_paused(rt.catalog, sid, body.paused).to_dict()


@router.delete("/subscriptions/{sid}")
def unsubscribe(sid: int, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    subscriptions.remove(rt.catalog, sid)
    return {"removed": sid}


@router.post("/subscriptions/{sid}/sync")
def sync_now(sid: int, request: Request, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return sync.sync(rt, sid, who=principal(request), force=True).to_dict()


# --- registered models -----------------------------------------------------------------------


class Register(BaseModel):
    name: str = Field(max_length=63)
    source: str | None = Field(None, max_length=300, description="RUN/STEP[/OUTPUT]")
    study: str | None = Field(None, max_length=200, description="Or a study: its best trial")
    alias: str | None = Field(None, max_length=63)


class Alias(BaseModel):
    version: int = Field(ge=1)


@router.get("/models")
def list_models(rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return {"models": models.list_models(rt.catalog)}


@router.post("/models", status_code=201)
def register(body: Register, request: Request,
             rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    from kiln.registry.register import register_model

    return register_model(rt, body.name, source=body.source, study=body.study,
                          alias=body.alias, by=principal(request).name).to_dict()


@router.get("/models/{name}")
def show_model(name: str, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return models.describe(rt.catalog, name)


@router.put("/models/{name}/aliases/{alias}")
def set_alias(name: str, alias: str, body: Alias, request: Request,
              rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    models.set_alias(rt.catalog, name, alias, body.version, by=principal(request).name)
    return models.describe(rt.catalog, name)


@router.delete("/models/{name}/aliases/{alias}")
def remove_alias(name: str, alias: str, request: Request,
                 rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    models.set_alias(rt.catalog, name, alias, None, by=principal(request).name)
    return models.describe(rt.catalog, name)
