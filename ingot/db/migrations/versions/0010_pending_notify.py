"""PostgreSQL: NOTIFY ingot_pending whenever a node has work no conductor holds, so that
separate conductor processes wake at once instead of polling (ingot/db/notify.py).
SQLite has no separate conductors to wake: nothing to do there.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION ingot_pending_notify() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('ingot_pending', NEW.conductor_group);
            RETURN NULL;
        END $$ LANGUAGE plpgsql
    """)
    # Identical notifications of one transaction are delivered once, at its commit.
    op.execute("""
        CREATE TRIGGER nodes_pending_notify
        AFTER INSERT OR UPDATE OF pending_action, reservation ON nodes
        FOR EACH ROW WHEN (NEW.pending_action IS NOT NULL AND NEW.reservation IS NULL)
        EXECUTE FUNCTION ingot_pending_notify()
    """)
