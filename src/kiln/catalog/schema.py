"""ORM classes for the catalog's tables (catalog.tables), for the modules that work with row
objects. Importing this loads sqlalchemy.orm; the volume and snapshot records use the tables
directly and do not.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import DeclarativeBase, Mapped

from kiln.catalog import tables


class Base(DeclarativeBase):
    metadata = tables.metadata


class Experiment(Base):
    __table__ = tables.experiments
    id: Mapped[int]
    name: Mapped[str]
    created_at: Mapped[datetime]


class Run(Base):
    __table__ = tables.runs
    id: Mapped[str]
    experiment_id: Mapped[int | None]
    pipeline_name: Mapped[str]
    status: Mapped[str]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    spec_json: Mapped[str]
    spec_digest: Mapped[str]
    source: Mapped[str]
    parent_run_id: Mapped[str | None]
    error: Mapped[str | None]
    host: Mapped[str]
    pid: Mapped[int | None]
    name: Mapped[str | None]
    archived: Mapped[bool]
    pipeline_version_id: Mapped[int | None]


class RunLabel(Base):
    __table__ = tables.run_labels
    run_id: Mapped[str]
    key: Mapped[str]
    value: Mapped[str]


class Pipeline(Base):
    __table__ = tables.pipelines
    id: Mapped[int]
    name: Mapped[str]
    description: Mapped[str]
    created_at: Mapped[datetime]


class PipelineVersion(Base):
    """An uploaded notebook, module or spec, kept whole in the store (`digest`), and the spec
    it compiled to when uploaded."""
    __table__ = tables.pipeline_versions
    id: Mapped[int]
    pipeline_id: Mapped[int]
    number: Mapped[int]
    filename: Mapped[str]
    entry: Mapped[str]
    digest: Mapped[str]
    spec_json: Mapped[str]
    spec_digest: Mapped[str]
    message: Mapped[str]
    created_at: Mapped[datetime]


class RunParam(Base):
    __table__ = tables.run_params
    run_id: Mapped[str]
    name: Mapped[str]
    type: Mapped[str]
    value: Mapped[object]


class Task(Base):
    """One step of one run (an MLMD execution)."""
    __table__ = tables.tasks
    id: Mapped[int]
    run_id: Mapped[str]
    step: Mapped[str]
    status: Mapped[str]
    cache_key: Mapped[str | None]
    cached_from: Mapped[int | None]
    attempts: Mapped[int]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None]
    log_path: Mapped[str | None]


class Artifact(Base):
    """Stored bytes plus how to read them; identical content and codec share one row."""
    __table__ = tables.artifacts
    id: Mapped[int]
    digest: Mapped[str]
    size: Mapped[int]
    codec: Mapped[str]
    codec_version: Mapped[int]
    type_name: Mapped[str]
    created_at: Mapped[datetime]


class Event(Base):
    """A task read (input) or wrote (output) an artifact under a name: MLMD's event."""
    __table__ = tables.events
    id: Mapped[int]
    task_id: Mapped[int]
    artifact_id: Mapped[int]
    kind: Mapped[str]
    name: Mapped[str]


class Metric(Base):
    __table__ = tables.metrics
    id: Mapped[int]
    run_id: Mapped[str]
    task_id: Mapped[int | None]
    name: Mapped[str]
    value: Mapped[float]
    step: Mapped[int | None]
    created_at: Mapped[datetime]


class Visual(Base):
    """A confusion matrix, ROC curve, table or HTML/Markdown report a step logged with
    kiln.log_* (the JSON shapes are in kiln.sdk.visuals)."""
    __table__ = tables.visuals
    id: Mapped[int]
    run_id: Mapped[str]
    task_id: Mapped[int | None]
    name: Mapped[str]
    kind: Mapped[str]
    data: Mapped[str]
    created_at: Mapped[datetime]


class Schedule(Base):
    """A recurring run: a pipeline (a fixed version, or its latest) started every interval or
    on a cron schedule, at most `max_concurrency` at once. Its runs carry the label
    schedule=NAME."""
    __table__ = tables.schedules
    id: Mapped[int]
    name: Mapped[str]
    pipeline: Mapped[str]
    version: Mapped[int | None]
    params: Mapped[object]
    experiment: Mapped[str | None]
    every: Mapped[int | None]
    cron: Mapped[str | None]
    max_concurrency: Mapped[int]
    paused: Mapped[int]
    created_at: Mapped[datetime]
    last_started_at: Mapped[datetime | None]
    last_run_id: Mapped[str | None]
    last_error: Mapped[str | None]


class Service(Base):
    """A long-running process kilnflow manages (a model server), found again by name."""
    __table__ = tables.services
    name: Mapped[str]
    kind: Mapped[str]
    status: Mapped[str]
    config_json: Mapped[str]
    host: Mapped[str]
    port: Mapped[int | None]
    pid: Mapped[int | None]
    log_path: Mapped[str]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Study(Base):
    """A tuning study or an AutoML search; its trials are pipeline runs (or AutoML candidates).
    The catalog is the study's only record: Optuna runs in memory and is re-seeded from these
    rows on resume, so a killed study loses nothing that finished.
    """
    __table__ = tables.studies
    id: Mapped[str]
    name: Mapped[str]
    kind: Mapped[str]
    pipeline_name: Mapped[str]
    source: Mapped[str]
    spec_json: Mapped[str]
    config_json: Mapped[str]
    status: Mapped[str]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None]
    host: Mapped[str]
    pid: Mapped[int | None]


class Trial(Base):
    __table__ = tables.trials
    id: Mapped[int]
    study_id: Mapped[str]
    number: Mapped[int]
    state: Mapped[str]
    params: Mapped[object]
    value: Mapped[float | None]
    metrics: Mapped[object]
    intermediate: Mapped[object]
    run_id: Mapped[str | None]
    error: Mapped[str | None]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class Volume(Base):
    """A named folder whose history is kept as snapshots."""
    __table__ = tables.volumes
    name: Mapped[str]
    path: Mapped[str]
    managed: Mapped[bool]
    retention: Mapped[object]
    schedule: Mapped[object]
    created_at: Mapped[datetime]


class Snapshot(Base):
    """An immutable version of a volume: a tree in the store. Inserted only once complete."""
    __table__ = tables.snapshots
    id: Mapped[str]
    volume: Mapped[str]
    tree: Mapped[str]
    parent_id: Mapped[str | None]
    message: Mapped[str]
    tags: Mapped[object]
    files: Mapped[int]
    size: Mapped[int]
    added: Mapped[int]
    run_id: Mapped[str | None]
    step: Mapped[str | None]
    created_at: Mapped[datetime]


class TaskVolume(Base):
    """The volume snapshot a task saw when it started (what `kiln run --resume` restores)."""
    __table__ = tables.task_volumes
    task_id: Mapped[int]
    mount: Mapped[str]
    volume: Mapped[str]
    snapshot_id: Mapped[str | None]
