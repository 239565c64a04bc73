"""Volume and snapshot records (the CLI, Python API and REST share these).

A snapshot row is inserted in one transaction after its tree is durable in the store, so a
listed snapshot is always complete; a crash before that leaves only unreferenced blobs.
Written against the Core tables, not the ORM classes: `kiln snapshot create` starts faster
without the ORM (catalog.tables says how much).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update

from kiln.catalog import tables
from kiln.catalog.db import Catalog, now
from kiln.catalog.refs import id_prefix, missing
from kiln.errors import NotFoundError, UserError

V, S, TV = tables.volumes.c, tables.snapshots.c, tables.task_volumes.c


@dataclass
class VolumeInfo:
    name: str
    path: str
    managed: bool
    retention: dict[str, Any]
    schedule: dict[str, Any]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "managed": self.managed,
                "retention": self.retention, "schedule": self.schedule,
                "schedule_text": self.schedule_text,
                "created_at": self.created_at.isoformat() + "Z"}

    @property
    def schedule_text(self) -> str:
        """"every 1h", "cron 0 3 * * *", or "" (no schedule), as the user wrote it."""
        from kiln.schedules_time import format_interval

        if "every" in self.schedule:
            return f"every {format_interval(int(self.schedule['every']))}"
        return f"cron {self.schedule['cron']}" if "cron" in self.schedule else ""


@dataclass
class SnapshotInfo:
    id: str
    volume: str
    tree: str
    parent_id: str | None
    message: str
    tags: list[str]
    files: int
    size: int
    added: int
    run_id: str | None
    step: str | None
    created_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def short(self) -> str:
        return self.id[:12]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "volume": self.volume, "tree": self.tree,
                "parent": self.parent_id, "message": self.message, "tags": self.tags,
                "files": self.files, "size": self.size, "added": self.added,
                "run": self.run_id, "step": self.step,
                "created_at": self.created_at.isoformat() + "Z", **self.extra}


def _volume(v: Row[Any]) -> VolumeInfo:
    return VolumeInfo(v.name, v.path, bool(v.managed), dict(v.retention or {}),
                      dict(v.schedule or {}), v.created_at)


def _snapshot(s: Row[Any]) -> SnapshotInfo:
    return SnapshotInfo(s.id, s.volume, s.tree, s.parent_id, s.message,
                        list(s.tags or []), s.files, s.size, s.added,
                        s.run_id, s.step, s.created_at)


def add_volume(cat: Catalog, name: str, path: str, managed: bool) -> VolumeInfo:
    with cat.begin() as c:
        if c.execute(select(V.name).where(V.name == name)).first() is not None:
            raise UserError(f"a volume named '{name}' already exists",
                            hint="pick another name, or `kiln volume rm` the old one first")
        other = c.scalar(select(V.name).where(V.path == path))
        if other is not None:
            raise UserError(f"the folder {path} is already the volume '{other}'",
                            hint=f"use the volume '{other}'")
        v = VolumeInfo(name, path, managed, {}, {}, now())
        c.execute(insert(tables.volumes).values(name=name, path=path, managed=int(managed),
                                                retention={}, schedule={},
                                                created_at=v.created_at))
        return v


def get_volume(cat: Catalog, name: str) -> VolumeInfo:
    with cat.connect() as c:
        v = c.execute(select(tables.volumes).where(V.name == name)).first()
        if v is not None:
            return _volume(v)
        raise missing(c, V.name, name, "volume",
                      "`kiln volume ls` lists the volumes; `kiln volume create` makes one")


def list_volumes(cat: Catalog) -> list[VolumeInfo]:
    with cat.connect() as c:
        return [_volume(v) for v in c.execute(select(tables.volumes).order_by(V.name))]


def remove_volume(cat: Catalog, name: str) -> None:
    """Remove the volume's record and its snapshots' records (gc frees their blobs)."""
    get_volume(cat, name)
    with cat.begin() as c:
        c.execute(delete(tables.snapshots).where(S.volume == name))
        c.execute(delete(tables.volumes).where(V.name == name))


def set_volume(cat: Catalog, name: str, **values: Any) -> VolumeInfo:
    get_volume(cat, name)
    with cat.begin() as c:
        c.execute(update(tables.volumes).where(V.name == name).values(**values))
    return get_volume(cat, name)


def add_snapshot(cat: Catalog, info: SnapshotInfo) -> None:
    with cat.begin() as c:
        c.execute(insert(tables.snapshots).values(
            id=info.id, volume=info.volume, tree=info.tree, parent_id=info.parent_id,
            message=info.message, tags=info.tags, files=info.files, size=info.size,
            added=info.added, run_id=info.run_id, step=info.step, created_at=info.created_at))


def list_snapshots(cat: Catalog, volume: str | None = None) -> list[SnapshotInfo]:
    """Newest first."""
    q = select(tables.snapshots).order_by(S.created_at.desc(), S.id)
    if volume is not None:
        q = q.where(S.volume == volume)
    with cat.connect() as c:
        return [_snapshot(x) for x in c.execute(q)]


def snapshot_counts(cat: Catalog) -> dict[str, int]:
    """Snapshots per volume, in one query (the volume list shows them)."""
    with cat.connect() as c:
        rows = c.execute(select(S.volume, func.count()).group_by(S.volume))
        return {str(v): int(n) for v, n in rows}


def latest_snapshot(cat: Catalog, volume: str) -> SnapshotInfo | None:
    with cat.connect() as c:
        x = c.execute(select(tables.snapshots).where(S.volume == volume)
                      .order_by(S.created_at.desc()).limit(1)).first()
        return _snapshot(x) if x else None


def get_snapshot(cat: Catalog, ref: str) -> SnapshotInfo:
    """By id or unique id prefix, or `VOLUME:latest` / `VOLUME:TAG`."""
    if ":" in ref:
        vol, _, which = ref.partition(":")
        get_volume(cat, vol)  # an unknown volume is named, with close names
        with cat.connect() as c:
            rows = list(c.execute(select(tables.snapshots).where(S.volume == vol)
                                  .order_by(S.created_at.desc())))
        for x in rows:
            if which == "latest" or which in (x.tags or []):
                return _snapshot(x)
        tags = sorted({t for x in rows for t in (x.tags or [])})
        close = difflib.get_close_matches(which, tags, n=3)
        raise NotFoundError(
            f"volume '{vol}' has no snapshot '{which}'",
            hint=(f"did you mean {', '.join(f'{vol}:{c}' for c in close)}?" if close else
                  f"its tags: {', '.join(tags)}" if tags else
                  f"it has no snapshots yet; `kiln snapshot create {vol}` takes one" if not rows
                  else f"`kiln snapshot ls {vol}` lists its snapshots"))
    with cat.connect() as c:
        rows = list(c.execute(select(tables.snapshots).where(id_prefix(S.id, ref.lower()))
                              .limit(6))) if len(ref) >= 4 else []
    if len(rows) == 1:
        return _snapshot(rows[0])
    if len(rows) > 1:
        raise NotFoundError(f"'{ref}' matches several snapshots: "
                            f"{', '.join(r.id[:12] for r in rows[:5])}",
                            hint="give more characters of the snapshot id")
    raise NotFoundError(f"no snapshot '{ref}'",
                        hint="give 4 or more characters of an id from `kiln snapshot ls VOLUME`, "
                             "or VOLUME:latest")


def delete_snapshots(cat: Catalog, ids: list[str]) -> None:
    if ids:
        with cat.begin() as c:
            c.execute(delete(tables.snapshots).where(S.id.in_(ids)))


def live_trees(cat: Catalog) -> set[str]:
    with cat.connect() as c:
        return set(c.scalars(select(S.tree)))


def snapshots_of_trees(cat: Catalog) -> dict[str, list[str]]:
    """tree id -> ids of the snapshots whose root it is."""
    out: dict[str, list[str]] = {}
    with cat.connect() as c:
        for sid, tree in c.execute(select(S.id, S.tree)):
            out.setdefault(tree, []).append(sid)
    return out


def record_task_volumes(cat: Catalog, task_id: int,
                        seen: dict[str, tuple[str, str | None]]) -> None:
    """`seen`: mount -> (volume, snapshot id)."""
    with cat.begin() as c:
        c.execute(delete(tables.task_volumes).where(TV.task_id == task_id))
        for mount, (vol, snap) in seen.items():
            c.execute(insert(tables.task_volumes).values(task_id=task_id, mount=mount,
                                                         volume=vol, snapshot_id=snap))


def task_volumes(cat: Catalog, task_id: int) -> dict[str, tuple[str, str | None]]:
    with cat.connect() as c:
        return {t.mount: (t.volume, t.snapshot_id) for t in
                c.execute(select(tables.task_volumes).where(TV.task_id == task_id))}
