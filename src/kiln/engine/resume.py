"""`kiln run --resume RUN --from STEP`: re-run one step and everything after it.

Upstream steps are not run again: the new run records the parent's outputs for them as they
are (the same content hashes, nothing copied). The volumes STEP mounted are put back to the
snapshot STEP started from (after a safety snapshot of their current state). Changing a
parameter re-runs every step that reads it, and what follows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiln.catalog import runs as records
from kiln.catalog import volumes as volume_records
from kiln.errors import NotFoundError, UserError
from kiln.marshal.registry import ArtifactRef
from kiln.runtime import Runtime
from kiln.spec.model import PipelineSpec, spec_from_json
from kiln.spec.params import resolve
from kiln.spec.validate import downstream


@dataclass
class ResumePlan:
    parent_id: str
    spec: PipelineSpec
    params: dict[str, Any]
    reuse: dict[str, tuple[int, dict[str, ArtifactRef]]]
    rerun: list[str]
    restore: dict[str, str]  # volume -> snapshot id to put back
    source: str


def plan(rt: Runtime, run_ref: str, from_step: str, params: dict[str, Any]) -> ResumePlan:
    parent = records.get_run(rt.catalog, run_ref)
    spec = spec_from_json(parent.spec_json, origin=f"run {parent.id}")
    names = [s.name for s in spec.steps]
    if from_step not in names:
        raise NotFoundError(f"run {parent.id} has no step '{from_step}'",
                            hint=f"its steps: {', '.join(names)}")
    values = resolve(spec, {**{k: v for k, v in parent.params.items()
                               if k in {p.name for p in spec.parameters}}, **params})
    changed = {k for k, v in values.items() if parent.params.get(k) != v}
    rerun = {from_step} | downstream(spec, from_step)
    for s in spec.steps:
        if changed.intersection(s.params_used()):  # the same reads the cache keys use
            rerun |= {s.name} | downstream(spec, s.name)
    reuse = {}
    for s in spec.steps:
        if s.name in rerun:
            continue
        t = parent.task(s.name)
        if t.status not in ("succeeded", "cached") or set(t.outputs) != set(s.outputs):
            raise UserError(f"step '{s.name}' did not succeed in run {parent.id} "
                            f"({t.status}), so '{from_step}' cannot start from its outputs",
                            hint=f"resume from '{s.name}' or an earlier step")
        reuse[s.name] = (t.cached_from or t.id, t.outputs)
    restore: dict[str, str] = {}
    step = spec.step(from_step)
    if step.volumes:
        seen = volume_records.task_volumes(rt.catalog, parent.task(from_step).id)
        for mount, vol in step.volumes.items():
            snap = seen.get(mount, (vol, None))[1]
            if snap is None:
                raise UserError(
                    f"run {parent.id} took no snapshot of volume '{vol}' before step "
                    f"'{from_step}', so what the step saw cannot be restored",
                    hint="run with autosnapshot on (`kiln run --snapshot` or Kale's "
                         "autosnapshot metadata) to make runs resumable with their data")
            volume_records.get_snapshot(rt.catalog, snap)  # pruned since? say so
            restore[vol] = snap
    return ResumePlan(parent.id, spec, values, reuse, sorted(rerun, key=names.index), restore,
                      parent.source)


def put_back_volumes(rt: Runtime, p: ResumePlan) -> None:
    from kiln.volumes import snapshots
    from kiln.volumes.volumes import root

    for vol, snap in p.restore.items():
        snapshots.create(vol, f"before resuming run {p.parent_id[:8]}", ["before-resume"], rt=rt)
        snapshots.restore(snap, to=root(vol, rt=rt), force=True, clean=True, rt=rt)
