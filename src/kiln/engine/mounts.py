"""The volumes a run mounts: their folders, run snapshots, and what each step saw.

With autosnapshot on (Kale's `autosnapshot` metadata or `kiln run --snapshot`), every mounted
volume is snapshotted before the first step and after each step that mounts it; each task
records the snapshot it started from, which `kiln run --resume` restores. A step that mounts
a volume is cached only under autosnapshot: its cache key then includes the volume's tree,
so the same code on the same data is reused, and changed data is not.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from typing import TYPE_CHECKING, Any

from kiln.errors import NotFoundError, UserError
from kiln.runtime import Runtime
from kiln.spec.model import PipelineSpec, StepSpec

if TYPE_CHECKING:
    from kiln.catalog.volumes import SnapshotInfo


def _new_volumes(spec: PipelineSpec) -> set[str]:
    kale = (spec.metadata.get("kubeflow_notebook") or {}).get("volumes") or []
    return {str(v["name"]) for v in kale
            if isinstance(v, dict) and v.get("type") == "new" and v.get("name")}


class VolumeWarning(UserWarning):
    """A volume the pipeline mounts is not on this machine; the run goes ahead without it."""


def bind(spec: PipelineSpec, bindings: dict[str, str], rt: Runtime) -> PipelineSpec:
    """The spec with each of its volumes named in `bindings` (`--volume NAME=VOLUME`)
    replaced by a volume of this machine: a Kale notebook names the PVCs of the cluster it
    was made on (`data-8lbdjmzdh`), which mean nothing here."""
    if not bindings:
        return spec
    from kiln.volumes.volumes import get

    declared = sorted({v for s in spec.steps for v in s.volumes.values()})
    for name, local in bindings.items():
        if name not in declared:
            raise UserError(f"--volume {name}={local}: the pipeline mounts no volume '{name}'",
                            hint=f"its volumes: {', '.join(declared)}" if declared else
                            "it mounts no volumes (Kale's `volumes` metadata is empty)")
        get(local, rt=rt)  # an unknown volume is named here, with close names
    steps = [dataclasses.replace(s, volumes={m: bindings.get(v, v) for m, v in s.volumes.items()})
             for s in spec.steps]
    return dataclasses.replace(spec, steps=steps)


def autosnapshot(spec: PipelineSpec) -> bool:
    return bool((spec.metadata.get("kubeflow_notebook") or {}).get("autosnapshot"))


class RunMounts:
    def __init__(self, rt: Runtime, spec: PipelineSpec, snapshot: bool) -> None:
        self.rt = rt
        self.snapshot = snapshot
        names = sorted({v for s in spec.steps for v in s.volumes.values()})
        self.missing: set[str] = set()
        self.folders: dict[str, str] = {}
        self.scratch: set[str] = set()
        self.latest: dict[str, SnapshotInfo | None] = {}
        if names:  # only a run that mounts volumes loads their records (and SQLAlchemy)
            self._find(rt, spec, names)

    def _find(self, rt: Runtime, spec: PipelineSpec, names: list[str]) -> None:
        from kiln.catalog import volumes as records
        from kiln.volumes.volumes import root

        # A notebook's volume that is not here is left out with a warning: a Kale notebook
        # names its cluster's PVCs, and most of its steps never open them. A function step
        # receives the folder as an argument, so its unknown volume fails here, before the run.
        for n in names:
            try:
                self.folders[n] = str(root(n, rt=rt))
            except NotFoundError:
                if any(n in s.volumes.values() for s in spec.steps if s.kind == "function"):
                    raise
                self.missing.add(n)
        new = _new_volumes(spec)
        missing_here = self.missing - new
        if missing_here:
            mounts = {v: m for s in spec.steps for m, v in s.volumes.items()}
            listed = ", ".join(f"'{n}' (mounted on {mounts[n]})" for n in sorted(missing_here))
            first = sorted(missing_here)[0]
            warnings.warn(
                f"the pipeline's volume(s) {listed} are not on this machine; the run goes "
                "ahead without them, and a step that opens a path under their mount point "
                f"fails naming the volume. Bind one with `--volume {first}=VOLUME` (create "
                "VOLUME with `kiln volume create VOLUME [--path DIR]`)", VolumeWarning,
                stacklevel=3)
        # Kale's `new` volumes are fresh, empty PVCs made for each run that its steps share:
        # a folder of the run's own here (see start), unless bound to a volume.
        self.scratch = new & self.missing
        self.missing -= self.scratch
        self.latest = {n: records.latest_snapshot(rt.catalog, n) for n in self.folders}

    def __bool__(self) -> bool:
        return bool(self.folders)

    def start(self, run_id: str) -> None:
        for name in sorted(self.scratch):
            folder = self.rt.home.run_dir(run_id) / "volumes" / name
            folder.mkdir(parents=True, exist_ok=True)
            self.folders[name] = str(folder)
        if self.snapshot:
            for name in sorted(set(self.folders) - self.scratch):
                self._take(name, run_id, "", "before the first step")

    def _take(self, name: str, run_id: str, step: str, when: str) -> None:
        from kiln.volumes import snapshots

        self.latest[name] = snapshots.create(name, f"run {run_id[:8]}: {when}", run_id=run_id,
                                             step=step, rt=self.rt)

    def after(self, step: StepSpec, run_id: str) -> None:
        if self.snapshot:
            for name in sorted(set(step.volumes.values()) - self.missing - self.scratch):
                self._take(name, run_id, step.name, f"after {step.name}")

    def seen(self, step: StepSpec) -> dict[str, tuple[str, str | None]]:
        """mount -> (volume, id of the snapshot the step starts from)."""
        return {m: (v, self.latest[v].id if self.latest[v] else None)  # type: ignore[union-attr]
                for m, v in step.volumes.items() if v not in self.missing | self.scratch}

    def cache_part(self, step: StepSpec) -> dict[str, str] | None:
        """The volumes' content for the step's cache key; None if it cannot be known."""
        if not self.snapshot:
            return None
        out = {}
        for m, v in step.volumes.items():
            if v in self.missing:
                continue
            if v in self.scratch:
                return None  # what earlier steps of this run wrote there is not known
            snap = self.latest[v]
            if snap is None:
                return None
            out[m] = snap.tree
        return out

    def task_fields(self, step: StepSpec) -> tuple[dict[str, Any], dict[str, str]]:
        """(constants, env) that hand the volumes' folders to the step."""
        paths = {m: self.folders[v] for m, v in step.volumes.items() if v not in self.missing}
        env = {"KILN_VOLUMES": json.dumps(paths)}
        missing = {m: v for m, v in step.volumes.items() if v in self.missing}
        if missing:
            env["KILN_MISSING_VOLUMES"] = json.dumps(missing)
        for v in set(step.volumes.values()) - self.missing:
            env[f"KILN_VOLUME_{v.upper().replace('-', '_').replace('.', '_')}"] = self.folders[v]
        return (paths if step.kind == "function" else {}), env
