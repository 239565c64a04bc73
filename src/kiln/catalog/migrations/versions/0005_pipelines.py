"""Pipelines with uploaded versions, run labels, archived runs, the version a run ran.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "pipeline_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pipeline_id", sa.Integer, sa.ForeignKey("pipelines.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("entry", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("spec_json", sa.Text, nullable=False),
        sa.Column("spec_digest", sa.String(64), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("pipeline_id", "number"),
    )
    op.create_table(
        "run_labels",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.String(300), nullable=False),
    )
    op.create_index("ix_run_labels_key", "run_labels", ["key", "value"])
    with op.batch_alter_table("runs") as b:
        b.add_column(sa.Column("archived", sa.Integer, nullable=False, server_default="0"))
        b.add_column(sa.Column("pipeline_version_id", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("runs") as b:
        b.drop_column("pipeline_version_id")
        b.drop_column("archived")
    op.drop_index("ix_run_labels_key", "run_labels")
    op.drop_table("run_labels")
    op.drop_table("pipeline_versions")
    op.drop_table("pipelines")
