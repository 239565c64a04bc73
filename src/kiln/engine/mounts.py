"""The volumes a run mounts: their folders, run snapshots, and what each step saw.

With autosnapshot on (Kale's `autosnapshot` metadata or `kiln run --snapshot`), every mounted
volume is snapshotted before the first step and after each step that mounts it; each task
records the snapshot it started from, which `kiln run --resume` restores. A step that mounts
a volume is cached only under autosnapshot: its cache key then includes the volume's tree,
so the same code on the same data is reused, and changed data is not.
"""

from __future__ import annotations

import json
from typing import Any

from kiln.catalog import volumes as records
from kiln.catalog.volumes import SnapshotInfo
from kiln.runtime import Runtime
from kiln.spec.model import PipelineSpec, StepSpec


def autosnapshot(spec: PipelineSpec) -> bool:
    return bool((spec.metadata.get("kubeflow_notebook") or {}).get("autosnapshot"))


class RunMounts:
    def __init__(self, rt: Runtime, spec: PipelineSpec, snapshot: bool) -> None:
        from kiln.volumes.volumes import root

        self.rt = rt
        self.snapshot = snapshot
        names = sorted({v for s in spec.steps for v in s.volumes.values()})
        self.folders = {n: str(root(n, rt=rt)) for n in names}  # unknown volume: fails here
        self.latest: dict[str, SnapshotInfo | None] = {
            n: records.latest_snapshot(rt.catalog, n) for n in names}

    def __bool__(self) -> bool:
        return bool(self.folders)

    def start(self, run_id: str) -> None:
        if self.snapshot:
            for name in self.folders:
                self._take(name, run_id, "", "before the first step")

    def _take(self, name: str, run_id: str, step: str, when: str) -> None:
        from kiln.volumes import snapshots

        self.latest[name] = snapshots.create(name, f"run {run_id[:8]}: {when}", run_id=run_id,
                                             step=step, rt=self.rt)

    def after(self, step: StepSpec, run_id: str) -> None:
        if self.snapshot:
            for name in sorted(set(step.volumes.values())):
                self._take(name, run_id, step.name, f"after {step.name}")

    def seen(self, step: StepSpec) -> dict[str, tuple[str, str | None]]:
        """mount -> (volume, id of the snapshot the step starts from)."""
        return {m: (v, self.latest[v].id if self.latest[v] else None)  # type: ignore[union-attr]
                for m, v in step.volumes.items()}

    def cache_part(self, step: StepSpec) -> dict[str, str] | None:
        """The volumes' content for the step's cache key; None if it cannot be known."""
        if not self.snapshot:
            return None
        out = {}
        for m, v in step.volumes.items():
            snap = self.latest[v]
            if snap is None:
                return None
            out[m] = snap.tree
        return out

    def task_fields(self, step: StepSpec) -> tuple[dict[str, Any], dict[str, str]]:
        """(constants, env) that hand the volumes' folders to the step."""
        paths = {m: self.folders[v] for m, v in step.volumes.items()}
        env = {"KILN_VOLUMES": json.dumps(paths)}
        for v in step.volumes.values():
            env[f"KILN_VOLUME_{v.upper().replace('-', '_').replace('.', '_')}"] = self.folders[v]
        return (paths if step.kind == "function" else {}), env
