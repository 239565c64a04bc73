"""Receiving a bucket version: ask each source for the version's pieces, keep the ones this
store lacks (have/want over BLAKE3 ids), fetch them in packs, check each against its id,
store each batch durably, and write the version's manifest — a snapshot row, a model
version — only when every piece is here. A sync cut off resumes without fetching again what
arrived; a source that sends a piece that does not match its id is dropped and the next one
asked for the rest.

While it runs, a pin keeps what arrived from gc, and the store's shared lock keeps gc out."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kiln.errors import KilnError, StoreError, UserError
from kiln.identity.model import Principal
from kiln.registry import content, publish, subscriptions
from kiln.registry.peers import HttpSource, LocalSource, Source, Unreachable

if TYPE_CHECKING:
    from kiln.runtime import Runtime
    from kiln.store.repository import Repository

BATCH_BYTES = 16 << 20  # stored bytes per pack request


@dataclass
class SyncResult:
    subscription: int
    bucket: str
    version: int
    held: int  # the version held before
    source: str = ""
    up_to_date: bool = False
    pieces: int = 0
    fetched: int = 0  # pieces that came over
    present: int = 0  # pieces already here (shared with other versions, or a cut-off sync)
    bytes_received: int = 0
    content_bytes: int = 0  # stored bytes of the pieces fetched
    seconds: float = 0.0
    dropped: list[str] = field(default_factory=list)  # sources that failed, and why

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sources_of(rt: Runtime, sub: subscriptions.Subscription, who: Principal) -> list[Source]:
    return [LocalSource(rt, who) if not url else HttpSource(url, sub.token)
            for url in sub.sources]


def sync(rt: Runtime, sid: int, *, who: Principal, force: bool = False,
         progress: Callable[[str], None] | None = None,
         batch_bytes: int = BATCH_BYTES) -> SyncResult:
    """Bring one subscription to its bucket's newest version."""
    sub = subscriptions.get(rt.catalog, sid)
    if sub.paused and not force:
        raise UserError(f"subscription {sid} is paused", where="subscription",
                        hint=f"`kiln subscription resume {sid}`")
    started = time.monotonic()
    say = progress or (lambda m: None)
    result = SyncResult(sid, sub.bucket, sub.version, sub.version)
    srcs = sources_of(rt, sub, who)
    try:
        head, src = _head(sub, srcs, result)
        if head <= sub.version:
            result.up_to_date, result.source = True, src.label
            return result
        try:
            _receive(rt, sub, head, src, srcs, result, say, batch_bytes)
        except KilnError as e:
            subscriptions.failed(rt.catalog, sid, e.message)
            raise
    finally:
        result.bytes_received = sum(s.received for s in srcs)
        result.seconds = round(time.monotonic() - started, 3)
        for s in srcs:
            if isinstance(s, HttpSource):
                s.close()
    return result


def _head(sub: subscriptions.Subscription, srcs: list[Source], result: SyncResult
          ) -> tuple[int, Source]:
    """The newest version any source has; the first source that answers is asked first."""
    errors = []
    for src in srcs:
        try:
            info = src.bucket(sub.bucket)
        except Unreachable as e:
            errors.append(e.message)
            result.dropped.append(f"{src.label}: {e.message}")
            continue
        srcs.remove(src)
        srcs.insert(0, src)
        return int(info["head"]), src
    raise UserError(f"no source of bucket '{sub.bucket}' can be reached: {'; '.join(errors)}",
                    where="sources", hint="try again later, or add a peer that has it")


def _receive(rt: Runtime, sub: subscriptions.Subscription, number: int, src: Source,
             srcs: list[Source], result: SyncResult, say: Callable[[str], None],
             batch_bytes: int) -> None:
    repo = rt.store.repo
    version = src.version(sub.bucket, number)
    manifest = version["manifest"]
    content.check_params(manifest.get("store", {}), content.store_params(repo),
                         peer=src.label)
    _check_target(sub, version)
    result.version = number
    reason = f"sync of {sub.bucket} v{number} in flight"
    publish.unpin(rt.catalog, reason=reason)  # a cut-off earlier try's pin
    pin = publish.pin(rt.catalog, reason, manifest)
    try:
        with rt.store.lock("shared", purpose=f"sync of {sub.bucket} v{number}"):
            repo.reload_index()
            listed = src.blobs(sub.bucket, number)
            want = [(k, b, n) for k, b, n in listed if not repo.has(k, b)]
            result.pieces, result.present = len(listed), len(listed) - len(want)
            say(f"{sub.bucket} v{number}: {len(want)} of {len(listed)} pieces to fetch "
                f"from {src.label}")
            _fetch(repo, sub.bucket, number, want, srcs, result, say, batch_bytes)
            missing = _missing(repo, manifest)
            if missing:
                raise StoreError(f"{sub.bucket} v{number} refers to {len(missing)} pieces that "
                                 f"never arrived (e.g. {missing[0]}); nothing was written",
                                 where=result.source or src.label,
                                 hint="the source listed the version incompletely; sync "
                                      "again from another source")
            for art in manifest.get("artifacts", []):
                if not content.verify_file_list(repo, art["digest"]):
                    raise StoreError(f"artifact {art['digest'][:12]} of {sub.bucket} "
                                     f"v{number} does not hash to its id after arriving",
                                     where=result.source,
                                     hint="the source's store is damaged: `kiln store check "
                                          "--read-data` there")
            _land(rt, sub, number, version, who_name=sub.created_by)
            _mirror(rt, sub, number, version, origin=src.label)
        if subscriptions.advance(rt.catalog, sub.id, old=sub.version, new=number):
            say(f"{sub.target_kind} {sub.target} is at {sub.bucket} v{number}")
    finally:
        publish.unpin(rt.catalog, pin_id=pin)


def _fetch(repo: Repository, bucket: str, number: int, want: list[tuple[str, str, int]],
           srcs: list[Source], result: SyncResult, say: Callable[[str], None],
           batch_bytes: int) -> None:
    batches: list[list[tuple[str, str]]] = [[]]
    size = 0
    for k, b, n in want:
        if batches[-1] and size + n > batch_bytes:
            batches.append([])
            size = 0
        batches[-1].append((k, b))
        size += n
    batches = [x for x in batches if x]
    done = 0
    good = list(srcs)
    # The next batch is asked for while this one is checked and stored: the network and
    # the disk work at once (one request at a time, so a source sees no more load).
    with ThreadPoolExecutor(1, thread_name_prefix="kiln-sync-fetch") as ahead:
        pending: Future[bytes] | None = None
        pending_for: Source | None = None
        if batches and good:
            pending, pending_for = ahead.submit(good[0].pack, bucket, number, batches[0]), \
                good[0]
        for i, batch in enumerate(batches, 1):
            while True:
                if not good:
                    raise StoreError(f"no source sent {bucket} v{number} whole: "
                                     + "; ".join(result.dropped), where="sources",
                                     hint="the pieces that did arrive are kept; sync again "
                                          "when a good source is back")
                src = good[0]
                try:
                    if pending is not None and pending_for is src:
                        data = pending.result()
                    else:
                        data = src.pack(bucket, number, batch)
                    pending = None
                    pieces = content.read_pack(data, peer=src.label)
                    bad = _check_batch(pieces, batch)
                except (Unreachable, StoreError) as e:
                    pending, bad = None, e.message
                if bad is None:
                    break
                result.dropped.append(f"{src.label}: {bad}")
                say(f"dropped {src.label}: {bad}")
                good.pop(0)  # the rest comes from the next source
            if i < len(batches):
                pending, pending_for = ahead.submit(src.pack, bucket, number, batches[i]), src
            for p in pieces:
                result.content_bytes += repo.add_stored(p.kind, p.id, p.body, p.raw_length,
                                                        p.compressed)
            repo.flush()  # durable before the next batch: a cut-off sync resumes from here
            done += len(batch)
            result.fetched = done
            result.source = src.label
            say(f"batch {i}/{len(batches)}: {done}/{len(want)} pieces")


def _missing(repo: Repository, manifest: dict[str, Any]) -> list[str]:
    """Pieces the manifest reaches that this store does not hold, walked here (not taken
    from the sender's list)."""
    missing: list[str] = []
    trees = list(manifest.get("trees", []))
    while trees and len(missing) < 5:
        tree = trees.pop()
        if not repo.has("t", tree):
            missing.append(f"t:{tree[:12]}")
            continue
        for node in repo.read_json("t", tree)["nodes"]:
            if node["type"] == "dir":
                trees.append(node["subtree"])
            elif node["type"] == "file":
                missing += [f"d:{c[:12]}" for c in node.get("chunks", [])
                            if not repo.has("d", c)]
    for art in manifest.get("artifacts", []):
        if not repo.has("f", art["digest"]):
            missing.append(f"f:{art['digest'][:12]}")
            continue
        missing += [f"d:{c[:12]}" for c in repo.read_json("f", art["digest"])
                    if not repo.has("d", c)]
    return missing


def _mirror(rt: Runtime, sub: subscriptions.Subscription, number: int,
            version: dict[str, Any], *, origin: str) -> None:
    """Keep the received version as a mirror of the bucket here, so other installations
    can sync it from this one — peer to peer, also while its origin is down. A bucket of the
    same name published here is left alone."""
    from kiln.identity.model import LOCAL, identity_catalog
    from kiln.registry import buckets

    reg = identity_catalog(rt)
    owner, name = buckets.parse(sub.bucket)
    with reg.sql() as q:
        row = q.first("SELECT origin, head FROM buckets WHERE owner = :o AND name = :n",
                      {"o": owner, "n": name})
    if row is not None and row[0] is None:
        return  # published here
    b = buckets.ensure(reg, sub.bucket, LOCAL, visibility=version.get("visibility")
                       or "private", origin=origin or "this server")
    if b.head >= number:
        return
    reason = publish.pin_reason(b.ref, number)
    publish.pin(rt.catalog, reason, version["manifest"])
    try:
        buckets.commit(reg, b, parent=b.head, number=number, kind=version["kind"],
                       namespace=rt.home.namespace, manifest=version["manifest"],
                       message=version.get("message", ""), author=version.get("author", ""),
                       tags=list(version.get("tags") or []), size=int(version.get("size") or 0))
    except KilnError:
        publish.unpin(rt.catalog, reason=reason)  # another sync mirrored it meanwhile


def _check_batch(pieces: list[content.Piece], asked: list[tuple[str, str]]) -> str | None:
    """Why a received pack is refused, or None: exactly the pieces asked, each matching."""
    if sorted((p.kind, p.id) for p in pieces) != sorted(asked):
        return "sent other pieces than those asked for"
    for p in pieces:
        if not content.verify(p):
            return f"piece {p.kind}:{p.id[:12]} does not match its id"
    return None


def _check_target(sub: subscriptions.Subscription, version: dict[str, Any]) -> None:
    if sub.target_kind == "model" and version["kind"] != "artifacts":
        raise UserError(f"bucket '{sub.bucket}' holds volume snapshots, not a model",
                        where="--model", hint="subscribe a volume to it (--to VOLUME)")
    if sub.target_kind == "model" and not any(
            a.get("label") == "model" for a in version["manifest"].get("artifacts", [])):
        raise UserError(f"bucket '{sub.bucket}' v{version['number']} holds no model",
                        where="--model", hint="publish a registered model (models:/NAME)")


def _land(rt: Runtime, sub: subscriptions.Subscription, number: int,
          version: dict[str, Any], *, who_name: str) -> None:
    """Write what the version is, now that its pieces are all here: the manifest last."""
    manifest = version["manifest"]
    if sub.target_kind == "model":
        from kiln.marshal.registry import ArtifactRef
        from kiln.registry import models

        art = next(a for a in manifest["artifacts"] if a.get("label") == "model")
        ref = ArtifactRef(art["digest"], int(art["size"]), art["codec"],
                          int(art["codec_version"]), art["type_name"])
        models.register(rt.catalog, sub.target, ref, source=f"bucket {sub.bucket} v{number}",
                        run_id=None, lineage={**manifest.get("lineage", {}),
                                              "bucket": sub.bucket, "bucket_version": number},
                        by=who_name)
        return
    _to_volume(rt, sub, number, version)


def _to_volume(rt: Runtime, sub: subscriptions.Subscription, number: int,
               version: dict[str, Any]) -> None:
    import os
    from pathlib import Path

    from kiln.catalog import volumes as records
    from kiln.catalog.db import now
    from kiln.catalog.volumes import SnapshotInfo
    from kiln.hashing import hash_json
    from kiln.store import archive
    from kiln.volumes import volumes
    from kiln.volumes.snapshots import _remove_extra, volume_lock

    try:
        vol = volumes.get(sub.target, rt=rt)
    except KilnError:
        vol = volumes.create(sub.target, rt=rt)
    manifest = version["manifest"]
    if version["kind"] == "snapshot":
        tree = manifest["trees"][0]
    else:  # run outputs: a tree of their files, one per output, named STEP/OUTPUT
        tree = _artifact_tree(rt.store.repo, manifest["artifacts"])
    dest = records.get_volume(rt.catalog, vol.name).path
    with volume_lock(rt, vol.name):
        parent = records.latest_snapshot(rt.catalog, vol.name)
        sid = hash_json({"volume": vol.name, "tree": tree, "bucket": sub.bucket,
                         "version": number, "nonce": os.urandom(8).hex()})
        records.add_snapshot(rt.catalog, SnapshotInfo(
            sid, vol.name, tree, parent.id if parent else None,
            f"{sub.bucket} v{number}: {version.get('message', '')}".strip(": "),
            ["bucket"], int(manifest.get("files") or 0), int(version.get("size") or 0), 0,
            None, None, now()))
        repo = rt.store.repo
        _remove_extra(repo, tree, Path(dest))
        # only what changed; every chunk was checked against its id as it arrived (or was
        # here, checked when it was stored)
        archive.restore(repo, tree, Path(dest), keep_matching=True, verify=False)


def _artifact_tree(repo: Repository, artifacts: list[dict[str, Any]]) -> str:
    """A tree holding each artifact as a file STEP/OUTPUT, from chunks already here."""
    folders: dict[str, list[dict[str, Any]]] = {}
    for art in artifacts:
        folder, _, name = str(art["label"]).rpartition("/")
        chunks = repo.read_json("f", art["digest"])
        folders.setdefault(folder, []).append(
            {"name": name or "output", "type": "file", "mode": 0o644, "mtime": 0,
             "size": int(art["size"]), "inode": 0, "chunks": chunks})
    top: list[dict[str, Any]] = []
    for folder, nodes in sorted(folders.items()):
        tid, _ = repo.add_json("t", {"nodes": sorted(nodes, key=lambda n: n["name"])})
        if folder:
            top.append({"name": folder, "type": "dir", "mode": 0o755, "mtime": 0,
                        "subtree": tid})
        else:
            top += nodes
    root, _ = repo.add_json("t", {"nodes": sorted(top, key=lambda n: n["name"])})
    repo.flush()
    return root


def tick(rt: Runtime, log: Callable[[str], None] = print) -> None:
    """The scheduler's turn: each followed bucket, at most once per KILN_SYNC_INTERVAL
    seconds (default 60), on behalf of whoever subscribed (with their rights of now)."""
    import os
    from datetime import timedelta

    from kiln.catalog.db import now
    from kiln.identity.model import identity_catalog
    from kiln.identity.tokens import principal_of

    every = timedelta(seconds=float(os.environ.get("KILN_SYNC_INTERVAL") or 60))
    for sub in subscriptions.list_all(rt.catalog):
        if sub.paused or (sub.last_sync_at is not None and now() - sub.last_sync_at < every):
            continue
        try:
            who = principal_of(identity_catalog(rt), sub.created_by)
            done = sync(rt, sub.id, who=who)
        except KilnError as e:
            subscriptions.failed(rt.catalog, sub.id, e.message)
            log(f"subscription {sub.id} ({sub.bucket}): {e.message}")
            continue
        if not done.up_to_date:
            log(f"subscription {sub.id}: {sub.bucket} v{done.version} "
                f"({done.fetched} pieces, {done.bytes_received} bytes)")
        else:
            subscriptions.touch(rt.catalog, sub.id)
