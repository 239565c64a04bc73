"""The registry: buckets of published versions, pins that keep published and in-flight
content from gc, subscriptions, and registered models with versions, aliases and the
history of where each alias pointed (kiln.registry).

Revision ID: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "buckets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("visibility", sa.String(8), nullable=False),
        sa.Column("origin", sa.String(500)),
        sa.Column("head", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("deleted_at", sa.DateTime),
        sa.UniqueConstraint("owner", "name", name="uq_buckets_owner_name"))
    op.create_table(
        "bucket_versions",
        sa.Column("bucket_id", sa.Integer, sa.ForeignKey("buckets.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("manifest", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False))
    op.create_table(
        "registry_pins",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("trees", sa.JSON, nullable=False),
        sa.Column("artifacts", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False))
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.String(300), nullable=False),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("token", sa.Text),
        sa.Column("target_kind", sa.String(8), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("paused", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_sync_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.UniqueConstraint("target_kind", "target", name="uq_subscriptions_target"))
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(63), unique=True, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False))
    op.create_table(
        "model_versions",
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("codec", sa.String(50), nullable=False),
        sa.Column("codec_version", sa.Integer, nullable=False),
        sa.Column("type_name", sa.String(300), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("run_id", sa.String(32)),
        sa.Column("lineage", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False))
    op.create_table(
        "model_aliases",
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("alias", sa.String(63), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False))
    op.create_table(
        "model_alias_history",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("alias", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("changed_by", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False))


def downgrade() -> None:
    for table in ("model_alias_history", "model_aliases", "model_versions", "models",
                  "subscriptions", "registry_pins", "bucket_versions", "buckets"):
        op.drop_table(table)
