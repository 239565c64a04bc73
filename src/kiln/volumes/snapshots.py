"""Snapshots of volumes: create, list, diff, restore, read one file, prune.

A snapshot is a tree in the store plus one catalog row inserted after the tree is durable, so
it is listed only once complete. Two snapshots of one volume never run at once (a per-volume
file lock); gc is kept out by the store's shared lock.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.catalog import volumes as records
from kiln.catalog.db import now
from kiln.catalog.volumes import SnapshotInfo
from kiln.errors import UserError
from kiln.hashing import hash_json
from kiln.runtime import Runtime
from kiln.store import archive
from kiln.store.archive import Change, Progress, SnapshotFile
from kiln.volumes import retention
from kiln.volumes.paths import inside
from kiln.volumes.volumes import check_name, root


@contextmanager
def volume_lock(rt: Runtime, volume: str, *, wait: bool = True) -> Iterator[bool]:
    """Yields False (without blocking) when `wait` is off and another snapshot holds it."""
    d = rt.home.root / "locks"
    d.mkdir(exist_ok=True)
    with open(d / f"volume-{volume}.lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def create(volume: str, message: str = "", tags: list[str] | tuple[str, ...] = (), *,
           run_id: str | None = None, step: str | None = None,
           progress: Progress | None = None, rt: Runtime | None = None) -> SnapshotInfo:
    """Snapshot a volume. Files unchanged since its latest snapshot are not read again.
    Unreadable files are skipped and listed in the result's extra['skipped']."""
    rt = rt or Runtime.open()
    top = root(volume, rt=rt)
    for t in tags:
        if not t or ":" in t or "," in t:
            raise UserError(f"'{t}' is not a valid tag", where="--tag",
                            hint="tags are non-empty and contain no ':' or ','")
    with volume_lock(rt, volume), rt.store.lock("shared", purpose=f"snapshot of {volume}"):
        repo = rt.store.repo
        repo.reload_index()
        parent = records.latest_snapshot(rt.catalog, volume)
        tree, stats = archive.archive(repo, top, parent.tree if parent else None,
                                      progress=progress)
        created = now()
        sid = hash_json({"volume": volume, "tree": tree, "parent": parent.id if parent else None,
                         "time": created.isoformat(), "message": message, "tags": list(tags),
                         "nonce": os.urandom(8).hex()})
        snap = SnapshotInfo(sid, volume, tree, parent.id if parent else None, message,
                            list(tags), stats.files, stats.bytes, stats.new_bytes, run_id, step,
                            created)
        records.add_snapshot(rt.catalog, snap)
    snap.extra = {"skipped": [{"path": p, "why": w} for p, w in stats.skipped],
                  "reused_files": stats.reused_files}
    return snap


def list_snapshots(volume: str, *, rt: Runtime | None = None) -> list[SnapshotInfo]:
    rt = rt or Runtime.open()
    records.get_volume(rt.catalog, volume)
    return records.list_snapshots(rt.catalog, volume)


def get(ref: str, *, rt: Runtime | None = None) -> SnapshotInfo:
    return records.get_snapshot((rt or Runtime.open()).catalog, ref)


@dataclass
class Diff:
    a: SnapshotInfo
    b: SnapshotInfo
    changes: list[Change] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.a.id, "to": self.b.id,
                "changes": [c.__dict__ for c in self.changes],
                "added": sum(c.kind == "added" for c in self.changes),
                "removed": sum(c.kind == "removed" for c in self.changes),
                "modified": sum(c.kind == "modified" for c in self.changes)}


def diff(a: str, b: str, *, rt: Runtime | None = None) -> Diff:
    rt = rt or Runtime.open()
    sa, sb = get(a, rt=rt), get(b, rt=rt)
    return Diff(sa, sb, list(archive.diff(rt.store.repo, sa.tree, sb.tree)))


def restore(ref: str, *, to: str | Path | None = None, new_volume: str | None = None,
            force: bool = False, clean: bool = False, progress: Progress | None = None,
            rt: Runtime | None = None) -> Path:
    """Write a snapshot's files into a folder or a new volume. A non-empty folder is refused
    unless `force` (files are overwritten; with `clean`, files the snapshot lacks are removed).
    Every chunk is checked against its hash before it is written."""
    rt = rt or Runtime.open()
    snap = get(ref, rt=rt)
    if (to is None) == (new_volume is None):
        raise UserError("say where to restore: a folder (--to DIR) or a new volume "
                        "(--new-volume NAME), not both")
    created = None
    if new_volume is not None:
        from kiln.volumes import volumes

        check_name(new_volume)
        created = volumes.create(new_volume, rt=rt)
        dest = Path(created.path)
    else:
        dest = Path(to).expanduser()  # type: ignore[arg-type]
        harm = rt.home.holds(dest)
        if harm is not None:
            raise UserError(f"refusing to restore into {dest}: {harm}", where="--to",
                            hint="restore into a folder of its own, or a new volume "
                                 "(--new-volume NAME)")
        if dest.exists() and not dest.is_dir():
            raise UserError(f"{dest} is a file, not a folder", where="--to")
        if dest.is_dir() and any(dest.iterdir()) and not force:
            raise UserError(f"{dest} is not empty",
                            hint="restore into an empty folder or a new volume "
                                 "(--new-volume NAME), or pass --force to write over it")
        dest.mkdir(parents=True, exist_ok=True)
    try:
        with rt.store.lock("shared", purpose=f"restore of {snap.short}"):
            repo = rt.store.repo
            repo.reload_index()
            if clean:
                _remove_extra(repo, snap.tree, dest)
            archive.restore(repo, snap.tree, dest, progress=progress)
    except BaseException:
        if created is not None:  # nothing half-created: the new volume goes too
            from kiln.volumes import volumes

            volumes.remove(created.name, rt=rt)
        raise
    return dest


def _remove_extra(repo: Any, tree: str, dest: Path) -> None:
    keep = {p for p, _ in archive.walk(repo, tree)}
    for dirpath, dirs, files in os.walk(dest, topdown=False):
        for name in files + dirs:
            full = Path(dirpath) / name
            rel = full.relative_to(dest).as_posix()
            if rel not in keep:
                if full.is_dir() and not full.is_symlink():
                    shutil.rmtree(full)
                else:
                    full.unlink()


def open_file(ref: str, path: str, *, rt: Runtime | None = None) -> SnapshotFile:
    """A read-only, seekable file object for one file of a snapshot."""
    rt = rt or Runtime.open()
    snap = get(ref, rt=rt)
    inside(Path("/"), path)  # the same path rules as volumes: no '..', no absolute paths
    node = archive.find(rt.store.repo, snap.tree, path)
    if node["type"] != "file":
        raise UserError(f"'{path}' is a {node['type']} in snapshot {snap.short}, not a file",
                        hint=f"`kiln snapshot show {snap.short}` lists its files")
    return SnapshotFile(rt.store.repo, node)


def read(ref: str, path: str, offset: int = 0, length: int | None = None, *,
         rt: Runtime | None = None) -> bytes:
    if offset < 0 or (length is not None and length < 0):
        raise UserError("offset and length must not be negative")
    with open_file(ref, path, rt=rt) as f:
        f.seek(offset)
        if length is None:
            return f.read()
        # a raw read stops at the end of a chunk: read on until the range is whole (or EOF)
        parts: list[bytes] = []
        left = length
        while left > 0:
            got = f.read(left)
            if not got:
                break
            parts.append(got)
            left -= len(got)
        return b"".join(parts)


def files(ref: str, *, rt: Runtime | None = None) -> list[dict[str, Any]]:
    rt = rt or Runtime.open()
    snap = get(ref, rt=rt)
    return [{"path": p, "type": n["type"], "size": n.get("size", 0)}
            for p, n in archive.walk(rt.store.repo, snap.tree)]


@dataclass
class PrunePlan:
    keep: dict[str, list[str]]
    remove: list[SnapshotInfo]
    policy: dict[str, Any]


def prune(volume: str, policy: dict[str, Any] | None = None, *, dry_run: bool = False,
          rt: Runtime | None = None) -> PrunePlan:
    """Apply the volume's retention policy (or `policy`): forget the snapshots no rule keeps.
    Their bytes are freed by the next `kiln store gc`."""
    rt = rt or Runtime.open()
    vol = records.get_volume(rt.catalog, volume)
    rules = retention.check_policy(policy if policy else vol.retention)
    if not rules:
        raise UserError(f"volume '{volume}' has no retention policy",
                        hint=f"set one with `kiln volume retention {volume} --keep-last 10 "
                             "--keep-daily 7`, or pass --keep-* options to prune")
    with volume_lock(rt, volume):
        snaps = records.list_snapshots(rt.catalog, volume)
        keep = retention.decide(snaps, rules)
        remove = [s for s in snaps if s.id not in keep]
        if not dry_run:
            records.delete_snapshots(rt.catalog, [s.id for s in remove])
    return PrunePlan(keep, remove, rules)


def set_retention(volume: str, policy: dict[str, Any], *, rt: Runtime | None = None) -> Any:
    rt = rt or Runtime.open()
    return records.set_volume(rt.catalog, volume, retention=retention.check_policy(policy))
