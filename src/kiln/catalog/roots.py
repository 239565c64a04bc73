"""What the catalog still references in the store: gc keeps these, check names them."""

from __future__ import annotations

from sqlalchemy import select

from kiln.catalog.db import Catalog
from kiln.catalog.schema import Artifact, Event, Pipeline, PipelineVersion, Snapshot, Task
from kiln.store.roots import Roots


def live_roots(cat: Catalog) -> Roots:
    roots = Roots()
    with cat.read() as s:
        q = (select(Artifact.digest, Task.run_id, Task.step, Event.name)
             .join(Event, Event.artifact_id == Artifact.id)
             .join(Task, Task.id == Event.task_id)
             .where(Event.kind == "output"))
        for digest, run, step, name in s.execute(q):
            roots.artifacts.setdefault(digest, []).append(f"{run}/{step}/{name}")
        for digest, pname, number in s.execute(
                select(PipelineVersion.digest, Pipeline.name, PipelineVersion.number)
                .join(Pipeline, Pipeline.id == PipelineVersion.pipeline_id)):
            roots.artifacts.setdefault(digest, []).append(f"pipeline {pname} v{number}")
        for sid, vol, tree in s.execute(select(Snapshot.id, Snapshot.volume, Snapshot.tree)):
            roots.trees.setdefault(tree, []).append(f"{vol}@{sid[:12]}")
    # published bucket versions and syncs in flight (kiln.registry), registered models
    with cat.sql() as stmts:
        for reason, trees, artifacts in stmts.all("SELECT reason, trees, artifacts"
                                                  " FROM registry_pins"):
            for tree in stmts.load_json(trees) or []:
                roots.trees.setdefault(tree, []).append(reason)
            for digest in stmts.load_json(artifacts) or []:
                roots.artifacts.setdefault(digest, []).append(reason)
        for digest, name, version in stmts.all(
                "SELECT v.digest, m.name, v.version FROM model_versions v"
                " JOIN models m ON m.id = v.model_id"):
            roots.artifacts.setdefault(digest, []).append(f"models:/{name}/{version}")
    return roots
