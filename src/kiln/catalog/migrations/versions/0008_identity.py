"""Identity: users, groups, namespaces with role bindings, grants on single objects, tokens
(personal access tokens and dashboard sessions, kept as hashes), the audit log and sign-in
throttling (kiln.identity).

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), unique=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text),
        sa.Column("is_admin", sa.Integer, nullable=False),
        sa.Column("disabled", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False))
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(63), unique=True, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False))
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer, sa.ForeignKey("groups.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  primary_key=True))
    op.create_table(
        "namespaces",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False))
    op.create_table(
        "role_bindings",
        sa.Column("namespace", sa.String(63),
                  sa.ForeignKey("namespaces.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("subject_kind", sa.String(8), primary_key=True),
        sa.Column("subject_id", sa.Integer, primary_key=True),
        sa.Column("role", sa.String(8), nullable=False))
    op.create_table(
        "grants",
        sa.Column("namespace", sa.String(63), primary_key=True),
        sa.Column("object_kind", sa.String(16), primary_key=True),
        sa.Column("object_name", sa.String(200), primary_key=True),
        sa.Column("subject_kind", sa.String(8), primary_key=True),
        sa.Column("subject_id", sa.Integer, primary_key=True),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False))
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("digest", sa.String(64), unique=True, nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("read_only", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime),
        sa.Column("last_used_at", sa.DateTime),
        sa.Column("revoked_at", sa.DateTime))
    op.create_index("ix_tokens_user", "tokens", ["user_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("namespace", sa.String(63)),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("address", sa.String(64), nullable=False))
    op.create_index("ix_audit_at", "audit_log", ["at"])
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("last_at", sa.DateTime, nullable=False))


def downgrade() -> None:
    for table in ("login_failures", "audit_log", "tokens", "grants", "role_bindings",
                  "namespaces", "group_members", "groups", "users"):
        op.drop_table(table)
