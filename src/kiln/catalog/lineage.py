"""Lineage, from ML Metadata's events: which tasks produced an artifact and read it, walked
upstream and downstream by a recursive query over the events (one query per direction, so it
stays fast at scale)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, literal, select
from sqlalchemy.orm import Session, aliased

from kiln.catalog.db import Catalog
from kiln.catalog.refs import id_prefix
from kiln.catalog.schema import Artifact, Event, Task
from kiln.errors import NotFoundError


@dataclass
class Lineage:
    root: str
    artifacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)  # (from, to): "a12" / "t7"
    roots: list[str] = field(default_factory=list)  # the nodes `root` names

    def to_dict(self) -> dict[str, Any]:
        return {"root": self.root, "roots": self.roots,
                "artifacts": [{"node": f"a{k}", **v} for k, v in sorted(self.artifacts.items())],
                "tasks": [{"node": f"t{k}", **v} for k, v in sorted(self.tasks.items())],
                "edges": sorted([list(e) for e in self.edges])}


def _resolve(cat: Catalog, ref: str) -> tuple[list[int], list[int], str]:
    """(artifact ids, task ids, label) that `ref` names: RUN/STEP/NAME, a run, or a digest."""
    from kiln.catalog.runs import find_output, get_run

    with cat.read() as s:
        if ref.count("/") == 2:
            run, step, name = ref.split("/")
            art = find_output(cat, run, step, name)
            ids = list(s.scalars(select(Artifact.id).where(Artifact.digest == art.digest)))
            return ids, [], ref
        if len(ref) >= 6:
            ids = list(s.scalars(select(Artifact.id).where(id_prefix(Artifact.digest, ref))))
            if ids:
                return ids, [], ref
    try:
        info = get_run(cat, ref, with_events=False)
    except NotFoundError:
        raise NotFoundError(f"'{ref}' is neither a run, an artifact digest nor RUN/STEP/NAME",
                            hint="e.g. kiln lineage latest, or kiln lineage RUN/train/output") \
            from None
    return [], [t.id for t in info.tasks], f"run {info.id}"


def _walk(s: Session, start: set[int], up: bool, depth: int) -> set[int]:
    """Every task within `depth` hops of `start` in one direction, in one recursive query.
    Up, a task leads to the tasks that wrote what it read; down, to the tasks that read what
    it wrote. (One query instead of two per hop: a 100-hop walk went from ~130 to ~20 ms.)"""
    if not start:
        return set()
    first, second = ("input", "output") if up else ("output", "input")
    near, far = aliased(Event), aliased(Event)
    walk = select(Task.id.label("tid"), literal(0).label("d")).where(
        Task.id.in_(start)).cte("walk", recursive=True)
    walk = walk.union(  # UNION, not UNION ALL: a task met twice at one depth is kept once
        select(far.task_id, walk.c.d + 1)
        .join(near, and_(near.task_id == walk.c.tid, near.kind == first))
        .join(far, and_(far.artifact_id == near.artifact_id, far.kind == second))
        .where(walk.c.d < depth))
    return set(s.scalars(select(walk.c.tid).distinct()))


def _chunks(ids: set[int]) -> list[list[int]]:
    """IN lists stay under SQLite's bound-parameter limit."""
    ordered = sorted(ids)
    return [ordered[i:i + 5000] for i in range(0, len(ordered), 5000)]


def lineage(cat: Catalog, ref: str, *, depth: int = 50) -> Lineage:
    """What `ref` came from (up) and what came of it (down), `depth` task hops each way.
    Artifacts sit between tasks: up, a reached task's inputs and the writes that made them;
    down, a reached task's outputs and the reads of them."""
    art_ids, task_ids, label = _resolve(cat, ref)
    out = Lineage(label, roots=[f"a{a}" for a in sorted(art_ids)]
                  + [f"t{t}" for t in sorted(task_ids)])
    roots = set(art_ids)
    with cat.read() as s:
        for up in (True, False):
            start = set(task_ids)
            if roots:  # an artifact starts from its writers (up) or its readers (down)
                start |= set(s.scalars(select(Event.task_id).where(
                    Event.artifact_id.in_(roots), Event.kind == ("output" if up else "input"))))
            reached = _walk(s, start, up, depth)
            own = "input" if up else "output"  # the events that carry the walk
            events = [e for chunk in _chunks(reached) for e in s.execute(
                select(Event.task_id, Event.artifact_id, Event.kind)
                .where(Event.task_id.in_(chunk)))]
            kept = roots | {a for _, a, k in events if k == own}
            for tid, aid, kind in events:
                if kind == own or aid in kept:
                    out.edges.add((f"a{aid}", f"t{tid}") if kind == "input" else
                                  (f"t{tid}", f"a{aid}"))
                    out.tasks.setdefault(tid, {})
                    out.artifacts.setdefault(aid, {})
            for tid in reached:
                out.tasks.setdefault(tid, {})
        for aid in roots:
            out.artifacts.setdefault(aid, {})
        for chunk in _chunks(set(out.tasks)):
            for tid, run, step, status in s.execute(select(
                    Task.id, Task.run_id, Task.step, Task.status).where(Task.id.in_(chunk))):
                out.tasks[tid] = {"run": run, "step": step, "status": status}
        for chunk in _chunks(set(out.artifacts)):
            for aid, digest, codec, tname, size in s.execute(select(
                    Artifact.id, Artifact.digest, Artifact.codec, Artifact.type_name,
                    Artifact.size).where(Artifact.id.in_(chunk))):
                out.artifacts[aid] = {"digest": digest, "codec": codec, "type": tname,
                                      "size": size}
    return out
