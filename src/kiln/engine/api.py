"""The Python API over the local engine: `kiln.run`, `kiln.load`, `kiln.compile`."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from kiln.engine.result import Run
from kiln.engine.targets import load_spec
from kiln.spec.model import PipelineSpec

if TYPE_CHECKING:
    from kiln.catalog.lineage import Lineage
    from kiln.engine.progress import Observer

# The engine, catalog and Rich load inside the functions, so `import kiln` (and `kiln --help`)
# stays light.


def compile(target: Any) -> PipelineSpec:  # noqa: A001 - mirrors `kiln compile`
    """The PipelineSpec of a notebook, module, spec file or @kiln.pipeline."""
    return load_spec(target)


def run(target: Any, params: dict[str, Any] | None = None, *, parallelism: int | None = None,
        cache: bool = True, experiment: str | None = None, progress: bool | None = None,
        observer: Observer | None = None, snapshot: bool | None = None,
        labels: dict[str, str] | None = None, run_id: str | None = None,
        pipeline_version_id: int | None = None, parent_run_id: str | None = None,
        volumes: dict[str, str] | None = None, name: str | None = None) -> Run:
    """Run a pipeline on this machine and wait for it.

    `target` is a @kiln.pipeline, a notebook path, 'module.py:function' or a spec file.
    `progress` shows step states and logs (default: when stdout is a terminal).
    `snapshot` snapshots mounted volumes before the first step and after each step (default:
    the notebook's autosnapshot metadata), so the run can be resumed from any step.
    `labels` tag the run (`kiln runs ls --filter "labels.team = vision"`). `run_id`,
    `pipeline_version_id` and `parent_run_id` are set by whoever starts a run in the background
    (`kiln.engine.launch`): an id chosen beforehand, the uploaded version, the cloned run.
    `volumes` binds the pipeline's volumes to volumes of this machine ({"data-8lbdjmzdh":
    "data"}): a Kale notebook names the PVCs of the cluster it was made on. `name`: a
    readable name shown beside the run's id, which `kiln runs show NAME` finds (default:
    made up, as `brisk-otter-417`).
    """
    from kiln.engine import pool
    from kiln.engine.warm import imported_libraries

    loaded = load_spec(target)
    # The fork server boots in the background while the catalog and engine load (~0.2 s).
    pool.prepare(imported_libraries(loaded))

    from kiln.engine.local import LocalEngine, RunOptions
    from kiln.engine.mounts import bind
    from kiln.runtime import Runtime

    rt = Runtime.open()
    spec = bind(loaded, volumes or {}, rt)
    observer = _observer(observer, progress)
    options = RunOptions(cache=cache, experiment=experiment, snapshot=snapshot,
                         source=os.fspath(target) if isinstance(target, (str, os.PathLike))
                         else spec.source.get("path", ""), labels=dict(labels or {}),
                         run_id=run_id, pipeline_version_id=pipeline_version_id,
                         parent_run_id=parent_run_id, name=name)
    if parallelism is not None:
        options.parallelism = parallelism
    run_id = LocalEngine(rt, observer=observer).run(spec, params or {}, options)
    return get_run(run_id)


def resume(run: str, from_step: str, params: dict[str, Any] | None = None, *,
           parallelism: int | None = None, progress: bool | None = None,
           observer: Observer | None = None, labels: dict[str, str] | None = None,
           run_id: str | None = None, name: str | None = None) -> Run:
    """Re-run `from_step` of a recorded run and everything downstream of it, reusing the
    upstream outputs and restoring the volume snapshots the step started from."""
    from kiln.engine import resume as resuming
    from kiln.engine.local import LocalEngine, RunOptions
    from kiln.runtime import Runtime

    rt = Runtime.open()
    p = resuming.plan(rt, run, from_step, params or {})
    resuming.put_back_volumes(rt, p)
    options = RunOptions(parent_run_id=p.parent_id, reuse=p.reuse, source=p.source,
                         snapshot=True if p.restore else None, labels=dict(labels or {}),
                         run_id=run_id, name=name)
    if parallelism is not None:
        options.parallelism = parallelism
    run_id = LocalEngine(rt, observer=_observer(observer, progress)).run(p.spec, p.params, options)
    return get_run(run_id)


def _observer(observer: Observer | None, progress: bool | None) -> Observer:
    from kiln.engine.progress import LiveObserver, Observer, PlainObserver

    if observer is not None:
        return observer
    if progress is None:
        progress = sys.stdout.isatty()
    return LiveObserver() if progress and sys.stdout.isatty() else (
        PlainObserver() if progress else Observer())


def get_run(ref: str) -> Run:
    """A recorded run by id, unique id prefix, or 'latest'."""
    from kiln.catalog import runs as records
    from kiln.runtime import Runtime

    rt = Runtime.open()
    return Run(records.get_run(rt.catalog, ref), rt)


def search_runs(filter: str | None = None, *, sort: str | None = None,  # noqa: A002
                experiment: str | None = None, status: str | None = None,
                limit: int = 50, offset: int = 0, archived: bool = False) -> list[Run]:
    """Recorded runs matching `filter` ("metrics.accuracy > 0.9 and params.opt = 'adam'"),
    newest first or by `sort` ("-metrics.accuracy"): the query `kiln runs ls` and
    `GET /api/v1/runs` answer with."""
    from kiln.catalog import runs as records
    from kiln.runtime import Runtime

    rt = Runtime.open()
    return [Run(info, rt) for info in records.list_runs(
        rt.catalog, limit=limit, offset=offset, experiment=experiment, status=status,
        filter_text=filter, sort=sort, archived=archived)]


def lineage(ref: str, *, depth: int = 50) -> Lineage:
    """What a run or artifact (RUN, RUN/STEP/NAME or a digest prefix) came from and what
    came of it, `depth` task hops each way."""
    from kiln.catalog.lineage import lineage as walk
    from kiln.runtime import Runtime

    return walk(Runtime.open().catalog, ref, depth=depth)


def load(run_id: str, step: str, name: str | None = None) -> Any:
    """An output value of a step of a recorded run."""
    return get_run(run_id).output(step, name)


