"""Lineage, from ML Metadata's events: which tasks produced an artifact and read it, walked
upstream and downstream level by level (one query per level, so it stays fast at scale)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from kiln.catalog.db import Catalog
from kiln.catalog.schema import Artifact, Event, Task
from kiln.errors import NotFoundError


@dataclass
class Lineage:
    root: str
    artifacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)  # (from, to): "a12" / "t7"

    def to_dict(self) -> dict[str, Any]:
        return {"root": self.root,
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
            ids = list(s.scalars(select(Artifact.id).where(Artifact.digest.startswith(ref))))
            if ids:
                return ids, [], ref
    try:
        run = get_run(cat, ref, with_events=False)
    except NotFoundError:
        raise NotFoundError(f"'{ref}' is neither a run, an artifact digest nor RUN/STEP/NAME",
                            hint="e.g. kiln lineage latest, or kiln lineage RUN/train/output") \
            from None
    return [], [t.id for t in run.tasks], f"run {run.id}"


def lineage(cat: Catalog, ref: str, *, depth: int = 50) -> Lineage:
    """Walks events hop by hop (two queries a hop, ids only), then loads the details of every
    task and artifact met in two queries at the end."""
    art_ids, task_ids, label = _resolve(cat, ref)
    out = Lineage(label)
    all_tasks: set[int] = set(task_ids)
    all_arts: set[int] = set(art_ids)
    with cat.read() as s:
        for direction in ("up", "down"):
            arts, tasks = set(art_ids), set(task_ids)
            seen_a, seen_t = set(arts), set(tasks)  # per direction: a run's own tasks meet
            for _ in range(depth):
                if not arts and not tasks:
                    break
                new_arts: set[int] = set()
                new_tasks: set[int] = set()
                # artifacts -> the tasks that wrote them (up) or read them (down)
                kind = "output" if direction == "up" else "input"
                if arts:
                    for tid, aid in s.execute(select(Event.task_id, Event.artifact_id).where(
                            Event.artifact_id.in_(arts), Event.kind == kind)):
                        out.edges.add((f"t{tid}", f"a{aid}") if kind == "output" else
                                      (f"a{aid}", f"t{tid}"))
                        new_tasks.add(tid)
                # tasks -> what they read (up) or wrote (down)
                kind = "input" if direction == "up" else "output"
                for tid, aid in s.execute(select(Event.task_id, Event.artifact_id).where(
                        Event.task_id.in_(tasks | new_tasks), Event.kind == kind)):
                    out.edges.add((f"a{aid}", f"t{tid}") if kind == "input" else
                                  (f"t{tid}", f"a{aid}"))
                    new_arts.add(aid)
                all_tasks |= new_tasks
                all_arts |= new_arts
                arts, tasks = new_arts - seen_a, new_tasks - seen_t
                seen_a |= arts
                seen_t |= tasks
        for i in range(0, len(all_tasks), 5000):  # IN lists stay under SQLite's limit
            chunk = sorted(all_tasks)[i:i + 5000]
            for tid, run, step, status in s.execute(select(
                    Task.id, Task.run_id, Task.step, Task.status).where(Task.id.in_(chunk))):
                out.tasks[tid] = {"run": run, "step": step, "status": status}
        for i in range(0, len(all_arts), 5000):
            chunk = sorted(all_arts)[i:i + 5000]
            for aid, digest, codec, tname, size in s.execute(select(
                    Artifact.id, Artifact.digest, Artifact.codec, Artifact.type_name,
                    Artifact.size).where(Artifact.id.in_(chunk))):
                out.artifacts[aid] = {"digest": digest, "codec": codec, "type": tname,
                                      "size": size}
    return out
