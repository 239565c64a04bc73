"""Runs get a readable name (given with --name or made up), shown beside the id and
resolved like one. Runs made before keep none; they are shown by id alone.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("name", sa.String(100)))
    op.create_index("ix_runs_name", "runs", ["name"])


def downgrade() -> None:
    op.drop_index("ix_runs_name", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("name")
