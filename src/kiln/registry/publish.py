"""Publishing: a volume's snapshot, a registered model's version or a run's outputs become
the next version of a bucket. The version refers to content already in this namespace's
store (nothing is copied); a pin keeps it from gc for as long as the version exists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kiln.catalog.db import Catalog, now
from kiln.catalog.sql import Json
from kiln.errors import KilnError, NotFoundError, UserError
from kiln.identity.model import Principal, identity_catalog
from kiln.registry import buckets, content
from kiln.registry.buckets import Bucket, Version

if TYPE_CHECKING:
    from kiln.runtime import Runtime


def describe_source(rt: Runtime, source: str, *, message: str = ""
                    ) -> tuple[str, dict[str, Any], int]:
    """(kind, manifest, size) for what `source` names in rt's namespace:
    models:/NAME[@ALIAS|/N], VOLUME or VOLUME:SNAPSHOT (a bare volume is snapshotted now),
    or a run (run:REF, or a run id/name that is not a volume)."""
    from kiln.registry import models

    source = source.strip()
    if not source:
        raise UserError("name what to publish", where="SOURCE",
                        hint="VOLUME[:SNAPSHOT], models:/NAME[@ALIAS] or a run")
    params = content.store_params(rt.store.repo)
    if source.startswith(models.SCHEME):
        mv = models.resolve(rt.catalog, source)
        art = {"label": "model", **mv.artifact.to_dict()}
        return "artifacts", {"artifacts": [art], "source": f"{models.SCHEME}{mv.model}/"
                             f"{mv.version}", "model": mv.model, "lineage": mv.lineage,
                             "store": params}, mv.artifact.size
    if source.startswith("run:"):
        return _run(rt, source[4:], params)
    from kiln.catalog import volumes as records

    vol, _, snap = source.partition(":")
    try:
        records.get_volume(rt.catalog, vol)
    except NotFoundError:
        if snap:
            raise
        return _run(rt, source, params)
    from kiln.volumes import snapshots

    info = snapshots.get(source, rt=rt) if snap else snapshots.create(
        vol, message or "published", rt=rt)
    return "snapshot", {"trees": [info.tree], "files": info.files, "source":
                        f"{info.volume}:{info.id[:12]}", "volume": info.volume,
                        "snapshot": info.id, "store": params}, info.size


def _run(rt: Runtime, ref: str, params: dict[str, int]) -> tuple[str, dict[str, Any], int]:
    from kiln.catalog.runs import get_run

    try:
        run = get_run(rt.catalog, ref)
    except NotFoundError:
        raise NotFoundError(f"'{ref}' is neither a volume nor a run here", where="SOURCE",
                            hint="VOLUME[:SNAPSHOT], models:/NAME[@ALIAS], or run:RUN") from None
    arts = [{"label": f"{t.step}/{name}", **ref_.to_dict()}
            for t in run.tasks for name, ref_ in t.outputs.items()]
    if not arts:
        raise UserError(f"run {run.id} has no stored outputs to publish", where="SOURCE")
    return "artifacts", {"artifacts": arts, "source": f"run {run.id}", "run": run.id,
                         "params": run.params, "metrics": run.metrics, "store": params}, \
        sum(int(a["size"]) for a in arts)


def pin(cat: Catalog, reason: str, manifest: dict[str, Any]) -> int:
    """Keep a manifest's content from gc (catalog.roots reads these)."""
    with cat.sql(write=True) as q:
        return int(q.scalar("INSERT INTO registry_pins (reason, trees, artifacts, created_at)"
                            " VALUES (:r, :t, :a, :ts) RETURNING id",
                            {"r": reason[:300], "t": Json(list(manifest.get("trees", []))),
                             "a": Json([a["digest"] for a in manifest.get("artifacts", [])]),
                             "ts": now()}))


def unpin(cat: Catalog, *, pin_id: int | None = None, reason: str | None = None) -> None:
    with cat.sql(write=True) as q:
        if pin_id is not None:
            q.all("DELETE FROM registry_pins WHERE id = :id", {"id": pin_id})
        if reason is not None:
            q.all("DELETE FROM registry_pins WHERE reason = :r", {"r": reason})


def pin_reason(bucket: str, number: int) -> str:
    return f"bucket {bucket} v{number}"


def publish(rt: Runtime, source: str, bucket: str, *, who: Principal, message: str = "",
            tags: list[str] | None = None, visibility: str | None = None,
            parent: int | None = None) -> tuple[Bucket, Version]:
    """The bucket's next version. `parent`: the version this publish builds on (default: the
    head when it starts); if another publish moved the head meanwhile, ConflictError."""
    reg = identity_catalog(rt)
    tags = [t.strip() for t in tags or [] if t.strip()]
    for t in tags:
        if len(t) > 100 or "," in t:
            raise UserError(f"'{t}' is not a tag", where="--tag", hint="no commas, at most 100")
    found = buckets.may_publish(reg, bucket, who, visibility=visibility)
    if found is not None and found.origin is not None:
        raise UserError(f"bucket '{found.ref}' is a mirror of {found.origin}", where="--bucket",
                        hint="publish there, or under another name here")
    head = found.head if found is not None else 0
    base = head if parent is None else parent
    kind, manifest, size = describe_source(rt, source, message=message)
    number = base + 1
    reason = pin_reason(found.ref if found else bucket, number)
    pid = pin(rt.catalog, reason, manifest)  # before the version exists: gc never misses it
    try:
        version = buckets.commit(reg, found or bucket, parent=base, kind=kind,
                                 namespace=rt.home.namespace, manifest=manifest,
                                 message=message, author=who.name, tags=tags, size=size,
                                 visibility=visibility)
    except KilnError:
        unpin(rt.catalog, pin_id=pid)
        raise
    b = buckets.get(reg, bucket, who)
    if visibility is not None and visibility != b.visibility:
        b = buckets.change(reg, b, visibility=visibility)
    return b, version


def delete_bucket(rt: Runtime, bucket: str, *, who: Principal) -> None:
    """Delete a bucket for everyone, and let gc reclaim what only it kept."""
    from kiln.runtime import Runtime as RT

    reg = identity_catalog(rt)
    b = buckets.get(reg, bucket, who, "manage")
    held = buckets.versions(reg, b)
    buckets.delete(reg, b)
    for v in held:
        here = RT.open(rt.home.for_namespace(v.namespace))
        unpin(here.catalog, reason=pin_reason(b.ref, v.number))
