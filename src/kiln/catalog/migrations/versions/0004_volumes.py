"""Volumes, their snapshots, and the snapshot each task saw.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "volumes",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("managed", sa.Integer, nullable=False),
        sa.Column("retention", sa.JSON, nullable=False),
        sa.Column("schedule", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "snapshots",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("volume", sa.String(200), nullable=False),
        sa.Column("tree", sa.String(64), nullable=False),
        sa.Column("parent_id", sa.String(64)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("added", sa.BigInteger, nullable=False),
        sa.Column("run_id", sa.String(32)),
        sa.Column("step", sa.String(200)),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_snapshots_volume", "snapshots", ["volume", "created_at"])
    op.create_table(
        "task_volumes",
        sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("mount", sa.String(200), primary_key=True),
        sa.Column("volume", sa.String(200), nullable=False),
        sa.Column("snapshot_id", sa.String(64)),
    )


def downgrade() -> None:
    op.drop_table("task_volumes")
    op.drop_index("ix_snapshots_volume", "snapshots")
    op.drop_table("snapshots")
    op.drop_table("volumes")
