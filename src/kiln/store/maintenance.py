"""Keeping a store healthy: `check` finds damage and names what it affects; `gc` frees what
nothing references.

gc holds the store's exclusive lock (runs and snapshots hold shared ones), so it never runs
beside a writer: a writer could otherwise reuse a blob gc is about to delete. Its steps are
ordered so a crash at any point loses nothing: repacked packs are written, then one new index,
then the old index files and finally the unused packs are deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zstandard

from kiln.errors import StoreError
from kiln.store.repository import Repository, blob_hash, loads, pack_name
from kiln.store.roots import Roots
from kiln.store.store import Store

Progress = Callable[[int], None]


def _mark(repo: Repository, roots: Roots, problems: list[str] | None = None,
          owners: dict[tuple[str, str], set[str]] | None = None,
          unreadable: set[tuple[str, str]] | None = None) -> set[tuple[str, str]]:
    """Every blob reachable from the roots. With `problems`, blobs that cannot be read are
    reported instead of raising (and with `unreadable`, those the index names, which is
    damage rather than a write a crash cut short); with `owners`, each blob records which
    roots reach it."""
    used: set[tuple[str, str]] = set()

    def failed(key: tuple[str, str]) -> None:
        # indexed, and its pack is there, yet it cannot be read: damage. (A pack that is
        # gone took its blobs with it: nothing is left to protect.)
        if unreadable is not None and repo.has(*key) and \
                repo.backend.exists(pack_name(repo.entry(*key).pack)):
            unreadable.add(key)

    def note(key: tuple[str, str], who: list[str]) -> None:
        used.add(key)
        if owners is not None:
            owners.setdefault(key, set()).update(who)

    def tree(tid: str, who: list[str]) -> None:
        if ("t", tid) in used and owners is None:
            return
        note(("t", tid), who)
        try:
            nodes = repo.read_json("t", tid)["nodes"]
        except (StoreError, ValueError) as e:
            if problems is None:
                raise
            problems.append(f"tree {tid[:12]} of {', '.join(who)}: {e}")
            failed(("t", tid))
            return
        for n in nodes:
            if n["type"] == "dir":
                tree(n["subtree"], who)
            elif n["type"] == "file":
                for c in n["chunks"]:
                    note(("d", c), who)

    for tid, who in roots.trees.items():
        tree(tid, who)
    for digest, who in roots.artifacts.items():
        note(("f", digest), who)
        try:
            chunks = loads(repo.read("f", digest))
        except (StoreError, ValueError) as e:
            if problems is None:
                raise
            problems.append(f"artifact {digest[:12]} ({', '.join(who[:3])}): {e}")
            failed(("f", digest))
            continue
        for c in chunks:
            note(("d", c), who)
    return used


@dataclass
class CheckReport:
    packs: int = 0
    blobs: int = 0
    bytes_read: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    affected: list[str] = field(default_factory=list)  # snapshots and artifacts hit by damage
    damaged_artifacts: list[str] = field(default_factory=list)  # root digests hit
    damaged_trees: list[str] = field(default_factory=list)  # root snapshot trees hit

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.__dict__}


def check(store: Store, roots: Roots, *, read_data: bool = False,
          progress: Progress | None = None) -> CheckReport:
    """Structure: every index file intact, every indexed pack present and long enough, every
    referenced tree readable and every referenced blob indexed. With `read_data`, every pack's
    bytes hash to its name and every blob decompresses to its hash."""
    progress = progress or (lambda n: None)
    rep = CheckReport()
    try:
        repo = store.repo
        repo.reload_index()
    except StoreError as e:
        rep.errors.append(e.message)
        return rep
    entries = repo.entries()
    rep.blobs = len(entries)
    packs = dict(repo.packs())
    rep.packs = len(packs)
    by_pack: dict[str, list[tuple[str, str]]] = {}
    for key, entry in entries.items():
        by_pack.setdefault(entry.pack, []).append(key)
    bad: set[tuple[str, str]] = set()
    for pid, keys in by_pack.items():
        end = max(entries[k].offset + entries[k].length for k in keys)
        if pid not in packs:
            rep.errors.append(f"pack {pid[:12]} is missing ({len(keys)} blobs)")
            bad.update(keys)
        elif packs[pid] < end:
            rep.errors.append(f"pack {pid[:12]} is truncated ({packs[pid]} < {end} bytes)")
            bad.update(keys)
    for pid in packs.keys() - by_pack.keys():
        rep.warnings.append(f"pack {pid[:12]} is in no index (left by an interrupted write; "
                            "`kiln store gc` removes it)")
    if read_data:
        for pid, size in packs.items():
            if pid not in by_pack:
                continue
            data = store.backend.get(pack_name(pid))
            rep.bytes_read += len(data)
            if blob_hash(data) != pid:
                damaged = _damaged_blobs(data, by_pack[pid], entries)
                rep.errors.append(f"pack {pid[:12]} is damaged: {len(damaged)} of its "
                                  f"{len(by_pack[pid])} blobs do not match their hash")
                bad.update(damaged)
            progress(size)
    problems: list[str] = []
    owners: dict[tuple[str, str], set[str]] = {}
    unreadable: set[tuple[str, str]] = set()
    used = _mark(repo, roots, problems, owners, unreadable)
    rep.errors.extend(problems)
    for key in used:
        if key not in entries:
            rep.errors.append(f"blob {key[0]}:{key[1][:12]} is referenced but not stored")
            bad.add(key)
    hit: set[str] = set()
    for key in bad:
        hit.update(owners.get(key, ()))
    for p in problems:  # an unreadable tree or file list names its owners in the message
        hit.add(p.split(" of ", 1)[-1].split(":")[0] if " of " in p else p.split(":")[0])
    rep.affected = sorted(hit)
    # the roots themselves, for repair: a root is damaged if any blob it reaches is
    lost = bad | {k for k in used if k not in entries} | unreadable
    names = set().union(*(owners.get(k, set()) for k in lost)) if lost else set()
    rep.damaged_artifacts = sorted(d for d, who in roots.artifacts.items()
                                   if ("f", d) in lost or names & set(who))
    rep.damaged_trees = sorted(t for t, who in roots.trees.items()
                               if ("t", t) in lost or names & set(who))
    return rep


def _damaged_blobs(data: bytes, keys: list[tuple[str, str]],
                   entries: dict[tuple[str, str], Any]) -> list[tuple[str, str]]:
    out = []
    d = zstandard.ZstdDecompressor()
    for key in keys:
        e = entries[key]
        body = data[e.offset:e.offset + e.length]
        try:
            raw = d.decompress(body, max_output_size=e.raw_length) if e.compressed else body
        except zstandard.ZstdError:
            out.append(key)
            continue
        if key[0] == "f":
            try:
                loads(raw)
            except ValueError:
                out.append(key)
        elif blob_hash(raw) != key[1]:
            out.append(key)
    return out


@dataclass
class GcReport:
    packs_deleted: int = 0
    packs_repacked: int = 0
    bytes_freed: int = 0
    blobs_kept: int = 0
    blobs_removed: int = 0
    cache_files_removed: int = 0
    dry_run: bool = False
    # What gc could not follow: references to blobs a crash never stored (gc goes on: what
    # they would have reached is no longer reachable) or to blobs it cannot read (damage:
    # gc then deletes nothing, since it cannot tell what those blobs reach).
    skipped: list[str] = field(default_factory=list)
    swept: bool = True
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def gc(store: Store, roots_fn: Callable[[], Roots], *, dry_run: bool = False,
       repack_threshold: float = 0.125, wait: float = 600.0) -> GcReport:
    """Mark and sweep under the exclusive lock. `roots_fn` is called after the lock is held,
    so a snapshot or run that finished just before is seen."""
    rep = GcReport(dry_run=dry_run)
    with store.lock("exclusive", wait=wait, purpose="gc"):
        repo = store.repo
        repo.reload_index()
        roots = roots_fn()
        unreadable: set[tuple[str, str]] = set()
        used = _mark(repo, roots, rep.skipped, unreadable=unreadable)
        if rep.skipped:
            rep.hint = ("`kiln store check --repair` marks the runs and removes the snapshots "
                        "that name lost blobs, so gc no longer reports them")
        if unreadable:
            rep.swept = False
            rep.hint = ("run `kiln store check --read-data` to find the damage, then "
                        "`kiln store rebuild-index` or `kiln store check --repair`")
            return rep
        entries = repo.entries()
        sizes = dict(repo.packs())
        by_pack: dict[str, list[tuple[str, str]]] = {}
        for key, e in entries.items():
            by_pack.setdefault(e.pack, []).append(key)
        keep_packs: list[dict[str, Any]] = []
        delete: list[str] = [p for p in sizes if p not in by_pack]  # no index names them
        repack: list[tuple[str, str]] = []
        placed: set[tuple[str, str]] = set()
        # Each step's outputs are flushed as their own small pack; merge such packs so the
        # object count stays near bytes / pack_size rather than one pack per artifact.
        small = {pid for pid in by_pack if sizes.get(pid, 0) < repo.config.pack_size // 8}
        merge_small = len(small) >= 2
        for pid, keys in by_pack.items():
            if pid not in sizes:  # gone (a crash, a lost disk): its blobs leave the index
                rep.skipped.append(f"pack {pid[:12]} is missing: its {len(keys)} blobs are "
                                   "dropped from the index")
                rep.blobs_removed += len(keys)
                continue
            live = [k for k in keys if k in used and k not in placed]
            live_bytes = sum(entries[k].length for k in live)
            total = sum(entries[k].length for k in keys)
            rep.blobs_removed += len(keys) - len(live)
            if not live:
                delete.append(pid)
            elif total - live_bytes > total * repack_threshold or (merge_small and pid in small):
                repack.extend(live)
                delete.append(pid)
                rep.packs_repacked += 1
            else:
                keep_packs.append({"id": pid, "blobs": [
                    [k[0], k[1], entries[k].offset, entries[k].length, entries[k].raw_length,
                     int(entries[k].compressed)] for k in keys]})
            placed.update(live)
        rep.blobs_kept = len(placed)
        rep.packs_deleted = len(delete)
        rep.bytes_freed = sum(sizes.get(p, 0) for p in delete)
        if dry_run:
            return rep
        fresh = Repository(store.backend, load_index=False)  # collects the repacked blobs
        fresh.auto_index = False
        for key in repack:
            e = entries[key]
            fresh.add_stored(key[0], key[1], repo.read_stored(*key), e.raw_length, e.compressed)
        written = fresh.flush_packs()
        # Packs are named by their bytes: repacking the live blobs of one pack, in order,
        # makes that very pack again. It is then written, not deleted.
        again = {p["id"] for p in written}
        delete = [p for p in delete if p not in again]
        rep.packs_deleted = len(delete)
        rep.bytes_freed -= sum(_pack_size(store, p["id"]) for p in written)
        repo.replace_index(keep_packs + written)
        for pid in delete:
            store.backend.delete(pack_name(pid))
        rep.cache_files_removed = _trim_cache(store, roots)
        _clean_tmp(store)
    return rep


def _pack_size(store: Store, pid: str) -> int:
    for _, size in store.backend.list(pack_name(pid)):
        return size
    return 0


def _trim_cache(store: Store, roots: Roots) -> int:
    """Drop cached copies of artifacts nothing references any more."""
    n = 0
    for p in store.cache.objects.glob("*/*"):
        if p.name not in roots.artifacts:
            p.unlink(missing_ok=True)
            n += 1
    return n


def _clean_tmp(store: Store) -> None:
    from kiln.store.backend import LocalBackend

    if isinstance(store.backend, LocalBackend):
        store.backend.clean_tmp()


@dataclass
class RebuildReport:
    packs: int = 0
    blobs: int = 0
    unreadable: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def rebuild_index(store: Store, *, wait: float = 600.0) -> RebuildReport:
    """Write the index again from the blob lists packs carry at their end (after an index
    file was damaged or lost). Runs under the exclusive lock; packs whose header cannot be
    read are reported and left out."""
    rep = RebuildReport()
    with store.lock("exclusive", wait=wait, purpose="rebuild-index"):
        repo = Repository(store.backend, load_index=False)  # the old index may be unreadable
        packs = []
        for pid, size in repo.packs():
            try:
                blobs = repo.pack_header(pid, size)
            except StoreError as e:
                rep.unreadable.append(f"pack {pid[:12]}: {e.message}")
                continue
            packs.append({"id": pid, "blobs": blobs})
            rep.packs += 1
            rep.blobs += len(blobs)
        repo.replace_index(packs)
        store.__dict__.pop("repo", None)  # this process re-reads the new index on next use
    return rep
