"""The catalog's tables. Artifacts, executions (tasks) and events follow ML Metadata's model.

Changing a table means adding an Alembic migration under catalog/migrations/versions.

The tables are SQLAlchemy Core, so a command that only reads and writes rows (a snapshot, a
volume listing) never imports the ORM: that import and the mapping of the classes cost 0.3 s
from a cold cache, a tenth of a second snapshot. `catalog.schema` maps ORM classes onto these
same tables for the modules that work with row objects.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

experiments = Table(
    "experiments", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), unique=True, nullable=False),
    Column("created_at", DateTime, nullable=False),
)


runs = Table(
    "runs", metadata,
    Column("id", String(32), primary_key=True),
    Column("experiment_id", ForeignKey("experiments.id")),
    Column("pipeline_name", String(200), nullable=False),
    Column("status", String(16), nullable=False),  # running, succeeded, failed, cancelled
    Column("created_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("spec_json", Text, nullable=False),
    Column("spec_digest", String(64), nullable=False),
    Column("source", String(1000), default="", nullable=False),
    Column("parent_run_id", String(32)),
    Column("error", Text),
    Column("host", String(200), default="", nullable=False),
    Column("pid", Integer),
    Column("archived", Integer, default=0, nullable=False),  # hidden from lists, kept whole
    Column("pipeline_version_id", Integer),  # started from this version
    Column("name", String(100)),  # readable, shown beside the id (migration 0007)
    Index("ix_runs_created", "created_at"), Index("ix_runs_status", "status"),
    Index("ix_runs_name", "name"),
)


run_labels = Table(
    "run_labels", metadata,
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("value", String(300), nullable=False),
    Index("ix_run_labels_key", "key", "value"),
)


pipelines = Table(
    "pipelines", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), unique=True, nullable=False),
    Column("description", Text, default="", nullable=False),
    Column("created_at", DateTime, nullable=False),
)


pipeline_versions = Table(
    "pipeline_versions", metadata,
    Column("id", Integer, primary_key=True),
    Column("pipeline_id", ForeignKey("pipelines.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("filename", String(300), nullable=False),
    Column("entry", String(200), default="", nullable=False),  # module.py:ENTRY
    Column("digest", String(64), nullable=False),
    Column("spec_json", Text, nullable=False),
    Column("spec_digest", String(64), nullable=False),
    Column("message", Text, default="", nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("pipeline_id", "number"),
)


run_params = Table(
    "run_params", metadata,
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("type", String(16), nullable=False),
    Column("value", JSON, nullable=False),
)


tasks = Table(
    "tasks", metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("step", String(200), nullable=False),
    # queued, running, succeeded, cached, failed, skipped, cancelled
    Column("status", String(16), nullable=False),
    Column("cache_key", String(64)),
    Column("cached_from", Integer),  # the task whose outputs we reused
    Column("attempts", Integer, default=0, nullable=False),
    Column("started_at", DateTime),
    Column("finished_at", DateTime),
    Column("error", Text),
    Column("log_path", String(1000)),
    UniqueConstraint("run_id", "step"), Index("ix_tasks_cache_key", "cache_key"),
)


artifacts = Table(
    "artifacts", metadata,
    Column("id", Integer, primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("codec", String(64), nullable=False),
    Column("codec_version", Integer, nullable=False),
    Column("type_name", String(300), nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("digest", "codec", "codec_version", "type_name"),
)


events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True),
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("artifact_id", ForeignKey("artifacts.id"), nullable=False),
    Column("kind", String(8), nullable=False),  # input, output
    Column("name", String(200), nullable=False),
    Index("ix_events_task", "task_id"), Index("ix_events_artifact", "artifact_id"),
)


metrics = Table(
    "metrics", metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE")),
    Column("name", String(200), nullable=False),
    Column("value", Float, nullable=False),
    Column("step", Integer),  # position in a series, if any
    Column("created_at", DateTime, nullable=False),
    Index("ix_metrics_run", "run_id", "name"),
)


visuals = Table(
    "visuals", metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE")),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("data", Text, nullable=False),  # JSON text, written and read with orjson
    Column("created_at", DateTime, nullable=False),
    Index("ix_visuals_run", "run_id"),
)


schedules = Table(
    "schedules", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), unique=True, nullable=False),
    Column("pipeline", String(200), nullable=False),
    Column("version", Integer),  # None: the latest at each start
    Column("params", JSON, nullable=False),
    Column("experiment", String(200)),
    Column("every", Integer),  # seconds
    Column("cron", String(100)),
    Column("max_concurrency", Integer, default=1, nullable=False),
    Column("paused", Integer, default=0, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_started_at", DateTime),
    Column("last_run_id", String(32)),
    Column("last_error", Text),
)


services = Table(
    "services", metadata,
    Column("name", String(200), primary_key=True),
    Column("kind", String(32), nullable=False),  # model-server
    Column("status", String(16), nullable=False),  # starting, running, stopped, failed
    Column("config_json", Text, nullable=False),
    Column("host", String(200), nullable=False),
    Column("port", Integer),
    Column("pid", Integer),
    Column("log_path", String(1000), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)


studies = Table(
    "studies", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), unique=True, nullable=False),
    Column("kind", String(16), nullable=False),  # tune, automl
    Column("pipeline_name", String(200), nullable=False),
    Column("source", String(1000), default="", nullable=False),
    Column("spec_json", Text, nullable=False),  # the pipeline as tuned (empty for automl)
    Column("config_json", Text, nullable=False),  # objective, space, algorithm, limits
    Column("status", String(16), nullable=False),  # running, succeeded, failed, cancelled
    Column("created_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("error", Text),
    Column("host", String(200), default="", nullable=False),
    Column("pid", Integer),
)


trials = Table(
    "trials", metadata,
    Column("id", Integer, primary_key=True),
    Column("study_id", ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # running, complete, pruned, failed
    Column("params", JSON, nullable=False),
    Column("value", Float),
    Column("metrics", JSON, nullable=False),  # the objective and additional metrics
    Column("intermediate", JSON, nullable=False),  # [[step, value], ...] from kiln.report
    Column("run_id", String(32)),
    Column("error", Text),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    UniqueConstraint("study_id", "number"),
)


volumes = Table(
    "volumes", metadata,
    Column("name", String(200), primary_key=True),
    Column("path", String(1000), nullable=False),
    Column("managed", Integer, nullable=False),  # created by kilnflow (rm deletes the folder)
    Column("retention", JSON, nullable=False),  # {"keep_last": 5, "keep_daily": 7, ...}
    Column("schedule", JSON, nullable=False),  # {"every": 3600} or {"cron": "0 * * * *"}
    Column("created_at", DateTime, nullable=False),
)


snapshots = Table(
    "snapshots", metadata,
    Column("id", String(64), primary_key=True),
    Column("volume", String(200), nullable=False),
    Column("tree", String(64), nullable=False),
    Column("parent_id", String(64)),
    Column("message", Text, default="", nullable=False),
    Column("tags", JSON, nullable=False),
    Column("files", Integer, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("added", BigInteger, nullable=False),  # bytes this snapshot added to the store
    Column("run_id", String(32)),  # taken by a run (autosnapshot)
    Column("step", String(200)),  # ...after this step ('' = before any)
    Column("created_at", DateTime, nullable=False),
    Index("ix_snapshots_volume", "volume", "created_at"),
)


task_volumes = Table(
    "task_volumes", metadata,
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("mount", String(200), primary_key=True),
    Column("volume", String(200), nullable=False),
    Column("snapshot_id", String(64)),
)


# --- identity: who may do what (kiln.identity). Kept in the default namespace's catalog, the
# server's own, whichever namespace a request works in. Shaped like Kubeflow profiles: a
# namespace has an owner and role bindings (admin, edit, view) for users and groups.

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), unique=True, nullable=False),
    Column("kind", String(16), nullable=False),  # person, service
    Column("password_hash", Text),  # argon2id; none for service accounts and proxy users
    Column("is_admin", Integer, default=0, nullable=False),  # may do anything anywhere
    Column("disabled", Integer, default=0, nullable=False),
    Column("created_at", DateTime, nullable=False),
)


groups = Table(
    "groups", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(63), unique=True, nullable=False),
    Column("created_at", DateTime, nullable=False),
)


group_members = Table(
    "group_members", metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


namespaces = Table(
    "namespaces", metadata,
    Column("name", String(63), primary_key=True),
    Column("owner_id", ForeignKey("users.id"), nullable=False),
    Column("created_at", DateTime, nullable=False),
)


role_bindings = Table(
    "role_bindings", metadata,
    Column("namespace", ForeignKey("namespaces.name", ondelete="CASCADE"), primary_key=True),
    Column("subject_kind", String(8), primary_key=True),  # user, group
    Column("subject_id", Integer, primary_key=True),
    Column("role", String(8), nullable=False),  # admin, edit, view
)


grants = Table(
    "grants", metadata,
    Column("namespace", String(63), primary_key=True),
    Column("object_kind", String(16), primary_key=True),  # volume, pipeline, model, bucket
    Column("object_name", String(200), primary_key=True),
    Column("subject_kind", String(8), primary_key=True),
    Column("subject_id", Integer, primary_key=True),
    Column("level", String(8), nullable=False),  # read, edit, manage
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime, nullable=False),
)


tokens = Table(
    "tokens", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),  # personal, session
    Column("name", String(100), nullable=False),
    Column("digest", String(64), unique=True, nullable=False),  # SHA-256 of the secret
    Column("prefix", String(16), nullable=False),  # shown in lists, to tell tokens apart
    Column("read_only", Integer, default=0, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime),
    Column("last_used_at", DateTime),
    Column("revoked_at", DateTime),
    Index("ix_tokens_user", "user_id"),
)


audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),  # create, change, delete, share, export, ...
    Column("namespace", String(63)),
    Column("target", String(500), nullable=False),  # METHOD path, or what was touched
    Column("status", Integer, nullable=False),
    Column("address", String(64), default="", nullable=False),
    Index("ix_audit_at", "at"),
)


login_failures = Table(
    "login_failures", metadata,
    Column("key", String(200), primary_key=True),  # user:NAME or address:IP
    Column("count", Integer, nullable=False),
    Column("last_at", DateTime, nullable=False),
)


# --- the registry (kiln.registry): buckets of published versions, in the default namespace's
# catalog like identity; what each namespace holds for them (pins, subscriptions) in its own.

buckets = Table(
    "buckets", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner", String(128), nullable=False),  # a user or a group
    Column("name", String(100), nullable=False),
    Column("visibility", String(8), nullable=False),  # private, group, public
    Column("origin", String(500)),  # a mirror's source server; null: published here
    Column("head", Integer, default=0, nullable=False),  # the newest version's number
    Column("description", Text, default="", nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("deleted_at", DateTime),
    UniqueConstraint("owner", "name", name="uq_buckets_owner_name"),
)


bucket_versions = Table(
    "bucket_versions", metadata,
    Column("bucket_id", ForeignKey("buckets.id", ondelete="CASCADE"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # snapshot, artifacts
    Column("namespace", String(63), nullable=False),  # whose store holds the content here
    Column("manifest", Text, nullable=False),  # JSON: trees or artifacts, sizes, store params
    Column("message", Text, default="", nullable=False),
    Column("author", String(128), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", DateTime, nullable=False),
)


registry_pins = Table(
    "registry_pins", metadata,  # content gc keeps: published versions, syncs in flight
    Column("id", Integer, primary_key=True),
    Column("reason", String(300), nullable=False),
    Column("trees", JSON, nullable=False),
    Column("artifacts", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
)


subscriptions = Table(
    "subscriptions", metadata,
    Column("id", Integer, primary_key=True),
    Column("bucket", String(300), nullable=False),  # OWNER/NAME
    Column("sources", JSON, nullable=False),  # server addresses, tried in order ("" = here)
    Column("token", Text),  # for the sources; never shown
    Column("target_kind", String(8), nullable=False),  # volume, model
    Column("target", String(200), nullable=False),
    Column("version", Integer, default=0, nullable=False),  # the version held here
    Column("paused", Integer, default=0, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_sync_at", DateTime),
    Column("last_error", Text),
    UniqueConstraint("target_kind", "target", name="uq_subscriptions_target"),
)


models = Table(
    "models", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(63), unique=True, nullable=False),
    Column("description", Text, default="", nullable=False),
    Column("created_at", DateTime, nullable=False),
)


model_versions = Table(
    "model_versions", metadata,
    Column("model_id", ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("codec", String(50), nullable=False),
    Column("codec_version", Integer, nullable=False),
    Column("type_name", String(300), nullable=False),
    Column("source", String(300), nullable=False),  # RUN/STEP/OUTPUT, a study, a bucket
    Column("run_id", String(32)),
    Column("lineage", JSON, nullable=False),  # params, metrics, data snapshots, study
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime, nullable=False),
)


model_aliases = Table(
    "model_aliases", metadata,
    Column("model_id", ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(63), primary_key=True),
    Column("version", Integer, nullable=False),
)


model_alias_history = Table(
    "model_alias_history", metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(63), nullable=False),
    Column("version", Integer),  # null: the alias was removed
    Column("changed_by", String(128), nullable=False),
    Column("at", DateTime, nullable=False),
)
