"""Visuals (confusion matrices, ROC curves, tables and reports a step logs) and schedules
(recurring runs of a pipeline).

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "visuals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.id", ondelete="CASCADE")),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_visuals_run", "visuals", ["run_id"])
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("pipeline", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("experiment", sa.String(200)),
        sa.Column("every", sa.Integer),
        sa.Column("cron", sa.String(100)),
        sa.Column("max_concurrency", sa.Integer, nullable=False),
        sa.Column("paused", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_started_at", sa.DateTime),
        sa.Column("last_run_id", sa.String(32)),
        sa.Column("last_error", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("schedules")
    op.drop_index("ix_visuals_run", "visuals")
    op.drop_table("visuals")
