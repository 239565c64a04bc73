"""Alembic environment: migrations run on the connection kiln.catalog.db hands over."""

from __future__ import annotations

from alembic import context

from kiln.catalog.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=True)  # SQLite needs batch mode to alter tables
with context.begin_transaction():
    context.run_migrations()
