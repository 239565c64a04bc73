"""`kiln store check --repair`: make the catalog agree with the store again after a crash or
lost data. Records that name blobs the store does not have (or cannot read) are what a
crash, a full disk or damage left behind:

- a step output that names a lost artifact: its task (and a run that had succeeded) is
  marked failed with why, and the output record is removed, so no cache hit, resume or
  download reaches for it and gc stops reporting it;
- a snapshot whose tree is lost: the snapshot is removed (it could never be restored);
- a pipeline version whose source is lost is reported, not removed (only its owner knows
  whether to delete it).

One transaction: the catalog is repaired whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update

from kiln.catalog import tables
from kiln.catalog.db import Catalog
from kiln.catalog.schema import Artifact, Event, Pipeline, PipelineVersion, Run, Snapshot, Task

LOST = "its output '{name}' was lost from the store (found by `kiln store check --repair`)"


@dataclass
class RepairReport:
    tasks_failed: list[str] = field(default_factory=list)  # run/step
    runs_failed: list[str] = field(default_factory=list)
    outputs_removed: int = 0
    snapshots_removed: list[str] = field(default_factory=list)  # volume@id
    not_repaired: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def repair(cat: Catalog, artifacts: list[str], trees: list[str]) -> RepairReport:
    """Repair the records naming the lost artifact digests and snapshot trees."""
    rep = RepairReport()
    with cat.write() as s:
        if artifacts:
            rows = s.execute(
                select(Event.id, Event.name, Task.id, Task.run_id, Task.step, Artifact.id)
                .join(Task, Task.id == Event.task_id)
                .join(Artifact, Artifact.id == Event.artifact_id)
                .where(Artifact.digest.in_(artifacts), Event.kind == "output")).all()
            runs: set[str] = set()
            for event_id, name, task_id, run_id, step, _artifact_id in rows:
                s.execute(update(Task).where(Task.id == task_id).values(
                    status="failed", error=LOST.format(name=name)))
                s.execute(delete(tables.events).where(tables.events.c.id == event_id))
                rep.tasks_failed.append(f"{run_id}/{step}")
                rep.outputs_removed += 1
                runs.add(run_id)
            for run_id in sorted(runs):
                done: Any = s.execute(update(Run).where(Run.id == run_id,
                                                        Run.status == "succeeded")
                                      .values(status="failed",
                                              error="a step's output was lost from the store"))
                if done.rowcount:
                    rep.runs_failed.append(run_id)
            # artifacts no event names any more
            for artifact_id in {r[5] for r in rows}:
                left = s.scalar(select(func.count()).select_from(tables.events)
                                .where(tables.events.c.artifact_id == artifact_id))
                if not left:
                    s.execute(delete(tables.artifacts).where(tables.artifacts.c.id ==
                                                             artifact_id))
            for pname, number in s.execute(
                    select(Pipeline.name, PipelineVersion.number)
                    .join(Pipeline, Pipeline.id == PipelineVersion.pipeline_id)
                    .where(PipelineVersion.digest.in_(artifacts))):
                rep.not_repaired.append(f"pipeline {pname} v{number}: its source is lost; "
                                        "delete the version or upload it again")
        if trees:
            for sid, volume in s.execute(select(Snapshot.id, Snapshot.volume)
                                         .where(Snapshot.tree.in_(trees))).all():
                rep.snapshots_removed.append(f"{volume}@{sid[:12]}")
            s.execute(delete(tables.snapshots).where(tables.snapshots.c.tree.in_(trees)))
    rep.tasks_failed.sort()
    rep.snapshots_removed.sort()
    return rep
