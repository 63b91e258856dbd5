"""Alembic environment: always driven by ingot.db.migrate with an open connection."""

from alembic import context

from ingot.db.models import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
