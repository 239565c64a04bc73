"""Initial catalog: experiments, runs, params, tasks, artifacts, events, metrics.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id")),
        sa.Column("pipeline_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("spec_json", sa.Text, nullable=False),
        sa.Column("spec_digest", sa.String(64), nullable=False),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("parent_run_id", sa.String(32)),
        sa.Column("error", sa.Text),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer),
    )
    op.create_index("ix_runs_created", "runs", ["created_at"])
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_table(
        "run_params",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("value", sa.JSON),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("step", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cache_key", sa.String(64)),
        sa.Column("cached_from", sa.Integer),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("error", sa.Text),
        sa.Column("log_path", sa.String(1000)),
        sa.UniqueConstraint("run_id", "step"),
    )
    op.create_index("ix_tasks_cache_key", "tasks", ["cache_key"])
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("codec", sa.String(64), nullable=False),
        sa.Column("codec_version", sa.Integer, nullable=False),
        sa.Column("type_name", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("digest", "codec", "codec_version", "type_name"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("artifact_id", sa.Integer, sa.ForeignKey("artifacts.id"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_index("ix_events_task", "events", ["task_id"])
    op.create_index("ix_events_artifact", "events", ["artifact_id"])
    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.id", ondelete="CASCADE")),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("step", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_metrics_run", "metrics", ["run_id", "name"])


def downgrade() -> None:
    for t in ("metrics", "events", "artifacts", "tasks", "run_params", "runs", "experiments"):
        op.drop_table(t)
