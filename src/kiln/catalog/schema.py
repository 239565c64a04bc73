"""The catalog's tables. Artifacts, executions (tasks) and events follow ML Metadata's model.

Changing a table means adding an Alembic migration under catalog/migrations/versions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Experiment(Base):
    __tablename__ = "experiments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    experiment_id: Mapped[int | None] = mapped_column(ForeignKey("experiments.id"))
    pipeline_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # running, succeeded, failed, cancelled
    created_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    spec_json: Mapped[str] = mapped_column(Text)
    spec_digest: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(1000), default="")
    parent_run_id: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(200), default="")
    pid: Mapped[int | None] = mapped_column(Integer)
    archived: Mapped[bool] = mapped_column(Integer, default=0)  # hidden from lists, kept whole
    pipeline_version_id: Mapped[int | None] = mapped_column(Integer)  # started from this version
    __table_args__ = (Index("ix_runs_created", "created_at"), Index("ix_runs_status", "status"))


class RunLabel(Base):
    __tablename__ = "run_labels"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(300))
    __table_args__ = (Index("ix_run_labels_key", "key", "value"),)


class Pipeline(Base):
    __tablename__ = "pipelines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class PipelineVersion(Base):
    """An uploaded notebook, module or spec, kept whole in the store (`digest`), and the spec
    it compiled to when uploaded."""

    __tablename__ = "pipeline_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(300))
    entry: Mapped[str] = mapped_column(String(200), default="")  # module.py:ENTRY
    digest: Mapped[str] = mapped_column(String(64))
    spec_json: Mapped[str] = mapped_column(Text)
    spec_digest: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (UniqueConstraint("pipeline_id", "number"),)


class RunParam(Base):
    __tablename__ = "run_params"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    value: Mapped[object] = mapped_column(JSON)


class Task(Base):
    """One step of one run (an MLMD execution)."""

    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(200))
    # queued, running, succeeded, cached, failed, skipped, cancelled
    status: Mapped[str] = mapped_column(String(16))
    cache_key: Mapped[str | None] = mapped_column(String(64))
    cached_from: Mapped[int | None] = mapped_column(Integer)  # the task whose outputs we reused
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(Text)
    log_path: Mapped[str | None] = mapped_column(String(1000))
    __table_args__ = (
        UniqueConstraint("run_id", "step"),
        Index("ix_tasks_cache_key", "cache_key"),
    )


class Artifact(Base):
    """Stored bytes plus how to read them; identical content and codec share one row."""

    __tablename__ = "artifacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    codec: Mapped[str] = mapped_column(String(64))
    codec_version: Mapped[int] = mapped_column(Integer)
    type_name: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (UniqueConstraint("digest", "codec", "codec_version", "type_name"),)


class Event(Base):
    """A task read (input) or wrote (output) an artifact under a name: MLMD's event."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"))
    kind: Mapped[str] = mapped_column(String(8))  # input, output
    name: Mapped[str] = mapped_column(String(200))
    __table_args__ = (
        Index("ix_events_task", "task_id"),
        Index("ix_events_artifact", "artifact_id"),
    )


class Metric(Base):
    __tablename__ = "metrics"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    step: Mapped[int | None] = mapped_column(Integer)  # position in a series, if any
    created_at: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (Index("ix_metrics_run", "run_id", "name"),)


class Visual(Base):
    """A confusion matrix, ROC curve, table or HTML/Markdown report a step logged with
    kiln.log_* (the JSON shapes are in kiln.sdk.visuals)."""

    __tablename__ = "visuals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[str] = mapped_column(Text)  # JSON text, written and read with orjson
    created_at: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (Index("ix_visuals_run", "run_id"),)


class Schedule(Base):
    """A recurring run: a pipeline (a fixed version, or its latest) started every interval or
    on a cron schedule, at most `max_concurrency` at once. Its runs carry the label
    schedule=NAME."""

    __tablename__ = "schedules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    pipeline: Mapped[str] = mapped_column(String(200))
    version: Mapped[int | None] = mapped_column(Integer)  # None: the latest at each start
    params: Mapped[object] = mapped_column(JSON)
    experiment: Mapped[str | None] = mapped_column(String(200))
    every: Mapped[int | None] = mapped_column(Integer)  # seconds
    cron: Mapped[str | None] = mapped_column(String(100))
    max_concurrency: Mapped[int] = mapped_column(Integer, default=1)
    paused: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_started_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_run_id: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)


class Service(Base):
    """A long-running process kilnflow manages (a model server), found again by name."""

    __tablename__ = "services"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # model-server
    status: Mapped[str] = mapped_column(String(16))  # starting, running, stopped, failed
    config_json: Mapped[str] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(200))
    port: Mapped[int | None] = mapped_column(Integer)
    pid: Mapped[int | None] = mapped_column(Integer)
    log_path: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Study(Base):
    """A tuning study or an AutoML search; its trials are pipeline runs (or AutoML candidates).

    The catalog is the study's only record: Optuna runs in memory and is re-seeded from these
    rows on resume, so a killed study loses nothing that finished.
    """

    __tablename__ = "studies"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # tune, automl
    pipeline_name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(1000), default="")
    spec_json: Mapped[str] = mapped_column(Text)  # the pipeline as tuned (empty for automl)
    config_json: Mapped[str] = mapped_column(Text)  # objective, space, algorithm, limits
    status: Mapped[str] = mapped_column(String(16))  # running, succeeded, failed, cancelled
    created_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(200), default="")
    pid: Mapped[int | None] = mapped_column(Integer)


class Trial(Base):
    __tablename__ = "trials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # running, complete, pruned, failed
    params: Mapped[object] = mapped_column(JSON)
    value: Mapped[float | None] = mapped_column(Float)
    metrics: Mapped[object] = mapped_column(JSON)  # the objective and additional metrics
    intermediate: Mapped[object] = mapped_column(JSON)  # [[step, value], ...] from kiln.report
    run_id: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    __table_args__ = (UniqueConstraint("study_id", "number"),)


class Volume(Base):
    """A named folder whose history is kept as snapshots."""

    __tablename__ = "volumes"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    path: Mapped[str] = mapped_column(String(1000))
    managed: Mapped[bool] = mapped_column(Integer)  # created by kilnflow (rm deletes the folder)
    retention: Mapped[object] = mapped_column(JSON)  # {"keep_last": 5, "keep_daily": 7, ...}
    schedule: Mapped[object] = mapped_column(JSON)  # {"every": 3600} or {"cron": "0 * * * *"}
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Snapshot(Base):
    """An immutable version of a volume: a tree in the store. Inserted only once complete."""

    __tablename__ = "snapshots"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    volume: Mapped[str] = mapped_column(String(200))
    tree: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[object] = mapped_column(JSON)
    files: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    added: Mapped[int] = mapped_column(BigInteger)  # bytes this snapshot added to the store
    run_id: Mapped[str | None] = mapped_column(String(32))  # taken by a run (autosnapshot)
    step: Mapped[str | None] = mapped_column(String(200))  # ...after this step ('' = before any)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (Index("ix_snapshots_volume", "volume", "created_at"),)


class TaskVolume(Base):
    """The volume snapshot a task saw when it started (what `kiln run --resume` restores)."""

    __tablename__ = "task_volumes"
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"),
                                         primary_key=True)
    mount: Mapped[str] = mapped_column(String(200), primary_key=True)
    volume: Mapped[str] = mapped_column(String(200))
    snapshot_id: Mapped[str | None] = mapped_column(String(64))
